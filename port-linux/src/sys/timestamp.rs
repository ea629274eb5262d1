//! `SO_TIMESTAMPING` plumbing: socket options, `sendmsg`/`recvmsg` with caller-owned control
//! buffers (including the error queue) and `SIOCSHWTSTAMP`.
//!
//! Parsing and building the control messages is done in safe code (`crate::timestamp`) over the
//! byte buffers these calls fill or read.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `setsockopt(fd, level, name, &value, 4)` for an integer option.
pub(crate) fn setsockopt_u32(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: u32,
) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, a live u32 on our stack; the kernel only
    // reads it during the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// What `recvmsg` filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    /// Bytes of data (may exceed the buffer's length when `MSG_TRUNC` was passed).
    pub len: usize,
    /// Bytes of control messages written at the start of the control buffer.
    pub control_len: usize,
    /// `msg_flags` (`MSG_TRUNC`, `MSG_CTRUNC`, `MSG_ERRQUEUE` ...).
    pub flags: libc::c_int,
}

/// `recvmsg(fd, {data, control}, flags)` without a source address.
pub(crate) fn recvmsg(
    fd: BorrowedFd<'_>,
    data: &mut [u8],
    control: &mut [u8],
    flags: libc::c_int,
) -> io::Result<Received> {
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
    }
    // SAFETY: `msg` points at one iovec describing `data` and at `control`, both exclusively
    // borrowed for the call; the kernel writes within the given lengths only.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Received {
        len: n as usize,
        control_len: msg.msg_controllen.min(control.len()),
        flags: msg.msg_flags,
    })
}

/// `sendmsg(fd, {data, control}, flags)` on a socket bound to its interface (no address).
pub(crate) fn sendmsg(
    fd: BorrowedFd<'_>,
    data: &[u8],
    control: &[u8],
    flags: libc::c_int,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_ptr().cast_mut().cast();
        msg.msg_controllen = control.len();
    }
    // SAFETY: `msg` describes `data` and `control`, both borrowed for the call; sendmsg only
    // reads through these pointers despite their `*mut` type.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &raw const msg, flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `struct ifreq` with the name set; `name` is 1..=15 bytes without NUL (checked by callers).
pub(crate) fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is plain old data (a name and a union of integers and pointers); all-zero
    // is valid and gives the name its NUL terminator.
    let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// `SIOCSHWTSTAMP`: set the NIC's hardware timestamping configuration; the kernel writes back
/// what the driver actually applied.
pub(crate) fn set_hwtstamp(
    fd: BorrowedFd<'_>,
    name: &str,
    config: &mut libc::hwtstamp_config,
) -> io::Result<()> {
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_data = (config as *mut libc::hwtstamp_config).cast();
    // SAFETY: `ifr` holds a NUL-terminated name and points at `config`, a live, exclusively
    // borrowed hwtstamp_config that the driver reads and writes during the call only.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSHWTSTAMP, &raw mut ifr) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
