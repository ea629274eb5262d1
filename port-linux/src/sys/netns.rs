//! Network namespace syscalls: `unshare(CLONE_NEWNET)`, `setns`, and the bind mount that gives
//! a namespace a name under `/run/netns` (what `ip netns add` does).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;

/// Move the calling thread into a new, empty network namespace.
pub(crate) fn unshare_net() -> io::Result<()> {
    // SAFETY: unshare() takes only flags; CLONE_NEWNET affects the calling thread alone.
    cvt(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
    Ok(())
}

/// Move the calling thread into the network namespace `ns` (an open `/proc/.../ns/net` or
/// `/run/netns/NAME` descriptor).
pub(crate) fn setns_net(ns: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns() takes a descriptor that `ns` keeps open for the call, and a flag.
    cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
    Ok(())
}

/// The calling thread's kernel thread id.
pub(crate) fn gettid() -> libc::pid_t {
    // SAFETY: gettid() takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// `mount(src, dst, NULL, MS_BIND, NULL)`.
pub(crate) fn bind_mount(src: &CStr, dst: &CStr) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated and outlive the call; fstype and data may be NULL
    // for a bind mount.
    cvt(unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            core::ptr::null(),
            libc::MS_BIND,
            core::ptr::null(),
        )
    })?;
    Ok(())
}

/// `umount2(path, MNT_DETACH)`.
pub(crate) fn unmount_detach(path: &CStr) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) })?;
    Ok(())
}
