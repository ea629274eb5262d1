//! io_uring for a thread that sleeps on a packet socket and receives in the same system call:
//! one `IORING_OP_RECVMSG` into a buffer owned here, a multishot poll on a wake-up socket, and
//! the sleep's timeout, all in one `io_uring_enter(min_complete = 1)`.
//!
//! The receive buffer is written by the kernel only while a receive is in flight
//! ([`State::Pending`]), and read (copied out) only after its completion was reaped
//! ([`State::Filled`]); the state moves by compare-and-swap, so a copy and a new receive can
//! never overlap. [`RxSleeper::sleep`] does not return while its receive is in flight (it
//! cancels it and waits for the completion), and dropping the sleeper does the same, so the
//! buffer outlives every request that writes it.

use std::cell::UnsafeCell;
use std::io::{self, Read};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode};

use super::socket::{CMSG_BUF_LEN, CmsgBuf};

/// `user_data` of the receive.
const RECV_TAG: u64 = 1;
/// `user_data` of the cancel request.
const CANCEL_TAG: u64 = 2;
/// `user_data` of the wake-up poll: this bit plus the poll's generation.
const WAKE_TAG: u64 = 1 << 32;
/// `user_data` of a poll removal.
const REMOVE_TAG: u64 = 3;

/// The receive could not be queued (nothing is in flight).
struct NotQueued;

/// Where the receive buffer is.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Free: no receive in flight, nothing unread.
    Idle = 0,
    /// A receive is in flight: the kernel may write the buffer.
    Pending = 1,
    /// The receive completed (a frame or an error) and was not taken yet.
    Filled = 2,
    /// Being copied out by [`RxSleeper::take`].
    Copying = 3,
}

/// What woke a [`RxSleeper::sleep`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Slept {
    /// A frame (or a receive error) waits in the sleeper: the next receive of its link takes
    /// it.
    pub frame: bool,
    /// The wake-up socket was written (and has been emptied).
    pub woken: bool,
}

/// A frame taken out of a [`RxSleeper`]: its length on the wire (the `MSG_TRUNC` length) and
/// the length of the control messages copied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taken {
    pub wire_len: usize,
    pub control_len: usize,
}

/// The receive buffer and the headers the kernel reads, at stable heap addresses.
struct Slot {
    data: Box<[u8]>,
    control: CmsgBuf,
    iov: libc::iovec,
    hdr: libc::msghdr,
}

/// The ring and what the sleeping thread knows about its requests.
struct Ring {
    ring: IoUring,
    /// Generation of the armed wake-up poll, and the thread that armed it (its completions run
    /// in that thread), if one is armed.
    wake_armed: Option<(u64, ThreadId)>,
    wake_gen: u64,
    /// The ring failed in a way that leaves a request's fate unknown: it is not used again
    /// (sleeps fail, so callers fall back to their other way of waiting).
    poisoned: bool,
}

/// Sleeps on a packet socket and receives one frame in the same `io_uring_enter`; see the
/// module docs. Made by [`MmsgLink::sleeper`](crate::MmsgLink::sleeper); the link's next
/// receive hands out what a sleep received.
pub struct RxSleeper {
    // Field order: the ring (whose requests use the slot and the descriptors) goes first.
    ring: Mutex<Ring>,
    /// Leaked instead of freed if a receive's fate could not be learned (see `Drop`).
    slot: UnsafeCell<ManuallyDrop<Box<Slot>>>,
    state: AtomicU8,
    /// Result of the last receive: bytes on the wire, or `-errno`.
    res: AtomicI32,
    /// `msg_controllen` the kernel wrote back.
    control_len: AtomicI32,
    sock: OwnedFd,
    wake_rx: UnixStream,
    wake_tx: UnixStream,
}

// SAFETY: the slot is written by the kernel only in `Pending` and read only in `Copying`, and
// both states are entered by compare-and-swap from a state only one thread can hold at a time
// (see `sleep` and `take`); the ring is behind a mutex. The raw pointers inside the slot point
// into the slot's own heap allocation.
unsafe impl Send for RxSleeper {}
// SAFETY: as above.
unsafe impl Sync for RxSleeper {}

impl std::fmt::Debug for RxSleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxSleeper")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RxSleeper {
    /// A sleeper for socket `sock` (duplicated: the sleeper keeps its own descriptor) with a
    /// receive buffer of `len` bytes. Fails when io_uring, `IORING_OP_RECVMSG` or timed waits
    /// (`IORING_FEAT_EXT_ARG`, Linux 5.11) are not available.
    pub(crate) fn new(sock: BorrowedFd<'_>, len: usize) -> io::Result<Self> {
        let ring = IoUring::new(8)?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::RecvMsg::CODE)
            || !probe.is_supported(opcode::PollAdd::CODE)
            || !probe.is_supported(opcode::AsyncCancel::CODE)
        {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        let (wake_rx, wake_tx) = UnixStream::pair()?;
        wake_rx.set_nonblocking(true)?;
        wake_tx.set_nonblocking(true)?;
        let mut slot = Box::new(Slot {
            data: vec![0u8; len.max(1)].into_boxed_slice(),
            control: CmsgBuf::default(),
            iov: libc::iovec {
                iov_base: core::ptr::null_mut(),
                iov_len: 0,
            },
            // SAFETY: all-zero is a valid msghdr.
            hdr: unsafe { core::mem::zeroed() },
        });
        slot.iov.iov_base = slot.data.as_mut_ptr().cast();
        slot.iov.iov_len = slot.data.len();
        slot.hdr.msg_iov = &mut slot.iov;
        slot.hdr.msg_iovlen = 1;
        slot.hdr.msg_control = slot.control.0.as_mut_ptr().cast();
        Ok(RxSleeper {
            ring: Mutex::new(Ring {
                ring,
                wake_armed: None,
                wake_gen: 0,
                poisoned: false,
            }),
            slot: UnsafeCell::new(ManuallyDrop::new(slot)),
            state: AtomicU8::new(State::Idle as u8),
            res: AtomicI32::new(0),
            control_len: AtomicI32::new(0),
            sock: sock.try_clone_to_owned()?,
            wake_rx,
            wake_tx,
        })
    }

    /// The write end of the wake-up socket: one byte written to it ends a
    /// [`RxSleeper::sleep`] (or the next one, if none is under way).
    pub fn wake_fd(&self) -> RawFd {
        self.wake_tx.as_raw_fd()
    }

    /// Whether a received frame (or receive error) waits to be taken.
    pub fn has_frame(&self) -> bool {
        self.state.load(Ordering::Acquire) == State::Filled as u8
    }

    /// Sleep until a frame arrives on the socket (received into the sleeper, for its link's
    /// next receive), the wake-up socket is written, or `timeout` passes (`None`: no limit);
    /// one `io_uring_enter` when a frame ends the sleep. A frame that is already queued ends
    /// it at once. Returns with no receive in flight. `EBUSY` when a received frame was not
    /// taken yet or another thread sleeps on this sleeper right now.
    pub fn sleep(&self, timeout: Option<Duration>) -> io::Result<Slept> {
        let Ok(mut ring) = self.ring.try_lock() else {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        };
        if ring.poisoned {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        if self
            .state
            .compare_exchange(
                State::Idle as u8,
                State::Pending as u8,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        let mut slept = Slept::default();
        let Ok(res) = self.sleep_pending(&mut ring, timeout, &mut slept) else {
            self.state.store(State::Idle as u8, Ordering::Release);
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        };
        // Never return with the receive in flight.
        if self.state.load(Ordering::Relaxed) == State::Pending as u8
            && let Err(e) = self.cancel(&mut ring, &mut slept)
        {
            // The receive's fate is unknown: the buffer stays `Pending` (never read, never
            // reused) and the ring is not used again.
            ring.poisoned = true;
            return Err(e);
        }
        slept.frame = self.has_frame();
        match res {
            Ok(()) => Ok(slept),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(slept),
            Err(e) => Err(e),
        }
    }

    /// Queue the receive (and the wake-up poll if it is not armed) and enter. `Err` when the
    /// receive could not be queued (nothing is in flight then).
    fn sleep_pending(
        &self,
        ring: &mut Ring,
        timeout: Option<Duration>,
        slept: &mut Slept,
    ) -> Result<io::Result<()>, NotQueued> {
        // SAFETY: the state is `Pending`, set by this thread's compare-and-swap: nobody reads
        // the slot (take needs `Filled`), and no other receive uses it (sleep needs `Idle`).
        let slot = unsafe { &mut **self.slot.get() };
        slot.hdr.msg_controllen = CMSG_BUF_LEN as _;
        slot.hdr.msg_flags = 0;
        slot.hdr.msg_namelen = 0;
        let recv = opcode::RecvMsg::new(Fd(self.sock.as_raw_fd()), &mut slot.hdr)
            .flags(libc::MSG_TRUNC as u32)
            .build()
            .user_data(RECV_TAG);
        // SAFETY: the receive writes the slot's buffer and control area and reads its headers,
        // all heap memory owned by `self`, which stays `Pending` (untouched by anyone else)
        // until the completion is reaped; `sleep` and `drop` never leave it in flight.
        unsafe { ring.ring.submission().push(&recv) }.map_err(|_| NotQueued)?;
        let me = std::thread::current().id();
        // The wake-up poll's completions run in the thread that armed it: re-arm it from this
        // one if another thread armed it (the old one is removed).
        if let Some((g, by)) = ring.wake_armed
            && by != me
        {
            let rm = opcode::PollRemove::new(WAKE_TAG | g)
                .build()
                .user_data(REMOVE_TAG);
            // SAFETY: a poll removal references no memory.
            if unsafe { ring.ring.submission().push(&rm) }.is_ok() {
                ring.wake_armed = None;
            }
        }
        if ring.wake_armed.is_none() {
            ring.wake_gen = (ring.wake_gen + 1) & 0xffff_ffff;
            let g = ring.wake_gen;
            let poll = opcode::PollAdd::new(Fd(self.wake_rx.as_raw_fd()), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(WAKE_TAG | g);
            // SAFETY: the poll references only the wake-up socket, which lives as long as the
            // ring (the ring is dropped first).
            if unsafe { ring.ring.submission().push(&poll) }.is_ok() {
                ring.wake_armed = Some((g, me));
            }
        }
        let until = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let res = match until {
                Some(u) => {
                    let t = u.saturating_duration_since(Instant::now());
                    let ts = Timespec::new().sec(t.as_secs()).nsec(t.subsec_nanos());
                    let args = SubmitArgs::new().timespec(&ts);
                    ring.ring.submitter().submit_with_args(1, &args)
                }
                None => ring.ring.submitter().submit_and_wait(1),
            };
            self.reap(ring, slept);
            // Completions that end nothing (a poll removed after another thread armed it)
            // do not end the sleep.
            let settled = self.state.load(Ordering::Relaxed) != State::Pending as u8
                || slept.woken
                || until.is_some_and(|u| Instant::now() >= u);
            if res.is_err() || settled {
                return Ok(res.map(drop));
            }
        }
    }

    /// Cancel the receive in flight and wait for its completion.
    fn cancel(&self, ring: &mut Ring, slept: &mut Slept) -> io::Result<()> {
        let sqe = opcode::AsyncCancel::new(RECV_TAG)
            .build()
            .user_data(CANCEL_TAG);
        // SAFETY: a cancel request references no memory.
        if unsafe { ring.ring.submission().push(&sqe) }.is_err() {
            ring.ring.submit()?;
            // SAFETY: as above.
            unsafe { ring.ring.submission().push(&sqe) }
                .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
        }
        // Bounded: the cancel and the receive complete within a few enters.
        for _ in 0..16 {
            match ring.ring.submitter().submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
            self.reap(ring, slept);
            if self.state.load(Ordering::Relaxed) != State::Pending as u8 {
                return Ok(());
            }
        }
        Err(io::Error::from_raw_os_error(libc::ETIMEDOUT))
    }

    /// Handle every completion in the queue.
    fn reap(&self, ring: &mut Ring, slept: &mut Slept) {
        let mut drain = false;
        for c in ring.ring.completion() {
            match c.user_data() {
                RECV_TAG => {
                    if matches!(-c.result(), libc::ECANCELED | libc::EAGAIN | libc::EINTR) {
                        self.state.store(State::Idle as u8, Ordering::Release);
                    } else {
                        // SAFETY: the receive completed, so the kernel no longer touches the
                        // slot; the state is still `Pending`, so nobody else does.
                        let slot = unsafe { &**self.slot.get() };
                        // `size_t` on glibc, `socklen_t` on musl.
                        #[allow(clippy::unnecessary_cast)]
                        let clen = (slot.hdr.msg_controllen as usize).min(CMSG_BUF_LEN);
                        self.control_len.store(clen as i32, Ordering::Relaxed);
                        self.res.store(c.result(), Ordering::Relaxed);
                        self.state.store(State::Filled as u8, Ordering::Release);
                    }
                }
                t if t & WAKE_TAG != 0 => {
                    let current = ring.wake_armed.is_some_and(|(g, _)| WAKE_TAG | g == t);
                    // A readiness mask: the socket was written. (A removed poll of an older
                    // generation ends with -ECANCELED.)
                    drain |= c.result() > 0;
                    if current && !cqueue::more(c.flags()) {
                        ring.wake_armed = None;
                    }
                }
                _ => {}
            }
        }
        if drain {
            slept.woken = true;
            let mut buf = [0u8; 64];
            while matches!((&self.wake_rx).read(&mut buf), Ok(n) if n > 0) {}
        }
    }

    /// Copy the frame a sleep received into `data` and its control messages into `control`,
    /// freeing the sleeper for the next sleep. `None` when nothing waits; `Err(errno)` when
    /// the receive failed.
    pub(crate) fn take(&self, data: &mut [u8], control: &mut [u8]) -> Option<Result<Taken, i32>> {
        self.state
            .compare_exchange(
                State::Filled as u8,
                State::Copying as u8,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        let res = self.res.load(Ordering::Relaxed);
        let out = if res < 0 {
            Err(-res)
        } else {
            // SAFETY: the state is `Copying`, entered by this thread's compare-and-swap from
            // `Filled`: the receive completed and no new one starts until the state is
            // `Idle` again.
            let slot = unsafe { &**self.slot.get() };
            let wire_len = res as usize;
            let held = wire_len.min(slot.data.len()).min(data.len());
            data[..held].copy_from_slice(&slot.data[..held]);
            let clen = (self.control_len.load(Ordering::Relaxed) as usize)
                .min(CMSG_BUF_LEN)
                .min(control.len());
            control[..clen].copy_from_slice(&slot.control.0[..clen]);
            Ok(Taken {
                wire_len,
                control_len: clen,
            })
        };
        self.state.store(State::Idle as u8, Ordering::Release);
        Some(out)
    }
}

impl AsFd for RxSleeper {
    /// The sleeper's own copy of the socket descriptor.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Drop for RxSleeper {
    fn drop(&mut self) {
        let mut resolved = true;
        if self.state.load(Ordering::Relaxed) == State::Pending as u8 {
            // Unreachable through `sleep` (which never returns with the receive in flight);
            // kept so that the buffer is never freed under a request.
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            let mut slept = Slept::default();
            resolved = !ring.poisoned && self.cancel(&mut ring, &mut slept).is_ok();
        }
        if resolved {
            // SAFETY: no receive is in flight (resolved above), so nothing refers to the slot;
            // it is dropped once, here.
            unsafe { ManuallyDrop::drop(self.slot.get_mut()) }
        }
        // Otherwise the slot is leaked: the kernel may still write it.
    }
}
