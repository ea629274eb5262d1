//! A fault-injecting [`RawLink`] wrapper: loss, duplication, reordering, corruption, delay and
//! partitions, reproducible from a seed.
//!
//! [`FaultLink`] wraps any link and applies the faults of a [`FaultConfig`] to the frames it
//! receives ([`FaultConfig::rx`]) and transmits ([`FaultConfig::tx`]). Every fault has its own
//! [`Probability`]; decisions come from a small SplitMix64 generator seeded by
//! [`FaultConfig::seed`] (one stream per direction, so the receive sequence does not depend on how
//! transmits interleave with it). The same seed and the same traffic give the same faults, which
//! makes failures of a simulator reproducible.
//!
//! # How each fault works
//!
//! For every frame the generator draws the same number of values, whatever the outcome, and
//! decides the frame's *fate* before the frame is touched:
//!
//! * **loss**: the frame vanishes (on receive it is taken from the inner link and dropped; on
//!   transmit the caller fills a scratch buffer that is thrown away). Loss overrides every other
//!   fault.
//! * **corruption**: random bits (a non-zero mask) of one random byte are flipped; with
//!   [`Faults::corrupt_payload_only`] only bytes after the 14-byte Ethernet header are chosen, so
//!   the frame still reaches the same receivers.
//! * **duplication**: a second copy follows the frame.
//! * **delay**: the frame is held and released when `now` reaches the time it was received or
//!   transmitted plus a duration drawn from `delay_min..=delay_max`. A delayed received frame's
//!   timestamp is moved by the same amount (it "arrived" later).
//! * **reordering**: the frame is held until [`Faults::reorder_after`] later frames have passed
//!   it, or [`Faults::reorder_max_hold`] has elapsed (set it when traffic may stop, or the last
//!   reordered frames stay held until more frames pass). Delay wins when both are drawn.
//! * **partition** ([`FaultLink::set_partitioned`]): while set, everything in both directions is
//!   dropped, including held frames that come due; clearing it heals the link.
//!
//! # Zero copy when nothing happens
//!
//! A frame whose fate is clean passes through untouched: receive returns the inner link's view
//! and transmit the inner link's token. Only frames that must be changed or held are copied into
//! the wrapper's own storage: a byte arena lent once to [`FaultLink::new`] and cut into `HELD`
//! slots per direction plus one scratch slot per direction (see [`fault_arena_len`]). Held frames
//! are bounded by `HELD`; when a frame needs a slot and a direction's slots are all in use, the
//! oldest held frame is released early ([`DirStats::forced_releases`]) rather than growing or
//! dropping anything. (On receive, the new frame waits in the scratch slot meanwhile, so an idle
//! link never releases anything early.)
//!
//! Held transmit frames go to the inner link during [`RawLink::flush`], so a caller that holds
//! delayed frames must flush again when they come due: [`FaultLink::poll_at`] says when. Held
//! receive frames are returned by [`RawLink::receive`] once due, before newer frames.

use core::fmt;
use core::time::Duration;

use heapless::Vec;

use super::{
    Capabilities, FlushStatus, LinkError, RawLink, RxFrame, RxMeta, TxTimestamp, TxToken,
    check_tx_len,
};
use crate::time::Instant;
use crate::wire::MacAddr;
use crate::wire::ethernet::HEADER_LEN;

/// Arena bytes a [`FaultLink`] with `held` slots per direction needs for frames of a link with
/// MTU `mtu` (header, two VLAN tags and the MTU per slot, `2 * held + 2` slots).
pub const fn fault_arena_len(held: usize, mtu: usize) -> usize {
    (2 * held + 2) * (HEADER_LEN + 8 + mtu)
}

/// A probability in parts per million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Probability(u32);

impl Probability {
    /// Never.
    pub const NEVER: Probability = Probability(0);
    /// Always.
    pub const ALWAYS: Probability = Probability(1_000_000);

    /// `ppm` parts per million, at most 1 000 000.
    pub const fn from_ppm(ppm: u32) -> Self {
        Probability(if ppm > 1_000_000 { 1_000_000 } else { ppm })
    }
    /// `pct` percent, at most 100.
    pub const fn percent(pct: u32) -> Self {
        Self::from_ppm(pct.saturating_mul(10_000))
    }
    /// A probability from a fraction in `0.0..=1.0`; smaller values (and NaN) give
    /// [`Probability::NEVER`], larger ones [`Probability::ALWAYS`].
    pub fn from_f64(p: f64) -> Self {
        // `as` saturates and maps NaN to 0.
        Self::from_ppm((p * 1e6) as u32)
    }
    /// Parts per million.
    pub const fn ppm(self) -> u32 {
        self.0
    }
}

/// The faults of one direction. Build with struct update syntax from [`Faults::NONE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Faults {
    /// Probability that a frame is lost.
    pub loss: Probability,
    /// Probability that a frame is delivered twice.
    pub duplicate: Probability,
    /// Probability that a frame is held back until `reorder_after` later frames passed it.
    pub reorder: Probability,
    /// Number of later frames a reordered frame lets pass (0 counts as 1).
    pub reorder_after: u32,
    /// Release a reordered frame after this long even if fewer frames passed it.
    pub reorder_max_hold: Option<Duration>,
    /// Probability that bits of one byte are flipped.
    pub corrupt: Probability,
    /// Corrupt only bytes after the Ethernet header (addresses and EtherType stay intact).
    pub corrupt_payload_only: bool,
    /// Probability that a frame is delayed.
    pub delay: Probability,
    /// Shortest delay.
    pub delay_min: Duration,
    /// Longest delay (values below `delay_min` count as `delay_min`).
    pub delay_max: Duration,
}

impl Faults {
    /// No faults: the wrapper is transparent.
    pub const NONE: Faults = Faults {
        loss: Probability::NEVER,
        duplicate: Probability::NEVER,
        reorder: Probability::NEVER,
        reorder_after: 1,
        reorder_max_hold: None,
        corrupt: Probability::NEVER,
        corrupt_payload_only: false,
        delay: Probability::NEVER,
        delay_min: Duration::ZERO,
        delay_max: Duration::ZERO,
    };
}

impl Default for Faults {
    fn default() -> Self {
        Self::NONE
    }
}

/// What a [`FaultLink`] does to each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FaultConfig {
    /// Seed of the fault decisions.
    pub seed: u64,
    /// Faults applied to received frames.
    pub rx: Faults,
    /// Faults applied to transmitted frames.
    pub tx: Faults,
}

impl FaultConfig {
    /// A configuration with the given seed and no faults.
    pub const fn new(seed: u64) -> Self {
        FaultConfig {
            seed,
            rx: Faults::NONE,
            tx: Faults::NONE,
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct DirStats {
    /// Frames that entered the wrapper (from the inner link on receive, from the caller on
    /// transmit), including lost and partitioned ones.
    pub frames: u64,
    /// Frames lost.
    pub lost: u64,
    /// Frames duplicated (extra copies made).
    pub duplicated: u64,
    /// Frames held back for reordering.
    pub reordered: u64,
    /// Frames corrupted.
    pub corrupted: u64,
    /// Frames delayed.
    pub delayed: u64,
    /// Frames dropped because the link was partitioned.
    pub partitioned: u64,
    /// Held frames released early because all held slots were in use.
    pub forced_releases: u64,
    /// Received frames dropped because they were longer than a held slot when a fault needed
    /// a copy of them.
    pub unbuffered: u64,
    /// Held transmit frames the inner link refused when they were released (length errors).
    pub release_errors: u64,
}

/// Counters of both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FaultStats {
    /// Receive direction.
    pub rx: DirStats,
    /// Transmit direction.
    pub tx: DirStats,
}

/// Why a [`FaultLink`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FaultError {
    /// The arena gives slots of `slot_len` bytes but the inner link's frames need `needed`
    /// (see [`fault_arena_len`]).
    ArenaTooSmall {
        /// Bytes per slot the arena gives.
        slot_len: usize,
        /// Bytes per slot needed.
        needed: usize,
    },
    /// `HELD` is zero.
    NoHeldSlots,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::ArenaTooSmall { slot_len, needed } => write!(
                f,
                "fault arena gives {slot_len}-byte slots but the link's frames need {needed}"
            ),
            FaultError::NoHeldSlots => f.write_str("a fault link needs at least one held slot"),
        }
    }
}

impl core::error::Error for FaultError {}

/// SplitMix64: tiny, fast, statistically sound for test decisions, and fully deterministic.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-high (no modulo bias worth speaking of).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, p: Probability) -> bool {
        self.below(1_000_000) < u64::from(p.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Delay(Duration),
    Reorder,
}

#[derive(Debug, Clone, Copy)]
struct Fate {
    lose: bool,
    duplicate: bool,
    hold: Option<Hold>,
    /// Position draw and bit mask.
    corrupt: Option<(u64, u8)>,
}

impl Fate {
    fn draw(rng: &mut Rng, f: &Faults) -> Fate {
        // Always the same number of draws per frame, whatever the outcome.
        let lose = rng.chance(f.loss);
        let duplicate = rng.chance(f.duplicate);
        let reorder = rng.chance(f.reorder);
        let corrupt = rng.chance(f.corrupt);
        let delay = rng.chance(f.delay);
        let span =
            u64::try_from(f.delay_max.saturating_sub(f.delay_min).as_nanos()).unwrap_or(u64::MAX);
        let delay_by = f
            .delay_min
            .saturating_add(Duration::from_nanos(rng.below(span.saturating_add(1))));
        let pos = rng.next();
        let mask = (rng.below(255) + 1) as u8;
        let hold = if delay {
            Some(Hold::Delay(delay_by))
        } else if reorder {
            Some(Hold::Reorder)
        } else {
            None
        };
        Fate {
            lose,
            duplicate,
            hold,
            corrupt: corrupt.then_some((pos, mask)),
        }
    }

    /// Held slots this fate needs on receive (every changed frame is copied).
    fn rx_slots(&self) -> usize {
        let base = usize::from(self.hold.is_some() || self.corrupt.is_some());
        base + usize::from(self.duplicate)
    }

    /// Held slots this fate needs on transmit (corruption happens in the inner buffer).
    fn tx_slots(&self) -> usize {
        usize::from(self.hold.is_some()) + usize::from(self.duplicate)
    }
}

/// Flip the bits of one byte chosen by `pos`; false if no byte qualifies.
fn corrupt(buf: &mut [u8], (pos, mask): (u64, u8), payload_only: bool) -> bool {
    let start = if payload_only { HEADER_LEN } else { 0 };
    let Some(span) = buf.len().checked_sub(start).filter(|&s| s > 0) else {
        return false;
    };
    let at = start + (pos % span as u64) as usize;
    buf[at] ^= mask;
    true
}

#[derive(Debug, Clone, Copy)]
enum Release {
    Now,
    At(Instant),
    After {
        remaining: u32,
        deadline: Option<Instant>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Held {
    seq: u64,
    len: usize,
    meta: RxMeta,
    ts_id: Option<u32>,
    release: Release,
}

/// The held frames of one direction.
struct Pool<'b, const N: usize> {
    bufs: Vec<&'b mut [u8], N>,
    held: [Option<Held>; N],
    seq: u64,
}

impl<const N: usize> Pool<'_, N> {
    fn free_count(&self) -> usize {
        self.held.iter().filter(|h| h.is_none()).count()
    }

    fn free_slot(&self) -> Option<usize> {
        self.held.iter().position(Option::is_none)
    }

    fn insert(&mut self, i: usize, len: usize, meta: RxMeta, release: Release) {
        self.seq += 1;
        self.held[i] = Some(Held {
            seq: self.seq,
            len,
            meta,
            ts_id: None,
            release,
        });
    }

    /// The oldest frame due at `now`.
    fn ready(&self, now: Instant) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (i, h) in self.held.iter().enumerate() {
            let Some(h) = h else { continue };
            let due = match h.release {
                Release::Now => true,
                Release::At(t) => t <= now,
                Release::After {
                    remaining,
                    deadline,
                } => remaining == 0 || deadline.is_some_and(|d| d <= now),
            };
            if due && best.is_none_or(|(s, _)| h.seq < s) {
                best = Some((h.seq, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Make the oldest frame that is not yet due due now; false if there is none.
    fn force_oldest(&mut self) -> bool {
        let oldest = self
            .held
            .iter_mut()
            .flatten()
            .filter(|h| !matches!(h.release, Release::Now))
            .min_by_key(|h| h.seq);
        match oldest {
            Some(h) => {
                h.release = Release::Now;
                true
            }
            None => false,
        }
    }

    /// A frame went past the held ones.
    fn note_passed(&mut self) {
        for h in self.held.iter_mut().flatten() {
            if let Release::After { remaining, .. } = &mut h.release {
                *remaining = remaining.saturating_sub(1);
            }
        }
    }

    /// When the next held frame comes due; `Instant::ZERO` if one is due already.
    fn next_due(&self) -> Option<Instant> {
        self.held
            .iter()
            .flatten()
            .filter_map(|h| match h.release {
                Release::Now => Some(Instant::ZERO),
                Release::At(t) => Some(t),
                Release::After {
                    remaining: 0,
                    deadline: _,
                } => Some(Instant::ZERO),
                Release::After { deadline, .. } => deadline,
            })
            .min()
    }

    fn len(&self) -> usize {
        N - self.free_count()
    }

    /// Copy held slot `from` into free slot `to` with the same release and metadata.
    fn duplicate(&mut self, from: usize, to: usize) {
        let Some(h) = self.held[from] else { return };
        let (a, b) = if from < to {
            let (lo, hi) = self.bufs.split_at_mut(to);
            (&*lo[from], &mut *hi[0])
        } else {
            let (lo, hi) = self.bufs.split_at_mut(from);
            (&*hi[0], &mut *lo[to])
        };
        b[..h.len].copy_from_slice(&a[..h.len]);
        self.insert(to, h.len, h.meta, h.release);
        if let Some(d) = self.held[to].as_mut() {
            d.ts_id = None;
        }
    }
}

/// One direction's state.
struct Side<'b, const N: usize> {
    pool: Pool<'b, N>,
    rng: Rng,
    fate: Option<Fate>,
    faults: Faults,
    stats: DirStats,
}

impl<const N: usize> Side<'_, N> {
    fn fate(&mut self) -> Fate {
        match self.fate {
            Some(f) => f,
            None => {
                let f = Fate::draw(&mut self.rng, &self.faults);
                self.fate = Some(f);
                f
            }
        }
    }

    /// Apply `fate` to the received frame copied into free slot `i` and hold it (and its
    /// duplicate).
    fn hold_copy(&mut self, i: usize, len: usize, mut meta: RxMeta, fate: Fate, now: Instant) {
        if let Some(c) = fate.corrupt
            && corrupt(
                &mut self.pool.bufs[i][..len],
                c,
                self.faults.corrupt_payload_only,
            )
        {
            self.stats.corrupted += 1;
        }
        if let (Some(Hold::Delay(d)), Some(ts)) = (fate.hold, meta.timestamp.as_mut()) {
            ts.nanos = ts
                .nanos
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        }
        let release = self.release_for(fate.hold, now);
        self.pool.insert(i, len, meta, release);
        if fate.duplicate
            && let Some(j) = self.pool.free_slot()
        {
            self.pool.duplicate(i, j);
            self.stats.duplicated += 1;
        }
    }

    /// The release rule of a held frame entering at `now`, counting the fault.
    fn release_for(&mut self, hold: Option<Hold>, now: Instant) -> Release {
        match hold {
            None => Release::Now,
            Some(Hold::Delay(d)) => {
                self.stats.delayed += 1;
                Release::At(now + d)
            }
            Some(Hold::Reorder) => {
                self.stats.reordered += 1;
                Release::After {
                    remaining: self.faults.reorder_after.max(1),
                    deadline: self.faults.reorder_max_hold.map(|d| now + d),
                }
            }
        }
    }
}

/// A [`RawLink`] that injects faults into an inner link. See the module docs.
///
/// `HELD` is the number of frames each direction can hold back (delayed, reordered, corrupted
/// or duplicated copies).
pub struct FaultLink<'b, L: RawLink, const HELD: usize = 8> {
    inner: L,
    rx: Side<'b, HELD>,
    tx: Side<'b, HELD>,
    /// Transmit scratch: the buffer lost frames are written into.
    scratch: &'b mut [u8],
    /// Receive scratch: a frame taken from the inner link while every held slot was in use.
    stash: &'b mut [u8],
    stashed: Option<(usize, RxMeta)>,
    slot_len: usize,
    partitioned: bool,
    seed: u64,
}

impl<'b, L: RawLink, const HELD: usize> FaultLink<'b, L, HELD> {
    /// Wrap `inner`. `arena` is cut into `2 * HELD + 2` slots, each of which must hold the
    /// inner link's largest frame with two VLAN tags ([`fault_arena_len`] computes the size).
    pub fn new(inner: L, arena: &'b mut [u8], config: FaultConfig) -> Result<Self, FaultError> {
        if HELD == 0 {
            return Err(FaultError::NoHeldSlots);
        }
        let slots = 2 * HELD + 2;
        let slot_len = arena.len() / slots;
        let needed = inner.capabilities().max_frame_len(2);
        if slot_len < needed {
            return Err(FaultError::ArenaTooSmall { slot_len, needed });
        }
        let mut chunks = arena.chunks_exact_mut(slot_len);
        let mut rx_bufs = Vec::new();
        let mut tx_bufs = Vec::new();
        for _ in 0..HELD {
            // The arena has at least 2 * HELD + 2 chunks, so neither can run out or overflow.
            if let Some(c) = chunks.next() {
                let _ = rx_bufs.push(c);
            }
            if let Some(c) = chunks.next() {
                let _ = tx_bufs.push(c);
            }
        }
        let scratch = chunks.next().unwrap_or_default();
        let stash = chunks.next().unwrap_or_default();
        let side = |bufs, seed: u64, faults| Side {
            pool: Pool {
                bufs,
                held: [None; HELD],
                seq: 0,
            },
            rng: Rng(seed),
            fate: None,
            faults,
            stats: DirStats::default(),
        };
        let mut seeder = Rng(config.seed);
        let rx_seed = seeder.next();
        let tx_seed = seeder.next();
        Ok(FaultLink {
            inner,
            rx: side(rx_bufs, rx_seed, config.rx),
            tx: side(tx_bufs, tx_seed, config.tx),
            scratch,
            stash,
            stashed: None,
            slot_len,
            partitioned: false,
            seed: config.seed,
        })
    }

    /// The wrapped link.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The wrapped link, mutably (frames taken from it directly bypass the faults).
    pub fn inner_mut(&mut self) -> &mut L {
        &mut self.inner
    }

    /// Unwrap; held frames are discarded.
    pub fn into_inner(self) -> L {
        self.inner
    }

    /// The current configuration.
    pub fn config(&self) -> FaultConfig {
        FaultConfig {
            seed: self.seed,
            rx: self.rx.faults,
            tx: self.tx.faults,
        }
    }

    /// Change the faults from the next frame on; the random sequence continues (the seed of
    /// `config` is ignored; build a new wrapper to restart a sequence).
    pub fn set_faults(&mut self, rx: Faults, tx: Faults) {
        self.rx.faults = rx;
        self.tx.faults = tx;
        self.rx.fate = None;
        self.tx.fate = None;
    }

    /// Cut (`true`) or heal (`false`) the link: while cut every frame in both directions is
    /// dropped and counted in [`DirStats::partitioned`].
    pub fn set_partitioned(&mut self, partitioned: bool) {
        self.partitioned = partitioned;
    }

    /// Whether the link is cut.
    pub fn is_partitioned(&self) -> bool {
        self.partitioned
    }

    /// Fault counters.
    pub fn stats(&self) -> FaultStats {
        FaultStats {
            rx: self.rx.stats,
            tx: self.tx.stats,
        }
    }

    /// Frames held back in each direction: `(receive, transmit)`. The receive count includes a
    /// frame waiting for a held slot to free up.
    pub fn held(&self) -> (usize, usize) {
        (
            self.rx.pool.len() + usize::from(self.stashed.is_some()),
            self.tx.pool.len(),
        )
    }

    /// When a held frame next comes due (receive it or flush it then); `Instant::ZERO` if one
    /// is due already, `None` if nothing is held or held frames wait only for later traffic.
    pub fn poll_at(&self) -> Option<Instant> {
        match (self.rx.pool.next_due(), self.tx.pool.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hand the oldest due held transmit frame to the inner link. `Ok(false)` when nothing is
    /// due or the inner link pushes back.
    fn release_tx(&mut self, now: Instant) -> Result<bool, LinkError> {
        let Some(i) = self.tx.pool.ready(now) else {
            return Ok(false);
        };
        let Some(h) = self.tx.pool.held[i] else {
            return Ok(false);
        };
        if self.partitioned {
            self.tx.pool.held[i] = None;
            self.tx.stats.partitioned += 1;
            return Ok(true);
        }
        match self.inner.transmit(now, h.len) {
            Ok(Some(mut tok)) => {
                if let Some(id) = h.ts_id {
                    // Only requested when the inner link reported timestamp support.
                    let _ = tok.request_timestamp(id);
                }
                let src = &self.tx.pool.bufs[i][..h.len];
                tok.consume(|buf| buf.copy_from_slice(src));
                self.tx.pool.held[i] = None;
                self.tx.pool.note_passed();
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(LinkError::TooLarge { .. } | LinkError::TooShort { .. }) => {
                self.tx.pool.held[i] = None;
                self.tx.stats.release_errors += 1;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }
}

impl<L: RawLink, const HELD: usize> fmt::Debug for FaultLink<'_, L, HELD> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultLink")
            .field("config", &self.config())
            .field("partitioned", &self.partitioned)
            .field("held", &self.held())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A received frame from a [`FaultLink`]: the inner link's view, or a copy the wrapper held.
pub struct FaultRx<'a, L: RawLink + 'a>(RxKind<'a, L>);

enum RxKind<'a, L: RawLink + 'a> {
    Inner(L::Rx<'a>),
    Held { data: &'a [u8], meta: RxMeta },
}

impl<'a, L: RawLink + 'a> FaultRx<'a, L> {
    /// True if the wrapper changed or held this frame (it is a copy, not the inner view).
    pub fn is_copy(&self) -> bool {
        matches!(self.0, RxKind::Held { .. })
    }
}

impl<'a, L: RawLink + 'a> RxFrame for FaultRx<'a, L> {
    fn data(&self) -> &[u8] {
        match &self.0 {
            RxKind::Inner(rx) => rx.data(),
            RxKind::Held { data, .. } => data,
        }
    }
    fn meta(&self) -> RxMeta {
        match &self.0 {
            RxKind::Inner(rx) => rx.meta(),
            RxKind::Held { meta, .. } => *meta,
        }
    }
}

/// A transmit slot from a [`FaultLink`]: the inner link's token, a held slot, or a scratch
/// buffer for a frame that will be lost.
pub struct FaultTx<'a, 'b, L: RawLink + 'a, const HELD: usize> {
    side: &'a mut Side<'b, HELD>,
    kind: TxKind<'a, L>,
    fate: Fate,
    now: Instant,
    ts_supported: bool,
    ts_id: Option<u32>,
}

enum TxKind<'a, L: RawLink + 'a> {
    Inner(L::Tx<'a>),
    /// A free held slot of the side, taken when the token is consumed.
    Hold(usize, usize),
    Discard(&'a mut [u8], bool),
}

impl<'a, L: RawLink + 'a, const HELD: usize> TxToken for FaultTx<'a, '_, L, HELD> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let FaultTx {
            side,
            kind,
            fate,
            now,
            ts_id,
            ..
        } = self;
        // A partition drops frames without using up the drawn fate, as on receive.
        if !matches!(kind, TxKind::Discard(_, true)) {
            side.fate = None;
        }
        side.stats.frames += 1;
        let payload_only = side.faults.corrupt_payload_only;
        match kind {
            TxKind::Discard(buf, partitioned) => {
                if partitioned {
                    side.stats.partitioned += 1;
                } else {
                    side.stats.lost += 1;
                }
                f(buf)
            }
            TxKind::Inner(tok) => tok.consume(|buf| {
                let r = f(buf);
                if let Some(c) = fate.corrupt
                    && corrupt(buf, c, payload_only)
                {
                    side.stats.corrupted += 1;
                }
                side.pool.note_passed();
                if fate.duplicate
                    && let Some(j) = side.pool.free_slot()
                    && let Some(dst) = side.pool.bufs[j].get_mut(..buf.len())
                {
                    dst.copy_from_slice(buf);
                    side.pool
                        .insert(j, buf.len(), RxMeta::new(buf.len()), Release::Now);
                    side.stats.duplicated += 1;
                }
                r
            }),
            TxKind::Hold(i, len) => {
                let buf = &mut side.pool.bufs[i][..len];
                let r = f(buf);
                if let Some(c) = fate.corrupt
                    && corrupt(buf, c, payload_only)
                {
                    side.stats.corrupted += 1;
                }
                let release = side.release_for(fate.hold, now);
                side.pool.insert(i, len, RxMeta::new(len), release);
                if let Some(h) = side.pool.held[i].as_mut() {
                    h.ts_id = ts_id;
                }
                if fate.duplicate
                    && let Some(j) = side.pool.free_slot()
                {
                    side.pool.duplicate(i, j);
                    side.stats.duplicated += 1;
                }
                r
            }
        }
    }

    /// Forwarded to the inner token. For a held frame the request is passed on when the frame
    /// is released; a lost or partitioned frame never reaches the inner link and so never
    /// reports a timestamp.
    fn request_timestamp(&mut self, id: u32) -> Result<(), LinkError> {
        match &mut self.kind {
            TxKind::Inner(tok) => tok.request_timestamp(id),
            _ if !self.ts_supported => Err(LinkError::Unsupported("transmit timestamps")),
            _ => {
                self.ts_id = Some(id);
                Ok(())
            }
        }
    }
}

impl<'b, L: RawLink, const HELD: usize> RawLink for FaultLink<'b, L, HELD> {
    type Rx<'a>
        = FaultRx<'a, L>
    where
        Self: 'a;
    type Tx<'a>
        = FaultTx<'a, 'b, L, HELD>
    where
        Self: 'a;

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }

    fn receive(&mut self, now: Instant) -> Result<Option<Self::Rx<'_>>, LinkError> {
        loop {
            // Held frames that are due go first: they are older than anything still inside.
            if let Some(i) = self.rx.pool.ready(now) {
                let Some(h) = self.rx.pool.held[i].take() else {
                    continue;
                };
                if self.partitioned {
                    self.rx.stats.partitioned += 1;
                    continue;
                }
                self.rx.pool.note_passed();
                return Ok(Some(FaultRx(RxKind::Held {
                    data: &self.rx.pool.bufs[i][..h.len],
                    meta: h.meta,
                })));
            }
            let mut fate = self.rx.fate();
            if self.partitioned || fate.lose {
                if self.stashed.take().is_none() {
                    let Some(rx) = self.inner.receive(now)? else {
                        return Ok(None);
                    };
                    drop(rx);
                    self.rx.stats.frames += 1;
                }
                if self.partitioned {
                    self.rx.stats.partitioned += 1;
                } else {
                    self.rx.stats.lost += 1;
                    self.rx.fate = None;
                }
                continue;
            }
            if fate.rx_slots() > self.rx.pool.free_count() {
                // Only make room for a frame that exists: take it into the stash first.
                if self.stashed.is_none() {
                    let Some(rx) = self.inner.receive(now)? else {
                        return Ok(None);
                    };
                    self.rx.stats.frames += 1;
                    let data = rx.data();
                    match self.stash.get_mut(..data.len()) {
                        Some(dst) => {
                            dst.copy_from_slice(data);
                            self.stashed = Some((data.len(), rx.meta()));
                        }
                        None => {
                            self.rx.stats.unbuffered += 1;
                            self.rx.fate = None;
                            continue;
                        }
                    }
                }
                if self.rx.pool.force_oldest() {
                    self.rx.stats.forced_releases += 1;
                    continue;
                }
                // Nothing held can make room (every slot is due already and will be returned
                // first); only possible with HELD = 1 and both a copy and a duplicate drawn.
                fate.duplicate = false;
                self.rx.fate = Some(fate);
                if fate.rx_slots() > self.rx.pool.free_count() {
                    continue;
                }
            }
            let clean = fate.hold.is_none() && fate.corrupt.is_none();
            if let Some((len, meta)) = self.stashed.take() {
                let side = &mut self.rx;
                side.fate = None;
                let slot = side.pool.free_slot();
                if let Some(i) = slot.filter(|_| !clean || fate.duplicate) {
                    side.pool.bufs[i][..len].copy_from_slice(&self.stash[..len]);
                    if clean {
                        side.pool.insert(i, len, meta, Release::Now);
                        side.stats.duplicated += 1;
                    } else {
                        side.hold_copy(i, len, meta, fate, now);
                    }
                }
                if clean {
                    side.pool.note_passed();
                    return Ok(Some(FaultRx(RxKind::Held {
                        data: &self.stash[..len],
                        meta,
                    })));
                }
                continue;
            }
            if clean {
                // Clean (possibly duplicated) frame: pass the inner view through.
                let Some(rx) = self.inner.receive(now)? else {
                    return Ok(None);
                };
                let side = &mut self.rx;
                side.fate = None;
                side.stats.frames += 1;
                let data = rx.data();
                if fate.duplicate
                    && let Some(j) = side.pool.free_slot()
                    && let Some(dst) = side.pool.bufs[j].get_mut(..data.len())
                {
                    dst.copy_from_slice(data);
                    side.pool.insert(j, data.len(), rx.meta(), Release::Now);
                    side.stats.duplicated += 1;
                }
                side.pool.note_passed();
                return Ok(Some(FaultRx(RxKind::Inner(rx))));
            }
            // The frame must be changed or held: copy it.
            let Some(rx) = self.inner.receive(now)? else {
                return Ok(None);
            };
            let side = &mut self.rx;
            side.fate = None;
            side.stats.frames += 1;
            let data = rx.data();
            let len = data.len();
            let Some(i) = side.pool.free_slot().filter(|_| len <= self.slot_len) else {
                side.stats.unbuffered += 1;
                continue;
            };
            side.pool.bufs[i][..len].copy_from_slice(data);
            let meta = rx.meta();
            drop(rx);
            side.hold_copy(i, len, meta, fate, now);
        }
    }

    fn transmit(&mut self, now: Instant, len: usize) -> Result<Option<Self::Tx<'_>>, LinkError> {
        let caps = self.inner.capabilities();
        let ts_supported = caps.timestamps.tx_software || caps.timestamps.tx_hardware;
        // Due held frames (duplicates, expired delays) leave before newer ones.
        while self.release_tx(now)? {}
        if self.tx.pool.ready(now).is_some() {
            return Ok(None);
        }
        loop {
            let fate = self.tx.fate();
            if self.partitioned || fate.lose {
                check_tx_len(len, self.scratch.len().min(caps.max_frame_len(2)))?;
                return Ok(Some(FaultTx {
                    side: &mut self.tx,
                    kind: TxKind::Discard(&mut self.scratch[..len], self.partitioned),
                    fate,
                    now,
                    ts_supported,
                    ts_id: None,
                }));
            }
            if fate.tx_slots() > self.tx.pool.free_count() {
                // Make room: send the oldest held frame now.
                if self.tx.pool.ready(now).is_none() && self.tx.pool.force_oldest() {
                    self.tx.stats.forced_releases += 1;
                }
                if self.release_tx(now)? {
                    continue;
                }
                return Ok(None);
            }
            if fate.hold.is_none() {
                let Some(tok) = self.inner.transmit(now, len)? else {
                    return Ok(None);
                };
                return Ok(Some(FaultTx {
                    side: &mut self.tx,
                    kind: TxKind::Inner(tok),
                    fate,
                    now,
                    ts_supported,
                    ts_id: None,
                }));
            }
            check_tx_len(len, self.slot_len.min(caps.max_frame_len(2)))?;
            let Some(i) = self.tx.pool.free_slot() else {
                return Ok(None);
            };
            return Ok(Some(FaultTx {
                side: &mut self.tx,
                kind: TxKind::Hold(i, len),
                fate,
                now,
                ts_supported,
                ts_id: None,
            }));
        }
    }

    fn flush(&mut self, now: Instant) -> Result<FlushStatus, LinkError> {
        while self.release_tx(now)? {}
        self.inner.flush(now)
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.inner.join_multicast(mac)
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.inner.leave_multicast(mac)
    }

    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        self.inner.poll_tx_timestamp()
    }
}
