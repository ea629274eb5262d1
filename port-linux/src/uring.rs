//! The io_uring backend: the packet socket driven through one io_uring.
//!
//! * Receive: one multishot `recvmsg` (Linux 6.0+) over a ring of provided buffers (Linux
//!   5.19+): the kernel fills a free buffer per frame, with its `PACKET_AUXDATA` control
//!   message (the VLAN tag it stripped), and posts a completion; no system call per frame.
//!   [`RawLink::receive`] lends the buffer as the frame's view and hands it back to the kernel
//!   at the next call. If the caller falls behind and every buffer is lent out or filled, the
//!   kernel keeps further frames in the socket's queue (counted by `PACKET_STATISTICS` if even
//!   that fills) and the receive is re-armed once buffers are free again.
//! * Transmit: frames are queued in a preallocated slot pool as with the plain backend;
//!   [`RawLink::flush`] submits them as one linked chain of `send`s (`MSG_DONTWAIT`) in one
//!   `io_uring_enter`. The chain keeps their order and stops at the first send the kernel
//!   pushes back (`EAGAIN`/`ENOBUFS`): that frame and the rest stay queued and the flush
//!   reports them pending. Nothing is dropped.
//!
//! * Timestamps ([`LinkConfig::timestamps`]): each receive buffer's control area
//!   (`struct io_uring_recvmsg_out`, then the control messages, then the frame) holds the
//!   `SCM_TIMESTAMPING` message next to the auxdata, so every frame carries its stamp
//!   (software: `CLOCK_REALTIME` when the kernel received it; hardware: the NIC's clock). A
//!   frame whose token asked for a transmit stamp is sent in the same chain as an
//!   `IORING_OP_SENDMSG` carrying the request's control messages; the stamp comes back on the
//!   socket's error queue as with the plain backend.
//!
//! Opening probes the kernel (`IORING_REGISTER_PROBE`, buffer-ring registration, a first
//! multishot receive) and fails with [`OpenError::Unsupported`] naming the missing feature, so
//! [`Backend::Auto`](crate::link::Backend) can fall back to another backend.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use l2net_core::link::{FlushStatus, RxMeta, TxTimestamp};
use l2net_core::{Capabilities, Instant, LinkError, MacAddr, RawLink};

use crate::error::OpenError;
use crate::iface::InterfaceInfo;
use crate::link::{LinkConfig, LinkStats, PacketSocket, auxdata, rx_meta};
use crate::plain::{BufRx, QueueTx, TxQueue};
use crate::sys::uring::{SetupError, Uring};

/// Receive buffers in the kernel's provided-buffer ring (a power of two).
const RX_BUFFERS: u16 = 256;
/// Largest number of sends in one chain (one `io_uring_enter`).
const MAX_BATCH: usize = 256;

/// The io_uring backend. See the module docs.
#[derive(Debug)]
pub struct UringLink {
    // Dropped first: cancels the receive before the socket closes.
    ring: Uring,
    sock: PacketSocket,
    tx: TxQueue,
    rejected: Option<LinkError>,
    /// The buffer lent to the last received frame's view; returned at the next receive.
    lent: Option<u16>,
    /// Per-send results of one batch.
    results: Box<[i32]>,
    batch: usize,
    /// Control buffer for the transmit-timestamp error queue.
    errq_control: Box<[u8]>,
    /// Per frame of a batch: the control messages of its timestamp request.
    tx_controls: Box<[crate::mmsg::TxControl]>,
}

impl UringLink {
    /// Open an io_uring link on `cfg.interface` in the calling thread's network namespace
    /// (`cfg.backend` is not consulted). Fails with [`OpenError::Unsupported`] if the kernel
    /// lacks a feature the backend needs.
    pub fn open(cfg: &LinkConfig) -> Result<Self, OpenError> {
        let sock = PacketSocket::open(cfg)?;
        sock.bind(cfg)?;
        let batch = cfg.tx_slots.clamp(1, MAX_BATCH);
        let sq = (batch as u32).next_power_of_two().max(8);
        let ring =
            Uring::new(sock.fd.as_fd(), RX_BUFFERS, sock.rx_len(), sq).map_err(|e| match e {
                SetupError::Unsupported(what) => OpenError::Unsupported(what),
                SetupError::Os(op, e) => OpenError::os(op, &e),
            })?;
        Ok(UringLink {
            ring,
            tx: TxQueue::new(cfg.tx_slots, sock.max_tx_len()),
            sock,
            rejected: None,
            lent: None,
            results: vec![0; batch].into_boxed_slice(),
            errq_control: vec![0u8; crate::timestamp::ERRQUEUE_CONTROL_SPACE].into_boxed_slice(),
            tx_controls: vec![crate::mmsg::TxControl::default(); batch].into_boxed_slice(),
            batch,
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

    /// Sleep until a frame may be waiting or `timeout` passes (`None`: forever). Waits on the
    /// ring's descriptor, which becomes readable when completions are posted.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if !self.ring.armed() || self.ring.has_stashed() {
            // A receive completion is stashed, or the receive ended (it is re-armed by the
            // next `receive`): either way, call `receive` now.
            return Ok(true);
        }
        crate::sys::socket::poll(self.ring.ring_fd(), libc::POLLIN, timeout)
    }

    /// Sleep until the socket can take frames again (after a flush left some pending).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.wait(libc::POLLOUT, timeout)
    }

    fn rearm(&mut self) -> Result<(), LinkError> {
        self.ring
            .arm()
            .map_err(|e| self.sock.error("io_uring_enter", crate::sys::errno(&e)))
    }
}

impl AsFd for UringLink {
    /// The packet socket (for options and statistics). To wait for frames use
    /// [`UringLink::wait_readable`], which waits on the ring.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

impl RawLink for UringLink {
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
        if let Some(bid) = self.lent.take() {
            self.ring.provide(bid);
        }
        let mut poked = false;
        let cqe = loop {
            if let Some(c) = self.ring.next_recv() {
                if c.res >= 0 {
                    break c;
                }
                match -c.res {
                    // Out of buffers (the multishot receive ended) or cancelled: re-arm below.
                    libc::ENOBUFS | libc::ECANCELED => continue,
                    // The receive is re-armed on the next call if this ended it.
                    errno => return Err(self.sock.error("io_uring recvmsg", errno)),
                }
            }
            if !self.ring.armed() {
                self.rearm()?;
            }
            if poked {
                return Ok(None);
            }
            // Completions may wait for task work that runs on entering the kernel.
            self.ring
                .poke()
                .map_err(|e| self.sock.error("io_uring_enter", crate::sys::errno(&e)))?;
            poked = true;
        };
        let Some(bid) = cqe.bid else {
            return Err(LinkError::Os {
                op: "io_uring recvmsg without a buffer",
                errno: libc::EIO,
            });
        };
        let cap = self.ring.payload_len();
        if !self.ring.valid(bid, cqe.res as usize) {
            self.ring.provide(bid);
            return Err(LinkError::Os {
                op: "io_uring recvmsg layout",
                errno: libc::EIO,
            });
        }
        let Some((control, payload, wire_len)) = self.ring.received(bid, cqe.res as usize) else {
            return Err(LinkError::Os {
                op: "io_uring recvmsg layout",
                errno: libc::EIO,
            });
        };
        let held = payload.len().min(cap);
        let mut meta: RxMeta = match auxdata(control) {
            Some((status, tci, tpid)) => rx_meta(status, tci, tpid, wire_len, held),
            None => rx_meta(0, 0, 0, wire_len, held),
        };
        if self.sock.ts.is_some() {
            meta.timestamp = crate::timestamp::rx_timestamp(control);
        }
        self.sock.stats.rx_frames += 1;
        self.sock.stats.rx_truncated += u64::from(meta.truncated);
        self.lent = Some(bid);
        Ok(Some(BufRx::new(&payload[..held], meta)))
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<QueueTx<'_>>, LinkError> {
        QueueTx::lend(&mut self.tx, &mut self.rejected, &mut self.sock, len)
    }

    fn flush(&mut self, _now: Instant) -> Result<FlushStatus, LinkError> {
        if let Some(e) = self.rejected.take() {
            return Err(e);
        }
        let mut sent = 0;
        let hardware = self.sock.tx_hardware();
        while self.tx.queued() > 0 {
            let n = self.tx.queued().min(self.batch);
            // A stamped frame carries its request in its own IORING_OP_SENDMSG in the chain.
            for k in 0..n {
                if let Some(id) = self.tx.id(k) {
                    crate::timestamp::write_tx_request(&mut self.tx_controls[k].0, id, hardware)
                        .map_err(|_| {
                            LinkError::Unsupported("transmit timestamp ids on this architecture")
                        })?;
                }
            }
            let tx = &self.tx;
            let controls = &self.tx_controls;
            let submitted = self
                .ring
                .send_batch(
                    (0..n).map(|k| {
                        let control: &[u8] = if tx.id(k).is_some() {
                            &controls[k].0
                        } else {
                            &[]
                        };
                        (tx.get(k), control)
                    }),
                    &mut self.results,
                )
                .map_err(|e| self.sock.error("io_uring_enter", crate::sys::errno(&e)))?;
            let ok = self.results[..submitted]
                .iter()
                .take_while(|&&r| r >= 0)
                .count();
            self.tx.pop(ok);
            sent += ok;
            self.sock.stats.tx_frames += ok as u64;
            if ok < submitted {
                match -self.results[ok] {
                    libc::EAGAIN | libc::ENOBUFS => break,
                    libc::EINTR | libc::ECANCELED => continue,
                    errno => return Err(self.sock.error("io_uring send", errno)),
                }
            }
            if submitted == 0 {
                break;
            }
        }
        Ok(FlushStatus {
            sent,
            pending: self.tx.queued(),
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
    fn auxdata_is_parsed_from_control_bytes() {
        let mut c = vec![0u8; crate::timestamp::cmsg_space(20)];
        let hdr = crate::timestamp::cmsg_space(0);
        c[..8].copy_from_slice(&((hdr + 20) as u64).to_ne_bytes());
        c[8..12].copy_from_slice(&libc::SOL_PACKET.to_ne_bytes());
        c[12..16].copy_from_slice(&crate::sys::socket::PACKET_AUXDATA.to_ne_bytes());
        c[hdr..hdr + 4].copy_from_slice(&0x20u32.to_ne_bytes());
        c[hdr + 16..hdr + 18].copy_from_slice(&0x2005u16.to_ne_bytes());
        c[hdr + 18..hdr + 20].copy_from_slice(&0x8100u16.to_ne_bytes());
        assert_eq!(auxdata(&c), Some((0x20, 0x2005, 0x8100)));
        assert_eq!(auxdata(&c[..10]), None);
    }
}
