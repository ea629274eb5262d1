//! A writer's history: the samples it keeps for retransmission, late joiners and batching.
//!
//! Metadata lives in `N` fixed slots; the bytes live in an arena the caller lends. Samples are
//! removed oldest first only (keep-last eviction, acknowledgement by every reader, lifespan
//! expiry), so the arena is a byte FIFO: each sample is stored contiguously, and one that would
//! straddle the arena's end starts again at offset 0 (the skipped tail is counted as used until
//! the samples before it leave). Positions are kept as ever-growing `u64` "virtual" offsets whose
//! remainder modulo the arena size is the real offset; that makes "how much is used" one
//! subtraction and never ambiguous. The real offsets are kept next to them (each slot's, and the
//! end's), so that no path divides a `u64`: on 32-bit targets that division is a compiler-builtins
//! routine of almost 1 KB.

use crate::time::Instant;

/// How many samples a history keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HistoryKind {
    /// Keep the newest `depth` samples (at most the slot count); older ones are evicted.
    KeepLast(u16),
    /// Keep every sample until it is released; a full history refuses new samples.
    KeepAll,
}

/// Why a sample was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HistoryError {
    /// The sample is larger than the whole arena.
    TooLarge,
    /// Keep-all history (or a keep-last history whose oldest samples are pinned) is full.
    Full,
}

/// Identity of a related sample (a request that a reply answers): the writer's participant id,
/// entity id and the sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SampleId {
    /// Participant id of the writer that sent the related sample.
    pub participant: u64,
    /// Entity id of that writer.
    pub entity: u32,
    /// Its sequence number.
    pub seq: u64,
}

/// Metadata kept with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleMeta {
    /// When the sample was written (the writer's clock).
    pub written: Instant,
    /// The sample it answers, for service replies.
    pub related: Option<SampleId>,
    /// Where a received sample came from (its writer and sequence number); `None` in a
    /// writer's own history.
    pub origin: Option<SampleId>,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    pos: u64,
    /// `pos` modulo the arena size: where the bytes are.
    off: usize,
    len: usize,
    meta: SampleMeta,
}

/// A history of at most `N` samples over a borrowed byte arena. See the module docs.
pub struct History<'a, const N: usize> {
    arena: &'a mut [u8],
    slots: [Option<Slot>; N],
    /// Ring index of the oldest slot.
    head: usize,
    len: usize,
    /// Sequence number of the oldest stored sample (or of the next one if empty).
    first_seq: u64,
    /// Virtual end of the newest sample.
    end_pos: u64,
    /// `end_pos` modulo the arena size.
    end_off: usize,
    kind: HistoryKind,
}

impl<'a, const N: usize> History<'a, N> {
    /// An empty history over `arena`. The first sample gets sequence number 1.
    pub fn new(arena: &'a mut [u8], kind: HistoryKind) -> Self {
        History {
            arena,
            slots: [None; N],
            head: 0,
            len: 0,
            first_seq: 1,
            end_pos: 0,
            end_off: 0,
            kind,
        }
    }

    /// The policy.
    pub fn kind(&self) -> HistoryKind {
        self.kind
    }
    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True if no sample is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Arena size in bytes: the largest sample the history can ever hold.
    pub fn capacity_bytes(&self) -> usize {
        self.arena.len()
    }
    /// Sequence number of the oldest held sample, or of the next sample when empty.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }
    /// Sequence number the next pushed sample gets.
    pub fn next_seq(&self) -> u64 {
        self.first_seq + self.len as u64
    }
    /// Sequence number of the newest sample ever pushed (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.next_seq() - 1
    }

    fn depth(&self) -> usize {
        match self.kind {
            HistoryKind::KeepLast(d) => usize::from(d).clamp(1, N),
            HistoryKind::KeepAll => N,
        }
    }

    fn oldest_pos(&self) -> u64 {
        match self.slots.get(self.head) {
            Some(Some(s)) if self.len > 0 => s.pos,
            _ => self.end_pos,
        }
    }

    /// Where a sample of `len` bytes would go (virtual position and real offset), if it fits
    /// without evicting.
    fn place(&self, len: usize) -> Option<(u64, usize)> {
        let cap = self.arena.len();
        if len > cap {
            return None;
        }
        if self.len >= self.depth() {
            return None;
        }
        if cap == 0 {
            return Some((0, 0));
        }
        let (mut p, mut off) = (self.end_pos, self.end_off);
        if off + len > cap {
            // Start again at the arena's offset 0: the next multiple of `cap`.
            p += (cap - off) as u64;
            off = 0;
        }
        if p + len as u64 - self.oldest_pos() <= cap as u64 {
            Some((p, off))
        } else {
            None
        }
    }

    /// True if a sample of `len` bytes would be stored without evicting anything.
    pub fn fits(&self, len: usize) -> bool {
        self.place(len).is_some()
    }

    /// How many more samples of `len` bytes would be stored one after the other without
    /// evicting anything (bounded by the free slots). A reliable reader bounds what it asks
    /// a writer to resend with it.
    pub fn room_for(&self, len: usize) -> usize {
        let slots = self.depth().saturating_sub(self.len);
        let cap = self.arena.len();
        if len > cap {
            return 0;
        }
        if len == 0 {
            return slots;
        }
        // Free bytes run from the end to the arena's end (`tail`), then from offset 0 on to
        // the oldest sample; a sample never straddles the arena's end.
        // In `usize`: the bytes in use are at most `cap`, and a 32-bit target then divides in
        // 32 bits (a `u64` division pulls in compiler-builtins' `u64_div_rem`, 0.9 KB).
        let used = usize::try_from(self.end_pos - self.oldest_pos()).unwrap_or(usize::MAX);
        let free = cap.saturating_sub(used);
        let tail = cap - self.end_off;
        let fit = if free <= tail {
            free / len
        } else {
            tail / len + (free - tail) / len
        };
        slots.min(fit)
    }

    /// Store a sample of `len` bytes written by `fill` into its arena slot, evicting the oldest
    /// samples if the policy is keep-last and `may_evict(seq)` allows it. Returns the new
    /// sample's sequence number.
    pub fn push_with(
        &mut self,
        len: usize,
        meta: SampleMeta,
        mut may_evict: impl FnMut(u64) -> bool,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64, HistoryError> {
        if len > self.arena.len() {
            return Err(HistoryError::TooLarge);
        }
        let (pos, off) = loop {
            if let Some(p) = self.place(len) {
                break p;
            }
            let evictable = matches!(self.kind, HistoryKind::KeepLast(_))
                && self.len > 0
                && may_evict(self.first_seq);
            if !evictable {
                return Err(HistoryError::Full);
            }
            self.pop_oldest();
        };
        let seq = self.next_seq();
        // `place` keeps `off + len` within the arena (`get_mut`: no panic site in an image).
        match self.arena.get_mut(off..off + len) {
            Some(b) if len > 0 => fill(b),
            _ => fill(&mut []),
        }
        self.store(Slot {
            pos,
            off,
            len,
            meta,
        });
        Ok(seq)
    }

    /// Record the sample just written into its arena bytes. Not generic: one copy for every
    /// caller of `push_with` (a firmware has two, write and deliver).
    fn store(&mut self, slot: Slot) {
        if self.len == 0 {
            self.head = 0;
        }
        let idx = (self.head + self.len) % N;
        self.slots[idx] = Some(slot);
        self.len += 1;
        self.end_pos = slot.pos + slot.len as u64;
        // `off + len <= arena.len()` (place); the end of a sample that fills the arena's tail is
        // offset 0 again.
        let end = slot.off + slot.len;
        self.end_off = if end == self.arena.len() { 0 } else { end };
    }

    /// [`History::push_with`] copying `data`.
    pub fn push(
        &mut self,
        data: &[u8],
        meta: SampleMeta,
        may_evict: impl FnMut(u64) -> bool,
    ) -> Result<u64, HistoryError> {
        self.push_with(data.len(), meta, may_evict, |b| {
            crate::wire::copy_prefix(b, data);
        })
    }

    /// Remove the oldest sample; returns its sequence number.
    pub fn pop_oldest(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if let Some(s) = self.slots.get_mut(self.head) {
            *s = None;
        }
        self.head = (self.head + 1) % N;
        self.len -= 1;
        let seq = self.first_seq;
        self.first_seq += 1;
        if self.len == 0 {
            self.end_pos = 0;
            self.end_off = 0;
            self.head = 0;
        }
        Some(seq)
    }

    /// Remove every sample with a sequence number below `seq`.
    pub fn release_below(&mut self, seq: u64) {
        while self.len > 0 && self.first_seq < seq {
            self.pop_oldest();
        }
    }

    /// Remove samples written before `deadline` (lifespan expiry), oldest first; returns how many.
    pub fn expire_before(&mut self, deadline: Instant) -> usize {
        let mut n = 0;
        while let Some(s) = self.slots[self.head].filter(|_| self.len > 0) {
            if s.meta.written >= deadline {
                break;
            }
            self.pop_oldest();
            n += 1;
        }
        n
    }

    /// Skip sequence numbers so that the next pushed sample gets `next` (used when a history is
    /// restored). Only allowed while empty; returns false otherwise.
    pub fn set_next_seq(&mut self, next: u64) -> bool {
        if self.len == 0 && next > 0 {
            self.first_seq = next;
            true
        } else {
            false
        }
    }

    /// The bytes and metadata of sample `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<(&[u8], SampleMeta)> {
        let i = seq.checked_sub(self.first_seq)?;
        if i >= self.len as u64 {
            return None;
        }
        let s = self.slots[(self.head + i as usize) % N]?;
        if s.len == 0 {
            return Some((&[], s.meta));
        }
        Some((self.arena.get(s.off..s.off + s.len)?, s.meta))
    }

    /// Length of sample `seq`, if held.
    pub fn sample_len(&self, seq: u64) -> Option<usize> {
        let i = seq.checked_sub(self.first_seq)?;
        if i >= self.len as u64 {
            return None;
        }
        Some(self.slots[(self.head + i as usize) % N]?.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta() -> SampleMeta {
        SampleMeta {
            written: Instant::ZERO,
            related: None,
            origin: None,
        }
    }

    proptest! {
        /// `room_for` is exactly how many samples of that size can be pushed without evicting.
        #[test]
        fn room_for_counts_the_pushes_that_fit(
            cap in 0usize..300,
            ops in proptest::collection::vec((any::<bool>(), 0usize..80), 0..40),
            len in 0usize..80,
            keep_all in any::<bool>(),
        ) {
            let mut arena = [0u8; 300];
            let arena = &mut arena[..cap];
            let kind = if keep_all { HistoryKind::KeepAll } else { HistoryKind::KeepLast(6) };
            let mut h: History<'_, 8> = History::new(arena, kind);
            for (push, n) in ops {
                if push {
                    let _ = h.push(&[1; 80][..n], meta(), |_| false);
                } else {
                    h.pop_oldest();
                }
            }
            let room = h.room_for(len);
            let mut pushed = 0;
            while pushed <= 8 && h.push(&[2; 80][..len], meta(), |_| false).is_ok() {
                pushed += 1;
            }
            prop_assert_eq!(room, pushed);
        }
    }

    #[test]
    fn keep_last_evicts_oldest() {
        let mut arena = [0u8; 16];
        let mut h: History<'_, 4> = History::new(&mut arena, HistoryKind::KeepLast(3));
        for i in 0..5u8 {
            assert_eq!(h.push(&[i; 4], meta(), |_| true), Ok(u64::from(i) + 1));
        }
        assert_eq!(h.len(), 3);
        assert_eq!(h.first_seq(), 3);
        assert_eq!(h.get(3).unwrap().0, &[2; 4]);
        assert_eq!(h.get(5).unwrap().0, &[4; 4]);
        assert!(h.get(2).is_none());
        assert!(h.get(6).is_none());
    }

    #[test]
    fn keep_all_reports_full() {
        let mut arena = [0u8; 8];
        let mut h: History<'_, 4> = History::new(&mut arena, HistoryKind::KeepAll);
        h.push(&[1; 5], meta(), |_| true).unwrap();
        assert_eq!(h.push(&[2; 5], meta(), |_| true), Err(HistoryError::Full));
        assert_eq!(
            h.push(&[2; 9], meta(), |_| true),
            Err(HistoryError::TooLarge)
        );
        h.release_below(2);
        assert!(h.is_empty());
        assert_eq!(h.push(&[2; 8], meta(), |_| true), Ok(2));
    }

    #[test]
    fn pinned_samples_are_not_evicted() {
        let mut arena = [0u8; 8];
        let mut h: History<'_, 4> = History::new(&mut arena, HistoryKind::KeepLast(4));
        h.push(&[1; 6], meta(), |_| true).unwrap();
        assert_eq!(h.push(&[2; 6], meta(), |_| false), Err(HistoryError::Full));
        assert_eq!(h.get(1).unwrap().0, &[1; 6]);
    }

    #[test]
    fn lifespan_expiry() {
        let mut arena = [0u8; 64];
        let mut h: History<'_, 8> = History::new(&mut arena, HistoryKind::KeepAll);
        for t in 0..4u64 {
            let m = SampleMeta {
                written: Instant::from_millis(t * 10),
                related: None,
                origin: None,
            };
            h.push(&[0; 3], m, |_| true).unwrap();
        }
        assert_eq!(h.expire_before(Instant::from_millis(15)), 2);
        assert_eq!(h.first_seq(), 3);
    }

    #[test]
    fn a_sample_that_ends_at_the_arena_end_wraps_the_next_to_offset_zero() {
        let mut arena = [0u8; 8];
        let mut h: History<'_, 4> = History::new(&mut arena, HistoryKind::KeepAll);
        h.push(&[1; 4], meta(), |_| true).unwrap();
        h.push(&[2; 4], meta(), |_| true).unwrap();
        assert_eq!(h.push(&[3; 1], meta(), |_| true), Err(HistoryError::Full));
        h.release_below(2);
        assert_eq!(h.push(&[3; 4], meta(), |_| true), Ok(3));
        assert_eq!(h.get(2).unwrap().0, &[2; 4]);
        assert_eq!(h.get(3).unwrap().0, &[3; 4]);
        // Sample 3 ends at offset 4: 5 bytes would straddle the end and there is no room at 0.
        h.release_below(3);
        assert_eq!(h.push(&[4; 5], meta(), |_| true), Err(HistoryError::Full));
        assert_eq!(h.push(&[4; 4], meta(), |_| true), Ok(4));
        assert_eq!(h.get(4).unwrap().0, &[4; 4]);
    }

    #[test]
    fn zero_sized_arena_and_samples() {
        let mut arena = [0u8; 0];
        let mut h: History<'_, 2> = History::new(&mut arena, HistoryKind::KeepLast(2));
        assert_eq!(h.push(&[], meta(), |_| true), Ok(1));
        assert_eq!(h.push(&[1], meta(), |_| true), Err(HistoryError::TooLarge));
        assert_eq!(h.get(1).unwrap().0, &[] as &[u8]);
    }

    proptest! {
        /// Against a model (a deque of byte vectors): every stored sample reads back intact,
        /// keep-last keeps exactly the newest ones that fit.
        #[test]
        fn matches_model(ops in proptest::collection::vec((0usize..40, any::<u8>(), any::<bool>()), 1..200),
                         cap in 1usize..100, depth in 1u16..10) {
            extern crate std;
            use std::collections::VecDeque;
            use std::vec::Vec;
            let mut arena = std::vec![0u8; cap];
            let mut h: History<'_, 8> = History::new(&mut arena, HistoryKind::KeepLast(depth));
            let mut model: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
            let mut next = 1u64;
            for (len, byte, release) in ops {
                if release {
                    if let Some((s, _)) = model.pop_front() {
                        h.release_below(s + 1);
                    }
                    continue;
                }
                let data = std::vec![byte; len];
                match h.push(&data, meta(), |_| true) {
                    Ok(seq) => {
                        prop_assert_eq!(seq, next);
                        next += 1;
                        model.push_back((seq, data));
                        while model.front().is_some_and(|(s, _)| *s < h.first_seq()) {
                            model.pop_front();
                        }
                    }
                    Err(e) => {
                        prop_assert_eq!(e, HistoryError::TooLarge);
                        prop_assert!(len > cap);
                    }
                }
                prop_assert!(h.len() <= usize::from(depth).min(8));
                prop_assert_eq!(h.len(), model.len());
                for (s, d) in &model {
                    prop_assert_eq!(h.get(*s).unwrap().0, d.as_slice());
                }
            }
        }
    }
}
