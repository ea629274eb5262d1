//! A deterministic, seeded simulator of several participants on one in-memory Ethernet segment
//! (`link::mem`), each behind the fault-injecting link (`link::fault`).
//!
//! Layering per node, top to bottom:
//!
//! ```text
//! Participant --drive()--> Nic   (FCS: appends a CRC-32 on send, checks and strips it on
//!                                 receive; per-peer partitions)
//!                          FaultLink (seeded loss, duplication, reordering, delay, corruption
//!                                 of received frames)
//!                          MemLink on the shared Segment
//! ```
//!
//! The FCS layer models what every Ethernet NIC does: a frame damaged on the wire fails its CRC
//! and is dropped before software sees it. l2net relies on that (it has no checksum of its own);
//! `Faults::corrupt_past_fcs` delivers damaged frames anyway, to test robustness against bytes the
//! FCS did not catch.

#![allow(dead_code)]

use std::time::Duration;

use l2net_core::engine::{Config, Event, Participant, WriteError, WriterHandle, drive};
use l2net_core::link::fault::{self, FaultConfig, FaultLink, Probability, fault_arena_len};
use l2net_core::link::mem::{LinkConfig, MemLink, Segment, SegmentConfig, arena_len};
use l2net_core::link::{Capabilities, FlushStatus, LinkError, RawLink, RxFrame, RxMeta, TxToken};
use l2net_core::{Instant, MacAddr};

/// SplitMix64: seeds for the nodes.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What the wire does to frames arriving at one node.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    pub loss: f64,
    pub duplicate: f64,
    /// Probability that a frame is delayed by up to `max_delay` or overtaken by the next frames.
    pub reorder: f64,
    pub max_delay: Duration,
    pub corrupt: f64,
    /// Deliver corrupted frames although their FCS is wrong.
    pub corrupt_past_fcs: bool,
}

impl Faults {
    pub const NONE: Faults = Faults {
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        max_delay: Duration::ZERO,
        corrupt: 0.0,
        corrupt_past_fcs: false,
    };
    pub fn lossy(loss: f64) -> Faults {
        Faults {
            loss,
            duplicate: 0.05,
            reorder: 0.1,
            max_delay: Duration::from_millis(5),
            corrupt: 0.02,
            corrupt_past_fcs: false,
        }
    }
    fn to_link(self) -> fault::Faults {
        let max = self.max_delay.max(Duration::from_micros(1));
        fault::Faults {
            loss: Probability::from_f64(self.loss),
            duplicate: Probability::from_f64(self.duplicate),
            reorder: Probability::from_f64(self.reorder / 2.0),
            reorder_after: 3,
            reorder_max_hold: Some(max),
            corrupt: Probability::from_f64(self.corrupt),
            corrupt_payload_only: false,
            delay: Probability::from_f64(self.reorder / 2.0),
            delay_min: Duration::ZERO,
            delay_max: max,
        }
    }
}

/// Counters of the NIC layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NicStats {
    pub fcs_dropped: u64,
    pub partitioned: u64,
    /// Dropped by `Nic::kind_loss`.
    pub kind_dropped: u64,
    /// l2net frames received, by the kind of their first message (header byte 1; see
    /// `kind_slot`).
    pub frames_by_kind: [u64; 32],
    /// l2net frames received with a message following the first (docs/PROTOCOL.md section 2),
    /// by the kind of the first following one.
    pub following_by_kind: [u64; 32],
}

impl NicStats {
    /// Frames whose first message is of `kind`.
    pub fn frames(&self, kind: u8) -> u64 {
        self.frames_by_kind
            .get(kind_slot(kind))
            .copied()
            .unwrap_or(0)
    }
    /// Frames with a following message of `kind`.
    pub fn following(&self, kind: u8) -> u64 {
        self.following_by_kind
            .get(kind_slot(kind))
            .copied()
            .unwrap_or(0)
    }
}

/// The counter slot of a message kind: 0x01.. and 0x10.. as they are, 0x20.. at 0x18.., so
/// that 32 slots hold every kind.
fn kind_slot(kind: u8) -> usize {
    usize::from(if kind >= 0x20 { kind - 8 } else { kind })
}

const FCS: usize = 4;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A node's NIC: FCS emulation and per-peer partitions over the fault link.
pub struct Nic<L> {
    pub inner: L,
    pub corrupt_past_fcs: bool,
    /// Frames from these MACs are dropped while listed (a partition).
    pub blocked: Vec<MacAddr>,
    /// Received l2net messages of this kind (header byte 1) are dropped with this
    /// probability (seeded), on top of the link's faults: loss of one kind of message only.
    pub kind_loss: Option<(u8, f64)>,
    /// Received l2net messages of this kind get these header flag bits cleared (after the FCS
    /// check): a peer that predates a flag.
    pub clear_flags: Option<(u8, u8)>,
    /// Messages that follow the first in a received frame are zeroed (turned into padding):
    /// what a peer that predates following messages sees.
    pub strip_following: bool,
    pub rng: Rng,
    pub stats: NicStats,
}

pub struct SimRx {
    data: Vec<u8>,
    meta: RxMeta,
}

impl RxFrame for SimRx {
    fn data(&self) -> &[u8] {
        &self.data
    }
    fn meta(&self) -> RxMeta {
        self.meta
    }
}

pub struct SimTx<T> {
    inner: T,
    len: usize,
}

impl<T: TxToken> TxToken for SimTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let len = self.len;
        self.inner.consume(|buf| {
            let r = f(&mut buf[..len]);
            let body = buf.len() - FCS;
            buf[len..body].fill(0);
            let crc = crc32(&buf[..body]);
            buf[body..].copy_from_slice(&crc.to_le_bytes());
            r
        })
    }
}

impl<L: RawLink> RawLink for Nic<L> {
    type Rx<'a>
        = SimRx
    where
        Self: 'a;
    type Tx<'a>
        = SimTx<L::Tx<'a>>
    where
        Self: 'a;

    fn capabilities(&self) -> Capabilities {
        let mut c = self.inner.capabilities();
        c.mtu -= FCS;
        c
    }
    fn mac(&self) -> MacAddr {
        self.inner.mac()
    }
    fn receive(&mut self, now: Instant) -> Result<Option<SimRx>, LinkError> {
        loop {
            let Some(rx) = self.inner.receive(now)? else {
                return Ok(None);
            };
            let mut d = rx.data().to_vec();
            let mut meta = rx.meta();
            drop(rx);
            if d.len() < 14 + FCS {
                self.stats.fcs_dropped += 1;
                continue;
            }
            let src = MacAddr(d[6..12].try_into().unwrap());
            if self.blocked.contains(&src) {
                self.stats.partitioned += 1;
                continue;
            }
            if let Some((kind, p)) = self.kind_loss
                && d.get(15) == Some(&kind)
                && (self.rng.next_u64() as f64) < p * (u64::MAX as f64)
            {
                self.stats.kind_dropped += 1;
                continue;
            }
            let body = d.len() - FCS;
            let ok = crc32(&d[..body]).to_le_bytes() == d[body..];
            if !ok && !self.corrupt_past_fcs {
                self.stats.fcs_dropped += 1;
                continue;
            }
            d.truncate(body);
            // The simulation sends untagged frames: the first message ends at 30 + length.
            if d.len() >= 30 && d[12..14] == [0x88, 0xb5] {
                let end = 30 + usize::from(u16::from_be_bytes([d[20], d[21]]));
                if let Some(n) = self.stats.frames_by_kind.get_mut(kind_slot(d[15])) {
                    *n += 1;
                }
                if d.len() >= end + 16 && d[end] != 0 {
                    if let Some(n) = self.stats.following_by_kind.get_mut(kind_slot(d[end + 1])) {
                        *n += 1;
                    }
                    if self.strip_following {
                        d[end..].fill(0);
                    }
                }
            }
            if let Some((kind, mask)) = self.clear_flags
                && d.get(15) == Some(&kind)
            {
                d[16] &= !mask;
            }
            meta.wire_len = body;
            return Ok(Some(SimRx { data: d, meta }));
        }
    }
    fn transmit(&mut self, now: Instant, len: usize) -> Result<Option<Self::Tx<'_>>, LinkError> {
        // Pad to the Ethernet minimum first, then the FCS, as a NIC does.
        let total = len.max(60) + FCS;
        Ok(self
            .inner
            .transmit(now, total)?
            .map(|inner| SimTx { inner, len }))
    }
    fn flush(&mut self, now: Instant) -> Result<FlushStatus, LinkError> {
        self.inner.flush(now)
    }
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.inner.join_multicast(mac)
    }
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.inner.leave_multicast(mac)
    }
}

/// Participant capacities used by the simulations.
pub type Part<'a> = Participant<'a, 8, 32, 4, 4, 64, 8, 16>;

pub const LINKS: usize = 6;
pub const SLOTS: usize = LINKS * (256 + 64);
pub const MTU: usize = 1500;

pub type Seg = Segment<'static, LINKS, SLOTS>;
pub const HELD: usize = 16;
pub type Link = Nic<FaultLink<'static, MemLink<'static, 'static, LINKS, SLOTS>, HELD>>;

pub fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

pub fn segment() -> &'static Seg {
    let arena = leak(arena_len(SLOTS, MTU));
    Box::leak(Box::new(Seg::new(arena, SegmentConfig::DEFAULT).unwrap()))
}

pub fn mac(i: usize) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 1, i as u8 + 1])
}

pub struct Node {
    pub p: Part<'static>,
    pub link: Link,
    pub events: Vec<Event>,
    pub running: bool,
}

pub struct Sim {
    pub seg: &'static Seg,
    pub nodes: Vec<Node>,
    pub now: Instant,
    pub tick: Duration,
}

impl Sim {
    /// `n` nodes with the configuration `cfg(i)` (its MTU is set to the link's), seeded.
    pub fn new(n: usize, seed: u64, cfg: impl Fn(usize) -> Config<'static>) -> Sim {
        let seg = segment();
        let mut rng = Rng::new(seed);
        let now = Instant::from_millis(1);
        let nodes = (0..n)
            .map(|i| {
                let mut lc = LinkConfig::new(mac(i), MTU, &seg.config());
                lc.rx_queue = 256;
                lc.tx_queue = 64;
                let mem = seg.link_with(lc).unwrap();
                let arena = leak(fault_arena_len(HELD, MTU));
                let inner = FaultLink::new(mem, arena, FaultConfig::new(rng.next_u64())).unwrap();
                let link = Nic {
                    inner,
                    corrupt_past_fcs: false,
                    blocked: Vec::new(),
                    kind_loss: None,
                    clear_flags: None,
                    strip_following: false,
                    rng: Rng::new(seed ^ ((i as u64 + 1) << 32)),
                    stats: NicStats::default(),
                };
                let mut c = cfg(i);
                c.mtu = link.capabilities().mtu;
                let id = rng.next_u64() | 1;
                let p = Part::new(c, id, mac(i), leak(16 << 20), now).unwrap();
                Node {
                    p,
                    link,
                    events: Vec::new(),
                    running: true,
                }
            })
            .collect();
        Sim {
            seg,
            nodes,
            now,
            tick: Duration::from_millis(1),
        }
    }

    pub fn set_faults(&mut self, f: Faults) {
        for n in &mut self.nodes {
            n.link.inner.set_faults(f.to_link(), fault::Faults::NONE);
            n.link.corrupt_past_fcs = f.corrupt_past_fcs;
        }
    }

    /// One tick: every running node drives once (in order), then time advances.
    pub fn step(&mut self) {
        for n in self.nodes.iter_mut().filter(|n| n.running) {
            drive(&mut n.p, &mut n.link, self.now).unwrap();
            while let Some(e) = n.p.poll_event() {
                n.events.push(e);
            }
        }
        self.now += self.tick;
    }

    /// Node `node`'s writer `w` writes samples `*next ..= last` (each `payload(seq,
    /// size(seq))`) until the writer blocks; `*next` ends at the first one not written.
    pub fn write_while_room(
        &mut self,
        node: usize,
        w: WriterHandle,
        next: &mut u64,
        last: u64,
        size: impl Fn(u64) -> usize,
    ) {
        while *next <= last {
            match self.nodes[node]
                .p
                .write(w, &payload(*next, size(*next)), self.now)
            {
                Ok(seq) => {
                    assert_eq!(seq, *next);
                    *next += 1;
                }
                Err(WriteError::WouldBlock) => break,
                Err(e) => panic!("write: {e:?}"),
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    /// Step until `done` holds or `limit` passes; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Sim) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// Partition node `a` from node `b` (both directions) or heal it.
    pub fn partition(&mut self, a: usize, b: usize, on: bool) {
        let (ma, mb) = (mac(a), mac(b));
        for (x, m) in [(a, mb), (b, ma)] {
            let bl = &mut self.nodes[x].link.blocked;
            if on {
                if !bl.contains(&m) {
                    bl.push(m);
                }
            } else {
                bl.retain(|y| *y != m);
            }
        }
    }
}

/// A payload that carries its sequence number and can be checked: `len` bytes derived from
/// `seq`.
pub fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(8));
    v.extend_from_slice(&seq.to_le_bytes());
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v.truncate(len.max(8));
    v
}

/// The sequence number a payload claims, if the payload is intact.
pub fn check_payload(data: &[u8]) -> Option<u64> {
    let seq = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    (payload(seq, data.len()) == data).then_some(seq)
}
