//! Interface names, `struct ifreq` arguments and `struct sockaddr_dl` parsing.
//!
//! Byte-level and safe: the `sys` module passes these buffers to `ioctl` and hands
//! `getifaddrs` link addresses here as byte slices. Compiled and tested on every host.

use core::fmt;

use crate::ioccom::Os;
use l2net_core::MacAddr;

/// `IFNAMSIZ`: interface names hold at most 15 bytes plus the terminating NUL.
pub const IFNAMSIZ: usize = 16;
/// `AF_UNSPEC`.
pub const AF_UNSPEC: u8 = 0;
/// `AF_LINK` (18 on all four systems).
pub const AF_LINK: u8 = 18;

/// A validated interface name (1 to 15 bytes, no NUL, no `/`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfName {
    bytes: [u8; IFNAMSIZ],
    len: u8,
}

/// Why a string is not an interface name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IfNameError {
    /// The name is empty.
    Empty,
    /// The name is longer than 15 bytes.
    TooLong(usize),
    /// The name contains a NUL byte or a `/`.
    BadByte,
}

impl fmt::Display for IfNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfNameError::Empty => f.write_str("interface name is empty"),
            IfNameError::TooLong(n) => {
                write!(
                    f,
                    "interface name is {n} bytes long; at most 15 are allowed"
                )
            }
            IfNameError::BadByte => f.write_str("interface name contains a NUL byte or '/'"),
        }
    }
}

impl core::error::Error for IfNameError {}

impl IfName {
    /// Validate `name`.
    pub fn new(name: &str) -> Result<IfName, IfNameError> {
        let b = name.as_bytes();
        if b.is_empty() {
            return Err(IfNameError::Empty);
        }
        if b.len() >= IFNAMSIZ {
            return Err(IfNameError::TooLong(b.len()));
        }
        if b.iter().any(|&c| c == 0 || c == b'/') {
            return Err(IfNameError::BadByte);
        }
        let mut bytes = [0u8; IFNAMSIZ];
        bytes[..b.len()].copy_from_slice(b);
        Ok(IfName {
            bytes,
            len: b.len() as u8,
        })
    }

    /// The name's bytes, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Built from a &str and cut at its end, so always valid UTF-8.
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// The NUL-padded 16 bytes of `ifr_name`.
    pub fn padded(&self) -> [u8; IFNAMSIZ] {
        self.bytes
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IfName({:?})", self.as_str())
    }
}

/// The largest `struct ifreq` of the four systems (NetBSD's, 144 bytes).
pub const IFREQ_MAX: usize = 144;

/// A `struct ifreq` as bytes: the name, then the union. `len` is the system's
/// `sizeof(struct ifreq)`; the buffer is 8-byte aligned like the C union (which holds pointers).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct IfReq {
    bytes: [u8; IFREQ_MAX],
    len: usize,
}

impl IfReq {
    /// A zeroed request for interface `name`, `size` bytes long (the system's
    /// `sizeof(struct ifreq)`, at most [`IFREQ_MAX`]).
    pub fn new(name: &IfName, size: usize) -> IfReq {
        let mut bytes = [0u8; IFREQ_MAX];
        bytes[..IFNAMSIZ].copy_from_slice(&name.padded());
        IfReq {
            bytes,
            len: size.clamp(IFNAMSIZ, IFREQ_MAX),
        }
    }

    /// The request's bytes (what `ioctl` reads and writes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Mutable bytes, for `ioctl`.
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }

    /// `ifr_mtu` (an `int` at the start of the union).
    pub fn mtu(&self) -> i32 {
        let b = &self.bytes[IFNAMSIZ..IFNAMSIZ + 4];
        i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Put the link-layer group address `mac` in `ifr_addr` the way `os`'s `SIOCADDMULTI` /
    /// `SIOCDELMULTI` expect it.
    ///
    /// FreeBSD requires an `AF_LINK` `sockaddr_dl` (its `ifioctl` rejects anything else; its own
    /// `mtest(8)` fills `sdl_len = sizeof(struct sockaddr_dl)`, 54). macOS takes the same
    /// (`sizeof` is 20 there). NetBSD and OpenBSD's `ether_multiaddr` take `AF_UNSPEC` with the
    /// address in `sa_data`.
    pub fn set_multicast_addr(&mut self, os: Os, mac: MacAddr) {
        let sa = &mut self.bytes[IFNAMSIZ..IFNAMSIZ + 16];
        sa.fill(0);
        match os {
            Os::FreeBsd | Os::MacOs => {
                // struct sockaddr_dl: len, family, index(2), type, nlen, alen, slen, data...
                sa[0] = if os == Os::FreeBsd { 54 } else { 20 };
                sa[1] = AF_LINK;
                sa[6] = 6; // sdl_alen
                sa[8..14].copy_from_slice(&mac.octets());
            }
            Os::NetBsd | Os::OpenBsd => {
                // struct sockaddr: len, family, data[14].
                sa[0] = 16;
                sa[1] = AF_UNSPEC;
                sa[2..8].copy_from_slice(&mac.octets());
            }
        }
    }
}

impl fmt::Debug for IfReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IfReq")
            .field("bytes", &self.as_bytes())
            .finish()
    }
}

/// What a link-layer `sockaddr_dl` says about an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddr {
    /// `sdl_type` (`IFT_ETHER` is 6; bridges, VLANs and tunnels have others).
    pub if_type: u8,
    /// The hardware address, if it is 6 bytes long.
    pub mac: Option<MacAddr>,
}

/// Parse a `struct sockaddr_dl` given as its `sdl_len` bytes. `None` if it is not `AF_LINK` or
/// its fields run past its length.
///
/// The layout is the same on all four systems: `sdl_len`, `sdl_family`, `sdl_index` (2),
/// `sdl_type`, `sdl_nlen`, `sdl_alen`, `sdl_slen`, then `sdl_data` holding the name (`nlen`
/// bytes) followed by the address (`alen` bytes).
pub fn parse_sockaddr_dl(sa: &[u8]) -> Option<LinkAddr> {
    if sa.len() < 8 || sa[1] != AF_LINK {
        return None;
    }
    let declared = usize::from(sa[0]);
    let sa = if declared >= 8 && declared < sa.len() {
        &sa[..declared]
    } else {
        sa
    };
    let if_type = sa[4];
    let nlen = usize::from(sa[5]);
    let alen = usize::from(sa[6]);
    let addr = sa.get(8 + nlen..8 + nlen + alen)?;
    let mac = <[u8; 6]>::try_from(addr).ok().map(MacAddr);
    Some(LinkAddr { if_type, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(IfName::new("en0").unwrap().as_str(), "en0");
        assert_eq!(IfName::new("abcdefghijklmno").unwrap().as_bytes().len(), 15);
        assert_eq!(
            IfName::new("abcdefghijklmnop"),
            Err(IfNameError::TooLong(16))
        );
        assert_eq!(IfName::new(""), Err(IfNameError::Empty));
        assert_eq!(IfName::new("e\0n"), Err(IfNameError::BadByte));
        assert_eq!(IfName::new("../bpf"), Err(IfNameError::BadByte));
        let p = IfName::new("em1").unwrap().padded();
        assert_eq!(&p[..4], b"em1\0");
    }

    #[test]
    fn ifreq_sizes_and_mtu() {
        let n = IfName::new("vtnet0").unwrap();
        let mut r = IfReq::new(&n, 32);
        assert_eq!(r.as_bytes().len(), 32);
        assert_eq!(&r.as_bytes()[..7], b"vtnet0\0");
        r.as_mut_bytes()[16..20].copy_from_slice(&9000i32.to_ne_bytes());
        assert_eq!(r.mtu(), 9000);
        assert_eq!(IfReq::new(&n, 144).as_bytes().len(), 144);
        assert_eq!(IfReq::new(&n, 4096).as_bytes().len(), IFREQ_MAX);
        assert_eq!(core::mem::align_of::<IfReq>(), 8);
    }

    #[test]
    fn multicast_addresses_per_system() {
        let n = IfName::new("em0").unwrap();
        let mac = MacAddr([0x03, 0x4c, 0x32, 0x00, 0x00, 0x07]);
        let mut r = IfReq::new(&n, 32);
        r.set_multicast_addr(Os::FreeBsd, mac);
        let sa = &r.as_bytes()[16..32];
        assert_eq!(&sa[..8], &[54, AF_LINK, 0, 0, 0, 0, 6, 0]);
        assert_eq!(&sa[8..14], &mac.octets());
        assert_eq!(
            parse_sockaddr_dl(sa).and_then(|l| l.mac),
            Some(mac),
            "the FreeBSD request round-trips through the sockaddr_dl parser"
        );
        r.set_multicast_addr(Os::MacOs, mac);
        assert_eq!(r.as_bytes()[16], 20);
        let mut r = IfReq::new(&n, 144);
        r.set_multicast_addr(Os::NetBsd, mac);
        let sa = &r.as_bytes()[16..32];
        assert_eq!(&sa[..2], &[16, AF_UNSPEC]);
        assert_eq!(&sa[2..8], &mac.octets());
        r.set_multicast_addr(Os::OpenBsd, mac);
        assert_eq!(&r.as_bytes()[18..24], &mac.octets());
    }

    #[test]
    fn sockaddr_dl_parsing() {
        // en0 on macOS: len 20, AF_LINK, index 4, IFT_ETHER, nlen 3, alen 6, name, address.
        let mut sa = [0u8; 20];
        sa[..8].copy_from_slice(&[20, AF_LINK, 4, 0, 6, 3, 6, 0]);
        sa[8..11].copy_from_slice(b"en0");
        sa[11..17].copy_from_slice(&[0xa4, 0x83, 0xe7, 1, 2, 3]);
        let l = parse_sockaddr_dl(&sa).unwrap();
        assert_eq!(l.if_type, 6);
        assert_eq!(l.mac, Some(MacAddr([0xa4, 0x83, 0xe7, 1, 2, 3])));
        // A loopback: no address.
        let lo = [
            20, AF_LINK, 1, 0, 24, 3, 0, 0, b'l', b'o', b'0', 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(parse_sockaddr_dl(&lo).unwrap().mac, None);
        // Lengths that run past the structure, wrong family, too short: no panic, no address.
        let mut bad = sa;
        bad[5] = 200;
        assert_eq!(parse_sockaddr_dl(&bad), None);
        bad = sa;
        bad[1] = 2;
        assert_eq!(parse_sockaddr_dl(&bad), None);
        assert_eq!(parse_sockaddr_dl(&sa[..5]), None);
        // sdl_len shorter than the fields it claims.
        bad = sa;
        bad[0] = 12;
        assert_eq!(parse_sockaddr_dl(&bad), None);
        // A non-Ethernet address length.
        bad = sa;
        bad[6] = 8;
        assert_eq!(parse_sockaddr_dl(&bad).unwrap().mac, None);
    }
}
