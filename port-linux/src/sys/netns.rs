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

/// `struct __user_cap_header_struct`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CapHeader {
    pub version: u32,
    pub pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: two `CapData` words (64 capabilities).
const CAP_VERSION_3: u32 = 0x2008_0522;

/// Clear the calling thread's effective capability set (permitted and inheritable unchanged).
pub(crate) fn clear_effective_caps() -> io::Result<()> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData (version 3) through the second pointer and reads the
    // header; both point to live locals of the right layout.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        ) as libc::c_int
    })?;
    for d in &mut data {
        d.effective = 0;
    }
    // SAFETY: as above; capset only reads both structures, and only affects this thread.
    cvt(unsafe {
        libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) as libc::c_int
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_struct_layouts() {
        assert_eq!(core::mem::size_of::<CapHeader>(), 8);
        assert_eq!(core::mem::size_of::<CapData>(), 12);
        assert_eq!(core::mem::offset_of!(CapData, inheritable), 8);
    }
}
