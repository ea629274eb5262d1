//! io_uring for the packet socket: one multishot `recvmsg` over a provided-buffer ring for
//! receiving, linked `send` chains for batched transmission.
//!
//! Memory the kernel writes into (the receive buffers) or reads from (the buffer ring, queued
//! frames) is owned here and outlives every request that uses it: receive buffers live until
//! the ring is dropped (which first cancels the multishot receive and waits for its last
//! completion), and [`Uring::send_batch`] does not return before every send it submitted has
//! completed.

use std::alloc::{self, Layout};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::{BufRingEntry, Fd};
use io_uring::{IoUring, Probe, cqueue, opcode, squeue};

/// `user_data` of the multishot receive.
const RECV_TAG: u64 = 1 << 63;
/// `user_data` of the cancel request sent when dropping.
const CANCEL_TAG: u64 = (1 << 63) | 1;
/// Buffer group id of the receive buffers.
const BGID: u16 = 0;
/// Bytes of control data each receive reserves: a `PACKET_AUXDATA` message (CMSG_SPACE(20) =
/// 40) and an `SCM_TIMESTAMPING` message (CMSG_SPACE(48) = 64), which the kernel writes first
/// when timestamps are on.
pub(crate) const CONTROL_LEN: usize = crate::timestamp::RX_CONTROL_SPACE;
/// `sizeof(struct io_uring_recvmsg_out)`.
const RECVMSG_OUT_LEN: usize = 16;

/// Why io_uring cannot serve a packet link.
#[derive(Debug)]
pub(crate) enum SetupError {
    /// The kernel lacks a feature; the text names it and the kernel version that has it.
    Unsupported(&'static str),
    /// Another error of `op`.
    Os(&'static str, io::Error),
}

/// A completion of the multishot receive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvCqe {
    /// Bytes written into the buffer, or `-errno`.
    pub res: i32,
    /// The buffer it was written into (when `res >= 0`).
    pub bid: Option<u16>,
}

/// Page-aligned memory of the provided-buffer ring (`struct io_uring_buf` entries).
struct BufRingMem {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl BufRingMem {
    fn new(entries: u16) -> io::Result<Self> {
        let layout = Layout::from_size_align(usize::from(entries) * 16, 4096)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: the layout has a non-zero size (entries >= 1 is checked by the caller).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(BufRingMem { ptr, layout })
    }
}

impl Drop for BufRingMem {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Receive buffers: `count` slots of `len` bytes in one allocation, addressed through a raw
/// pointer because the kernel writes into slots it owns while we read slots we own.
struct Buffers {
    ptr: NonNull<u8>,
    layout: Layout,
    len: usize,
}

impl Buffers {
    fn new(count: u16, len: usize) -> io::Result<Self> {
        let size = usize::from(count)
            .checked_mul(len)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let layout = Layout::from_size_align(size, 64)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: non-zero size (count >= 1, len >= 1 checked by the caller).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Buffers { ptr, layout, len })
    }

    fn addr(&self, bid: u16) -> u64 {
        self.ptr.as_ptr() as u64 + (usize::from(bid) * self.len) as u64
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// An io_uring bound to one packet socket. Field order matters: the ring is dropped (after the
/// explicit cancel in `Drop`) before the memory it used.
pub(crate) struct Uring {
    ring: IoUring,
    fd: RawFd,
    ring_mem: BufRingMem,
    bufs: Buffers,
    entries: u16,
    /// Our copy of the buffer ring's tail.
    tail: u16,
    /// The msghdr template of the multishot receive (only the name and control lengths are
    /// read); boxed so its address is stable while the request is armed.
    msghdr: Box<libc::msghdr>,
    armed: bool,
    /// Receive completions reaped while waiting for sends, handed out before newer ones.
    stash: VecDeque<RecvCqe>,
    /// The ring can no longer be trusted with requests (an `io_uring_enter` failed while sends
    /// were queued); nothing is submitted any more.
    poisoned: bool,
    /// Headers of the frames of a batch sent with control messages (`IORING_OP_SENDMSG`), one
    /// per submission queue entry; owned here so that they outlive any request reading them.
    send_iovs: Box<[libc::iovec]>,
    send_msgs: Box<[libc::msghdr]>,
}

// SAFETY: the raw pointers (buffer memory, msghdr) point at allocations this value owns
// exclusively; nothing in it is tied to the thread that made it. (Requests armed by a thread
// that exits are cancelled by the kernel; `next_recv` then reports ECANCELED and the link
// re-arms from the thread it is used on.)
unsafe impl Send for Uring {}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring")
            .field("entries", &self.entries)
            .field("buf_len", &self.bufs.len)
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}

impl Uring {
    /// Set up a ring for socket `fd` (which must outlive the ring) with `entries` receive
    /// buffers (a power of two) of `payload_len` bytes of frame each and room for `sq_entries`
    /// sends per batch.
    pub(crate) fn new(
        fd: BorrowedFd<'_>,
        entries: u16,
        payload_len: usize,
        sq_entries: u32,
    ) -> Result<Self, SetupError> {
        if entries == 0 || !entries.is_power_of_two() || payload_len == 0 {
            return Err(SetupError::Os(
                "io_uring buffers",
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let cq = (sq_entries + u32::from(entries)) * 2;
        let ring = IoUring::builder()
            .setup_cqsize(cq)
            .build(sq_entries)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOSYS) => SetupError::Unsupported("io_uring (Linux 5.1+)"),
                Some(libc::EPERM) => {
                    SetupError::Unsupported("io_uring (disabled by kernel.io_uring_disabled)")
                }
                _ => SetupError::Os("io_uring_setup", e),
            })?;
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|_| SetupError::Unsupported("io_uring opcode probe (Linux 5.6+)"))?;
        for (code, what) in [
            (opcode::RecvMsg::CODE, "IORING_OP_RECVMSG (Linux 5.3+)"),
            (opcode::Send::CODE, "IORING_OP_SEND (Linux 5.6+)"),
            (opcode::SendMsg::CODE, "IORING_OP_SENDMSG (Linux 5.3+)"),
            (
                opcode::AsyncCancel::CODE,
                "IORING_OP_ASYNC_CANCEL (Linux 5.5+)",
            ),
        ] {
            if !probe.is_supported(code) {
                return Err(SetupError::Unsupported(what));
            }
        }
        let ring_mem = BufRingMem::new(entries).map_err(|e| SetupError::Os("alloc", e))?;
        let buf_len = (RECVMSG_OUT_LEN + CONTROL_LEN + payload_len).next_multiple_of(64);
        let bufs = Buffers::new(entries, buf_len).map_err(|e| SetupError::Os("alloc", e))?;
        // SAFETY: `ring_mem` holds `entries` zeroed io_uring_buf entries, page aligned, and is
        // dropped only after the ring (field order, and `Drop` unregisters first).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                ring_mem.ptr.as_ptr() as u64,
                entries,
                BGID,
                0,
            )
        }
        .map_err(|_| SetupError::Unsupported("io_uring provided buffer rings (Linux 5.19+)"))?;
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msghdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msghdr.msg_controllen = CONTROL_LEN as _;
        let mut uring = Uring {
            ring,
            fd: fd.as_raw_fd(),
            ring_mem,
            bufs,
            entries,
            tail: 0,
            msghdr,
            armed: false,
            stash: VecDeque::with_capacity(2 * usize::from(entries) + 8),
            poisoned: false,
            send_iovs: Box::new([]),
            send_msgs: Box::new([]),
        };
        let sq = uring.ring.submission().capacity();
        uring.send_iovs = (0..sq)
            .map(|_| libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            })
            .collect();
        // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
        uring.send_msgs = (0..sq).map(|_| unsafe { std::mem::zeroed() }).collect();
        for bid in 0..entries {
            uring.provide(bid);
        }
        uring
            .arm()
            .map_err(|e| SetupError::Os("io_uring_enter", e))?;
        // A kernel without multishot recvmsg (before 6.0) rejects the request at once.
        loop {
            let Some(c) = uring.ring.completion().next() else {
                break;
            };
            if c.user_data() != RECV_TAG {
                continue;
            }
            if c.result() == -libc::EINVAL {
                return Err(SetupError::Unsupported(
                    "io_uring multishot recvmsg (Linux 6.0+)",
                ));
            }
            let r = uring.recv_cqe(&c);
            uring.stash.push_back(r);
        }
        Ok(uring)
    }

    /// Bytes of frame each receive buffer holds.
    pub(crate) fn payload_len(&self) -> usize {
        self.bufs.len - RECVMSG_OUT_LEN - CONTROL_LEN
    }

    /// The ring's descriptor (readable when completions are waiting).
    pub(crate) fn ring_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the ring owns this descriptor and keeps it open while `self` (and so the
        // returned borrow) lives.
        unsafe { BorrowedFd::borrow_raw(self.ring.as_raw_fd()) }
    }

    /// Hand buffer `bid` (back) to the kernel.
    pub(crate) fn provide(&mut self, bid: u16) {
        if bid >= self.entries {
            return;
        }
        let mask = self.entries - 1;
        let slot = usize::from(self.tail & mask);
        // SAFETY: `slot < entries`, so the entry lies inside `ring_mem`; the kernel does not read
        // entries between its head and our tail, which is where `slot` is. The setters write
        // only addr, len and bid, never the `resv` field of entry 0 that holds the tail.
        let entry = unsafe { &mut *self.ring_mem.ptr.as_ptr().cast::<BufRingEntry>().add(slot) };
        entry.set_addr(self.bufs.addr(bid));
        entry.set_len(self.bufs.len as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the u16 at byte offset 14 of the ring (entry 0's `resv`), 2-byte
        // aligned inside our page-aligned allocation; the kernel reads it concurrently, hence
        // the atomic release store that publishes the entry written above.
        let tail = unsafe { &*self.ring_mem.ptr.as_ptr().add(14).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// Arm the multishot receive if it is not armed and submit.
    pub(crate) fn arm(&mut self) -> io::Result<()> {
        if self.armed || self.poisoned {
            return Ok(());
        }
        let sqe = opcode::RecvMsgMulti::new(Fd(self.fd), &raw const *self.msghdr, BGID)
            .build()
            .user_data(RECV_TAG);
        // SAFETY: the request reads `msghdr` (boxed, alive until the ring is torn down after the
        // request is cancelled) and writes into provided buffers (same lifetime).
        unsafe { self.ring.submission().push(&sqe) }
            .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
        self.armed = true;
        self.enter(0)
    }

    fn enter(&mut self, want: usize) -> io::Result<()> {
        loop {
            match self.ring.submitter().submit_and_wait(want) {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && want == 0 => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Let the kernel post completions that are ready (runs deferred task work).
    pub(crate) fn poke(&mut self) -> io::Result<()> {
        if self.poisoned {
            return Ok(());
        }
        self.enter(0)
    }

    /// The next completion of the receive, if any, from the completion queue.
    pub(crate) fn next_recv(&mut self) -> Option<RecvCqe> {
        if let Some(c) = self.stash.pop_front() {
            return Some(c);
        }
        loop {
            let c = self.ring.completion().next()?;
            if c.user_data() == RECV_TAG {
                let r = self.recv_cqe(&c);
                return Some(r);
            }
            // Cancel completions and stray entries need no action.
        }
    }

    fn recv_cqe(&mut self, c: &cqueue::Entry) -> RecvCqe {
        let more = cqueue::more(c.flags());
        if !more {
            self.armed = false;
        }
        RecvCqe {
            res: c.result(),
            bid: cqueue::buffer_select(c.flags()),
        }
    }

    /// Whether receive completions were reaped during a flush and wait for `next_recv`.
    pub(crate) fn has_stashed(&self) -> bool {
        !self.stash.is_empty()
    }

    /// Whether the multishot receive is armed.
    pub(crate) fn armed(&self) -> bool {
        self.armed
    }

    /// Whether a completion of `len` bytes into buffer `bid` can be parsed.
    pub(crate) fn valid(&self, bid: u16, len: usize) -> bool {
        bid < self.entries && len >= RECVMSG_OUT_LEN + CONTROL_LEN && len <= self.bufs.len
    }

    /// The bytes the kernel wrote into buffer `bid` for a completion of `len` bytes, split into
    /// (control data, payload held, payload length on the wire). Layout: `struct
    /// io_uring_recvmsg_out` (name, control and payload lengths), the name area (none
    /// requested), the control area of the template's size, the payload.
    pub(crate) fn received(&self, bid: u16, len: usize) -> Option<(&[u8], &[u8], usize)> {
        if !self.valid(bid, len) {
            return None;
        }
        // SAFETY: buffer `bid` lies inside the allocation and `len` is within it; the kernel
        // handed it to us with this completion and does not write into it again until
        // `provide(bid)`, which takes `&mut self` and so cannot happen while the returned
        // borrow of `self` lives.
        let buf = unsafe { std::slice::from_raw_parts(self.bufs.addr(bid) as *const u8, len) };
        let word = |at: usize| -> Option<usize> {
            Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let control_len = word(4)?.min(CONTROL_LEN);
        let payload_len = word(8)?;
        let control = buf.get(RECVMSG_OUT_LEN..RECVMSG_OUT_LEN + control_len)?;
        let payload = buf.get(RECVMSG_OUT_LEN + CONTROL_LEN..)?;
        let held = payload.len().min(payload_len);
        Some((control, &payload[..held], payload_len))
    }

    /// Send `frames` as one linked chain in one `io_uring_enter` and wait for all of their
    /// completions; `results[i]` receives the result of frame `i` (bytes or `-errno`; a chain
    /// stops at the first failure and the rest report `-ECANCELED`). Receive completions
    /// reaped meanwhile are kept for [`Uring::next_recv`]. At most `results.len()` frames, at most the
    /// submission queue's size. A frame with control messages (non-empty second slice) is sent
    /// with `IORING_OP_SENDMSG` carrying them, the others with `IORING_OP_SEND`.
    pub(crate) fn send_batch<'f>(
        &mut self,
        frames: impl Iterator<Item = (&'f [u8], &'f [u8])>,
        results: &mut [i32],
    ) -> io::Result<usize> {
        if self.poisoned {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        let cap = results
            .len()
            .min(self.ring.submission().capacity())
            .min(self.send_msgs.len());
        // All header pointers derive from these two, so writing one header never invalidates
        // a pointer to another that the kernel may hold.
        let iov_base = self.send_iovs.as_mut_ptr();
        let msg_base = self.send_msgs.as_mut_ptr();
        let mut n = 0;
        {
            let mut frames = frames.take(cap).peekable();
            let mut sq = self.ring.submission();
            while let Some((frame, control)) = frames.next() {
                let sqe = if control.is_empty() {
                    opcode::Send::new(Fd(self.fd), frame.as_ptr(), frame.len() as u32)
                        .flags(libc::MSG_DONTWAIT)
                        .build()
                } else {
                    // SAFETY: n < cap <= send_msgs.len() == send_iovs.len(), so both writes
                    // stay inside the boxes; msghdr is plain old data, all-zero is valid.
                    let msg = unsafe {
                        let iov = iov_base.add(n);
                        iov.write(libc::iovec {
                            iov_base: frame.as_ptr().cast_mut().cast(),
                            iov_len: frame.len(),
                        });
                        let mut m: libc::msghdr = std::mem::zeroed();
                        m.msg_iov = iov;
                        m.msg_iovlen = 1;
                        m.msg_control = control.as_ptr().cast_mut().cast();
                        m.msg_controllen = control.len() as _;
                        let msg = msg_base.add(n);
                        msg.write(m);
                        msg
                    };
                    opcode::SendMsg::new(Fd(self.fd), msg.cast_const())
                        .flags(libc::MSG_DONTWAIT as u32)
                        .build()
                };
                let mut sqe = sqe.user_data(n as u64);
                if frames.peek().is_some() {
                    sqe = sqe.flags(squeue::Flags::IO_LINK);
                }
                // SAFETY: `frame` and `control` stay borrowed (by the caller) until this
                // function returns, and the headers live in `self`; the function returns only
                // after every submitted send has completed (below), or poisons the ring so it
                // is never entered again.
                if unsafe { sq.push(&sqe) }.is_err() {
                    break;
                }
                n += 1;
            }
        }
        if n == 0 {
            return Ok(0);
        }
        let mut done = 0;
        results[..n].fill(-libc::ECANCELED);
        while done < n {
            if let Err(e) = self.enter(n - done) {
                // The sends may or may not have been submitted: their memory can no longer be
                // guaranteed, so this ring is never entered again.
                self.poisoned = true;
                return Err(e);
            }
            loop {
                let Some(c) = self.ring.completion().next() else {
                    break;
                };
                match c.user_data() {
                    RECV_TAG => {
                        let r = self.recv_cqe(&c);
                        self.stash.push_back(r);
                    }
                    CANCEL_TAG => {}
                    i if (i as usize) < n => {
                        results[i as usize] = c.result();
                        done += 1;
                    }
                    _ => {}
                }
            }
        }
        Ok(n)
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        if self.armed && !self.poisoned {
            let sqe = opcode::AsyncCancel::new(RECV_TAG)
                .build()
                .user_data(CANCEL_TAG);
            // SAFETY: a cancel request references no memory.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                // Wait for the receive's final completion (bounded: each enter waits for one
                // completion, and the cancel and the receive each produce one).
                for _ in 0..4 {
                    if self.enter(1).is_err() {
                        break;
                    }
                    let mut finished = false;
                    while let Some(c) = self.ring.completion().next() {
                        if c.user_data() == RECV_TAG && !cqueue::more(c.flags()) {
                            finished = true;
                        }
                    }
                    if finished {
                        break;
                    }
                }
            }
        }
        let _ = self.ring.submitter().unregister_buf_ring(BGID);
    }
}
