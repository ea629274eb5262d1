//! The `RawLink` contract: how the protocol core talks to an Ethernet interface.
//!
//! Every port (AF_PACKET on Linux, `/dev/bpf` on macOS and the BSDs, an embassy or smoltcp driver on
//! a microcontroller, the in-memory [`mem::Segment`]) implements [`RawLink`]. The contract is
//! token-based and zero-copy in both directions:
//!
//! * **TX**: [`RawLink::transmit`] lends a buffer of exactly the requested length as a
//!   [`TxToken`]. A token is only handed out when the frame can no longer fail to be queued: the
//!   caller fills the buffer in place (a ring slot, a DMA descriptor) and consumes the token. Queued
//!   frames leave as one batch on [`RawLink::flush`] (one `sendmmsg`, one ring kick, one io_uring
//!   submit). `Ok(None)` means "no room right now" (backpressure): flush, wait, retry; it is never a
//!   silent drop.
//! * **RX**: [`RawLink::receive`] lends a view of one received frame ([`RxFrame`]). Dropping the
//!   view gives its slot back to the link (a ring block is returned to the kernel when its last view
//!   is dropped). Metadata ([`RxMeta`]) carries the timestamp and its source, the VLAN tag that the
//!   kernel or NIC stripped, and whether the frame was truncated.
//!
//! Neither direction blocks: a port that wants to sleep until a frame arrives exposes its own
//! readiness primitive (a file descriptor, an async waker). Links never read the protocol: they move
//! whole Ethernet frames, starting at the destination MAC, without the FCS.

pub mod fault;
pub mod mem;

use core::fmt;

use crate::time::Instant;
use crate::wire::{MacAddr, VlanTag};

/// Where a timestamp was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimestampSource {
    /// Taken by the NIC's clock (PTP hardware clock).
    Hardware,
    /// Taken by the operating system when the frame passed the driver.
    Software,
    /// Taken by the link implementation itself (for example the in-memory segment's clock).
    Link,
}

/// A timestamp attached to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timestamp {
    /// Nanoseconds on the clock named by `source` (CLOCK_REALTIME for Linux software stamps, the
    /// PHC's time for hardware stamps, the caller's `now` for [`TimestampSource::Link`]).
    pub nanos: u64,
    /// Which clock took it.
    pub source: TimestampSource,
}

/// Metadata of a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct RxMeta {
    /// When the frame was received, if the link timestamps.
    pub timestamp: Option<Timestamp>,
    /// The outermost VLAN tag, if the kernel or NIC removed it from the frame bytes before the
    /// link saw them (Linux veth and most NICs do). Tags still in the bytes are not repeated here.
    pub stripped_vlan: Option<VlanTag>,
    /// The frame's length on the wire (without a stripped tag). Larger than the view's length if
    /// the frame was truncated.
    pub wire_len: usize,
    /// True when the view holds fewer bytes than the frame had on the wire.
    pub truncated: bool,
}

impl RxMeta {
    /// Metadata for a complete, untimestamped, untagged frame of `wire_len` bytes.
    pub const fn new(wire_len: usize) -> Self {
        RxMeta {
            timestamp: None,
            stripped_vlan: None,
            wire_len,
            truncated: false,
        }
    }
}

/// Which timestamps a link can deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct TimestampCaps {
    /// Receive timestamps from the OS or driver.
    pub rx_software: bool,
    /// Receive timestamps from the NIC.
    pub rx_hardware: bool,
    /// Transmit timestamps from the OS or driver.
    pub tx_software: bool,
    /// Transmit timestamps from the NIC.
    pub tx_hardware: bool,
}

/// What the NIC or kernel does with VLAN tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct VlanOffload {
    /// Receive tags are removed from the bytes and reported in [`RxMeta::stripped_vlan`].
    pub rx_strip: bool,
    /// The NIC can insert tags on transmit (l2net always inserts them in software, which works
    /// everywhere; this is reported for diagnostics).
    pub tx_insert: bool,
}

/// What a link can do. Constructed with [`Capabilities::new`] and adjusted field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Capabilities {
    /// Largest Ethernet payload (after the 14-byte header, excluding VLAN tags) the link carries:
    /// the interface MTU, 1500 on ordinary Ethernet, up to 9000 and more with jumbo frames.
    pub mtu: usize,
    /// How many frames one [`RawLink::flush`] or one receive burst is designed to carry.
    pub max_burst: usize,
    /// Timestamp sources.
    pub timestamps: TimestampCaps,
    /// VLAN offload behaviour.
    pub vlan: VlanOffload,
}

impl Capabilities {
    /// Capabilities of a plain link with the given MTU: bursts of one, no timestamps, no offload.
    pub const fn new(mtu: usize) -> Self {
        Capabilities {
            mtu,
            max_burst: 1,
            timestamps: TimestampCaps {
                rx_software: false,
                rx_hardware: false,
                tx_software: false,
                tx_hardware: false,
            },
            vlan: VlanOffload {
                rx_strip: false,
                tx_insert: false,
            },
        }
    }

    /// Largest whole frame the link can carry with `vlan_tags` tags in it: 14-byte Ethernet
    /// header, 4 bytes per tag, and the MTU.
    pub const fn max_frame_len(&self, vlan_tags: usize) -> usize {
        crate::wire::ethernet::HEADER_LEN + 4 * vlan_tags + self.mtu
    }
}

/// Why a link operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LinkError {
    /// The operating system refused; `errno` is its error number, `op` the call that failed.
    Os {
        /// The call that failed, for example `"sendto"`.
        op: &'static str,
        /// The OS error number (`errno`).
        errno: i32,
    },
    /// The interface is down or has no carrier. Nothing was queued, so nothing was lost.
    Down,
    /// The interface was removed.
    Gone,
    /// A frame of `len` bytes was requested but the link carries at most `max`.
    TooLarge {
        /// Requested frame length.
        len: usize,
        /// Largest frame the link carries.
        max: usize,
    },
    /// A frame shorter than an Ethernet header was requested.
    TooShort {
        /// Requested frame length.
        len: usize,
    },
    /// The link does not support the requested feature (for example a transmit timestamp).
    Unsupported(&'static str),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Os { op, errno } => write!(f, "{op} failed (os error {errno})"),
            LinkError::Down => f.write_str("link is down"),
            LinkError::Gone => f.write_str("interface was removed"),
            LinkError::TooLarge { len, max } => {
                write!(
                    f,
                    "frame of {len} bytes exceeds the link's maximum of {max}"
                )
            }
            LinkError::TooShort { len } => {
                write!(f, "frame of {len} bytes is shorter than an Ethernet header")
            }
            LinkError::Unsupported(what) => write!(f, "not supported by this link: {what}"),
        }
    }
}

impl core::error::Error for LinkError {}

/// Check a requested transmit length against a link's limits; the shared rule every port
/// applies before it reserves a slot.
pub const fn check_tx_len(len: usize, max: usize) -> Result<(), LinkError> {
    if len < crate::wire::ethernet::HEADER_LEN {
        Err(LinkError::TooShort { len })
    } else if len > max {
        Err(LinkError::TooLarge { len, max })
    } else {
        Ok(())
    }
}

/// A received frame lent by a link. Dropping it returns the slot to the link.
pub trait RxFrame {
    /// The frame's bytes, from the destination MAC to the end of the payload (no FCS). The
    /// outermost VLAN tag may have been removed by the kernel or NIC: see
    /// [`RxMeta::stripped_vlan`].
    fn data(&self) -> &[u8];
    /// Metadata: timestamp, stripped VLAN tag, truncation.
    fn meta(&self) -> RxMeta;
}

/// A transmit slot of a fixed length lent by a link.
///
/// Obtaining the token reserved the slot; consuming it queues the frame, which cannot fail any
/// more. Dropping a token without consuming it releases the slot and sends nothing.
pub trait TxToken {
    /// Fill the frame in place and queue it for the next [`RawLink::flush`]. `f` receives a
    /// buffer of exactly the length given to [`RawLink::transmit`], zeroed or holding stale bytes
    /// (the caller must write all of it).
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R;

    /// Ask for a transmit timestamp for this frame, reported later through
    /// [`RawLink::poll_tx_timestamp`] with the given `id`. Links without transmit timestamps
    /// return [`LinkError::Unsupported`]; the request is never silently ignored.
    fn request_timestamp(&mut self, id: u32) -> Result<(), LinkError> {
        let _ = id;
        Err(LinkError::Unsupported("transmit timestamps"))
    }
}

/// A transmit timestamp delivered after the frame left, matched by the id given to
/// [`TxToken::request_timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TxTimestamp {
    /// The id the caller gave.
    pub id: u32,
    /// When the frame left.
    pub timestamp: Timestamp,
}

/// What a [`RawLink::flush`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FlushStatus {
    /// Frames handed to the device by this call.
    pub sent: usize,
    /// Frames still queued because the device pushed back; a later flush sends them.
    pub pending: usize,
}

impl FlushStatus {
    /// True if nothing is left queued.
    pub const fn is_complete(&self) -> bool {
        self.pending == 0
    }
}

/// An Ethernet interface that sends and receives whole frames. See the module docs.
pub trait RawLink {
    /// The receive view type.
    type Rx<'a>: RxFrame
    where
        Self: 'a;
    /// The transmit token type.
    type Tx<'a>: TxToken
    where
        Self: 'a;

    /// What the link can do.
    fn capabilities(&self) -> Capabilities;

    /// The link's own MAC address (the source of frames it sends).
    fn mac(&self) -> MacAddr;

    /// Take the next received frame, if one is waiting. Never blocks.
    fn receive(&mut self, now: Instant) -> Result<Option<Self::Rx<'_>>, LinkError>;

    /// Reserve a transmit slot of exactly `len` bytes (a whole frame from the destination MAC
    /// on, at least 14 bytes; the link pads to the 60-byte minimum itself if it must).
    ///
    /// `Ok(None)` means the link has no room now: call [`RawLink::flush`] and try again later.
    /// Lengths the link can never carry fail with [`LinkError::TooLarge`] or
    /// [`LinkError::TooShort`] (see [`check_tx_len`]).
    fn transmit(&mut self, now: Instant, len: usize) -> Result<Option<Self::Tx<'_>>, LinkError>;

    /// Send everything queued since the last flush as one batch. Frames that the device cannot
    /// take yet stay queued (the status reports how many) rather than being dropped.
    fn flush(&mut self, now: Instant) -> Result<FlushStatus, LinkError>;

    /// Join the multicast group `mac` so that frames sent to it are received (NIC and kernel
    /// filters). Links that receive every multicast frame anyway return `Ok(())`.
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError>;

    /// Leave a multicast group joined with [`RawLink::join_multicast`].
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError>;

    /// The next transmit timestamp, if any was requested and has arrived.
    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        None
    }

    /// Whether [`RawLink::receive`] might return a frame right now that the link's readiness
    /// primitive (its file descriptor, its waker) would not announce.
    ///
    /// `false` only when the link knows that its own buffers are empty and that the OS queue
    /// was empty when it last looked (for example a batch receive came back with fewer frames
    /// than it asked for): frames that arrived since then make the link ready, so a caller
    /// that wants to wait can go straight to sleeping on readiness instead of first calling
    /// `receive` to find nothing. The default, `true`, is always correct.
    fn rx_maybe_pending(&self) -> bool {
        true
    }
}
