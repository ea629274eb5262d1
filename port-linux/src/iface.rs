//! Interface facts straight from the kernel: index, MAC, MTU, flags, carrier.
//!
//! Queried with ioctls on a socket of the calling thread's network namespace (`SIOCGIFINDEX`,
//! `SIOCGIFHWADDR`, `SIOCGIFMTU`, `SIOCGIFFLAGS`, and `SIOCETHTOOL`/`ETHTOOL_GLINK` for the
//! carrier), never by reading `/sys` (which shows the namespace it was mounted in) or running
//! `ip`. No privileges are needed.

use std::os::fd::{AsFd, BorrowedFd};

use l2net_core::MacAddr;

use crate::error::{IfName, OpenError};
use crate::sys;

/// `ARPHRD_ETHER`.
pub const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_LOOPBACK` (the loopback device also frames with 14-byte Ethernet headers).
pub const ARPHRD_LOOPBACK: u16 = 772;

/// The `IFF_*` flags of an interface (the 16 bits `SIOCGIFFLAGS` reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IfFlags(pub u16);

impl IfFlags {
    fn has(self, flag: libc::c_int) -> bool {
        self.0 & (flag as u16) != 0
    }
    /// Administratively up (`IFF_UP`).
    pub fn up(self) -> bool {
        self.has(libc::IFF_UP)
    }
    /// Operationally up (`IFF_RUNNING`: RFC 2863 "up", carrier present and not dormant).
    pub fn running(self) -> bool {
        self.has(libc::IFF_RUNNING)
    }
    /// Receives every frame (`IFF_PROMISC`).
    pub fn promisc(self) -> bool {
        self.has(libc::IFF_PROMISC)
    }
    /// Receives every multicast frame (`IFF_ALLMULTI`).
    pub fn allmulti(self) -> bool {
        self.has(libc::IFF_ALLMULTI)
    }
    /// Supports multicast (`IFF_MULTICAST`).
    pub fn multicast(self) -> bool {
        self.has(libc::IFF_MULTICAST)
    }
    /// The loopback device (`IFF_LOOPBACK`).
    pub fn loopback(self) -> bool {
        self.has(libc::IFF_LOOPBACK)
    }
}

/// What the kernel says about one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InterfaceInfo {
    /// Its name.
    pub name: IfName,
    /// Its index (`ifindex`).
    pub index: u32,
    /// Its hardware type (`ARPHRD_*`): [`ARPHRD_ETHER`] for Ethernet, veth and TAP.
    pub hw_type: u16,
    /// Its MAC address.
    pub mac: MacAddr,
    /// Its MTU: the largest Ethernet payload, 1500 normally, 9000 and more with jumbo frames.
    pub mtu: u32,
    /// Its `IFF_*` flags.
    pub flags: IfFlags,
    /// Carrier as the driver reports it (`ETHTOOL_GLINK`); `None` if the driver cannot tell.
    pub carrier: Option<bool>,
}

impl InterfaceInfo {
    /// True if the interface carries Ethernet frames (Ethernet, veth, TAP, or loopback).
    pub fn is_ethernet(&self) -> bool {
        self.hw_type == ARPHRD_ETHER || self.hw_type == ARPHRD_LOOPBACK
    }

    /// True if frames can flow now: administratively and operationally up.
    pub fn is_usable(&self) -> bool {
        self.flags.up() && self.flags.running()
    }
}

/// Query interface `name` in the calling thread's network namespace.
///
/// Fails with [`OpenError::InvalidName`] for names Linux cannot have and
/// [`OpenError::NoSuchInterface`] when there is none of that name.
pub fn query(name: &str) -> Result<InterfaceInfo, OpenError> {
    let name = IfName::new(name)?;
    let sock = sys::ioctl::query_socket().map_err(|e| OpenError::os("socket", &e))?;
    query_on(sock.as_fd(), &name)
}

/// Query `name` through `fd`, a socket of the namespace to look in.
pub(crate) fn query_on(fd: BorrowedFd<'_>, name: &IfName) -> Result<InterfaceInfo, OpenError> {
    let no_dev = |op: &'static str| {
        move |e: std::io::Error| match e.raw_os_error() {
            Some(libc::ENODEV) | Some(libc::ENXIO) => OpenError::NoSuchInterface(*name),
            _ => OpenError::os(op, &e),
        }
    };
    let index = sys::ioctl::if_index(fd, name).map_err(no_dev("SIOCGIFINDEX"))?;
    let (hw_type, mac) = sys::ioctl::if_hwaddr(fd, name).map_err(no_dev("SIOCGIFHWADDR"))?;
    let mtu = sys::ioctl::if_mtu(fd, name).map_err(no_dev("SIOCGIFMTU"))?;
    let flags = IfFlags(sys::ioctl::if_flags(fd, name).map_err(no_dev("SIOCGIFFLAGS"))?);
    let carrier = sys::ioctl::ethtool_link(fd, name).ok();
    Ok(InterfaceInfo {
        name: *name,
        index,
        hw_type,
        mac: MacAddr(mac),
        mtu,
        flags,
        carrier,
    })
}

/// True if the interface with `index` still exists in `fd`'s namespace (used to tell "down"
/// from "removed" after `ENETDOWN`).
pub(crate) fn index_exists(fd: BorrowedFd<'_>, index: u32) -> bool {
    sys::ioctl::if_exists(fd, index).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_facts() {
        let lo = query("lo").unwrap();
        assert_eq!(lo.index, 1);
        assert_eq!(lo.hw_type, ARPHRD_LOOPBACK);
        assert!(lo.flags.loopback());
        assert!(lo.mtu >= 1500);
        assert!(lo.is_ethernet());
    }

    #[test]
    fn missing_and_invalid_names() {
        let e = query("l2net-nope0").unwrap_err();
        assert_eq!(e.to_string(), "no interface named l2net-nope0");
        assert_eq!(query("bad/name"), Err(OpenError::InvalidName));
        assert_eq!(query(""), Err(OpenError::InvalidName));
    }
}
