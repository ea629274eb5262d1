//! The system calls of the TAP driver: every `unsafe` block of the `host` module.

use std::ffi::c_void;
use std::format;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::string::String;
use std::vec::Vec;

/// Linux's interface name limit, terminating NUL included.
const IFNAMSIZ: usize = libc::IFNAMSIZ;

/// An interface name checked for what the kernel accepts: 1 to 15 bytes, no NUL, `/` or
/// whitespace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IfName([libc::c_char; IFNAMSIZ]);

impl IfName {
    pub(crate) fn new(name: &str) -> io::Result<IfName> {
        let ok = !name.is_empty()
            && name.len() < IFNAMSIZ
            && !name
                .bytes()
                .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace());
        if !ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid interface name {name:?} (1 to 15 bytes, no '/', NUL or space)"),
            ));
        }
        let mut raw = [0 as libc::c_char; IFNAMSIZ];
        for (dst, src) in raw.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        Ok(IfName(raw))
    }

    fn ifreq(&self) -> libc::ifreq {
        // SAFETY: `ifreq` is a plain C struct (a name array and a union of integers and
        // addresses) for which all-zero bytes are a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        req.ifr_name = self.0;
        req
    }

    fn from_ifreq(req: &libc::ifreq) -> String {
        let bytes: Vec<u8> = req
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Open `/dev/net/tun` and create (or attach to) the TAP device `name` (`IFF_TAP | IFF_NO_PI`),
/// non-blocking. Returns the queue descriptor and the device's name as the kernel has it.
pub(crate) fn open_tap(name: &IfName) -> io::Result<(OwnedFd, String)> {
    // SAFETY: a NUL-terminated literal path; the returned descriptor is checked before use.
    let fd = cvt(unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = name.ifreq();
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is, alive for the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) })?;
    Ok((fd, IfName::from_ifreq(&req)))
}

/// A datagram socket for interface ioctls, in the calling thread's network namespace.
pub(crate) fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket creation; the result is checked.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `socket` just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The interface's flags (`IFF_UP`, `IFF_RUNNING`...) through `SIOCGIFFLAGS`.
pub(crate) fn if_flags(ctl: BorrowedFd<'_>, name: &IfName) -> io::Result<libc::c_int> {
    let mut req = name.ifreq();
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into `req`, alive for the call.
    cvt(unsafe { libc::ioctl(ctl.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: SIOCGIFFLAGS filled the union's `ifru_flags` member.
    Ok(libc::c_int::from(unsafe { req.ifr_ifru.ifru_flags }) & 0xFFFF)
}

/// Set the interface's flags through `SIOCSIFFLAGS`.
pub(crate) fn set_if_flags(
    ctl: BorrowedFd<'_>,
    name: &IfName,
    flags: libc::c_int,
) -> io::Result<()> {
    let mut req = name.ifreq();
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads one `ifreq`, which `req` is, alive for the call.
    cvt(unsafe { libc::ioctl(ctl.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req) })?;
    Ok(())
}

/// One non-blocking `read`.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast::<c_void>(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One non-blocking `write`.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast::<c_void>(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A non-blocking eventfd, used to kick the waiter thread.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain eventfd creation; the result is checked.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
    // SAFETY: `eventfd` just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Add one to an eventfd's counter (wakes a `poll` on it).
pub(crate) fn eventfd_signal(fd: BorrowedFd<'_>) {
    let one = 1u64.to_ne_bytes();
    // An eventfd write only fails when the counter would overflow, in which case it is readable
    // already and the kick is not needed.
    let _ = write(fd, &one);
}

/// Reset an eventfd's counter.
pub(crate) fn eventfd_drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 8];
    // EAGAIN when it was zero already: nothing to drain.
    let _ = read(fd, &mut buf);
}

/// Wait up to `timeout_ms` for `POLLIN` on the descriptors (`None` entries are ignored).
/// Returns which were readable.
pub(crate) fn poll_readable<const N: usize>(
    fds: [Option<BorrowedFd<'_>>; N],
    timeout_ms: i32,
) -> io::Result<[bool; N]> {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd: fd.map_or(-1, |fd| fd.as_raw_fd()),
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: `pfds` is an array of `N` initialised pollfd structs, alive for the call.
    let ret = unsafe { libc::poll(pfds.as_mut_ptr(), N as libc::nfds_t, timeout_ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok([false; N]);
        }
        return Err(err);
    }
    Ok(pfds.map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0))
}
