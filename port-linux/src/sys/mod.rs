//! Every `unsafe` line of the Linux port, one module per concern. Each block carries a
//! `// SAFETY:` comment; the rest of the crate calls the safe functions defined here.
//!
//! * [`socket`]: `AF_PACKET` sockets, socket options, `recvmsg`/`sendto`,
//!   `recvmmsg`/`sendmmsg`, `poll`, classic BPF attach.
//! * [`ring`]: `TPACKET_V3` structures (`if_packet.h`) and the shared `mmap`.
//! * [`ioctl`]: interface queries (`SIOCGIF*`, `SIOCETHTOOL`) and the TUN/TAP device.
//! * [`netns`]: `unshare`/`setns` and the bind mount that names a network namespace.

pub(crate) mod ethtool;
pub(crate) mod filter;
pub(crate) mod ioctl;
pub(crate) mod netlink;
#[cfg(feature = "netns")]
pub(crate) mod netns;
pub(crate) mod ring;
pub(crate) mod socket;
pub(crate) mod timestamp;
pub(crate) mod uring;

use std::io;

/// Turn a `-1` return into the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`] for `ssize_t` returns.
pub(crate) fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// The errno of an `io::Error` (EIO if it has none, which the calls here never produce).
pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}
