//! Discarding queued frames without copying them, for the drain step of filter installation.
//! Attaching the program and reading `PACKET_STATISTICS` use [`super::socket`].

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Drop the next queued frame of `fd` without copying it. `Ok(false)`: the queue is empty.
pub(crate) fn discard_one(fd: BorrowedFd<'_>) -> io::Result<bool> {
    loop {
        // SAFETY: a zero-length receive into a null buffer is valid: the kernel copies nothing
        // (MSG_TRUNC makes it report, and drop, the whole datagram).
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                core::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n >= 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}
