//! The ring backend: `TPACKET_V3` `PACKET_RX_RING` and `PACKET_TX_RING` in one `mmap`.
//!
//! Set-up: `PACKET_VERSION = TPACKET_V3`, then `PACKET_RX_RING`, then `PACKET_TX_RING`, then
//! one `mmap` of both (RX first), then `bind`. The geometry comes from the MTU and
//! [`LinkConfig::ring_memory`] (split evenly between the rings); when the kernel refuses it
//! (`ENOMEM`, `ENOBUFS` or `EAGAIN` from a ring option or from the `mmap`, which counts against
//! the process's `RLIMIT_AS`) the block count is halved and the set-up retried on a fresh
//! socket, down to two blocks per ring; below that the open fails with the kernel's errno
//! (`tests/ring_enomem.rs` drives this through a lowered `RLIMIT_AS`).
//!
//! * **Receive, zero-copy.** The kernel fills variable-length frames into fixed-size blocks and
//!   hands a block over when it is full or after [`LinkConfig::ring_block_timeout_ms`].
//!   [`RawLink::receive`] returns a view ([`RingRx`]) pointing straight into the block; when the
//!   view of a block's last frame is dropped, the block goes back to the kernel
//!   (`TP_STATUS_KERNEL`). Metadata comes from the frame's `tpacket3_hdr`: the stripped VLAN tag
//!   (`TP_STATUS_VLAN_VALID`, `TP_STATUS_VLAN_TPID_VALID`), the length on the wire, and the
//!   timestamp (`tp_sec`/`tp_nsec`, CLOCK_REALTIME; hardware when `TP_STATUS_TS_RAW_HARDWARE`
//!   is set, software otherwise).
//! * **Transmit, zero-copy.** A token is the next TX ring frame, filled in place; it is only
//!   handed out while the kernel has released that frame (`TP_STATUS_AVAILABLE`) and fewer than
//!   [`LinkConfig::tx_slots`] frames wait for the next flush, otherwise `transmit` returns
//!   `Ok(None)`. [`RawLink::flush`] marks the filled frames
//!   `TP_STATUS_SEND_REQUEST` and kicks the kernel with one `send()`; frames it has not taken
//!   yet (`EAGAIN`/`ENOBUFS`) stay marked and are reported pending, and the next flush kicks
//!   again. A frame the kernel rejects (`TP_STATUS_WRONG_FORMAT`, which the link's own size check
//!   prevents unless the MTU shrank after opening) is reported as [`LinkError::TooLarge`]; the
//!   kernel stops transmitting at it, so the link must be reopened.
//! * **Transmit timestamps** ([`LinkConfig::timestamps`]). A frame whose token asked
//!   ([`TxToken::request_timestamp`]) is kicked on its own, with the same control messages the
//!   plain backend sends (`SO_TIMESTAMPING` and `SCM_TS_OPT_ID` with the caller's id): the
//!   kernel applies a kick's control messages to every frame that kick sends, so `flush` first
//!   kicks the frames before it, waits until the kernel took all of them, marks only the
//!   stamped frame and kicks again with the request, then goes on with the rest. The stamp
//!   comes back on the socket's error queue ([`RawLink::poll_tx_timestamp`]) as for the other
//!   backends: software from the driver's `skb_tx_timestamp`, hardware from the NIC. (The
//!   kernel can also write a stamp into the released TX frame's header (`PACKET_TIMESTAMP`,
//!   `__packet_set_timestamp`), but only if something stamped the sent buffer itself, which
//!   veth's peer does on receive and most NIC drivers do not, so the ring does not use it.)

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use l2net_core::link::{
    FlushStatus, RxMeta, Timestamp, TimestampSource, TxTimestamp, check_tx_len,
};
use l2net_core::wire::ethernet::{HEADER_LEN, MIN_FRAME_LEN};
use l2net_core::{Capabilities, Instant, LinkError, MacAddr, RawLink, RxFrame, TxToken};

use crate::error::OpenError;
use crate::iface::InterfaceInfo;
use crate::link::{LinkConfig, LinkStats, PacketSocket, check_frame, rx_meta};
use crate::sys::{self, ring};

/// `PACKET_VERSION = version` on `sock`; a kernel without that version says so
/// ([`OpenError::Unsupported`] naming `name`), any other refusal is the option's.
pub(crate) fn set_version(
    sock: &PacketSocket,
    version: libc::c_int,
    name: &'static str,
) -> Result<(), OpenError> {
    ring::set_version(sock.fd.as_fd(), version).map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOPROTOOPT) => OpenError::Unsupported(name),
        _ => OpenError::OptionRefused {
            option: "PACKET_VERSION",
            errno: sys::errno(&e),
        },
    })
}

/// The stamp the kernel wrote into a ring frame's header (`tp_sec`/`tp_nsec`): the NIC's when
/// `status` says `TP_STATUS_TS_RAW_HARDWARE`, else the kernel's CLOCK_REALTIME stamp
/// (`TP_STATUS_TS_SOFTWARE`, or no flag: the kernel took the time when it filled the frame).
pub(crate) fn frame_timestamp(status: u32, sec: u32, nsec: u32) -> Timestamp {
    let source = if status & ring::TP_STATUS_TS_RAW_HARDWARE != 0 {
        TimestampSource::Hardware
    } else {
        TimestampSource::Software
    };
    Timestamp {
        nanos: u64::from(sec) * 1_000_000_000 + u64::from(nsec),
        source,
    }
}

/// Geometry of one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub block_size: usize,
    pub blocks: usize,
    pub frame_size: usize,
}

impl Geometry {
    pub(crate) fn bytes(&self) -> usize {
        self.block_size * self.blocks
    }
    fn frames_per_block(&self) -> usize {
        self.block_size / self.frame_size
    }
    fn frames(&self) -> usize {
        self.frames_per_block() * self.blocks
    }
    fn req(&self, timeout_ms: u32, tx: bool) -> ring::TpacketReq3 {
        ring::TpacketReq3 {
            tp_block_size: self.block_size as u32,
            tp_block_nr: self.blocks as u32,
            tp_frame_size: self.frame_size as u32,
            tp_frame_nr: self.frames() as u32,
            // The kernel refuses a retire timeout on the TX ring.
            tp_retire_blk_tov: if tx { 0 } else { timeout_ms },
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        }
    }
}

/// Receive blocks the geometry aims for before it makes blocks smaller than [`MAX_BLOCK`].
///
/// A `TPACKET_V3` block is retired (handed to user space) when it is full *or* when the retire
/// timer fires with at least one frame in it. While the reader is away, every timer period in
/// which traffic arrived therefore uses up a whole block however little it holds: with two
/// blocks and the default 1 ms timeout, a burst that pauses twice for a millisecond freezes the
/// ring and the kernel drops the rest (`tp_drops`, `tp_freeze_q_cnt`) although most of the
/// memory is empty. Smaller blocks in a small ring keep it from freezing that early.
const MIN_RX_BLOCKS: usize = 8;
/// The largest block: big enough that a busy reader returns a block per hundreds of small
/// frames, small enough that a ring of a few MiB has dozens of blocks.
const MAX_BLOCK: usize = 64 << 10;
/// The smallest budget used, whatever [`LinkConfig::ring_memory`] says: two rings of two
/// [`MAX_BLOCK`]s (which the geometry cuts into [`MIN_RX_BLOCKS`] smaller blocks).
const MIN_BUDGET: usize = 4 * MAX_BLOCK;

/// RX and TX geometry for frames of up to `max_frame` bytes within `budget` bytes.
pub(crate) fn geometry(max_frame: usize, budget: usize, page: usize) -> (Geometry, Geometry) {
    let budget = budget.max(MIN_BUDGET);
    let frame_size = (ring::TPACKET3_HDRLEN + max_frame).next_multiple_of(16);
    // Blocks hold at least four frames; up to 64 KiB, but small enough for MIN_RX_BLOCKS
    // receive blocks when the budget allows it. Their size is a power of two (and at least a
    // page): the kernel allocates each block as 2^order pages and maps only tp_block_size of
    // them, so any other size leaves the rest of the allocation unused.
    let smallest = (4 * frame_size).next_power_of_two().max(page);
    let per_block = match (budget / 2 / MIN_RX_BLOCKS).min(MAX_BLOCK) {
        0 => 0,
        n => 1 << n.ilog2(),
    };
    let block_size = per_block.max(smallest);
    let blocks = (budget / 2 / block_size).max(2);
    let rx = Geometry {
        block_size,
        blocks,
        frame_size,
    };
    let tx_frame = (ring::TPACKET3_HDR_ALIGNED + max_frame).next_multiple_of(16);
    let tx = Geometry {
        block_size,
        blocks,
        frame_size: tx_frame,
    };
    (rx, tx)
}

/// The geometry to retry with after the kernel refused `rx`/`tx` with `errno`: half the
/// blocks, if the refusal was for lack of memory and each ring keeps at least two blocks.
pub(crate) fn shrink(errno: i32, rx: Geometry, tx: Geometry) -> Option<(Geometry, Geometry)> {
    if !matches!(errno, libc::ENOMEM | libc::ENOBUFS | libc::EAGAIN) || rx.blocks < 4 {
        return None;
    }
    let blocks = rx.blocks / 2;
    Some((Geometry { blocks, ..rx }, Geometry { blocks, ..tx }))
}

#[derive(Debug)]
struct RxState {
    /// Index of the block to read next.
    block: usize,
    /// Frames left in the current (user-owned) block.
    remaining: u32,
    /// Offset of the next frame in the mapping.
    next: usize,
}

#[derive(Debug)]
struct TxState {
    /// Next frame index to lend.
    tail: usize,
    /// First frame filled but not yet submitted, and how many there are.
    fill_start: usize,
    filled: usize,
    /// First frame submitted but not yet taken by the kernel, and how many there are.
    wait_start: usize,
    waiting: usize,
    /// Per frame: the id of its transmit-timestamp request, until it is marked for sending.
    ids: Box<[Option<u32>]>,
    /// The id of the stamped frame marked for sending and not yet taken by the kernel: every
    /// kick carries its request until the kernel takes it, and nothing else is marked meanwhile.
    stamp_kick: Option<u32>,
}

/// The ring backend. See the module docs.
#[derive(Debug)]
pub struct RingLink {
    // Unmapped before the socket closes.
    map: ring::RingMap,
    sock: PacketSocket,
    rx_geo: Geometry,
    tx_geo: Geometry,
    rx: RxState,
    tx: TxState,
    rejected: Option<LinkError>,
    /// [`LinkConfig::tx_slots`]: frames that may be filled between two flushes.
    tx_slots: usize,
    /// Control buffer for the transmit-timestamp error queue.
    errq_control: Box<[u8]>,
    /// Transmit timestamps can be requested: timestamps are on and the kernel accepts the
    /// request's control messages on a ring kick.
    tx_stamps: bool,
}

impl RingLink {
    /// Open a ring link on `cfg.interface` in the calling thread's network namespace
    /// (`cfg.backend` is not consulted).
    pub fn open(cfg: &LinkConfig) -> Result<Self, OpenError> {
        let max_frame = (crate::link::rx_len_for(cfg)?).max(MIN_FRAME_LEN);
        let (rx_geo, tx_geo) = geometry(max_frame, cfg.ring_memory, ring::page_size());
        Self::open_with(cfg, rx_geo, tx_geo)
    }

    fn open_with(cfg: &LinkConfig, rx_geo: Geometry, tx_geo: Geometry) -> Result<Self, OpenError> {
        let sock = PacketSocket::open(cfg)?;
        let fd = sock.fd.as_fd();
        set_version(&sock, ring::TPACKET_V3, "TPACKET_V3")?;
        if sock.rx_len().max(MIN_FRAME_LEN) + ring::TPACKET3_HDRLEN > rx_geo.frame_size {
            // The MTU changed between the geometry and this socket: start over.
            return Self::open(cfg);
        }
        match Self::try_rings(fd, cfg, &rx_geo, &tx_geo) {
            Ok(map) => Self::finish(cfg, sock, map, rx_geo, tx_geo),
            Err((option, e)) => {
                let errno = sys::errno(&e);
                match shrink(errno, rx_geo, tx_geo) {
                    // A ring cannot be set twice on one socket: start over on a fresh one.
                    Some((rx, tx)) => Self::open_with(cfg, rx, tx),
                    None => Err(OpenError::OptionRefused { option, errno }),
                }
            }
        }
    }

    fn try_rings(
        fd: BorrowedFd<'_>,
        cfg: &LinkConfig,
        rx_geo: &Geometry,
        tx_geo: &Geometry,
    ) -> Result<ring::RingMap, (&'static str, io::Error)> {
        ring::set_ring(fd, false, &rx_geo.req(cfg.ring_block_timeout_ms, false))
            .map_err(|e| ("PACKET_RX_RING", e))?;
        ring::set_ring(fd, true, &tx_geo.req(0, true)).map_err(|e| ("PACKET_TX_RING", e))?;
        ring::RingMap::new(fd, rx_geo.bytes() + tx_geo.bytes()).map_err(|e| ("mmap", e))
    }

    fn finish(
        cfg: &LinkConfig,
        sock: PacketSocket,
        map: ring::RingMap,
        rx_geo: Geometry,
        tx_geo: Geometry,
    ) -> Result<Self, OpenError> {
        sock.bind(cfg)?;
        let tx_stamps = sock.ts.is_some() && Self::kernel_takes_stamp_requests(&sock);
        Ok(RingLink {
            tx_stamps,
            map,
            sock,
            rx_geo,
            tx_geo,
            rx: RxState {
                block: 0,
                remaining: 0,
                next: 0,
            },
            tx: TxState {
                tail: 0,
                fill_start: 0,
                filled: 0,
                wait_start: 0,
                waiting: 0,
                ids: vec![None; tx_geo.frames()].into_boxed_slice(),
                stamp_kick: None,
            },
            errq_control: vec![0u8; crate::timestamp::ERRQUEUE_CONTROL_SPACE].into_boxed_slice(),
            rejected: None,
            tx_slots: cfg.tx_slots,
        })
    }

    /// Whether the kernel accepts a transmit-timestamp request (`SO_TIMESTAMPING` with
    /// `SCM_TS_OPT_ID`, Linux 6.13) on a ring kick: a kick with the request while no frame is
    /// marked sends nothing, but `tpacket_snd` parses the control messages first and refuses
    /// ones it does not know with `EINVAL`. If the interface is down the kernel answers before
    /// parsing them; the request is then assumed to work (a later refusal is reported by
    /// `flush`).
    fn kernel_takes_stamp_requests(sock: &PacketSocket) -> bool {
        let mut control = [0u8; crate::timestamp::TX_REQUEST_SPACE];
        let Ok(n) = crate::timestamp::write_tx_request(&mut control, 0, sock.tx_hardware()) else {
            return false;
        };
        match crate::timestamp::send_with_control(sock.fd.as_fd(), &[], &control[..n]) {
            Err(e) => e.raw_os_error() != Some(libc::EINVAL),
            Ok(_) => true,
        }
    }

    /// The interface as it was when the link opened.
    pub fn interface(&self) -> &InterfaceInfo {
        &self.sock.info
    }

    /// Bytes of the receive ring.
    pub fn rx_ring_bytes(&self) -> usize {
        self.rx_geo.bytes()
    }

    /// Bytes of the transmit ring.
    pub fn tx_ring_bytes(&self) -> usize {
        self.tx_geo.bytes()
    }

    /// Frames the transmit ring holds.
    pub fn tx_ring_frames(&self) -> usize {
        self.tx_geo.frames()
    }

    /// Counters (reads and folds in the kernel's `PACKET_STATISTICS`).
    pub fn stats(&mut self) -> Result<LinkStats, LinkError> {
        self.sock.stats()
    }

    /// Sleep until a block may be ready or `timeout` passes (`None`: forever). Returns at once
    /// while frames of the current block are unread.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.rx.remaining > 0 {
            return Ok(true);
        }
        self.sock.wait(libc::POLLIN, timeout)
    }

    /// Sleep until the kernel has released transmit frames (after a flush left some pending).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.wait(libc::POLLOUT, timeout)
    }

    fn block_off(&self, block: usize) -> usize {
        block * self.rx_geo.block_size
    }

    fn tx_off(&self, index: usize) -> usize {
        let fpb = self.tx_geo.frames_per_block();
        self.rx_geo.bytes()
            + (index / fpb) * self.tx_geo.block_size
            + (index % fpb) * self.tx_geo.frame_size
    }

    /// Mark filled frames `TP_STATUS_SEND_REQUEST`: the run up to the next stamped frame, or
    /// the stamped frame alone once nothing else waits for the kernel (see the module docs).
    /// Nothing is marked while a stamped frame waits.
    fn mark(&mut self) {
        if self.tx.stamp_kick.is_some() || self.tx.filled == 0 {
            return;
        }
        let n = self.tx_geo.frames();
        let first = self.tx.fill_start;
        let count = if let Some(id) = self.tx.ids[first] {
            if self.tx.waiting > 0 {
                return;
            }
            self.tx.stamp_kick = Some(id);
            1
        } else {
            (1..self.tx.filled)
                .find(|&k| self.tx.ids[(first + k) % n].is_some())
                .unwrap_or(self.tx.filled)
        };
        for k in 0..count {
            let index = (first + k) % n;
            self.tx.ids[index] = None;
            self.map
                .set_tx_status(self.tx_off(index), ring::TP_STATUS_SEND_REQUEST);
        }
        self.tx.waiting += count;
        self.tx.fill_start = (first + count) % n;
        self.tx.filled -= count;
    }

    /// Ask the kernel to send the marked frames, with the timestamp request of the stamped
    /// frame among them if there is one.
    fn kick(&mut self) -> Result<(), LinkError> {
        let mut control = [0u8; crate::timestamp::TX_REQUEST_SPACE];
        let control = match self.tx.stamp_kick {
            Some(id) => {
                let n =
                    crate::timestamp::write_tx_request(&mut control, id, self.sock.tx_hardware())
                        .map_err(|_| {
                        LinkError::Unsupported("transmit timestamp ids on this architecture")
                    })?;
                &control[..n]
            }
            None => &control[..0],
        };
        loop {
            let r = if control.is_empty() {
                ring::kick(self.sock.fd.as_fd())
            } else {
                crate::timestamp::send_with_control(self.sock.fd.as_fd(), &[], control)
            };
            match r {
                Ok(_) => return Ok(()),
                Err(e) => match sys::errno(&e) {
                    libc::EAGAIN | libc::ENOBUFS => return Ok(()),
                    libc::EINTR => continue,
                    libc::EINVAL if !control.is_empty() => {
                        // The request itself was refused (the probe at open could not tell):
                        // report it once; the frame stays marked and goes out unstamped with
                        // the next kick.
                        self.tx.stamp_kick = None;
                        self.sock.stats.tx_timestamp_errors += 1;
                        return Err(self
                            .sock
                            .error("send (TX ring) with a timestamp request", libc::EINVAL));
                    }
                    libc::EMSGSIZE | libc::EINVAL => return Ok(()), // WRONG_FORMAT, seen by reap
                    errno => return Err(self.sock.error("send (TX ring)", errno)),
                },
            }
        }
    }

    /// Walk the submitted frames and retire those the kernel took.
    fn reap(&mut self) -> Result<usize, LinkError> {
        let n = self.tx_geo.frames();
        let mut taken = 0;
        while self.tx.waiting > 0 {
            let off = self.tx_off(self.tx.wait_start);
            let status = self.map.tx_status(off);
            if status == ring::TP_STATUS_SEND_REQUEST {
                break;
            }
            if status & ring::TP_STATUS_WRONG_FORMAT != 0 {
                self.sock.stats.tx_rejected += 1;
                return Err(LinkError::TooLarge {
                    len: self.map.frame_header(off).tp_len as usize,
                    max: HEADER_LEN + self.sock.mtu(),
                });
            }
            // SENDING or AVAILABLE: the kernel has it.
            self.tx.wait_start = (self.tx.wait_start + 1) % n;
            self.tx.waiting -= 1;
            taken += 1;
        }
        self.sock.stats.tx_frames += taken as u64;
        Ok(taken)
    }
}

impl AsFd for RingLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

impl AsRawFd for RingLink {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd.as_raw_fd()
    }
}

/// A received frame: a view into an RX ring block. Dropping the view of a block's last frame
/// returns the block to the kernel.
#[derive(Debug)]
pub struct RingRx<'a> {
    map: &'a ring::RingMap,
    off: usize,
    len: usize,
    meta: RxMeta,
    /// Offset of the block to release on drop (last frame of its block).
    release: Option<usize>,
}

impl RxFrame for RingRx<'_> {
    fn data(&self) -> &[u8] {
        self.map.bytes(self.off, self.len)
    }
    fn meta(&self) -> RxMeta {
        self.meta
    }
}

impl Drop for RingRx<'_> {
    fn drop(&mut self) {
        if let Some(block) = self.release {
            self.map.release_block(block);
        }
    }
}

/// A transmit token: a TX ring frame filled in place.
#[derive(Debug)]
pub struct RingTx<'a> {
    link: &'a mut RingLink,
    off: usize,
    len: usize,
    id: Option<u32>,
}

impl TxToken for RingTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let padded = self.len.max(MIN_FRAME_LEN);
        let mtu = self.link.sock.mtu();
        let buf = self.link.map.tx_data_mut(self.off, padded);
        let held = buf.len();
        let r = f(&mut buf[..self.len.min(held)]);
        if buf.len() > self.len {
            buf[self.len..].fill(0);
        }
        match check_frame(buf, mtu) {
            Ok(()) => {
                self.link.map.tx_set_len(self.off, padded as u32);
                let n = self.link.tx_geo.frames();
                self.link.tx.ids[self.link.tx.tail] = self.id;
                self.link.tx.tail = (self.link.tx.tail + 1) % n;
                self.link.tx.filled += 1;
            }
            Err(e) => {
                // The slot is not advanced: the next token reuses it.
                self.link.sock.stats.tx_rejected += 1;
                self.link.rejected = Some(e);
            }
        }
        r
    }

    fn request_timestamp(&mut self, id: u32) -> Result<(), LinkError> {
        if self.link.sock.ts.is_none() {
            return Err(LinkError::Unsupported(
                "transmit timestamps: open the link with LinkConfig::timestamps",
            ));
        }
        if !self.link.tx_stamps {
            return Err(LinkError::Unsupported(
                "transmit timestamps on the ring: the kernel refuses SCM_TS_OPT_ID (Linux 6.13+)",
            ));
        }
        self.id = Some(id);
        Ok(())
    }
}

impl RawLink for RingLink {
    type Rx<'a> = RingRx<'a>;
    type Tx<'a> = RingTx<'a>;

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.sock.capabilities(self.tx_geo.frames());
        caps.timestamps = self.sock.timestamp_caps(self.tx_stamps);
        // The ring stamps every received frame, whether or not timestamps were asked for.
        caps.timestamps.rx_software = true;
        caps
    }

    fn mac(&self) -> MacAddr {
        self.sock.info.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<RingRx<'_>>, LinkError> {
        let mut empty_blocks = 0;
        while self.rx.remaining == 0 {
            let block = self.block_off(self.rx.block);
            if self.map.block_status(block) & ring::TP_STATUS_USER == 0 {
                return Ok(None);
            }
            let hdr = self.map.block_header(block);
            if hdr.num_pkts == 0 {
                // A block retired by the timeout with nothing in it.
                self.map.release_block(block);
                self.rx.block = (self.rx.block + 1) % self.rx_geo.blocks;
                empty_blocks += 1;
                if empty_blocks >= self.rx_geo.blocks {
                    return Ok(None);
                }
                continue;
            }
            self.rx.remaining = hdr.num_pkts;
            self.rx.next = block + hdr.offset_to_first_pkt as usize;
        }
        let block = self.block_off(self.rx.block);
        let off = self.rx.next;
        let h = self.map.frame_header(off);
        self.rx.remaining -= 1;
        let release = if self.rx.remaining == 0 {
            self.rx.block = (self.rx.block + 1) % self.rx_geo.blocks;
            Some(block)
        } else {
            self.rx.next = off + h.tp_next_offset as usize;
            None
        };
        let held = h.tp_snaplen as usize;
        let mut meta = rx_meta(
            h.tp_status,
            h.hv1.tp_vlan_tci as u16,
            h.hv1.tp_vlan_tpid,
            h.tp_len as usize,
            held,
        );
        meta.timestamp = Some(frame_timestamp(h.tp_status, h.tp_sec, h.tp_nsec));
        self.sock.stats.rx_frames += 1;
        self.sock.stats.rx_truncated += u64::from(meta.truncated);
        Ok(Some(RingRx {
            map: &self.map,
            off: off + usize::from(h.tp_mac),
            len: held,
            meta,
            release,
        }))
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<RingTx<'_>>, LinkError> {
        check_tx_len(len, self.sock.max_tx_len())?;
        if self.tx.filled >= self.tx_slots {
            return Ok(None);
        }
        let n = self.tx_geo.frames();
        if self.tx.filled + self.tx.waiting >= n {
            self.reap()?;
            if self.tx.filled + self.tx.waiting >= n {
                return Ok(None);
            }
        }
        let off = self.tx_off(self.tx.tail);
        let status = self.map.tx_status(off);
        if status & (ring::TP_STATUS_SENDING | ring::TP_STATUS_SEND_REQUEST) != 0 {
            // Still in the kernel's hands (a frame is released when its send completes).
            return Ok(None);
        }
        if status & ring::TP_STATUS_WRONG_FORMAT != 0 {
            self.map.set_tx_status(off, ring::TP_STATUS_AVAILABLE);
        }
        Ok(Some(RingTx {
            link: self,
            off,
            len,
            id: None,
        }))
    }

    fn flush(&mut self, _now: Instant) -> Result<FlushStatus, LinkError> {
        if let Some(e) = self.rejected.take() {
            return Err(e);
        }
        let mut sent = 0;
        loop {
            self.mark();
            if self.tx.waiting == 0 {
                break;
            }
            self.kick()?;
            sent += self.reap()?;
            if self.tx.waiting > 0 {
                // Pushed back: the rest waits for the next flush.
                break;
            }
            self.tx.stamp_kick = None;
        }
        Ok(FlushStatus {
            sent,
            // Marked frames the kernel has not taken, and filled ones not marked yet (behind a
            // stamped frame that waits).
            pending: self.tx.waiting + self.tx.filled,
        })
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.sock.multicast(mac, true)
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.sock.multicast(mac, false)
    }

    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        self.sock.poll_tx_timestamp(&mut self.errq_control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_stamps_name_their_clock() {
        let sw = frame_timestamp(ring::TP_STATUS_USER, 2, 5);
        assert_eq!(
            (sw.nanos, sw.source),
            (2_000_000_005, TimestampSource::Software)
        );
        let hw = frame_timestamp(ring::TP_STATUS_USER | ring::TP_STATUS_TS_RAW_HARDWARE, 0, 7);
        assert_eq!((hw.nanos, hw.source), (7, TimestampSource::Hardware));
        // The largest u32 seconds (year 2106) do not overflow.
        assert_eq!(
            frame_timestamp(0, u32::MAX, 999_999_999).nanos,
            u64::from(u32::MAX) * 1_000_000_000 + 999_999_999
        );
    }

    #[test]
    fn geometry_fits_frames_and_budget() {
        let (rx, tx) = geometry(1522, 8 << 20, 4096);
        assert_eq!(rx.block_size % 4096, 0);
        assert!(rx.frames_per_block() >= 4);
        assert!(rx.bytes() + tx.bytes() <= 8 << 20);
        assert_eq!(rx.frame_size % 16, 0);
        assert!(tx.frame_size >= ring::TPACKET3_HDR_ALIGNED + 1522);
        let (rx, tx) = geometry(9022, 8 << 20, 4096);
        assert!(rx.frames_per_block() >= 4 && tx.frames_per_block() >= 4);
        let (rx, _) = geometry(9022, 1, 4096);
        assert!(rx.blocks >= 2, "at least two blocks");
        assert_eq!(geometry(1522, 1, 4096), geometry(1522, 256 << 10, 4096));
    }

    #[test]
    fn small_rings_get_more_smaller_blocks_large_rings_64_kib_blocks() {
        // The default 8 MiB: 64 KiB blocks, 64 of them per ring.
        let (rx, _) = geometry(1522, 8 << 20, 4096);
        assert_eq!((rx.block_size, rx.blocks), (64 << 10, 64));
        // 256 KiB: eight 16 KiB receive blocks rather than two of 64 KiB.
        let (rx, tx) = geometry(1522, 256 << 10, 4096);
        assert_eq!((rx.block_size, rx.blocks), (16 << 10, 8));
        assert!(rx.bytes() + tx.bytes() <= 256 << 10);
        // Never fewer than four frames a block, even when that leaves fewer blocks.
        let (rx, _) = geometry(9022, 256 << 10, 4096);
        assert!(rx.frames_per_block() >= 4 && rx.blocks >= 2);
        // Block sizes are powers of two (the kernel allocates blocks in 2^order pages).
        for (mtu, budget) in [
            (1522, 1),
            (1522, 300 << 10),
            (9022, 1 << 20),
            (65535, 8 << 20),
        ] {
            let (rx, tx) = geometry(mtu, budget, 4096);
            assert!(rx.block_size.is_power_of_two() && rx.block_size >= 4096);
            assert!(rx.frames_per_block() >= 4 && tx.frames_per_block() >= 4);
        }
    }

    #[test]
    fn refused_geometry_shrinks_by_halves_down_to_two_blocks() {
        let (mut rx, mut tx) = geometry(1522, 8 << 20, 4096);
        let start = rx.blocks;
        let mut steps = 0;
        while let Some((r, t)) = shrink(libc::ENOMEM, rx, tx) {
            assert_eq!(r.blocks, rx.blocks / 2);
            assert_eq!((t.blocks, t.frame_size), (r.blocks, tx.frame_size));
            (rx, tx) = (r, t);
            steps += 1;
        }
        assert!(steps > 0 && rx.blocks >= 2 && rx.blocks < start);
        assert_eq!(
            shrink(libc::EINVAL, rx, tx),
            None,
            "only lack of memory is retried"
        );
    }
}
