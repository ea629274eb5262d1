//! The plain backend: one `AF_PACKET` socket, one `recvmsg` per received frame and one `send`
//! per transmitted frame. The simplest backend and the reference the others are tested against.
//!
//! * Receive: `recvmsg(MSG_DONTWAIT | MSG_TRUNC)` into one preallocated buffer of
//!   `MTU + 22` bytes, with a `PACKET_AUXDATA` control message that carries the VLAN tag the
//!   kernel stripped; `MSG_TRUNC` makes the kernel report the real length so truncation is
//!   visible in [`RxMeta::truncated`](l2net_core::RxMeta).
//! * Transmit: [`RawLink::transmit`] lends a slot of a preallocated pool (`TxQueue`, no
//!   allocation per frame); [`RawLink::flush`] sends the queued frames in order. When the kernel
//!   pushes back (`EAGAIN`/`ENOBUFS`) the frame stays queued and the flush reports it pending.
//!   Frames shorter than 60 bytes are padded with zeros to 60, as an Ethernet NIC pads them.
//! * Timestamps ([`LinkConfig::timestamps`]): received frames are read together with their
//!   `SCM_TIMESTAMPING` message into a control buffer sized for it and the auxdata; a frame
//!   whose token asked for a transmit stamp is sent with `sendmsg` and the request's control
//!   messages, and its stamp is read from the error queue by
//!   [`RawLink::poll_tx_timestamp`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use l2net_core::link::{FlushStatus, RxMeta, TxTimestamp, check_tx_len};
use l2net_core::wire::ethernet::MIN_FRAME_LEN;
use l2net_core::{Capabilities, Instant, LinkError, MacAddr, RawLink, RxFrame, TxToken};

use crate::error::OpenError;
use crate::iface::InterfaceInfo;
use crate::link::{LinkConfig, LinkStats, PacketSocket, auxdata, check_frame, rx_meta};
use crate::sys::{self, socket as sock};
use crate::timestamp;

/// A pool of equal transmit slots used as a FIFO: frames are filled at the tail and sent from
/// the head. Allocated once.
#[derive(Debug)]
pub(crate) struct TxQueue {
    buf: Box<[u8]>,
    slot: usize,
    lens: Box<[usize]>,
    /// Transmit-timestamp id requested for each slot's frame.
    ids: Box<[Option<u32>]>,
    head: usize,
    queued: usize,
}

impl TxQueue {
    pub(crate) fn new(slots: usize, slot: usize) -> Self {
        TxQueue {
            buf: vec![0u8; slots * slot].into_boxed_slice(),
            slot,
            lens: vec![0; slots].into_boxed_slice(),
            ids: vec![None; slots].into_boxed_slice(),
            head: 0,
            queued: 0,
        }
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    pub(crate) fn is_full(&self) -> bool {
        self.queued == self.lens.len()
    }

    /// The free slot at the tail, `len` bytes long. The caller checked `len <= slot` and that
    /// the queue is not full.
    fn tail_mut(&mut self, len: usize) -> &mut [u8] {
        let i = (self.head + self.queued) % self.lens.len();
        &mut self.buf[i * self.slot..][..len]
    }

    /// Queue the frame written at the tail, with the id of its transmit-timestamp request.
    fn push(&mut self, len: usize, id: Option<u32>) {
        let i = (self.head + self.queued) % self.lens.len();
        self.lens[i] = len;
        self.ids[i] = id;
        self.queued += 1;
    }

    /// The transmit-timestamp id of the `k`-th queued frame, if one was requested.
    pub(crate) fn id(&self, k: usize) -> Option<u32> {
        self.ids[(self.head + k) % self.lens.len()]
    }

    /// The `k`-th queued frame from the head.
    pub(crate) fn get(&self, k: usize) -> &[u8] {
        let i = (self.head + k) % self.lens.len();
        &self.buf[i * self.slot..][..self.lens[i]]
    }

    /// Drop `n` frames from the head (they were sent).
    pub(crate) fn pop(&mut self, n: usize) {
        let n = n.min(self.queued);
        self.head = (self.head + n) % self.lens.len();
        self.queued -= n;
    }
}

/// A transmit token of the plain and mmsg backends: a slot of the link's preallocated `TxQueue`.
#[derive(Debug)]
pub struct QueueTx<'a> {
    queue: &'a mut TxQueue,
    rejected: &'a mut Option<LinkError>,
    stats: &'a mut LinkStats,
    len: usize,
    mtu: usize,
    /// The link sends transmit-timestamp requests.
    stamps: bool,
    id: Option<u32>,
}

impl<'a> QueueTx<'a> {
    /// [`RawLink::transmit`] of the backends built on a [`TxQueue`]: a token for the queue's
    /// next free slot, `Ok(None)` while every slot holds a queued frame, an error for a length
    /// `sock` can never send. A filled frame the kernel would refuse is recorded in `rejected`.
    pub(crate) fn lend(
        queue: &'a mut TxQueue,
        rejected: &'a mut Option<LinkError>,
        sock: &'a mut PacketSocket,
        len: usize,
    ) -> Result<Option<Self>, LinkError> {
        check_tx_len(len, sock.max_tx_len())?;
        if queue.is_full() {
            return Ok(None);
        }
        Ok(Some(QueueTx {
            queue,
            rejected,
            len,
            mtu: sock.mtu(),
            stamps: sock.ts.is_some(),
            stats: &mut sock.stats,
            id: None,
        }))
    }
}

impl TxToken for QueueTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let padded = self.len.max(MIN_FRAME_LEN);
        let buf = self.queue.tail_mut(padded);
        let r = f(&mut buf[..self.len]);
        // Pad short frames with zeros as an Ethernet NIC would: receivers see the same length
        // on veth as on a wire, and the kernel drops tagged frames with almost no payload.
        buf[self.len..].fill(0);
        match check_frame(buf, self.mtu) {
            Ok(()) => self.queue.push(padded, self.id),
            Err(e) => {
                self.stats.tx_rejected += 1;
                *self.rejected = Some(e);
            }
        }
        r
    }

    fn request_timestamp(&mut self, id: u32) -> Result<(), LinkError> {
        if !self.stamps {
            return Err(LinkError::Unsupported(
                "transmit timestamps: open the link with LinkConfig::timestamps",
            ));
        }
        self.id = Some(id);
        Ok(())
    }
}

/// A received frame of the plain and mmsg backends: a view into the link's receive buffer.
#[derive(Debug)]
pub struct BufRx<'a> {
    data: &'a [u8],
    meta: RxMeta,
}

impl<'a> BufRx<'a> {
    pub(crate) fn new(data: &'a [u8], meta: RxMeta) -> Self {
        BufRx { data, meta }
    }
}

impl RxFrame for BufRx<'_> {
    fn data(&self) -> &[u8] {
        self.data
    }
    fn meta(&self) -> RxMeta {
        self.meta
    }
}

/// Meta and held length of a frame the kernel reported with `rx`, received into a buffer of
/// `cap` bytes.
pub(crate) fn received_meta(rx: sock::Received, cap: usize) -> (usize, RxMeta) {
    let held = rx.wire_len.min(cap);
    let meta = match rx.aux {
        Some(aux) => rx_meta(
            aux.tp_status,
            aux.tp_vlan_tci,
            aux.tp_vlan_tpid,
            rx.wire_len,
            held,
        ),
        None => rx_meta(0, 0, 0, rx.wire_len, held),
    };
    (held, meta)
}

/// Receive one frame into `buf` with its control messages in `control` (at least
/// [`timestamp::RX_CONTROL_SPACE`] bytes): the frame's held length and metadata, timestamp
/// included. For sockets with timestamps on.
pub(crate) fn recv_stamped(
    sock: &mut PacketSocket,
    buf: &mut [u8],
    control: &mut [u8],
) -> Result<Option<(usize, RxMeta)>, LinkError> {
    match timestamp::recv_with_control(sock.fd.as_fd(), buf, control) {
        Ok(Some(r)) => {
            let c = &control[..r.control_len.min(control.len())];
            let (status, tci, tpid) = auxdata(c).unwrap_or((0, 0, 0));
            let mut meta = rx_meta(status, tci, tpid, r.wire_len, r.len);
            meta.timestamp = timestamp::rx_timestamp(c);
            sock.stats.rx_frames += 1;
            sock.stats.rx_truncated += u64::from(meta.truncated);
            Ok(Some((r.len, meta)))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(sock.error("recvmsg", sys::errno(&e))),
    }
}

/// Send the frame at the head of `tx`: with `send`, or with `sendmsg` and the control messages
/// of its transmit-timestamp request.
pub(crate) fn send_head(sock: &PacketSocket, tx: &TxQueue) -> io::Result<usize> {
    let Some(id) = tx.id(0) else {
        return sock::send(sock.fd.as_fd(), tx.get(0));
    };
    let mut control = [0u8; timestamp::TX_REQUEST_SPACE];
    let n = timestamp::write_tx_request(&mut control, id, sock.tx_hardware())
        .map_err(|_| io::Error::from_raw_os_error(libc::EOPNOTSUPP))?;
    timestamp::send_with_control(sock.fd.as_fd(), tx.get(0), &control[..n])
}

/// The plain backend. See the module docs.
#[derive(Debug)]
pub struct PlainLink {
    sock: PacketSocket,
    rx_buf: Box<[u8]>,
    cmsg: Box<sock::CmsgBuf>,
    /// Control buffer for receives with timestamps.
    rx_control: Box<[u8]>,
    /// Control buffer for the transmit-timestamp error queue.
    errq_control: Box<[u8]>,
    tx: TxQueue,
    rejected: Option<LinkError>,
    /// The last receive found the socket empty: nothing is pending until it is readable.
    rx_drained: bool,
}

impl PlainLink {
    /// Open a plain link on `cfg.interface` in the calling thread's network namespace
    /// (`cfg.backend` is not consulted).
    pub fn open(cfg: &LinkConfig) -> Result<Self, OpenError> {
        let sock = PacketSocket::open(cfg)?;
        sock.bind(cfg)?;
        Ok(PlainLink {
            rx_buf: vec![0u8; sock.rx_len()].into_boxed_slice(),
            cmsg: Box::default(),
            rx_control: vec![0u8; timestamp::RX_CONTROL_SPACE].into_boxed_slice(),
            errq_control: vec![0u8; timestamp::ERRQUEUE_CONTROL_SPACE].into_boxed_slice(),
            tx: TxQueue::new(cfg.tx_slots, sock.max_tx_len().max(MIN_FRAME_LEN)),
            rejected: None,
            rx_drained: false,
            sock,
        })
    }

    /// The interface as it was when the link opened.
    pub fn interface(&self) -> &InterfaceInfo {
        &self.sock.info
    }

    /// Counters (reads and folds in the kernel's `PACKET_STATISTICS`).
    pub fn stats(&mut self) -> Result<LinkStats, LinkError> {
        self.sock.stats()
    }

    /// Sleep until a frame may be waiting or `timeout` passes (`None`: forever).
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.wait(libc::POLLIN, timeout)
    }

    /// Sleep until the socket can take frames again (after a flush left some pending).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.wait(libc::POLLOUT, timeout)
    }
}

impl AsFd for PlainLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

impl AsRawFd for PlainLink {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd.as_raw_fd()
    }
}

/// Send queued frames one `send` at a time until the queue is empty or the kernel pushes back.
fn flush_one_by_one(sock: &mut PacketSocket, tx: &mut TxQueue) -> Result<FlushStatus, LinkError> {
    let mut sent = 0;
    while tx.queued() > 0 {
        match send_head(sock, tx) {
            Ok(_) => {
                tx.pop(1);
                sent += 1;
                sock.stats.tx_frames += 1;
            }
            Err(e) => match sys::errno(&e) {
                libc::EAGAIN | libc::ENOBUFS => break,
                libc::EINTR => continue,
                errno => return Err(sock.error("send", errno)),
            },
        }
    }
    Ok(FlushStatus {
        sent,
        pending: tx.queued(),
    })
}

impl RawLink for PlainLink {
    type Rx<'a> = BufRx<'a>;
    type Tx<'a> = QueueTx<'a>;

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.sock.capabilities(1);
        caps.timestamps = self.sock.timestamp_caps(true);
        caps
    }

    fn mac(&self) -> MacAddr {
        self.sock.info.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<BufRx<'_>>, LinkError> {
        if self.sock.ts.is_some() {
            let got = recv_stamped(&mut self.sock, &mut self.rx_buf, &mut self.rx_control)?;
            self.rx_drained = got.is_none();
            return Ok(got.map(|(held, meta)| BufRx::new(&self.rx_buf[..held], meta)));
        }
        loop {
            match sock::recv_aux(self.sock.fd.as_fd(), &mut self.rx_buf, &mut self.cmsg) {
                Ok(rx) => {
                    let (held, meta) = received_meta(rx, self.rx_buf.len());
                    self.sock.stats.rx_frames += 1;
                    self.sock.stats.rx_truncated += u64::from(meta.truncated);
                    self.rx_drained = false;
                    return Ok(Some(BufRx::new(&self.rx_buf[..held], meta)));
                }
                Err(e) => match sys::errno(&e) {
                    libc::EAGAIN => {
                        self.rx_drained = true;
                        return Ok(None);
                    }
                    libc::EINTR => continue,
                    errno => return Err(self.sock.error("recvmsg", errno)),
                },
            }
        }
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<QueueTx<'_>>, LinkError> {
        QueueTx::lend(&mut self.tx, &mut self.rejected, &mut self.sock, len)
    }

    fn flush(&mut self, _now: Instant) -> Result<FlushStatus, LinkError> {
        if let Some(e) = self.rejected.take() {
            return Err(e);
        }
        flush_one_by_one(&mut self.sock, &mut self.tx)
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.sock.multicast(mac, true)
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.sock.multicast(mac, false)
    }

    /// `false` after a receive found the socket empty, until the next receive: a frame that
    /// arrived since makes the descriptor readable.
    fn rx_maybe_pending(&self) -> bool {
        !self.rx_drained
    }

    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        self.sock.poll_tx_timestamp(&mut self.errq_control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_queue_is_a_fifo_over_fixed_slots() {
        let mut q = TxQueue::new(3, 20);
        for (k, len) in [14usize, 20, 15].into_iter().enumerate() {
            assert!(!q.is_full());
            q.tail_mut(len).fill(k as u8);
            q.push(len, (k == 1).then_some(7));
        }
        assert!(q.is_full());
        assert_eq!(q.get(0), &[0u8; 14][..]);
        assert_eq!(q.get(1), &[1u8; 20][..]);
        assert_eq!((q.id(0), q.id(1)), (None, Some(7)));
        q.pop(2);
        assert_eq!(q.queued(), 1);
        q.tail_mut(16).fill(9);
        q.push(16, None);
        assert_eq!(q.get(0), &[2u8; 15][..]);
        assert_eq!(q.get(1), &[9u8; 16][..]);
        q.pop(5);
        assert_eq!(q.queued(), 0);
    }
}
