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

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use l2net_core::link::{FlushStatus, RxMeta, check_tx_len};
use l2net_core::wire::ethernet::MIN_FRAME_LEN;
use l2net_core::{Capabilities, Instant, LinkError, MacAddr, RawLink, RxFrame, TxToken};

use crate::error::OpenError;
use crate::iface::InterfaceInfo;
use crate::link::{LinkConfig, LinkStats, PacketSocket, check_frame, rx_meta};
use crate::sys::{self, socket as sock};

/// A pool of equal transmit slots used as a FIFO: frames are filled at the tail and sent from
/// the head. Allocated once.
#[derive(Debug)]
pub(crate) struct TxQueue {
    buf: Box<[u8]>,
    slot: usize,
    lens: Box<[usize]>,
    head: usize,
    queued: usize,
}

impl TxQueue {
    pub(crate) fn new(slots: usize, slot: usize) -> Self {
        TxQueue {
            buf: vec![0u8; slots * slot].into_boxed_slice(),
            slot,
            lens: vec![0; slots].into_boxed_slice(),
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

    /// Queue the frame written at the tail.
    fn push(&mut self, len: usize) {
        let i = (self.head + self.queued) % self.lens.len();
        self.lens[i] = len;
        self.queued += 1;
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
}

impl<'a> QueueTx<'a> {
    pub(crate) fn new(
        queue: &'a mut TxQueue,
        rejected: &'a mut Option<LinkError>,
        stats: &'a mut LinkStats,
        len: usize,
        mtu: usize,
    ) -> Self {
        QueueTx {
            queue,
            rejected,
            stats,
            len,
            mtu,
        }
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
            Ok(()) => self.queue.push(padded),
            Err(e) => {
                self.stats.tx_rejected += 1;
                *self.rejected = Some(e);
            }
        }
        r
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

/// The plain backend. See the module docs.
#[derive(Debug)]
pub struct PlainLink {
    sock: PacketSocket,
    rx_buf: Box<[u8]>,
    cmsg: Box<sock::CmsgBuf>,
    tx: TxQueue,
    rejected: Option<LinkError>,
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
            tx: TxQueue::new(cfg.tx_slots, sock.max_tx_len().max(MIN_FRAME_LEN)),
            rejected: None,
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
        match sock::send(sock.fd.as_fd(), tx.get(0)) {
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
        self.sock.capabilities(1)
    }

    fn mac(&self) -> MacAddr {
        self.sock.info.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<BufRx<'_>>, LinkError> {
        loop {
            match sock::recv_aux(self.sock.fd.as_fd(), &mut self.rx_buf, &mut self.cmsg) {
                Ok(rx) => {
                    let (held, meta) = received_meta(rx, self.rx_buf.len());
                    self.sock.stats.rx_frames += 1;
                    self.sock.stats.rx_truncated += u64::from(meta.truncated);
                    return Ok(Some(BufRx::new(&self.rx_buf[..held], meta)));
                }
                Err(e) => match sys::errno(&e) {
                    libc::EAGAIN => return Ok(None),
                    libc::EINTR => continue,
                    errno => return Err(self.sock.error("recvmsg", errno)),
                },
            }
        }
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<QueueTx<'_>>, LinkError> {
        check_tx_len(len, self.sock.max_tx_len())?;
        if self.tx.is_full() {
            return Ok(None);
        }
        Ok(Some(QueueTx::new(
            &mut self.tx,
            &mut self.rejected,
            &mut self.sock.stats,
            len,
            self.sock.info.mtu as usize,
        )))
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
            q.push(len);
        }
        assert!(q.is_full());
        assert_eq!(q.get(0), &[0u8; 14][..]);
        assert_eq!(q.get(1), &[1u8; 20][..]);
        q.pop(2);
        assert_eq!(q.queued(), 1);
        q.tail_mut(16).fill(9);
        q.push(16);
        assert_eq!(q.get(0), &[2u8; 15][..]);
        assert_eq!(q.get(1), &[9u8; 16][..]);
        q.pop(5);
        assert_eq!(q.queued(), 0);
    }
}
