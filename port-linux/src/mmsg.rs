//! The mmsg backend: `recvmmsg` and `sendmmsg` batches over preallocated buffers.
//!
//! Same contract and socket set-up as the [plain backend](crate::plain), with one system call
//! per batch instead of per frame:
//!
//! * Receive: one `recvmmsg(MSG_DONTWAIT | MSG_TRUNC)` fills up to
//!   [`LinkConfig::rx_batch`] preallocated buffers, each with its own `PACKET_AUXDATA` control
//!   buffer; [`RawLink::receive`] then hands them out one by one without further system calls.
//! * Transmit: tokens fill slots of the same preallocated pool as the plain backend;
//!   [`RawLink::flush`] sends all queued frames with `sendmmsg` (one call per
//!   [`LinkConfig::tx_slots`] frames); a lone frame without a timestamp request goes out with
//!   a plain `send`, which is cheaper in the kernel (no message header or iovec to copy). Frames the kernel does not take (`EAGAIN`/`ENOBUFS`) stay
//!   queued and are reported pending.
//! * Timestamps ([`LinkConfig::timestamps`]): each message of a batch has a control buffer
//!   big enough for both its `PACKET_AUXDATA` and its `SCM_TIMESTAMPING` message, so batches
//!   stay batches and every frame keeps its tag and its stamp (software: `CLOCK_REALTIME`
//!   when the kernel received it; hardware: the NIC's clock). A frame whose token asked for a
//!   transmit stamp carries the request's control messages in its own message of the
//!   `sendmmsg` batch, so stamped and unstamped frames go out in the same system call.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use l2net_core::link::{FlushStatus, TxTimestamp};
use l2net_core::wire::ethernet::MIN_FRAME_LEN;
use l2net_core::{Capabilities, Instant, LinkError, MacAddr, RawLink};

use crate::error::OpenError;
use crate::iface::InterfaceInfo;
use crate::link::{LinkConfig, LinkStats, PacketSocket, auxdata, rx_meta};
use crate::plain::{BufRx, QueueTx, TxQueue};
use crate::sys::{self, socket as sock};

/// The mmsg backend. See the module docs.
#[derive(Debug)]
pub struct MmsgLink {
    sock: PacketSocket,
    rx: sock::MmsgRx,
    rx_count: usize,
    rx_next: usize,
    rx_len: usize,
    /// The last `recvmmsg` came back with fewer frames than it asked for (or none): the
    /// socket's queue was empty at that moment.
    rx_drained: bool,
    tx: BatchTx,
    batch: usize,
}

/// The mmsg transmit path, shared with the [frame-ring backend](crate::frame_ring): a
/// preallocated slot pool filled through [`QueueTx`] tokens and sent with one `sendmmsg` per
/// flush, each stamped frame carrying its timestamp request in its own message of the batch.
#[derive(Debug)]
pub(crate) struct BatchTx {
    queue: TxQueue,
    txm: sock::MmsgTx,
    rejected: Option<LinkError>,
    /// Control buffer for the transmit-timestamp error queue.
    errq_control: Box<[u8]>,
    /// Per transmit slot of a batch: the control messages of its timestamp request.
    controls: Box<[TxControl]>,
}

/// The control messages of one transmit-timestamp request, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxControl(pub(crate) [u8; crate::timestamp::TX_REQUEST_SPACE]);

impl Default for TxControl {
    fn default() -> Self {
        TxControl([0; crate::timestamp::TX_REQUEST_SPACE])
    }
}

impl BatchTx {
    /// A pool of [`LinkConfig::tx_slots`] frames of the largest size `sock` can send.
    pub(crate) fn new(cfg: &LinkConfig, sock: &PacketSocket) -> Self {
        BatchTx {
            queue: TxQueue::new(cfg.tx_slots, sock.max_tx_len().max(MIN_FRAME_LEN)),
            txm: sock::MmsgTx::new(cfg.tx_slots),
            rejected: None,
            errq_control: vec![0u8; crate::timestamp::ERRQUEUE_CONTROL_SPACE].into_boxed_slice(),
            controls: vec![TxControl::default(); cfg.tx_slots].into_boxed_slice(),
        }
    }

    /// Frames that can be queued between two flushes.
    pub(crate) fn slots(&self) -> usize {
        self.controls.len()
    }

    /// [`RawLink::transmit`]: a token for the next free slot, `Ok(None)` if all are queued.
    pub(crate) fn transmit<'a>(
        &'a mut self,
        sock: &'a mut PacketSocket,
        len: usize,
    ) -> Result<Option<QueueTx<'a>>, LinkError> {
        QueueTx::lend(&mut self.queue, &mut self.rejected, sock, len)
    }

    /// [`RawLink::flush`]: everything queued in one `sendmmsg` (more only if the kernel took
    /// part of a batch); what the kernel pushes back (`EAGAIN`/`ENOBUFS`) stays queued.
    pub(crate) fn flush(&mut self, sock: &mut PacketSocket) -> Result<FlushStatus, LinkError> {
        if let Some(e) = self.rejected.take() {
            return Err(e);
        }
        let mut sent = 0;
        let hardware = sock.tx_hardware();
        while self.queue.queued() > 0 {
            let batch = self.queue.queued().min(self.controls.len());
            // A lone frame without a timestamp request (every frame of a ping-pong) goes out
            // with a plain `send`: `sendmmsg` makes the kernel copy and check a message header
            // and an iovec first.
            let lone = batch == 1 && self.queue.id(0).is_none();
            let result = if lone {
                sock::send(sock.fd.as_fd(), self.queue.get(0)).map(|_| 1)
            } else {
                self.send_batch(sock, batch, hardware)?
            };
            match result {
                Ok(0) => break,
                Ok(n) => {
                    self.queue.pop(n);
                    sent += n;
                    sock.stats.tx_frames += n as u64;
                }
                Err(e) => match sys::errno(&e) {
                    libc::EAGAIN | libc::ENOBUFS => break,
                    libc::EINTR => continue,
                    errno => return Err(sock.error(if lone { "send" } else { "sendmmsg" }, errno)),
                },
            }
        }
        Ok(FlushStatus {
            sent,
            pending: self.queue.queued(),
        })
    }

    /// One `sendmmsg` of the first `batch` queued frames, each stamped frame carrying its
    /// request in its own message: how many the kernel took.
    fn send_batch(
        &mut self,
        sock: &PacketSocket,
        batch: usize,
        hardware: bool,
    ) -> Result<io::Result<usize>, LinkError> {
        for k in 0..batch {
            if let Some(id) = self.queue.id(k) {
                crate::timestamp::write_tx_request(&mut self.controls[k].0, id, hardware).map_err(
                    |_| LinkError::Unsupported("transmit timestamp ids on this architecture"),
                )?;
            }
        }
        let queue = &self.queue;
        let controls = &self.controls;
        let frames = (0..batch).map(|k| {
            let control: &[u8] = if queue.id(k).is_some() {
                &controls[k].0
            } else {
                &[]
            };
            (queue.get(k), control)
        });
        Ok(self.txm.send(sock.fd.as_fd(), frames))
    }

    /// [`RawLink::poll_tx_timestamp`]: the next stamp from `sock`'s error queue.
    pub(crate) fn poll_tx_timestamp(&mut self, sock: &mut PacketSocket) -> Option<TxTimestamp> {
        sock.poll_tx_timestamp(&mut self.errq_control)
    }
}

impl std::fmt::Debug for sock::MmsgRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MmsgRx")
    }
}

impl std::fmt::Debug for sock::MmsgTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MmsgTx")
    }
}

impl MmsgLink {
    /// Open an mmsg link on `cfg.interface` in the calling thread's network namespace
    /// (`cfg.backend` is not consulted).
    pub fn open(cfg: &LinkConfig) -> Result<Self, OpenError> {
        let sock = PacketSocket::open(cfg)?;
        sock.bind(cfg)?;
        let rx_len = sock.rx_len();
        Ok(MmsgLink {
            rx: sock::MmsgRx::new(cfg.rx_batch, rx_len),
            rx_count: 0,
            rx_next: 0,
            rx_len,
            rx_drained: false,
            tx: BatchTx::new(cfg, &sock),
            batch: cfg.rx_batch,
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

    /// Sleep until a frame may be waiting or `timeout` passes (`None`: forever). Returns at
    /// once if frames of the last batch are still unread.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.rx_next < self.rx_count {
            return Ok(true);
        }
        self.sock.wait(libc::POLLIN, timeout)
    }

    /// Sleep until the socket can take frames again (after a flush left some pending).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.wait(libc::POLLOUT, timeout)
    }
}

impl AsFd for MmsgLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

impl AsRawFd for MmsgLink {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd.as_raw_fd()
    }
}

impl RawLink for MmsgLink {
    type Rx<'a> = BufRx<'a>;
    type Tx<'a> = QueueTx<'a>;

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.sock.capabilities(self.batch);
        caps.timestamps = self.sock.timestamp_caps(true);
        caps
    }

    fn mac(&self) -> MacAddr {
        self.sock.info.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<BufRx<'_>>, LinkError> {
        if self.rx_next == self.rx_count {
            self.rx_next = 0;
            self.rx_count = 0;
            loop {
                match self.rx.recv(self.sock.fd.as_fd()) {
                    Ok(n) => {
                        self.rx_count = n;
                        self.rx_drained = n < self.batch;
                        break;
                    }
                    Err(e) => match sys::errno(&e) {
                        libc::EAGAIN => {
                            self.rx_drained = true;
                            return Ok(None);
                        }
                        libc::EINTR => continue,
                        errno => return Err(self.sock.error("recvmmsg", errno)),
                    },
                }
            }
            if self.rx_count == 0 {
                return Ok(None);
            }
        }
        let (buf, wire_len, control) = self.rx.frame(self.rx_next);
        self.rx_next += 1;
        let held = wire_len.min(self.rx_len);
        let (status, tci, tpid) = auxdata(control).unwrap_or((0, 0, 0));
        let mut meta = rx_meta(status, tci, tpid, wire_len, held);
        if self.sock.ts.is_some() {
            meta.timestamp = crate::timestamp::rx_timestamp(control);
        }
        self.sock.stats.rx_frames += 1;
        self.sock.stats.rx_truncated += u64::from(meta.truncated);
        Ok(Some(BufRx::new(&buf[..held], meta)))
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

    /// `false` once the frames of a `recvmmsg` batch that came back short are all handed out:
    /// the socket's queue was empty when it ran, and a frame that arrived since makes the
    /// descriptor readable.
    fn rx_maybe_pending(&self) -> bool {
        self.rx_next < self.rx_count || !self.rx_drained
    }
}
