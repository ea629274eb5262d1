//! Every `unsafe` call of the port: opening `/dev/bpf*`, its ioctls, `read`/`write`, the
//! datagram socket for interface ioctls, and `getifaddrs`.
//!
//! Errors come back as raw `errno` values; the link turns them into its error types.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use l2net_core::wire::bpf::BpfInsn;

use crate::error::OpenError;
use crate::ifreq::{IfName, IfReq, LinkAddr, parse_sockaddr_dl};

/// The calling thread's last OS error number.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// How many numbered devices `/dev/bpf0..` are tried after the cloning `/dev/bpf`.
const MAX_BPF_DEVICES: u16 = 256;

fn open_path(path: &CStr) -> Result<OwnedFd, i32> {
    // SAFETY: `path` is a valid NUL-terminated string; open has no other preconditions.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open a BPF device: the cloning `/dev/bpf` (FreeBSD, NetBSD, OpenBSD, newer macOS), else the
/// first free `/dev/bpfN` (`EBUSY` means another process has it). Returns the descriptor and
/// the device number (`None` for the cloning device).
pub fn open_bpf() -> Result<(OwnedFd, Option<u16>), OpenError> {
    match open_path(c"/dev/bpf") {
        Ok(fd) => return Ok((fd, None)),
        Err(e @ (libc::EACCES | libc::EPERM)) => {
            return Err(OpenError::PermissionDenied {
                device: None,
                errno: e,
            });
        }
        // Missing (older macOS) or busy: fall back to the numbered devices.
        Err(_) => {}
    }
    let mut tried = 0;
    for n in 0..MAX_BPF_DEVICES {
        let path = format!("/dev/bpf{n}\0");
        let path = CStr::from_bytes_with_nul(path.as_bytes()).map_err(|_| OpenError::Os {
            op: "open /dev/bpfN",
            errno: libc::EINVAL,
        })?;
        tried += 1;
        match open_path(path) {
            Ok(fd) => return Ok((fd, Some(n))),
            Err(libc::EBUSY) => continue,
            Err(libc::ENOENT | libc::ENXIO) => break,
            Err(e @ (libc::EACCES | libc::EPERM)) => {
                return Err(OpenError::PermissionDenied {
                    device: Some(n),
                    errno: e,
                });
            }
            Err(e) => {
                return Err(OpenError::Os {
                    op: "open /dev/bpfN",
                    errno: e,
                });
            }
        }
    }
    Err(OpenError::NoFreeDevice { tried })
}

/// An ioctl whose argument is one `u_int`, read and/or written by the kernel. Returns the value
/// the argument holds afterwards.
pub fn ioctl_uint(fd: &OwnedFd, request: u32, value: u32) -> Result<u32, i32> {
    let mut arg: libc::c_uint = value;
    // SAFETY: the request's encoded size is 4 (a u_int) for every caller; `arg` is a valid,
    // writable c_uint that outlives the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request_arg(request), &mut arg) };
    if r < 0 { Err(errno()) } else { Ok(arg) }
}

/// An ioctl without an argument (`_IO`).
pub fn ioctl_void(fd: &OwnedFd, request: u32) -> Result<(), i32> {
    // SAFETY: `_IO` requests take no argument; the kernel ignores the (null) third argument.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            request_arg(request),
            core::ptr::null_mut::<u8>(),
        )
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// An ioctl on a `struct ifreq` (`BIOCSETIF`, `SIOCGIFMTU`, `SIOCADDMULTI`, `SIOCDELMULTI`).
pub fn ioctl_ifreq(fd: RawFd, request: u32, ifr: &mut IfReq) -> Result<(), i32> {
    let bytes = ifr.as_mut_bytes();
    if bytes.len() != crate::ioccom::ioc_len(request) {
        return Err(libc::EINVAL);
    }
    // SAFETY: the buffer is exactly as long as the size encoded in `request` (checked above),
    // 8-byte aligned like `struct ifreq`, and writable for the duration of the call.
    let r = unsafe { libc::ioctl(fd, request_arg(request), bytes.as_mut_ptr()) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    bf_len: libc::c_uint,
    bf_insns: *const BpfInsn,
}

/// Install a filter with `BIOCSETF`/`BIOCSETFNR`.
pub fn set_filter(fd: &OwnedFd, request: u32, insns: &[BpfInsn]) -> Result<(), i32> {
    if crate::ioccom::ioc_len(request) != core::mem::size_of::<BpfProgram>() {
        return Err(libc::EINVAL);
    }
    let prog = BpfProgram {
        bf_len: libc::c_uint::try_from(insns.len()).map_err(|_| libc::EINVAL)?,
        bf_insns: insns.as_ptr(),
    };
    // SAFETY: `prog` matches `struct bpf_program` (size checked against the request), points at
    // `insns.len()` instructions laid out like `struct bpf_insn` (`BpfInsn` is `#[repr(C)]` with
    // the same fields); the kernel copies them during the call and keeps no pointer.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request_arg(request), &prog) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `BIOCGSTATS`: (received, dropped). The structure is two `u_int`s, or on NetBSD sixteen
/// `uint64_t`s; the request's encoded size says which.
pub fn get_stats(fd: &OwnedFd, request: u32) -> Result<(u64, u64), i32> {
    #[repr(C, align(8))]
    struct Buf([u8; 128]);
    let mut buf = Buf([0; 128]);
    let len = crate::ioccom::ioc_len(request);
    if len != 8 && len != 128 {
        return Err(libc::EINVAL);
    }
    // SAFETY: `buf` is 128 writable, 8-byte aligned bytes, at least the request's encoded size.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request_arg(request), buf.0.as_mut_ptr()) };
    if r < 0 {
        return Err(errno());
    }
    let b = &buf.0;
    Ok(if len == 8 {
        let recv = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let drop = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        (u64::from(recv), u64::from(drop))
    } else {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        (word(0), word(1))
    })
}

/// One `read()` into `buf`.
pub fn read(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).map_err(|_| errno())
}

/// One `write()` of a whole frame.
pub fn write(fd: &OwnedFd, frame: &[u8]) -> Result<(), i32> {
    // SAFETY: `frame` is valid for reads of `frame.len()` bytes for the duration of the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
    if n < 0 { Err(errno()) } else { Ok(()) }
}

/// A datagram socket for interface ioctls, close-on-exec.
pub fn dgram_socket() -> Result<OwnedFd, i32> {
    // SAFETY: plain socket(2) call with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just returned by socket and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on a descriptor we own; FD_CLOEXEC is a valid flag (macOS has no
    // SOCK_CLOEXEC, so it is set here on every system alike).
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(errno());
    }
    Ok(fd)
}

/// What `getifaddrs` says about interface `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfLookup {
    /// No address of any family is listed under that name.
    Missing,
    /// The interface exists; its `AF_LINK` address if it has one.
    Found(Option<LinkAddr>),
}

/// Look `name` up with `getifaddrs`.
pub fn lookup_interface(name: &IfName) -> Result<IfLookup, i32> {
    struct Guard(*mut libc::ifaddrs);
    impl Drop for Guard {
        fn drop(&mut self) {
            // SAFETY: the pointer came from a successful getifaddrs and is freed once.
            unsafe { libc::freeifaddrs(self.0) }
        }
    }
    let mut head: *mut libc::ifaddrs = core::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head` on success.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(errno());
    }
    let _guard = Guard(head);
    let mut found = false;
    let mut link = None;
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until the guard frees it.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let ifa_name = unsafe { CStr::from_ptr(ifa.ifa_name) };
        if ifa_name.to_bytes() != name.as_bytes() {
            continue;
        }
        found = true;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points at a sockaddr whose first two bytes (sa_len, sa_family) every
        // BSD sockaddr has.
        let (sa_len, family) = unsafe {
            let p = ifa.ifa_addr.cast::<u8>();
            (usize::from(*p), *p.add(1))
        };
        if family != crate::ifreq::AF_LINK || sa_len < 8 {
            continue;
        }
        // SAFETY: the kernel's sockaddr_dl is `sa_len` bytes long (sdl_len); the bytes live as
        // long as the list.
        let bytes = unsafe { core::slice::from_raw_parts(ifa.ifa_addr.cast::<u8>(), sa_len) };
        if let Some(l) = parse_sockaddr_dl(bytes) {
            link = Some(l);
        }
    }
    Ok(if found {
        IfLookup::Found(link)
    } else {
        IfLookup::Missing
    })
}

/// The ioctl request argument type differs between systems (`c_ulong` on all four today); the
/// numbers always fit in 32 bits.
fn request_arg(request: u32) -> libc::c_ulong {
    libc::c_ulong::from(request)
}
