//! The frame-ring backend: a `TPACKET_V2` `PACKET_RX_RING` for receiving, the mmsg backend's
//! `sendmmsg` batches for transmitting. Built for latency.
//!
//! A `TPACKET_V3` ring (the [ring backend](crate::ring)) hands frames to user space a block at
//! a time: a block is returned when it is full or when its retire timer fires (at least 1 ms),
//! so a lone frame waits up to a millisecond. A `TPACKET_V2` ring has one slot per frame with its
//! own status word: the kernel marks each frame `TP_STATUS_USER` and wakes the socket
//! (`sk_data_ready`) as soon as it has copied it in. A busy poller therefore finds a frame with
//! no system call at all (one load of the next slot's status), and a blocking waiter needs one
//! `poll` and no receive call.
//!
//! Set-up: `PACKET_VERSION = TPACKET_V2`, then `PACKET_RX_RING`, then one `mmap` of the ring,
//! then `bind`, all on the socket [`crate::link`] sets up for every backend (BPF filter,
//! `PACKET_IGNORE_OUTGOING`, fanout, busy polling, timestamps; `PACKET_AUXDATA` is set too but
//! the ring reports the same facts in its frame headers).
//!
//! * **Geometry.** Every slot holds the largest frame the MTU allows (`14 + MTU` and two in-band
//!   tags) behind the kernel's header room: the kernel puts a frame's MAC header at
//!   `TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - 14` (66 bytes) into the slot, so a slot is
//!   `80 + 22 + MTU` rounded up to 16 bytes (1616 bytes for a 1500-byte MTU). Slots are grouped
//!   in power-of-two blocks of at least 64 KiB and a page (the kernel allocates every block as
//!   `2^order` pages), and the ring takes [`LinkConfig::ring_memory`] (at least 256 KiB; there is
//!   no transmit ring, so all of it receives): 5120 frames by default. When the kernel refuses
//!   the ring (`ENOMEM`, `ENOBUFS` or `EAGAIN` from `PACKET_RX_RING` or the `mmap`), the block
//!   count is halved and the set-up retried on a fresh socket, down to one block.
//! * **Receive, zero-copy.** [`RawLink::receive`] loads the status of the slot at the head
//!   (`Acquire`); with `TP_STATUS_USER` set it returns a view ([`FrameRingRx`]) pointing into the
//!   slot. Dropping the view stores `TP_STATUS_KERNEL` (`Release`) and advances the head. The
//!   view borrows the link mutably, so no second frame can be received (and no slot released
//!   twice) while it lives; a view that is leaked (`mem::forget`) keeps its slot, and the next
//!   `receive` returns the same frame again. Metadata comes from the slot's `tpacket2_hdr`: the
//!   stripped VLAN tag (`TP_STATUS_VLAN_VALID`, `TP_STATUS_VLAN_TPID_VALID`), the length on the
//!   wire (`tp_len`; a frame longer than its slot keeps `tp_snaplen` bytes and is reported
//!   truncated), and the timestamp the kernel writes into every frame (`tp_sec`/`tp_nsec`,
//!   CLOCK_REALTIME; hardware when `TP_STATUS_TS_RAW_HARDWARE` is set).
//! * **Drops.** When the ring is full the kernel drops the frame and counts it; every frame it
//!   stores after that carries `TP_STATUS_LOSING` until the counters are read. The link reads
//!   them (`PACKET_STATISTICS`) when it sees that flag, so [`LinkStats::kernel_drops`] holds the
//!   drops without waiting for the next [`FrameRingLink::stats`].
//! * **Readiness.** [`RawLink::rx_maybe_pending`] is exact: whether the head slot is the user's.
//!   The kernel writes slots in ring order, so when the head slot is the kernel's no frame
//!   is waiting, and the next one to arrive lands in that slot and makes the socket readable
//!   (`packet_poll` reports `POLLIN` while the slot before the kernel's head is the user's).
//!   [`FrameRingLink::wait_readable`] returns at once when the head slot is ready, else polls.
//! * **Transmit** is the [mmsg backend's](crate::mmsg): tokens fill a preallocated slot pool
//!   and [`RawLink::flush`] sends them with one `sendmmsg`, a stamped frame carrying its
//!   timestamp request in its own message of the batch; frames the kernel pushes back stay
//!   queued and are reported pending.
//!
//! # Views and the borrow rules
//!
//! A view borrows the link, so frames are read one at a time and released in ring order:
//!
//! ```no_run
//! use l2net_core::{Instant, RawLink, RxFrame};
//! # fn f(link: &mut l2net_linux::FrameRingLink) -> Result<(), l2net_core::LinkError> {
//! while let Some(frame) = link.receive(Instant::from_micros(0))? {
//!     println!("{} bytes", frame.data().len());
//! } // each view is dropped here, which hands its slot back
//! # Ok(()) }
//! ```
//!
//! Holding a view while receiving the next frame does not compile (the second view could
//! otherwise be released first, or the kernel could refill the first one's slot):
//!
//! ```compile_fail
//! use l2net_core::{Instant, RawLink};
//! fn two(link: &mut l2net_linux::FrameRingLink) {
//!     let first = link.receive(Instant::from_micros(0)).unwrap();
//!     let second = link.receive(Instant::from_micros(0)).unwrap();
//!     drop((first, second));
//! }
//! ```

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use l2net_core::link::{FlushStatus, RxMeta, TxTimestamp};
use l2net_core::wire::ethernet::MIN_FRAME_LEN;
use l2net_core::{Capabilities, Instant, LinkError, MacAddr, RawLink, RxFrame};

use crate::error::OpenError;
use crate::iface::InterfaceInfo;
use crate::link::{LinkConfig, LinkStats, PacketSocket, rx_meta};
use crate::mmsg::BatchTx;
use crate::plain::QueueTx;
use crate::sys::{self, ring};

/// Where the kernel puts the MAC header in a slot, at most: `TPACKET_ALIGN(TPACKET2_HDRLEN +
/// max(16, maclen)) - maclen` for a MAC header of `maclen` bytes is below this for every
/// `maclen`, and is 66 for Ethernet's 14.
const MAC_ROOM: usize = (ring::TPACKET2_HDRLEN + 16).next_multiple_of(ring::TPACKET_ALIGNMENT);
/// The smallest block: slots are grouped so that few bytes of a block are left over.
const MIN_BLOCK: usize = 64 << 10;
/// The smallest ring used, whatever [`LinkConfig::ring_memory`] says.
const MIN_BUDGET: usize = 256 << 10;

/// Geometry of the receive ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameGeometry {
    pub block_size: usize,
    pub blocks: usize,
    pub frame_size: usize,
}

impl FrameGeometry {
    /// For frames of up to `max_frame` bytes within `budget` bytes, on pages of `page` bytes.
    pub(crate) fn new(max_frame: usize, budget: usize, page: usize) -> Self {
        let frame_size = (MAC_ROOM + max_frame).next_multiple_of(ring::TPACKET_ALIGNMENT);
        // Of the power-of-two sizes from the smallest that holds a frame up to four times
        // that (and at least 64 KiB), the one that leaves the smallest share unused.
        let smallest = frame_size.next_power_of_two().max(page);
        let waste = |b: usize| (b % frame_size) as f64 / b as f64;
        let mut block_size = smallest;
        let mut b = smallest;
        while b <= (4 * smallest).max(MIN_BLOCK) {
            if b >= MIN_BLOCK.max(page) && (block_size < MIN_BLOCK || waste(b) < waste(block_size))
            {
                block_size = b;
            }
            b *= 2;
        }
        let blocks = (budget.max(MIN_BUDGET) / block_size).max(1);
        FrameGeometry {
            block_size,
            blocks,
            frame_size,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.block_size * self.blocks
    }

    fn frames_per_block(&self) -> usize {
        self.block_size / self.frame_size
    }

    pub(crate) fn frames(&self) -> usize {
        self.frames_per_block() * self.blocks
    }

    /// Offset of slot `index` in the mapping.
    fn offset(&self, index: usize) -> usize {
        let fpb = self.frames_per_block();
        (index / fpb) * self.block_size + (index % fpb) * self.frame_size
    }

    /// The largest frame a slot holds whole.
    fn max_frame(&self) -> usize {
        self.frame_size - MAC_ROOM
    }

    fn req(&self) -> ring::TpacketReq {
        ring::TpacketReq {
            tp_block_size: self.block_size as u32,
            tp_block_nr: self.blocks as u32,
            tp_frame_size: self.frame_size as u32,
            tp_frame_nr: self.frames() as u32,
        }
    }

    /// The geometry to retry with after the kernel refused this one with `errno`: half the
    /// blocks, if the refusal was for lack of memory and there is more than one block.
    pub(crate) fn shrink(&self, errno: i32) -> Option<Self> {
        if !matches!(errno, libc::ENOMEM | libc::ENOBUFS | libc::EAGAIN) || self.blocks < 2 {
            return None;
        }
        Some(FrameGeometry {
            blocks: self.blocks / 2,
            ..*self
        })
    }
}

/// The receive ring: its mapping, geometry and head.
#[derive(Debug)]
struct RxRing {
    map: ring::RingMap,
    geo: FrameGeometry,
    /// The slot to read next.
    head: usize,
    /// Offset of the head slot.
    head_off: usize,
}

impl RxRing {
    fn head_ready(&self) -> bool {
        self.map.frame2_status(self.head_off) & ring::TP_STATUS_USER != 0
    }

    /// Give the head slot back to the kernel and move on.
    fn release_head(&mut self) {
        self.map.release_frame2(self.head_off);
        self.head += 1;
        if self.head == self.geo.frames() {
            self.head = 0;
        }
        self.head_off = self.geo.offset(self.head);
    }
}

/// The frame-ring backend. See the module docs.
#[derive(Debug)]
pub struct FrameRingLink {
    // Unmapped before the socket closes.
    rx: RxRing,
    sock: PacketSocket,
    tx: BatchTx,
}

impl FrameRingLink {
    /// Open a frame-ring link on `cfg.interface` in the calling thread's network namespace
    /// (`cfg.backend` is not consulted).
    pub fn open(cfg: &LinkConfig) -> Result<Self, OpenError> {
        let max_frame = crate::link::rx_len_for(cfg)?.max(MIN_FRAME_LEN);
        let geo = FrameGeometry::new(max_frame, cfg.ring_memory, ring::page_size());
        Self::open_with(cfg, geo)
    }

    fn open_with(cfg: &LinkConfig, geo: FrameGeometry) -> Result<Self, OpenError> {
        let sock = PacketSocket::open(cfg)?;
        let fd = sock.fd.as_fd();
        crate::ring::set_version(&sock, ring::TPACKET_V2, "TPACKET_V2")?;
        if sock.rx_len().max(MIN_FRAME_LEN) > geo.max_frame() {
            // The MTU changed between the geometry and this socket: start over.
            return Self::open(cfg);
        }
        let map = ring::set_rx_ring_v2(fd, &geo.req())
            .map_err(|e| ("PACKET_RX_RING", e))
            .and_then(|()| ring::RingMap::new(fd, geo.bytes()).map_err(|e| ("mmap", e)));
        match map {
            Ok(map) => {
                sock.bind(cfg)?;
                Ok(FrameRingLink {
                    rx: RxRing {
                        map,
                        geo,
                        head: 0,
                        head_off: 0,
                    },
                    tx: BatchTx::new(cfg, &sock),
                    sock,
                })
            }
            Err((option, e)) => {
                let errno = sys::errno(&e);
                match geo.shrink(errno) {
                    // A ring cannot be set twice on one socket: start over on a fresh one.
                    Some(smaller) => Self::open_with(cfg, smaller),
                    None => Err(OpenError::OptionRefused { option, errno }),
                }
            }
        }
    }

    /// The interface as it was when the link opened.
    pub fn interface(&self) -> &InterfaceInfo {
        &self.sock.info
    }

    /// Bytes of the receive ring.
    pub fn rx_ring_bytes(&self) -> usize {
        self.rx.geo.bytes()
    }

    /// Frames the receive ring holds.
    pub fn rx_ring_frames(&self) -> usize {
        self.rx.geo.frames()
    }

    /// Counters (reads and folds in the kernel's `PACKET_STATISTICS`).
    pub fn stats(&mut self) -> Result<LinkStats, LinkError> {
        self.sock.stats()
    }

    /// Sleep until a frame is waiting or `timeout` passes (`None`: forever). Returns at once
    /// when the head slot holds a frame.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.rx.head_ready() {
            return Ok(true);
        }
        self.sock.wait(libc::POLLIN, timeout)
    }

    /// Sleep until the socket can take frames again (after a flush left some pending).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.wait(libc::POLLOUT, timeout)
    }
}

impl AsFd for FrameRingLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

impl AsRawFd for FrameRingLink {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd.as_raw_fd()
    }
}

/// A received frame: a view into a receive ring slot. Dropping it gives the slot back to the
/// kernel.
#[derive(Debug)]
pub struct FrameRingRx<'a> {
    ring: &'a mut RxRing,
    off: usize,
    len: usize,
    meta: RxMeta,
}

impl RxFrame for FrameRingRx<'_> {
    fn data(&self) -> &[u8] {
        self.ring.map.bytes(self.off, self.len)
    }
    fn meta(&self) -> RxMeta {
        self.meta
    }
}

impl Drop for FrameRingRx<'_> {
    fn drop(&mut self) {
        self.ring.release_head();
    }
}

impl RawLink for FrameRingLink {
    type Rx<'a> = FrameRingRx<'a>;
    type Tx<'a> = QueueTx<'a>;

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.sock.capabilities(self.tx.slots());
        caps.timestamps = self.sock.timestamp_caps(true);
        // The ring stamps every received frame, whether or not timestamps were asked for.
        caps.timestamps.rx_software = true;
        caps
    }

    fn mac(&self) -> MacAddr {
        self.sock.info.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<FrameRingRx<'_>>, LinkError> {
        let slot = self.rx.head_off;
        let status = self.rx.map.frame2_status(slot);
        if status & ring::TP_STATUS_USER == 0 {
            return Ok(None);
        }
        let h = self.rx.map.frame2_header(slot);
        if status & ring::TP_STATUS_LOSING != 0 {
            // The ring overflowed: fold the kernel's drop count into the stats now (the read
            // resets it and clears the flag for later frames). Should the read fail, the next
            // one folds the same drops in.
            let _ = self.sock.stats();
        }
        // Keep the view inside its own slot whatever the header says.
        let mac = usize::from(h.tp_mac).min(self.rx.geo.frame_size);
        let held = (h.tp_snaplen as usize).min(self.rx.geo.frame_size - mac);
        let mut meta = rx_meta(
            status,
            h.tp_vlan_tci,
            h.tp_vlan_tpid,
            (h.tp_len as usize).max(held),
            held,
        );
        meta.timestamp = Some(crate::ring::frame_timestamp(status, h.tp_sec, h.tp_nsec));
        self.sock.stats.rx_frames += 1;
        self.sock.stats.rx_truncated += u64::from(meta.truncated);
        Ok(Some(FrameRingRx {
            ring: &mut self.rx,
            off: slot + mac,
            len: held,
            meta,
        }))
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<QueueTx<'_>>, LinkError> {
        self.tx.transmit(&mut self.sock, len)
    }

    fn flush(&mut self, _now: Instant) -> Result<FlushStatus, LinkError> {
        self.tx.flush(&mut self.sock)
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.sock.multicast(mac, true)
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.sock.multicast(mac, false)
    }

    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        self.tx.poll_tx_timestamp(&mut self.sock)
    }

    /// Exact: whether the head slot holds a frame (see the module docs).
    fn rx_maybe_pending(&self) -> bool {
        self.rx.head_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_holds_whole_frames_in_power_of_two_blocks() {
        for (max_frame, budget) in [
            (1522, 8 << 20),
            (1522, 1),
            (9022, 8 << 20),
            (9022, 256 << 10),
            (65557, 8 << 20),
            (65557, 1),
            (60, 1),
        ] {
            let g = FrameGeometry::new(max_frame, budget, 4096);
            assert!(g.block_size.is_power_of_two() && g.block_size >= MIN_BLOCK);
            assert_eq!(g.frame_size % ring::TPACKET_ALIGNMENT, 0);
            assert!(g.max_frame() >= max_frame, "{g:?}");
            assert!(g.frames_per_block() >= 1 && g.blocks >= 1);
            assert!(
                g.bytes() <= budget.max(MIN_BUDGET) || g.blocks == 1,
                "{g:?}"
            );
            // The slot offsets the link walks are those the kernel uses.
            let last = g.frames() - 1;
            assert!(g.offset(last) + g.frame_size <= g.bytes());
            assert_eq!(g.offset(g.frames_per_block()), g.block_size);
            // Less than a quarter of a block is left over.
            assert!((g.block_size % g.frame_size) * 4 < g.block_size, "{g:?}");
        }
        // The default: 1616-byte slots, 64 KiB blocks, 8 MiB.
        let g = FrameGeometry::new(1522, 8 << 20, 4096);
        assert_eq!(
            (g.frame_size, g.block_size, g.blocks),
            (1616, 64 << 10, 128)
        );
        assert_eq!(g.frames(), 40 * 128);
        assert_eq!(MAC_ROOM, 80);
    }

    #[test]
    fn refused_geometry_shrinks_by_halves_down_to_one_block() {
        let mut g = FrameGeometry::new(1522, 8 << 20, 4096);
        let mut steps = 0;
        while let Some(s) = g.shrink(libc::ENOBUFS) {
            assert_eq!(s.blocks, g.blocks / 2);
            assert_eq!((s.frame_size, s.block_size), (g.frame_size, g.block_size));
            g = s;
            steps += 1;
        }
        assert_eq!((steps, g.blocks), (7, 1));
        let g = FrameGeometry::new(1522, 8 << 20, 4096);
        assert_eq!(
            g.shrink(libc::EINVAL),
            None,
            "only lack of memory is retried"
        );
    }
}
