//! Reassembly of fragmented samples, and the holding area for whole samples that a reliable
//! reader received ahead of a gap.
//!
//! At most `F` samples are in progress at once. Each takes one contiguous region of the arena the
//! caller lends: a bitmap of received fragments (one bit per fragment) followed by the sample's
//! bytes. Regions are placed first-fit; a sample that does not fit is refused (and counted by the
//! caller), never allowed to push out samples that are still making progress: only entries idle
//! for longer than the caller's timeout are reclaimed ([`Reassembly::expire`]). Memory is
//! therefore bounded by the arena whatever arrives.

use super::history::SampleId;
use crate::time::Instant;

/// Which sample a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Writer's participant id.
    pub participant: u64,
    /// Writer's entity id.
    pub entity: u32,
    /// Sample sequence number.
    pub seq: u64,
}

/// What became of an accepted fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragOutcome {
    /// Stored; more fragments are needed.
    Incomplete,
    /// Stored, and the sample is now complete in slot `usize`.
    Complete(usize),
    /// This fragment had already arrived; nothing changed.
    Duplicate,
}

/// Why a fragment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragError {
    /// Its sample length, fragment size or index is impossible or disagrees with earlier
    /// fragments of the same sample.
    Inconsistent,
    /// The sample is larger than the configured maximum or than the arena.
    TooLarge,
    /// No free slot or arena region; try again later (reliable writers resend).
    NoRoom,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: FragKey,
    off: usize,
    total: usize,
    frag_size: usize,
    nfrags: u32,
    received: u32,
    last_progress: Instant,
    related: Option<SampleId>,
}

impl Entry {
    fn bitmap_len(&self) -> usize {
        (self.nfrags as usize).div_ceil(8)
    }
    fn region_len(&self) -> usize {
        self.bitmap_len() + self.total
    }
    fn complete(&self) -> bool {
        self.received == self.nfrags
    }
}

/// Number of fragments a sample of `total` bytes splits into with fragments of `frag_size` bytes
/// (an empty sample is one empty fragment).
pub fn fragment_count(total: usize, frag_size: usize) -> Option<u32> {
    if frag_size == 0 {
        return None;
    }
    u32::try_from(total.div_ceil(frag_size).max(1)).ok()
}

/// The reassembly store. See the module docs.
pub struct Reassembly<'a, const F: usize> {
    arena: &'a mut [u8],
    entries: [Option<Entry>; F],
    /// Entries in use (so that the common case, nothing in reassembly, costs no scan).
    used: usize,
}

impl<'a, const F: usize> Reassembly<'a, F> {
    /// An empty store over `arena`.
    pub fn new(arena: &'a mut [u8]) -> Self {
        Reassembly {
            arena,
            entries: [None; F],
            used: 0,
        }
    }

    /// The arena size: no sample larger than this can be reassembled.
    pub fn capacity_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Number of samples in progress or held.
    pub fn len(&self) -> usize {
        self.check_used();
        self.used
    }

    /// The slot holding `key`, if any.
    pub fn find(&self, key: &FragKey) -> Option<usize> {
        self.check_used();
        if self.used == 0 {
            return None;
        }
        self.entries
            .iter()
            .position(|e| e.is_some_and(|e| e.key == *key))
    }

    /// True if nothing is in progress or held.
    pub fn is_empty(&self) -> bool {
        self.check_used();
        self.used == 0
    }

    /// The count stays equal to the entries in use (checked in debug builds: every test).
    fn check_used(&self) {
        debug_assert_eq!(self.used, self.entries.iter().flatten().count());
    }

    /// Slots holding samples of one writer, in no particular order.
    pub fn slots_of(&self, participant: u64, entity: u32) -> impl Iterator<Item = usize> + '_ {
        let n = if self.used == 0 { 0 } else { F };
        self.entries[..n]
            .iter()
            .enumerate()
            .filter_map(move |(i, e)| {
                e.filter(|e| e.key.participant == participant && e.key.entity == entity)
                    .map(|_| i)
            })
    }

    /// The key of slot `slot`.
    pub fn key(&self, slot: usize) -> Option<FragKey> {
        self.entries.get(slot).copied().flatten().map(|e| e.key)
    }

    fn alloc(&self, size: usize) -> Option<usize> {
        if size > self.arena.len() {
            return None;
        }
        let mut used: [(usize, usize); F] = [(usize::MAX, 0); F];
        for (u, e) in used.iter_mut().zip(self.entries.iter()) {
            if let Some(e) = e {
                *u = (e.off, e.region_len());
            }
        }
        used.sort_unstable();
        let mut cursor = 0usize;
        for (off, len) in used {
            if off == usize::MAX {
                break;
            }
            if off - cursor >= size {
                return Some(cursor);
            }
            cursor = off + len;
        }
        (self.arena.len() - cursor >= size).then_some(cursor)
    }

    /// How many more whole samples of `len` bytes could be held (free slots, and arena regions
    /// placed first-fit). A reliable reader bounds what it asks a writer to resend with it.
    pub fn room_for(&self, len: usize) -> usize {
        let slots = F - self.used;
        if slots == 0 {
            return 0;
        }
        // A whole sample is one fragment: one bitmap byte, then its bytes.
        let size = len + 1;
        if self.used == 0 {
            return slots.min(self.arena.len() / size);
        }
        let mut used: [(usize, usize); F] = [(usize::MAX, 0); F];
        for (u, e) in used.iter_mut().zip(self.entries.iter()) {
            if let Some(e) = e {
                *u = (e.off, e.region_len());
            }
        }
        used.sort_unstable();
        let (mut cursor, mut fit) = (0usize, 0usize);
        for (off, region) in used {
            if off == usize::MAX {
                break;
            }
            fit += (off - cursor) / size;
            cursor = off + region;
        }
        fit += (self.arena.len() - cursor) / size;
        slots.min(fit)
    }

    /// Store fragment `index` (0-based) of the sample `key` whose total length is `total` and
    /// whose fragments are `frag_size` bytes (the last one shorter). `max_total` is the largest
    /// sample the caller accepts.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        key: FragKey,
        total: usize,
        frag_size: usize,
        index: u32,
        data: &[u8],
        related: Option<SampleId>,
        max_total: usize,
        now: Instant,
    ) -> Result<FragOutcome, FragError> {
        if total > max_total || total > self.arena.len() {
            return Err(FragError::TooLarge);
        }
        let nfrags = fragment_count(total, frag_size).ok_or(FragError::Inconsistent)?;
        if index >= nfrags {
            return Err(FragError::Inconsistent);
        }
        let start = index as usize * frag_size;
        let expect = frag_size.min(total - start.min(total));
        if data.len() != expect {
            return Err(FragError::Inconsistent);
        }
        let slot = match self.find(&key) {
            Some(s) => {
                let e = self.entries[s].as_ref().ok_or(FragError::Inconsistent)?;
                if e.total != total || e.frag_size != frag_size {
                    return Err(FragError::Inconsistent);
                }
                s
            }
            None => {
                let free = self
                    .entries
                    .iter()
                    .position(Option::is_none)
                    .ok_or(FragError::NoRoom)?;
                let mut e = Entry {
                    key,
                    off: 0,
                    total,
                    frag_size,
                    nfrags,
                    received: 0,
                    last_progress: now,
                    related,
                };
                e.off = self.alloc(e.region_len()).ok_or(FragError::NoRoom)?;
                self.arena[e.off..e.off + e.bitmap_len()].fill(0);
                self.entries[free] = Some(e);
                self.used += 1;
                free
            }
        };
        let Some(e) = self.entries[slot].as_mut() else {
            return Err(FragError::Inconsistent);
        };
        let (byte, bit) = (e.off + index as usize / 8, 0x80u8 >> (index % 8));
        if self.arena[byte] & bit != 0 {
            return Ok(FragOutcome::Duplicate);
        }
        self.arena[byte] |= bit;
        let data_off = e.off + e.bitmap_len() + start;
        self.arena[data_off..data_off + data.len()].copy_from_slice(data);
        e.received += 1;
        e.last_progress = now;
        if e.related.is_none() {
            e.related = related;
        }
        Ok(if e.complete() {
            FragOutcome::Complete(slot)
        } else {
            FragOutcome::Incomplete
        })
    }

    /// Store a whole sample (for a reliable reader holding it until a gap before it is filled).
    pub fn insert_whole(
        &mut self,
        key: FragKey,
        data: &[u8],
        related: Option<SampleId>,
        now: Instant,
    ) -> Result<FragOutcome, FragError> {
        let size = data.len().max(1);
        self.insert(key, data.len(), size, 0, data, related, usize::MAX, now)
    }

    /// True if fragment `index` of the sample in `slot` has arrived.
    pub fn has_fragment(&self, slot: usize, index: u32) -> bool {
        match self.entries.get(slot).copied().flatten() {
            Some(e) if index < e.nfrags => {
                self.arena[e.off + index as usize / 8] & (0x80u8 >> (index % 8)) != 0
            }
            _ => false,
        }
    }

    /// Number of fragments of the sample in `slot`, and how many have arrived.
    pub fn progress(&self, slot: usize) -> Option<(u32, u32)> {
        self.entries
            .get(slot)
            .copied()
            .flatten()
            .map(|e| (e.nfrags, e.received))
    }

    /// The bytes of a complete sample in `slot` and the sample it answers.
    pub fn complete(&self, slot: usize) -> Option<(&[u8], Option<SampleId>)> {
        let e = self.entries.get(slot).copied().flatten()?;
        if !e.complete() {
            return None;
        }
        let off = e.off + e.bitmap_len();
        Some((&self.arena[off..off + e.total], e.related))
    }

    /// Forget slot `slot`.
    pub fn remove(&mut self, slot: usize) {
        if let Some(e) = self.entries.get_mut(slot)
            && e.take().is_some()
        {
            self.used -= 1;
        }
    }

    /// Forget every sample of a writer with a sequence number below `seq` (all of them with
    /// `u64::MAX`); returns how many were dropped.
    pub fn remove_writer_below(&mut self, participant: u64, entity: u32, seq: u64) -> usize {
        if self.used == 0 {
            return 0;
        }
        let mut n = 0;
        for e in self.entries.iter_mut() {
            if e.is_some_and(|e| {
                e.key.participant == participant && e.key.entity == entity && e.key.seq < seq
            }) {
                *e = None;
                n += 1;
            }
        }
        self.used -= n;
        n
    }

    /// Forget the sample of writer (`participant`, `entity`) with the highest sequence number
    /// above `above`, to make room for an older one that blocks delivery. Returns its key.
    pub fn evict_newest_of(
        &mut self,
        participant: u64,
        entity: u32,
        above: u64,
    ) -> Option<FragKey> {
        let slot = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (i, e.key)))
            .filter(|(_, k)| k.participant == participant && k.entity == entity && k.seq > above)
            .max_by_key(|(_, k)| k.seq)?
            .0;
        let key = self.entries[slot].take().map(|e| e.key);
        self.used -= usize::from(key.is_some());
        key
    }

    /// Forget every sample of a participant; returns how many.
    pub fn remove_participant(&mut self, participant: u64) -> usize {
        let mut n = 0;
        for e in self.entries.iter_mut() {
            if e.is_some_and(|e| e.key.participant == participant) {
                *e = None;
                n += 1;
            }
        }
        self.used -= n;
        n
    }

    /// Forget incomplete samples that made no progress since `idle_since`; returns how many.
    pub fn expire(&mut self, idle_since: Instant) -> usize {
        let mut n = 0;
        for e in self.entries.iter_mut() {
            if e.is_some_and(|e| !e.complete() && e.last_progress < idle_since) {
                *e = None;
                n += 1;
            }
        }
        self.used -= n;
        n
    }

    /// The earliest progress time of an incomplete sample (for timers).
    pub fn oldest_progress(&self) -> Option<Instant> {
        self.entries
            .iter()
            .flatten()
            .filter(|e| !e.complete())
            .map(|e| e.last_progress)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seq: u64) -> FragKey {
        FragKey {
            participant: 7,
            entity: 1,
            seq,
        }
    }

    proptest! {
        /// `room_for` is exactly how many whole samples of that size can still be held.
        #[test]
        fn room_for_counts_the_samples_that_fit(
            sizes in proptest::collection::vec(0usize..40, 0..8),
            remove in proptest::collection::vec(any::<bool>(), 8),
            len in 0usize..40,
        ) {
            let mut arena = [0u8; 128];
            let mut r: Reassembly<'_, 6> = Reassembly::new(&mut arena);
            for (i, n) in sizes.iter().enumerate() {
                let _ = r.insert_whole(key(i as u64), &[1; 40][..*n], None, Instant::ZERO);
            }
            for (i, gone) in remove.iter().enumerate() {
                if *gone && let Some(s) = r.find(&key(i as u64)) {
                    r.remove(s);
                }
            }
            let room = r.room_for(len);
            let mut held = 0;
            while r.insert_whole(key(100 + held as u64), &[2; 40][..len], None, Instant::ZERO).is_ok() {
                held += 1;
            }
            prop_assert_eq!(room, held);
        }
    }

    #[test]
    fn reassembles_out_of_order_and_counts_duplicates() {
        let mut arena = [0u8; 64];
        let mut r: Reassembly<'_, 2> = Reassembly::new(&mut arena);
        let t = Instant::ZERO;
        let data: [u8; 10] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            r.insert(key(1), 10, 4, 2, &data[8..], None, 100, t),
            Ok(FragOutcome::Incomplete)
        );
        assert_eq!(
            r.insert(key(1), 10, 4, 2, &data[8..], None, 100, t),
            Ok(FragOutcome::Duplicate)
        );
        assert_eq!(
            r.insert(key(1), 10, 4, 0, &data[..4], None, 100, t),
            Ok(FragOutcome::Incomplete)
        );
        let done = r.insert(key(1), 10, 4, 1, &data[4..8], None, 100, t);
        let Ok(FragOutcome::Complete(slot)) = done else {
            panic!("{done:?}")
        };
        assert_eq!(r.complete(slot).unwrap().0, &data);
        r.remove(slot);
        assert!(r.is_empty());
    }

    #[test]
    fn rejects_bad_fragments() {
        let mut arena = [0u8; 32];
        let mut r: Reassembly<'_, 2> = Reassembly::new(&mut arena);
        let t = Instant::ZERO;
        // wrong length of a middle fragment
        assert_eq!(
            r.insert(key(1), 10, 4, 0, &[0; 3], None, 100, t),
            Err(FragError::Inconsistent)
        );
        // index out of range
        assert_eq!(
            r.insert(key(1), 10, 4, 3, &[], None, 100, t),
            Err(FragError::Inconsistent)
        );
        // zero fragment size
        assert_eq!(
            r.insert(key(1), 10, 0, 0, &[], None, 100, t),
            Err(FragError::Inconsistent)
        );
        assert_eq!(
            r.insert(key(1), 101, 4, 0, &[0; 4], None, 100, t),
            Err(FragError::TooLarge)
        );
        assert_eq!(
            r.insert(key(1), 10, 4, 0, &[0; 4], None, 100, t),
            Ok(FragOutcome::Incomplete)
        );
        // disagreeing total for the same key
        assert_eq!(
            r.insert(key(1), 12, 4, 1, &[0; 4], None, 100, t),
            Err(FragError::Inconsistent)
        );
    }

    #[test]
    fn bounded_and_never_evicts_live_entries() {
        let mut arena = [0u8; 24];
        let mut r: Reassembly<'_, 4> = Reassembly::new(&mut arena);
        let t0 = Instant::from_millis(0);
        r.insert(key(1), 16, 8, 0, &[1; 8], None, 100, t0).unwrap();
        // 16 + 2 bitmap bytes used: an 8-byte sample (+1) still fits, a second 16 does not.
        assert_eq!(
            r.insert(key(2), 16, 8, 0, &[1; 8], None, 100, t0),
            Err(FragError::NoRoom)
        );
        assert_eq!(
            r.insert(key(3), 4, 4, 0, &[1; 4], None, 100, t0)
                .map(|o| matches!(o, FragOutcome::Complete(_))),
            Ok(true)
        );
        assert_eq!(r.expire(Instant::from_millis(0)), 0);
        assert_eq!(r.expire(Instant::from_millis(1)), 1);
        assert!(r.insert(key(2), 16, 8, 0, &[1; 8], None, 100, t0).is_ok());
    }

    proptest! {
        /// Any sample, cut into fragments of any size, delivered in any order with duplicates,
        /// comes back byte-identical exactly when its last missing fragment arrives.
        #[test]
        fn fragmentation_round_trip(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                    frag in 1usize..700,
                                    order in proptest::collection::vec(any::<u16>(), 0..20)) {
            extern crate std;
            use std::vec::Vec;
            let mut arena = std::vec![0u8; 4096];
            let mut r: Reassembly<'_, 2> = Reassembly::new(&mut arena);
            let n = fragment_count(data.len(), frag).unwrap();
            let mut seq: Vec<u32> = (0..n).collect();
            for (i, o) in order.iter().enumerate() {
                let a = i % seq.len();
                let b = usize::from(*o) % seq.len();
                seq.swap(a, b);
                let dup = seq[b];
                seq.push(dup);
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut completed = false;
            for idx in seq {
                let s = idx as usize * frag;
                let chunk = &data[s.min(data.len())..(s + frag).min(data.len())];
                let out = r.insert(key(9), data.len(), frag, idx, chunk, None, usize::MAX, Instant::ZERO).unwrap();
                let fresh = seen.insert(idx);
                match out {
                    FragOutcome::Duplicate => prop_assert!(!fresh),
                    FragOutcome::Incomplete => prop_assert!(fresh && seen.len() < n as usize),
                    FragOutcome::Complete(slot) => {
                        prop_assert!(fresh && seen.len() == n as usize && !completed);
                        prop_assert_eq!(r.complete(slot).unwrap().0, data.as_slice());
                        completed = true;
                    }
                }
            }
            prop_assert!(completed);
        }
    }
}
