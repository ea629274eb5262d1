//! Interface ioctls (`SIOCGIFINDEX`, `SIOCGIFHWADDR`, `SIOCGIFMTU`, `SIOCGIFFLAGS`,
//! `SIOCGIFNAME`, `SIOCETHTOOL`) and the TUN/TAP `TUNSETIFF`.
//!
//! The ioctls act in the network namespace of the socket they are issued on, so callers pass the
//! socket (a link's own packet socket, or [`query_socket`]).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::cvt;
use crate::error::IfName;

/// `ETHTOOL_GLINK` (`linux/ethtool.h`): get link (carrier) status.
const ETHTOOL_GLINK: u32 = 0x0000_000a;

/// `struct ethtool_value` (`linux/ethtool.h`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct EthtoolValue {
    pub cmd: u32,
    pub data: u32,
}

/// A datagram socket in the calling thread's namespace, only used to carry ioctls.
pub(crate) fn query_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; a non-negative return is a fresh descriptor that we
    // own exclusively and wrap at once.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket() and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ifreq(name: &IfName) -> libc::ifreq {
    // SAFETY: ifreq is a plain C struct (a name array and a union of integers, sockaddrs and a
    // pointer) for which all-zero bytes is a valid value.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    req.ifr_name = name.to_c_array();
    req
}

fn ioctl_ifreq(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    req: &mut libc::ifreq,
) -> io::Result<()> {
    // SAFETY: every request passed here (SIOCGIF*, SIOCETHTOOL, TUNSETIFF) reads and writes
    // at most a `struct ifreq`, which `req` points to and which lives for the whole call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, req as *mut libc::ifreq) })?;
    Ok(())
}

/// `SIOCGIFINDEX`.
pub(crate) fn if_index(fd: BorrowedFd<'_>, name: &IfName) -> io::Result<u32> {
    let mut req = ifreq(name);
    ioctl_ifreq(fd, libc::SIOCGIFINDEX, &mut req)?;
    // SAFETY: SIOCGIFINDEX filled the `ifru_ifindex` member of the union.
    let idx = unsafe { req.ifr_ifru.ifru_ifindex };
    Ok(idx as u32)
}

/// `SIOCGIFHWADDR`: the `ARPHRD_*` hardware type and the first six address bytes.
pub(crate) fn if_hwaddr(fd: BorrowedFd<'_>, name: &IfName) -> io::Result<(u16, [u8; 6])> {
    let mut req = ifreq(name);
    ioctl_ifreq(fd, libc::SIOCGIFHWADDR, &mut req)?;
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` sockaddr of the union.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, &d) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = d as u8;
    }
    Ok((sa.sa_family, mac))
}

/// `SIOCGIFMTU`.
pub(crate) fn if_mtu(fd: BorrowedFd<'_>, name: &IfName) -> io::Result<u32> {
    let mut req = ifreq(name);
    ioctl_ifreq(fd, libc::SIOCGIFMTU, &mut req)?;
    // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member of the union.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    Ok(mtu as u32)
}

/// `SIOCGIFFLAGS`: the low 16 `IFF_*` bits.
pub(crate) fn if_flags(fd: BorrowedFd<'_>, name: &IfName) -> io::Result<u16> {
    let mut req = ifreq(name);
    ioctl_ifreq(fd, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Ok(flags as u16)
}

/// `SIOCGIFNAME`: does an interface with this index still exist? (`ENODEV` if not.)
pub(crate) fn if_exists(fd: BorrowedFd<'_>, index: u32) -> io::Result<()> {
    // SAFETY: all-zero is a valid ifreq (see `ifreq`).
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    req.ifr_ifru.ifru_ifindex = index as libc::c_int;
    ioctl_ifreq(fd, libc::SIOCGIFNAME, &mut req)
}

/// `SIOCETHTOOL` / `ETHTOOL_GLINK`: carrier as the driver reports it.
pub(crate) fn ethtool_link(fd: BorrowedFd<'_>, name: &IfName) -> io::Result<bool> {
    let mut value = EthtoolValue {
        cmd: ETHTOOL_GLINK,
        data: 0,
    };
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // `value` outlives the ioctl below, which writes one ethtool_value through ifru_data.
    ioctl_ifreq(fd, libc::SIOCETHTOOL, &mut req)?;
    Ok(value.data != 0)
}

/// Open `/dev/net/tun` and attach it to a TAP device named `name` (created if needed):
/// `IFF_TAP | IFF_NO_PI`, non-blocking. Returns the queue descriptor; closing it removes a
/// non-persistent device.
pub(crate) fn tap_open(name: &IfName) -> io::Result<OwnedFd> {
    // SAFETY: the path is a NUL-terminated literal; open() takes no other pointer.
    let fd = cvt(unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    })?;
    // SAFETY: `fd` was just returned by open() and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    ioctl_ifreq(fd.as_fd(), libc::TUNSETIFF as libc::c_ulong, &mut req)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethtool_value_layout() {
        assert_eq!(core::mem::size_of::<EthtoolValue>(), 8);
        assert_eq!(core::mem::offset_of!(EthtoolValue, data), 4);
    }

    #[test]
    fn loopback_is_always_there() {
        let fd = query_socket().unwrap();
        let lo = IfName::new("lo").unwrap();
        assert_eq!(if_index(fd.as_fd(), &lo).unwrap(), 1);
        let missing = IfName::new("l2net-none0").unwrap();
        let err = if_index(fd.as_fd(), &missing).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
    }
}
