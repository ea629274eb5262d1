//! Why a BPF link could not be opened, with the fix in the message.

use core::fmt;

use l2net_core::wire::bpf::BpfError;

use crate::ifreq::{IfName, IfNameError};

/// What to do about "permission denied" on `/dev/bpf*`, for the system this is built for.
pub const PERMISSION_FIX: &str = if cfg!(target_os = "macos") {
    "give your user access to the BPF devices: `sudo chmod o+rw /dev/bpf*` (until the next \
     reboot), or install Wireshark's ChmodBPF launch daemon (adds you to the access_bpf group at \
     every boot), or run as root"
} else if cfg!(target_os = "freebsd") {
    "run as root, or let a group open the devices with a devfs rule: add `[localrules=10]` and \
     `add path 'bpf*' mode 0660 group network` to /etc/devfs.rules, set \
     `devfs_system_ruleset=\"localrules\"` in /etc/rc.conf, `service devfs restart`, and add \
     your user to that group"
} else if cfg!(any(target_os = "netbsd", target_os = "openbsd")) {
    "run as root (doas/sudo), or give a group read-write access to /dev/bpf* \
     (`chgrp <group> /dev/bpf*; chmod g+rw /dev/bpf*`) and add your user to it"
} else {
    "run as root, or give your user read-write access to the BPF devices /dev/bpf*"
};

/// Why [`BpfLink::open`](crate::BpfLink) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The interface name is not valid.
    InvalidName(IfNameError),
    /// No interface of that name exists (`getifaddrs` does not list it, or `BIOCSETIF` said
    /// `ENXIO`).
    NoSuchInterface {
        /// The name asked for.
        name: IfName,
    },
    /// The interface is not Ethernet: its BPF data-link type is not `DLT_EN10MB`.
    NotEthernet {
        /// The name asked for.
        name: IfName,
        /// The data-link type the kernel reported (`DLT_NULL` = 0 for loopback, 12/14 raw IP,
        /// 105 802.11 ...).
        dlt: u32,
    },
    /// The interface has no 6-byte hardware address.
    NoMacAddress {
        /// The name asked for.
        name: IfName,
    },
    /// Opening the BPF device was refused: `errno` is `EACCES` or `EPERM`.
    PermissionDenied {
        /// BPF device number, or `None` for the cloning device `/dev/bpf`.
        device: Option<u16>,
        /// The OS error number.
        errno: i32,
    },
    /// No BPF device could be opened: every `/dev/bpfN` was busy (`EBUSY`) or missing.
    NoFreeDevice {
        /// How many numbered devices were tried.
        tried: u16,
    },
    /// The kernel's BPF buffer is too small for one whole frame plus its header.
    BufferTooSmall {
        /// The buffer size the kernel granted.
        granted: usize,
        /// The size one frame needs.
        needed: usize,
    },
    /// The core could not build the BPF filter program.
    Filter(BpfError),
    /// Another system call failed.
    Os {
        /// The call, for example `"BIOCSETF"`.
        op: &'static str,
        /// The OS error number (`errno`).
        errno: i32,
    },
}

impl OpenError {
    /// The OS error number behind this error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match *self {
            OpenError::PermissionDenied { errno, .. } | OpenError::Os { errno, .. } => Some(errno),
            _ => None,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InvalidName(e) => write!(f, "{e}"),
            OpenError::NoSuchInterface { name } => write!(
                f,
                "no network interface named '{name}' (list them with `ifconfig -l`)"
            ),
            OpenError::NotEthernet { name, dlt } => write!(
                f,
                "interface '{name}' is not Ethernet (BPF data-link type {dlt}, l2net needs \
                 DLT_EN10MB = 1); pick a wired or bridged Ethernet interface, not loopback, \
                 Wi-Fi monitor mode or a tunnel"
            ),
            OpenError::NoMacAddress { name } => write!(
                f,
                "interface '{name}' has no 6-byte Ethernet address (getifaddrs AF_LINK)"
            ),
            OpenError::PermissionDenied { device, errno } => {
                match device {
                    Some(n) => write!(f, "cannot open /dev/bpf{n}")?,
                    None => f.write_str("cannot open /dev/bpf")?,
                }
                write!(
                    f,
                    ": permission denied (os error {errno}); {PERMISSION_FIX}"
                )
            }
            OpenError::NoFreeDevice { tried } => write!(
                f,
                "no free BPF device: /dev/bpf is missing and all {tried} /dev/bpfN are busy or \
                 missing; close other capture programs (tcpdump, Wireshark) or create more \
                 devices"
            ),
            OpenError::BufferTooSmall { granted, needed } => write!(
                f,
                "the kernel granted a {granted}-byte BPF buffer but one frame needs {needed}; \
                 raise the limit (sysctl net.bpf.maxbufsize / debug.bpf_maxbufsize / \
                 kern.ipc.maxsockbuf) or lower the MTU"
            ),
            OpenError::Filter(e) => write!(f, "the l2net BPF filter could not be built: {e}"),
            OpenError::Os { op, errno } => write!(
                f,
                "{op} failed: {} (os error {errno})",
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<IfNameError> for OpenError {
    fn from(e: IfNameError) -> Self {
        OpenError::InvalidName(e)
    }
}

impl From<OpenError> for std::io::Error {
    fn from(e: OpenError) -> Self {
        let kind = match e {
            OpenError::InvalidName(_) | OpenError::BufferTooSmall { .. } | OpenError::Filter(_) => {
                std::io::ErrorKind::InvalidInput
            }
            OpenError::NoSuchInterface { .. } | OpenError::NoFreeDevice { .. } => {
                std::io::ErrorKind::NotFound
            }
            OpenError::NotEthernet { .. } | OpenError::NoMacAddress { .. } => {
                std::io::ErrorKind::Unsupported
            }
            OpenError::PermissionDenied { .. } => std::io::ErrorKind::PermissionDenied,
            OpenError::Os { errno, .. } => std::io::Error::from_raw_os_error(errno).kind(),
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_the_fix_and_keep_the_errno() {
        let e = OpenError::PermissionDenied {
            device: Some(3),
            errno: libc::EACCES,
        };
        let s = e.to_string();
        assert!(s.contains("/dev/bpf3"), "{s}");
        assert!(s.contains(PERMISSION_FIX), "{s}");
        assert_eq!(e.errno(), Some(libc::EACCES));
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::PermissionDenied
        );
        let name = IfName::new("lo0").unwrap();
        let s = OpenError::NotEthernet { name, dlt: 0 }.to_string();
        assert!(s.contains("'lo0'") && s.contains("DLT_EN10MB"), "{s}");
        let s = OpenError::NoSuchInterface { name }.to_string();
        assert!(s.contains("no network interface named 'lo0'"), "{s}");
        let e = OpenError::Os {
            op: "BIOCSETF",
            errno: libc::EINVAL,
        };
        assert!(e.to_string().starts_with("BIOCSETF failed"));
        assert_eq!(e.errno(), Some(libc::EINVAL));
        let e: OpenError = IfName::new("").unwrap_err().into();
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidInput
        );
    }
}
