//! Errors of the Linux port.
//!
//! Opening a link ([`OpenError`]) and querying an interface can fail in ways the caller must be
//! able to tell apart and explain to a person: a name that is not an interface, missing
//! privileges, an option the kernel refused. Every error is a small `Copy` value; errors that come
//! from the kernel keep their `errno`. Once a link is open, its I/O errors are the core's
//! [`LinkError`], with `ENETDOWN` mapped to `Down`, `ENXIO`/`ENODEV` to
//! `Gone` and every other errno kept.

use core::fmt;
use std::io;

use l2net_core::LinkError;

/// Longest interface name Linux accepts (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;

/// A validated Linux interface name: 1 to 15 bytes, no `/`, no whitespace, no NUL, not `.` or
/// `..` (the kernel's `dev_valid_name` rules). `Copy`, so errors can carry it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfName {
    bytes: [u8; IFNAME_MAX],
    len: u8,
}

impl IfName {
    /// Validate `name`.
    pub fn new(name: &str) -> Result<Self, OpenError> {
        let b = name.as_bytes();
        let valid = !b.is_empty()
            && b.len() <= IFNAME_MAX
            && name != "."
            && name != ".."
            && b.iter()
                .all(|&c| c != b'/' && c != b':' && c != 0 && !c.is_ascii_whitespace());
        if !valid {
            return Err(OpenError::InvalidName);
        }
        let mut bytes = [0u8; IFNAME_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Ok(IfName {
            bytes,
            len: b.len() as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ever built from a `&str` prefix, so this cannot fail; fall back to "" rather than
        // panic if that invariant were ever broken.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The name as a NUL-terminated `IFNAMSIZ` array, as `struct ifreq` wants it.
    pub fn to_c_array(&self) -> [libc::c_char; IFNAME_MAX + 1] {
        let mut out = [0 as libc::c_char; IFNAME_MAX + 1];
        for (o, &b) in out.iter_mut().zip(&self.bytes[..usize::from(self.len)]) {
            *o = b as libc::c_char;
        }
        out
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Why an interface could not be queried or a link could not be opened or configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The name is not a valid Linux interface name (empty, longer than 15 bytes, or containing
    /// `/`, `:`, whitespace or NUL).
    InvalidName,
    /// No interface of that name exists in the calling thread's network namespace.
    NoSuchInterface(IfName),
    /// The interface exists but does not carry Ethernet frames (its hardware type is given).
    NotEthernet {
        /// The interface.
        name: IfName,
        /// Its `ARPHRD_*` hardware type.
        hw_type: u16,
    },
    /// Opening a raw packet socket needs `CAP_NET_RAW`.
    NeedsCapNetRaw {
        /// The errno the kernel returned (`EPERM` or `EACCES`).
        errno: i32,
    },
    /// Configuring namespaces or interfaces needs `CAP_NET_ADMIN` (and `CAP_SYS_ADMIN` for
    /// namespaces).
    NeedsCapNetAdmin {
        /// The call that was refused.
        op: &'static str,
        /// The errno the kernel returned.
        errno: i32,
    },
    /// A configuration value is out of range; the message says which and why.
    InvalidConfig(&'static str),
    /// The kernel refused a socket option that the configuration asked for. Options are never
    /// silently ignored.
    OptionRefused {
        /// The option, for example `"PACKET_FANOUT"`.
        option: &'static str,
        /// The errno the kernel returned.
        errno: i32,
    },
    /// The backend needs a kernel feature this kernel lacks (for example `TPACKET_V3`).
    Unsupported(&'static str),
    /// Any other refusal by the operating system.
    Os {
        /// The call that failed.
        op: &'static str,
        /// The errno.
        errno: i32,
    },
}

impl OpenError {
    /// The errno behind this error, if it came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        match *self {
            OpenError::NeedsCapNetRaw { errno }
            | OpenError::NeedsCapNetAdmin { errno, .. }
            | OpenError::OptionRefused { errno, .. }
            | OpenError::Os { errno, .. } => Some(errno),
            _ => None,
        }
    }

    /// An OS error from `op`, with `EPERM`/`EACCES` turned into a privilege error.
    pub(crate) fn os(op: &'static str, err: &io::Error) -> Self {
        let errno = err.raw_os_error().unwrap_or(libc::EIO);
        match errno {
            libc::EPERM | libc::EACCES => OpenError::NeedsCapNetAdmin { op, errno },
            _ => OpenError::Os { op, errno },
        }
    }
}

fn errno_text(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InvalidName => f.write_str(
                "invalid interface name: must be 1 to 15 bytes without '/', ':', whitespace or NUL",
            ),
            OpenError::NoSuchInterface(name) => write!(f, "no interface named {name}"),
            OpenError::NotEthernet { name, hw_type } => write!(
                f,
                "interface {name} is not an Ethernet interface (hardware type {hw_type})"
            ),
            OpenError::NeedsCapNetRaw { errno } => write!(
                f,
                "needs CAP_NET_RAW: run as root or `setcap cap_net_raw+ep <binary>` ({})",
                errno_text(*errno)
            ),
            OpenError::NeedsCapNetAdmin { op, errno } => write!(
                f,
                "{op} needs CAP_NET_ADMIN (and CAP_SYS_ADMIN for namespaces): run as root ({})",
                errno_text(*errno)
            ),
            OpenError::InvalidConfig(why) => write!(f, "invalid link configuration: {why}"),
            OpenError::OptionRefused { option, errno } => write!(
                f,
                "the kernel refused socket option {option}: {}",
                errno_text(*errno)
            ),
            OpenError::Unsupported(what) => write!(f, "this kernel does not support {what}"),
            OpenError::Os { op, errno } => write!(f, "{op} failed: {}", errno_text(*errno)),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> Self {
        let kind = match e {
            OpenError::InvalidName | OpenError::InvalidConfig(_) => io::ErrorKind::InvalidInput,
            OpenError::NoSuchInterface(_) => io::ErrorKind::NotFound,
            OpenError::NeedsCapNetRaw { .. } | OpenError::NeedsCapNetAdmin { .. } => {
                io::ErrorKind::PermissionDenied
            }
            OpenError::Unsupported(_) => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Map an errno from an I/O call (`op`) of an open link onto the core's [`LinkError`]:
/// `ENETDOWN` is [`LinkError::Down`], `ENXIO`/`ENODEV` [`LinkError::Gone`], `EMSGSIZE`
/// [`LinkError::TooLarge`] is left to the caller (it knows the lengths), everything else
/// [`LinkError::Os`] with the errno kept.
pub(crate) fn link_error(op: &'static str, errno: i32) -> LinkError {
    match errno {
        libc::ENETDOWN => LinkError::Down,
        libc::ENXIO | libc::ENODEV => LinkError::Gone,
        _ => LinkError::Os { op, errno },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for bad in [
            "",
            "a/b",
            "a b",
            "eth0:1",
            ".",
            "..",
            "0123456789abcdef",
            "a\0",
        ] {
            assert_eq!(IfName::new(bad), Err(OpenError::InvalidName), "{bad:?}");
        }
        let n = IfName::new("veth-l2-1").unwrap();
        assert_eq!(n.as_str(), "veth-l2-1");
        assert_eq!(IfName::new("0123456789abcde").unwrap().as_str().len(), 15);
        let c = n.to_c_array();
        assert_eq!(c[9], 0);
        assert_eq!(c[0], b'v' as libc::c_char);
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = OpenError::NeedsCapNetRaw { errno: libc::EPERM };
        let s = e.to_string();
        assert!(s.contains("setcap cap_net_raw+ep <binary>"), "{s}");
        assert_eq!(e.errno(), Some(libc::EPERM));
        let e = OpenError::NoSuchInterface(IfName::new("nope0").unwrap());
        assert_eq!(e.to_string(), "no interface named nope0");
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn link_errors_keep_errno() {
        assert_eq!(link_error("sendto", libc::ENETDOWN), LinkError::Down);
        assert_eq!(link_error("sendto", libc::ENXIO), LinkError::Gone);
        assert_eq!(
            link_error("sendto", libc::EINVAL),
            LinkError::Os {
                op: "sendto",
                errno: libc::EINVAL
            }
        );
    }
}
