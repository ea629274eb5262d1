//! An in-memory Ethernet segment: several [`RawLink`]s on one simulated wire.
//!
//! Tests, simulators and unprivileged demos need links that behave like Ethernet without a kernel.
//! A [`Segment`] is one broadcast domain (a hub): every frame a link sends is offered to every
//! other link, which keeps it if its receive filter accepts the destination MAC, exactly as a NIC
//! would:
//!
//! * unicast frames go to links whose MAC equals the destination (or that are promiscuous);
//! * broadcast frames go to every other link;
//! * multicast frames go to links that joined the group with [`RawLink::join_multicast`] (joins
//!   are reference-counted, so two users of one group MAC need two leaves), or that receive all
//!   multicast ([`MemLink::set_all_multicast`]);
//! * a frame is never delivered back to the link that sent it.
//!
//! # Storage
//!
//! Nothing allocates. The caller lends one byte arena to [`Segment::new`]; it is cut into `SLOTS`
//! equal slots (const generic), each holding one frame, so the slot size is
//! `arena.len() / SLOTS` and bounds the MTU of every link ([`arena_len`] computes the arena for
//! a wanted MTU). Slot bookkeeping (queues are linked lists threaded through a fixed
//! `[SlotMeta; SLOTS]` array, multicast filters are `heapless` vectors of `GROUPS` entries) lives
//! in the segment itself, so the segment's size is fixed at compile time.
//!
//! Every link reserves `rx_queue + tx_queue` slots when it is attached, and attaching fails with
//! [`MemError::OutOfSlots`] when the reservations would exceed `SLOTS`. A link therefore always
//! finds a slot while it is within its own queue depths, whatever the other links do:
//!
//! * **TX**: [`RawLink::transmit`] returns `Ok(None)` only when this link's TX queue (queued frames
//!   plus the token in hand) is full; [`RawLink::flush`] delivers the whole queue and always
//!   completes.
//! * **RX**: when a receiver's queue is full the frame is dropped *at that receiver* and counted in
//!   [`LinkStats::rx_dropped`], like a NIC's RX overrun; other receivers still get it. Frames larger
//!   than the receiver's MTU are dropped and counted in [`LinkStats::rx_oversize`].
//!
//! Delivery happens during the sender's `flush` (frames are copied into the receivers' slots
//! then), and each delivered frame carries [`TimestampSource::Link`] with the `now` passed to that
//! flush. Frames shorter than 60 bytes are zero-padded to 60 as an Ethernet NIC would (see
//! [`SegmentConfig::pad_short_frames`]).
//!
//! # VLAN stripping
//!
//! A link can emulate a NIC that strips the outer VLAN tag on receive ([`RxVlanStrip`]): the tag
//! is cut out of the delivered bytes and reported in [`RxMeta::stripped_vlan`], exactly as Linux
//! veth and most NICs report it, so ports' VLAN handling can be tested without a kernel.
//!
//! # Sharing
//!
//! [`Segment`] keeps its state in `RefCell`s: [`Segment::link`] takes `&self` and returns a
//! [`MemLink`] borrowing the segment, so many links are used from one thread at once. Each slot
//! has its own cell, so a receive view or a TX token of one link never blocks another link's
//! flush. With the `std` feature, `SyncSegment` is the same segment behind `std::sync::Mutex`es
//! with a `Condvar`: it is `Sync`, its links are `Send`, and `MemLink::wait_readable` lets a
//! receiver thread sleep until a frame arrives. Share it with `std::thread::scope`, or leak it
//! (`Box::leak`) to get a `&'static` segment for spawned threads.
//!
//! ```
//! use l2net_core::link::mem::{arena_len, Segment, SegmentConfig};
//! use l2net_core::link::{RawLink, RxFrame, TxToken};
//! use l2net_core::{Instant, MacAddr};
//!
//! let mut arena = [0u8; arena_len(64, 1500)];
//! let seg = Segment::<4, 64>::new(&mut arena, SegmentConfig::DEFAULT).unwrap();
//! let mut a = seg.link(MacAddr([2, 0, 0, 0, 0, 1]), 1500).unwrap();
//! let mut b = seg.link(MacAddr([2, 0, 0, 0, 0, 2]), 1500).unwrap();
//!
//! let now = Instant::from_millis(1);
//! let tx = a.transmit(now, 64).unwrap().unwrap();
//! tx.consume(|buf| {
//!     buf.fill(0);
//!     buf[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
//! });
//! a.flush(now).unwrap();
//! let rx = b.receive(now).unwrap().unwrap();
//! assert_eq!(rx.data().len(), 64);
//! ```

use core::cell::{RefCell, RefMut};
use core::fmt;

use heapless::{Deque, Vec};

#[cfg(feature = "std")]
use self::sealed::Kind as _;

use super::{
    Capabilities, FlushStatus, LinkError, RawLink, RxFrame, RxMeta, Timestamp, TimestampSource,
    TxTimestamp, TxToken, check_tx_len,
};
use crate::time::Instant;
use crate::wire::MacAddr;
use crate::wire::ethernet::{HEADER_LEN, MIN_FRAME_LEN};
use crate::wire::vlan::{TPID_8021AD, TPID_8021Q, Tci, VlanTag};

/// Bytes a frame may carry beyond the Ethernet header and the MTU: two VLAN tags (QinQ).
pub const MAX_TAG_BYTES: usize = 8;

/// Transmit timestamps a link keeps until [`RawLink::poll_tx_timestamp`] takes them; when more
/// arrive the oldest is discarded and counted in [`LinkStats::tx_timestamps_lost`].
pub const TX_TIMESTAMP_QUEUE: usize = 16;

/// Arena bytes needed for `slots` slots that each hold a frame of a link with MTU `mtu`
/// (header, two VLAN tags and the MTU, at least the 60-byte Ethernet minimum).
pub const fn arena_len(slots: usize, mtu: usize) -> usize {
    slots.saturating_mul(slot_len_for_mtu(mtu))
}

/// Slot bytes needed for a link with MTU `mtu`.
const fn slot_len_for_mtu(mtu: usize) -> usize {
    let frame = mtu.saturating_add(HEADER_LEN + MAX_TAG_BYTES);
    if frame < MIN_FRAME_LEN {
        MIN_FRAME_LEN
    } else {
        frame
    }
}

const NIL: usize = usize::MAX;

mod sealed {
    use core::ops::DerefMut;

    /// How a segment's cells are implemented: `RefCell` for one thread, `Mutex` for several.
    pub trait Kind {
        type Cell<T>;
        type Guard<'b, T: 'b>: DerefMut<Target = T>;
        type Signal;
        fn cell<T>(value: T) -> Self::Cell<T>;
        fn lock<'b, T: 'b>(cell: &'b Self::Cell<T>) -> Self::Guard<'b, T>;
        fn signal() -> Self::Signal;
        fn notify(signal: &Self::Signal);
    }
}

/// Marker for how a segment synchronises: [`Local`] (one thread, `RefCell`) or, with the `std`
/// feature, `Threaded` (`Mutex` and `Condvar`). Sealed.
pub trait Kind: sealed::Kind {}

/// One-thread segments ([`Segment`]): state in `RefCell`s, no locking cost.
#[derive(Debug, Clone, Copy)]
pub struct Local;

impl sealed::Kind for Local {
    type Cell<T> = RefCell<T>;
    type Guard<'b, T: 'b> = RefMut<'b, T>;
    type Signal = ();
    fn cell<T>(value: T) -> RefCell<T> {
        RefCell::new(value)
    }
    // The segment never calls user code while it holds a borrow, and a slot is only ever
    // borrowed by the one link that owns it at the time (see `Segment`), so this borrow cannot
    // conflict.
    fn lock<'b, T: 'b>(cell: &'b RefCell<T>) -> RefMut<'b, T> {
        cell.borrow_mut()
    }
    fn signal() {}
    fn notify(_: &()) {}
}
impl Kind for Local {}

/// Thread-safe segments (`SyncSegment`): state behind `std::sync::Mutex`, a `Condvar` to wake
/// receivers.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct Threaded;

#[cfg(feature = "std")]
impl sealed::Kind for Threaded {
    type Cell<T> = std::sync::Mutex<T>;
    type Guard<'b, T: 'b> = std::sync::MutexGuard<'b, T>;
    type Signal = std::sync::Condvar;
    fn cell<T>(value: T) -> std::sync::Mutex<T> {
        std::sync::Mutex::new(value)
    }
    // A panic while a guard is held leaves consistent state behind (every update is completed
    // before user code runs), so poisoning is ignored rather than turned into a panic.
    fn lock<'b, T: 'b>(cell: &'b std::sync::Mutex<T>) -> std::sync::MutexGuard<'b, T> {
        cell.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn signal() -> std::sync::Condvar {
        std::sync::Condvar::new()
    }
    fn notify(signal: &std::sync::Condvar) {
        signal.notify_all();
    }
}
#[cfg(feature = "std")]
impl Kind for Threaded {}

/// A thread-safe [`Segment`]: `Sync`, with `Send` links and `MemLink::wait_readable`.
#[cfg(feature = "std")]
pub type SyncSegment<'a, const LINKS: usize, const SLOTS: usize, const GROUPS: usize = 16> =
    Segment<'a, LINKS, SLOTS, GROUPS, Threaded>;

/// A link of a `SyncSegment`.
#[cfg(feature = "std")]
pub type SyncMemLink<'s, 'a, const LINKS: usize, const SLOTS: usize, const GROUPS: usize = 16> =
    MemLink<'s, 'a, LINKS, SLOTS, GROUPS, Threaded>;

/// Whether a link strips the outer VLAN tag on receive, like a NIC with RX VLAN offload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RxVlanStrip {
    /// Tags stay in the bytes.
    #[default]
    Off,
    /// An outer 802.1Q (TPID 0x8100) tag is removed and reported in [`RxMeta::stripped_vlan`].
    Dot1Q,
    /// An outer 802.1Q or 802.1ad (TPID 0x88A8) tag is removed, as the Linux receive path does.
    Dot1QAndDot1AD,
}

impl RxVlanStrip {
    const fn strips(self, tpid: u16) -> bool {
        match self {
            RxVlanStrip::Off => false,
            RxVlanStrip::Dot1Q => tpid == TPID_8021Q,
            RxVlanStrip::Dot1QAndDot1AD => tpid == TPID_8021Q || tpid == TPID_8021AD,
        }
    }
}

/// Settings for a whole segment; the queue depths and VLAN stripping are the defaults of links
/// attached with [`Segment::link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SegmentConfig {
    /// Default receive queue depth of a link, in frames (at least 1).
    pub rx_queue: usize,
    /// Default transmit queue depth of a link, in frames (at least 1).
    pub tx_queue: usize,
    /// Zero-pad frames shorter than 60 bytes to 60, as Ethernet does on the wire.
    pub pad_short_frames: bool,
    /// Default receive VLAN stripping of a link.
    pub rx_vlan_strip: RxVlanStrip,
}

impl SegmentConfig {
    /// 16-frame queues, padding on, no VLAN stripping.
    pub const DEFAULT: SegmentConfig = SegmentConfig {
        rx_queue: 16,
        tx_queue: 16,
        pad_short_frames: true,
        rx_vlan_strip: RxVlanStrip::Off,
    };
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Settings for one link, for [`Segment::link_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkConfig {
    /// The link's own MAC address; must be unicast.
    pub mac: MacAddr,
    /// Largest payload after the Ethernet header (VLAN tags not counted).
    pub mtu: usize,
    /// Receive queue depth in frames (at least 1).
    pub rx_queue: usize,
    /// Transmit queue depth in frames (at least 1).
    pub tx_queue: usize,
    /// Receive VLAN stripping.
    pub rx_vlan_strip: RxVlanStrip,
}

impl LinkConfig {
    /// A link with the given MAC and MTU and the queue depths and stripping of `segment`.
    pub const fn new(mac: MacAddr, mtu: usize, segment: &SegmentConfig) -> Self {
        LinkConfig {
            mac,
            mtu,
            rx_queue: segment.rx_queue,
            tx_queue: segment.tx_queue,
            rx_vlan_strip: segment.rx_vlan_strip,
        }
    }
}

/// Why a segment or link could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum MemError {
    /// The arena gives slots of `slot_len` bytes; at least `needed` are required.
    ArenaTooSmall {
        /// Bytes per slot the arena gives (`arena.len() / SLOTS`).
        slot_len: usize,
        /// Bytes per slot required.
        needed: usize,
    },
    /// All `LINKS` link places are in use.
    TooManyLinks,
    /// The link's queues need `needed` slots but only `available` are unreserved.
    OutOfSlots {
        /// Slots the new link would reserve.
        needed: usize,
        /// Slots not reserved by other links.
        available: usize,
    },
    /// A queue depth of zero was requested.
    ZeroQueue,
    /// A link's own address must be unicast; this one is a group address.
    NotUnicast(MacAddr),
    /// No link with this id is attached.
    NoSuchLink(LinkId),
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::ArenaTooSmall { slot_len, needed } => write!(
                f,
                "arena gives {slot_len}-byte slots but {needed} bytes per slot are needed"
            ),
            MemError::TooManyLinks => f.write_str("every link place of the segment is in use"),
            MemError::OutOfSlots { needed, available } => write!(
                f,
                "link queues need {needed} slots but only {available} are unreserved"
            ),
            MemError::ZeroQueue => f.write_str("queue depths must be at least 1"),
            MemError::NotUnicast(mac) => write!(f, "link address {mac} is not a unicast address"),
            MemError::NoSuchLink(id) => write!(f, "no link {} on this segment", id.0),
        }
    }
}

impl core::error::Error for MemError {}

/// Identifies a link on its segment, for [`Segment::set_up`] and [`Segment::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkId(usize);

impl LinkId {
    /// The link's place on the segment, `0..LINKS`.
    pub const fn index(self) -> usize {
        self.0
    }
}

/// Per-link counters, like a NIC's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct LinkStats {
    /// Frames this link put on the segment.
    pub tx_frames: u64,
    /// Bytes of those frames (after padding).
    pub tx_bytes: u64,
    /// Frames dropped at flush because their payload exceeded this link's MTU (the transmit
    /// length check allows room for two VLAN tags; untagged frames may not use it).
    pub tx_oversize: u64,
    /// Frames queued for this link to receive.
    pub rx_frames: u64,
    /// Bytes of those frames (as delivered, after VLAN stripping).
    pub rx_bytes: u64,
    /// Frames for this link dropped because its receive queue was full (RX overrun).
    pub rx_dropped: u64,
    /// Frames for this link dropped because their payload exceeded its MTU.
    pub rx_oversize: u64,
    /// Queued received frames discarded when the link was set down.
    pub rx_discarded_down: u64,
    /// Transmit timestamps discarded because nobody polled them in time.
    pub tx_timestamps_lost: u64,
}

#[derive(Debug, Clone, Copy)]
struct SlotMeta {
    next: usize,
    len: usize,
    stamp: u64,
    vlan: Option<VlanTag>,
    ts_id: Option<u32>,
}

impl SlotMeta {
    const EMPTY: SlotMeta = SlotMeta {
        next: NIL,
        len: 0,
        stamp: 0,
        vlan: None,
        ts_id: None,
    };
}

/// A FIFO of slots, linked through `SlotMeta::next`.
#[derive(Debug, Clone, Copy)]
struct Queue {
    head: usize,
    tail: usize,
    len: usize,
}

impl Queue {
    const EMPTY: Queue = Queue {
        head: NIL,
        tail: NIL,
        len: 0,
    };

    fn push(&mut self, slots: &mut [SlotMeta], i: usize) {
        slots[i].next = NIL;
        if self.tail == NIL {
            self.head = i;
        } else {
            slots[self.tail].next = i;
        }
        self.tail = i;
        self.len += 1;
    }

    fn pop(&mut self, slots: &[SlotMeta]) -> Option<usize> {
        if self.head == NIL {
            return None;
        }
        let i = self.head;
        self.head = slots[i].next;
        if self.head == NIL {
            self.tail = NIL;
        }
        self.len -= 1;
        Some(i)
    }
}

struct LinkState<const G: usize> {
    mac: MacAddr,
    mtu: usize,
    up: bool,
    all_multicast: bool,
    promiscuous: bool,
    strip: RxVlanStrip,
    rx_depth: usize,
    tx_depth: usize,
    rx: Queue,
    /// The head of `rx` is lent out as a receive view.
    rx_lent: bool,
    tx: Queue,
    /// A TX token holds a slot that is not in `tx` yet.
    tx_reserved: bool,
    groups: Vec<(MacAddr, u32), G>,
    stats: LinkStats,
    stamps: Deque<TxTimestamp, TX_TIMESTAMP_QUEUE>,
}

impl<const G: usize> LinkState<G> {
    fn accepts(&self, dst: MacAddr) -> bool {
        if !self.up {
            false
        } else if dst.is_broadcast() || self.promiscuous {
            true
        } else if dst.is_multicast() {
            self.all_multicast || self.groups.iter().any(|(g, _)| *g == dst)
        } else {
            dst == self.mac
        }
    }

    const fn max_frame_len(&self) -> usize {
        HEADER_LEN + MAX_TAG_BYTES + self.mtu
    }
}

struct State<const L: usize, const S: usize, const G: usize> {
    links: [Option<LinkState<G>>; L],
    slots: [SlotMeta; S],
    free: Queue,
    reserved: usize,
}

impl<const L: usize, const S: usize, const G: usize> State<L, S, G> {
    fn link(&mut self, id: usize) -> Option<&mut LinkState<G>> {
        self.links.get_mut(id).and_then(Option::as_mut)
    }

    fn free_slot(&mut self, i: usize) {
        self.slots[i] = SlotMeta::EMPTY;
        self.free.push(&mut self.slots, i);
    }

    /// Free every frame in the receive queue except a lent head; returns how many.
    fn discard_rx(&mut self, id: usize) -> u64 {
        let State {
            links, slots, free, ..
        } = self;
        let Some(Some(link)) = links.get_mut(id) else {
            return 0;
        };
        let keep = if link.rx_lent {
            link.rx.pop(slots)
        } else {
            None
        };
        let mut n = 0;
        while let Some(i) = link.rx.pop(slots) {
            slots[i] = SlotMeta::EMPTY;
            free.push(slots, i);
            n += 1;
        }
        if let Some(i) = keep {
            link.rx.push(slots, i);
        }
        n
    }
}

/// Number of VLAN tags (at most two) at the front of a frame; a tag counts only if the frame
/// also holds the EtherType after it.
fn tag_count(frame: &[u8]) -> usize {
    let mut n = 0;
    while n < 2 {
        let at = 12 + 4 * n;
        if frame.len() < at + 6 {
            break;
        }
        match frame.get(at..at + 2) {
            Some(&[a, b]) if matches!(u16::from_be_bytes([a, b]), TPID_8021Q | TPID_8021AD) => {
                n += 1
            }
            _ => break,
        }
    }
    n
}

/// Copy `frame`, zero-padded to `wire_len`, into `dst`, removing the outer tag if `strip` says
/// so. Returns the delivered length and the removed tag.
fn copy_frame(
    frame: &[u8],
    wire_len: usize,
    dst: &mut [u8],
    strip: RxVlanStrip,
) -> (usize, Option<VlanTag>) {
    if let Some(&[t0, t1, c0, c1]) = frame.get(12..16) {
        let tpid = u16::from_be_bytes([t0, t1]);
        if strip.strips(tpid) && frame.len() >= 18 {
            let out_len = wire_len - 4;
            dst[..12].copy_from_slice(&frame[..12]);
            let rest = &frame[16..];
            dst[12..12 + rest.len()].copy_from_slice(rest);
            dst[12 + rest.len()..out_len].fill(0);
            let tag = VlanTag {
                tpid,
                tci: Tci(u16::from_be_bytes([c0, c1])),
            };
            return (out_len, Some(tag));
        }
    }
    dst[..frame.len()].copy_from_slice(frame);
    dst[frame.len()..wire_len].fill(0);
    (wire_len, None)
}

/// A simulated Ethernet segment. See the module docs.
///
/// `LINKS` is the number of link places, `SLOTS` the number of frame slots the arena is cut
/// into, `GROUPS` the multicast filter entries per link, and `K` the synchronisation
/// ([`Local`] here, `Threaded` for `SyncSegment`).
pub struct Segment<'a, const LINKS: usize, const SLOTS: usize, const GROUPS: usize = 16, K = Local>
where
    K: Kind,
{
    state: K::Cell<State<LINKS, SLOTS, GROUPS>>,
    slots: Vec<K::Cell<&'a mut [u8]>, SLOTS>,
    slot_len: usize,
    config: SegmentConfig,
    signal: K::Signal,
}

impl<'a, const L: usize, const S: usize, const G: usize, K: Kind> Segment<'a, L, S, G, K> {
    /// A segment whose frames live in `arena`, cut into `SLOTS` slots of `arena.len() / SLOTS`
    /// bytes (at least 60; use [`arena_len`]). Fails with [`MemError::ArenaTooSmall`] otherwise
    /// and with [`MemError::ZeroQueue`] if the default queue depths are zero.
    pub fn new(arena: &'a mut [u8], config: SegmentConfig) -> Result<Self, MemError> {
        let slot_len = arena.len().checked_div(S).unwrap_or(0);
        if slot_len < MIN_FRAME_LEN {
            return Err(MemError::ArenaTooSmall {
                slot_len,
                needed: MIN_FRAME_LEN,
            });
        }
        if config.rx_queue == 0 || config.tx_queue == 0 {
            return Err(MemError::ZeroQueue);
        }
        let mut slots = Vec::new();
        for chunk in arena.chunks_exact_mut(slot_len).take(S) {
            // Exactly S chunks exist because slot_len = len / S; a push cannot fail.
            let _ = slots.push(K::cell(chunk));
        }
        let mut metas = [SlotMeta::EMPTY; S];
        let mut free = Queue::EMPTY;
        for i in 0..S {
            free.push(&mut metas, i);
        }
        Ok(Segment {
            state: K::cell(State {
                links: [const { None }; L],
                slots: metas,
                free,
                reserved: 0,
            }),
            slots,
            slot_len,
            config,
            signal: K::signal(),
        })
    }

    /// Bytes per frame slot.
    pub fn slot_len(&self) -> usize {
        self.slot_len
    }

    /// The largest MTU a link of this segment can have.
    pub fn max_mtu(&self) -> usize {
        self.slot_len - HEADER_LEN - MAX_TAG_BYTES
    }

    /// The segment's settings.
    pub fn config(&self) -> SegmentConfig {
        self.config
    }

    /// Slots not reserved by any link.
    pub fn unreserved_slots(&self) -> usize {
        S - K::lock(&self.state).reserved
    }

    /// Slots holding no frame (neither queued nor lent); equals `SLOTS` when every link's queues
    /// are empty.
    pub fn free_slots(&self) -> usize {
        K::lock(&self.state).free.len
    }

    /// Attach a link with the segment's default queue depths and VLAN stripping. The link is
    /// up, has joined no group and is detached again when dropped.
    pub fn link(&self, mac: MacAddr, mtu: usize) -> Result<MemLink<'_, 'a, L, S, G, K>, MemError> {
        self.link_with(LinkConfig::new(mac, mtu, &self.config))
    }

    /// Attach a link with its own settings.
    pub fn link_with(&self, cfg: LinkConfig) -> Result<MemLink<'_, 'a, L, S, G, K>, MemError> {
        if !cfg.mac.is_unicast() {
            return Err(MemError::NotUnicast(cfg.mac));
        }
        if cfg.rx_queue == 0 || cfg.tx_queue == 0 {
            return Err(MemError::ZeroQueue);
        }
        let needed_len = slot_len_for_mtu(cfg.mtu);
        if cfg.mtu > self.max_mtu() {
            return Err(MemError::ArenaTooSmall {
                slot_len: self.slot_len,
                needed: needed_len,
            });
        }
        let mut st = K::lock(&self.state);
        let needed = cfg.rx_queue.saturating_add(cfg.tx_queue);
        let available = S - st.reserved;
        if needed > available {
            return Err(MemError::OutOfSlots { needed, available });
        }
        let Some(place) = st.links.iter().position(Option::is_none) else {
            return Err(MemError::TooManyLinks);
        };
        st.links[place] = Some(LinkState {
            mac: cfg.mac,
            mtu: cfg.mtu,
            up: true,
            all_multicast: false,
            promiscuous: false,
            strip: cfg.rx_vlan_strip,
            rx_depth: cfg.rx_queue,
            tx_depth: cfg.tx_queue,
            rx: Queue::EMPTY,
            rx_lent: false,
            tx: Queue::EMPTY,
            tx_reserved: false,
            groups: Vec::new(),
            stats: LinkStats::default(),
            stamps: Deque::new(),
        });
        st.reserved += needed;
        Ok(MemLink {
            seg: self,
            id: place,
            mac: cfg.mac,
            mtu: cfg.mtu,
            tx_depth: cfg.tx_queue,
        })
    }

    /// Bring a link up or down, from outside (a test harness cutting a cable). A down link
    /// fails `transmit` and `flush` with [`LinkError::Down`] and receives nothing; the frames
    /// waiting in its receive queue are discarded (counted in
    /// [`LinkStats::rx_discarded_down`]), frames in its transmit queue stay queued.
    pub fn set_up(&self, id: LinkId, up: bool) -> Result<(), MemError> {
        let mut st = K::lock(&self.state);
        let Some(link) = st.link(id.0) else {
            return Err(MemError::NoSuchLink(id));
        };
        link.up = up;
        if !up {
            let n = st.discard_rx(id.0);
            if let Some(link) = st.link(id.0) {
                link.stats.rx_discarded_down += n;
            }
        }
        Ok(())
    }

    /// A link's counters.
    pub fn stats(&self, id: LinkId) -> Result<LinkStats, MemError> {
        K::lock(&self.state)
            .link(id.0)
            .map(|l| l.stats)
            .ok_or(MemError::NoSuchLink(id))
    }

    /// Frames waiting in a link's receive queue.
    pub fn rx_queued(&self, id: LinkId) -> Result<usize, MemError> {
        K::lock(&self.state)
            .link(id.0)
            .map(|l| l.rx.len)
            .ok_or(MemError::NoSuchLink(id))
    }

    fn with_link<R>(&self, id: usize, f: impl FnOnce(&mut LinkState<G>) -> R) -> Option<R> {
        K::lock(&self.state).link(id).map(f)
    }

    fn detach(&self, id: usize) {
        let mut st = K::lock(&self.state);
        let State {
            links,
            slots,
            free,
            reserved,
        } = &mut *st;
        let Some(mut link) = links.get_mut(id).and_then(Option::take) else {
            return;
        };
        while let Some(i) = link.rx.pop(slots).or_else(|| link.tx.pop(slots)) {
            slots[i] = SlotMeta::EMPTY;
            free.push(slots, i);
        }
        *reserved -= link.rx_depth + link.tx_depth;
    }

    fn flush(&self, id: usize, now: Instant) -> Result<FlushStatus, LinkError> {
        let mut guard = K::lock(&self.state);
        let State {
            links, slots, free, ..
        } = &mut *guard;
        let Some(sender) = links.get_mut(id).and_then(Option::as_mut) else {
            return Err(LinkError::Gone);
        };
        if !sender.up {
            return Err(LinkError::Down);
        }
        let mut tx = sender.tx;
        sender.tx = Queue::EMPTY;
        let sender_max = sender.max_frame_len();
        let sender_mtu = sender.mtu;
        let mut sent = 0;
        let mut delivered = false;
        while let Some(s) = tx.pop(slots) {
            let meta = slots[s];
            let src = K::lock(&self.slots[s]);
            let frame = &src[..meta.len];
            let tags = tag_count(frame);
            let payload = meta.len.saturating_sub(HEADER_LEN + 4 * tags);
            let wire_len = if self.config.pad_short_frames {
                meta.len.max(MIN_FRAME_LEN)
            } else {
                meta.len
            };
            let mut dst_mac = [0; 6];
            dst_mac.copy_from_slice(&frame[..6]);
            let dst_mac = MacAddr(dst_mac);
            if payload > sender_mtu || meta.len > sender_max {
                if let Some(Some(sender)) = links.get_mut(id) {
                    sender.stats.tx_oversize += 1;
                }
            } else {
                for (r, slot) in links.iter_mut().enumerate() {
                    let Some(rcv) = slot.as_mut() else { continue };
                    if r == id || !rcv.accepts(dst_mac) {
                        continue;
                    }
                    if payload > rcv.mtu {
                        rcv.stats.rx_oversize += 1;
                        continue;
                    }
                    if rcv.rx.len >= rcv.rx_depth {
                        rcv.stats.rx_dropped += 1;
                        continue;
                    }
                    let Some(d) = free.pop(slots) else {
                        // Unreachable while reservations hold; still a drop, never a panic.
                        rcv.stats.rx_dropped += 1;
                        continue;
                    };
                    let mut dst = K::lock(&self.slots[d]);
                    let (len, vlan) = copy_frame(frame, wire_len, &mut dst, rcv.strip);
                    slots[d] = SlotMeta {
                        next: NIL,
                        len,
                        stamp: now.as_nanos(),
                        vlan,
                        ts_id: None,
                    };
                    rcv.rx.push(slots, d);
                    rcv.stats.rx_frames += 1;
                    rcv.stats.rx_bytes += len as u64;
                    delivered = true;
                }
                if let Some(Some(sender)) = links.get_mut(id) {
                    sender.stats.tx_frames += 1;
                    sender.stats.tx_bytes += wire_len as u64;
                    if let Some(ts_id) = meta.ts_id {
                        let stamp = TxTimestamp {
                            id: ts_id,
                            timestamp: Timestamp {
                                nanos: now.as_nanos(),
                                source: TimestampSource::Link,
                            },
                        };
                        if let Err(stamp) = sender.stamps.push_back(stamp) {
                            sender.stamps.pop_front();
                            let _ = sender.stamps.push_back(stamp);
                            sender.stats.tx_timestamps_lost += 1;
                        }
                    }
                }
                sent += 1;
            }
            drop(src);
            slots[s] = SlotMeta::EMPTY;
            free.push(slots, s);
        }
        drop(guard);
        if delivered {
            K::notify(&self.signal);
        }
        Ok(FlushStatus { sent, pending: 0 })
    }
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> fmt::Debug
    for Segment<'_, L, S, G, K>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("links", &L)
            .field("slots", &S)
            .field("slot_len", &self.slot_len)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One link attached to a [`Segment`]; implements [`RawLink`]. Detached when dropped (its
/// queued frames are freed).
pub struct MemLink<
    's,
    'a,
    const LINKS: usize,
    const SLOTS: usize,
    const GROUPS: usize = 16,
    K = Local,
> where
    K: Kind,
{
    seg: &'s Segment<'a, LINKS, SLOTS, GROUPS, K>,
    id: usize,
    mac: MacAddr,
    mtu: usize,
    tx_depth: usize,
}

impl<'s, 'a, const L: usize, const S: usize, const G: usize, K: Kind> MemLink<'s, 'a, L, S, G, K> {
    /// This link's id on its segment.
    pub fn id(&self) -> LinkId {
        LinkId(self.id)
    }

    /// The segment this link is attached to.
    pub fn segment(&self) -> &'s Segment<'a, L, S, G, K> {
        self.seg
    }

    /// Bring the link up or down; see [`Segment::set_up`].
    pub fn set_up(&mut self, up: bool) {
        let _ = self.seg.set_up(LinkId(self.id), up);
    }

    /// Whether the link is up.
    pub fn is_up(&self) -> bool {
        self.seg.with_link(self.id, |l| l.up).unwrap_or(false)
    }

    /// Receive every multicast frame, joined or not (like `IFF_ALLMULTI`).
    pub fn set_all_multicast(&mut self, on: bool) {
        self.seg.with_link(self.id, |l| l.all_multicast = on);
    }

    /// Receive every frame on the segment except this link's own (like `IFF_PROMISC`).
    pub fn set_promiscuous(&mut self, on: bool) {
        self.seg.with_link(self.id, |l| l.promiscuous = on);
    }

    /// Change receive VLAN stripping; applies to frames delivered from now on.
    pub fn set_rx_vlan_strip(&mut self, strip: RxVlanStrip) {
        self.seg.with_link(self.id, |l| l.strip = strip);
    }

    /// This link's counters.
    pub fn stats(&self) -> LinkStats {
        self.seg.with_link(self.id, |l| l.stats).unwrap_or_default()
    }

    /// Frames waiting to be received.
    pub fn rx_queued(&self) -> usize {
        self.seg.with_link(self.id, |l| l.rx.len).unwrap_or(0)
    }

    /// Frames queued for the next flush.
    pub fn tx_queued(&self) -> usize {
        self.seg.with_link(self.id, |l| l.tx.len).unwrap_or(0)
    }
}

#[cfg(feature = "std")]
impl<const L: usize, const S: usize, const G: usize> MemLink<'_, '_, L, S, G, Threaded> {
    /// Sleep until a frame is waiting for this link or `timeout` has passed; true if a frame is
    /// waiting. Never consumes the frame: call [`RawLink::receive`] next. Returns false at once
    /// when the link is detached.
    pub fn wait_readable(&self, timeout: core::time::Duration) -> bool {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut st = Threaded::lock(&self.seg.state);
        loop {
            match st.link(self.id) {
                Some(l) if l.up && l.rx.len > usize::from(l.rx_lent) => return true,
                Some(_) => {}
                None => return false,
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(std::time::Instant::now()),
                // A timeout too far away to represent: wait in long steps.
                None => core::time::Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            st = self
                .seg
                .signal
                .wait_timeout(st, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> Drop for MemLink<'_, '_, L, S, G, K> {
    fn drop(&mut self) {
        self.seg.detach(self.id);
    }
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> fmt::Debug
    for MemLink<'_, '_, L, S, G, K>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemLink")
            .field("id", &self.id)
            .field("mac", &self.mac)
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

/// A received frame lent by a [`MemLink`]; dropping it frees the slot.
pub struct MemRx<'l, 'a, const L: usize, const S: usize, const G: usize, K: Kind> {
    seg: &'l Segment<'a, L, S, G, K>,
    id: usize,
    slot: usize,
    meta: RxMeta,
    /// Always `Some` until drop, which releases the slot lock before taking the state lock (the
    /// segment never holds a slot lock while waiting for the state lock).
    bytes: Option<<K as sealed::Kind>::Guard<'l, &'a mut [u8]>>,
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> RxFrame
    for MemRx<'_, '_, L, S, G, K>
{
    fn data(&self) -> &[u8] {
        match &self.bytes {
            Some(b) => &b[..self.meta.wire_len],
            None => &[],
        }
    }
    fn meta(&self) -> RxMeta {
        self.meta
    }
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> Drop for MemRx<'_, '_, L, S, G, K> {
    fn drop(&mut self) {
        drop(self.bytes.take());
        let mut st = K::lock(&self.seg.state);
        let State {
            links, slots, free, ..
        } = &mut *st;
        if let Some(Some(link)) = links.get_mut(self.id)
            && link.rx_lent
        {
            link.rx_lent = false;
            if link.rx.head == self.slot {
                let _ = link.rx.pop(slots);
                slots[self.slot] = SlotMeta::EMPTY;
                free.push(slots, self.slot);
            }
        }
    }
}

/// A transmit slot lent by a [`MemLink`]. Consuming it queues the frame for the next flush;
/// dropping it unconsumed frees the slot.
pub struct MemTx<'l, 'a, const L: usize, const S: usize, const G: usize, K: Kind> {
    seg: &'l Segment<'a, L, S, G, K>,
    id: usize,
    slot: usize,
    len: usize,
    ts_id: Option<u32>,
    queued: bool,
    /// `Some` until consumed; released before the state lock is taken.
    bytes: Option<<K as sealed::Kind>::Guard<'l, &'a mut [u8]>>,
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> TxToken
    for MemTx<'_, '_, L, S, G, K>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        let r = match self.bytes.take() {
            Some(mut b) => f(&mut b[..self.len]),
            // Unreachable: only consume and drop take the guard.
            None => f(&mut []),
        };
        let mut st = K::lock(&self.seg.state);
        let State { links, slots, .. } = &mut *st;
        if let Some(Some(link)) = links.get_mut(self.id) {
            slots[self.slot] = SlotMeta {
                next: NIL,
                len: self.len,
                stamp: 0,
                vlan: None,
                ts_id: self.ts_id,
            };
            link.tx.push(slots, self.slot);
            link.tx_reserved = false;
            self.queued = true;
        }
        r
    }

    fn request_timestamp(&mut self, id: u32) -> Result<(), LinkError> {
        self.ts_id = Some(id);
        Ok(())
    }
}

impl<const L: usize, const S: usize, const G: usize, K: Kind> Drop for MemTx<'_, '_, L, S, G, K> {
    fn drop(&mut self) {
        drop(self.bytes.take());
        if self.queued {
            return;
        }
        let mut st = K::lock(&self.seg.state);
        if let Some(link) = st.link(self.id) {
            link.tx_reserved = false;
        }
        st.free_slot(self.slot);
    }
}

impl<'s, 'a, const L: usize, const S: usize, const G: usize, K: Kind> RawLink
    for MemLink<'s, 'a, L, S, G, K>
{
    type Rx<'x>
        = MemRx<'x, 'a, L, S, G, K>
    where
        Self: 'x;
    type Tx<'x>
        = MemTx<'x, 'a, L, S, G, K>
    where
        Self: 'x;

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::new(self.mtu);
        caps.max_burst = self.tx_depth;
        caps.timestamps.rx_software = true;
        caps.timestamps.tx_software = true;
        caps.vlan.rx_strip = self
            .seg
            .with_link(self.id, |l| l.strip != RxVlanStrip::Off)
            .unwrap_or(false);
        caps
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<Self::Rx<'_>>, LinkError> {
        let seg: &Segment<'a, L, S, G, K> = self.seg;
        let (slot, meta) = {
            let mut st = K::lock(&seg.state);
            let State { links, slots, .. } = &mut *st;
            let Some(Some(link)) = links.get_mut(self.id) else {
                return Err(LinkError::Gone);
            };
            if !link.up || link.rx_lent || link.rx.head == NIL {
                return Ok(None);
            }
            link.rx_lent = true;
            let slot = link.rx.head;
            let m = slots[slot];
            let meta = RxMeta {
                timestamp: Some(Timestamp {
                    nanos: m.stamp,
                    source: TimestampSource::Link,
                }),
                stripped_vlan: m.vlan,
                wire_len: m.len,
                truncated: false,
            };
            (slot, meta)
        };
        Ok(Some(MemRx {
            seg,
            id: self.id,
            slot,
            meta,
            bytes: Some(K::lock(&seg.slots[slot])),
        }))
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<Self::Tx<'_>>, LinkError> {
        check_tx_len(len, HEADER_LEN + MAX_TAG_BYTES + self.mtu)?;
        let seg: &Segment<'a, L, S, G, K> = self.seg;
        let slot = {
            let mut st = K::lock(&seg.state);
            let State {
                links, slots, free, ..
            } = &mut *st;
            let Some(Some(link)) = links.get_mut(self.id) else {
                return Err(LinkError::Gone);
            };
            if !link.up {
                return Err(LinkError::Down);
            }
            if link.tx_reserved || link.tx.len >= link.tx_depth {
                return Ok(None);
            }
            let Some(slot) = free.pop(slots) else {
                return Ok(None);
            };
            link.tx_reserved = true;
            slot
        };
        Ok(Some(MemTx {
            seg,
            id: self.id,
            slot,
            len,
            ts_id: None,
            queued: false,
            bytes: Some(K::lock(&seg.slots[slot])),
        }))
    }

    fn flush(&mut self, now: Instant) -> Result<FlushStatus, LinkError> {
        self.seg.flush(self.id, now)
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        if !mac.is_multicast() {
            return Err(LinkError::Unsupported(
                "join_multicast needs a group (multicast) address",
            ));
        }
        if mac.is_broadcast() {
            return Ok(());
        }
        self.seg
            .with_link(self.id, |l| {
                if let Some(entry) = l.groups.iter_mut().find(|(g, _)| *g == mac) {
                    entry.1 = entry.1.saturating_add(1);
                    Ok(())
                } else {
                    l.groups.push((mac, 1)).map_err(|_| {
                        LinkError::Unsupported("multicast filter table of the link is full")
                    })
                }
            })
            .unwrap_or(Err(LinkError::Gone))
    }

    /// Leaving a group that was not joined does nothing.
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.seg
            .with_link(self.id, |l| {
                if let Some(pos) = l.groups.iter().position(|(g, _)| *g == mac) {
                    if l.groups[pos].1 > 1 {
                        l.groups[pos].1 -= 1;
                    } else {
                        l.groups.swap_remove(pos);
                    }
                }
            })
            .ok_or(LinkError::Gone)
    }

    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        self.seg
            .with_link(self.id, |l| l.stamps.pop_front())
            .flatten()
    }
}
