//! Interface offload facts for diagnostics (`l2net link`) and capability reports: what the NIC
//! does with VLAN tags and which timestamps it can take.
//!
//! Both come from `SIOCETHTOOL`: `ETHTOOL_GFLAGS` (the `rx-vlan-offload` / `tx-vlan-offload`
//! features as the fixed-size flag word, which avoids the variable-length string tables of
//! `ETHTOOL_GFEATURES`) and `ETHTOOL_GET_TS_INFO`. The queries act in the network namespace of
//! the calling thread.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use l2net_core::link::{TimestampCaps, VlanOffload};

use crate::sys::ethtool as sys;

/// `ETH_FLAG_TXVLAN` (`linux/ethtool.h`): the NIC inserts VLAN tags on transmit.
const ETH_FLAG_TXVLAN: u32 = 1 << 7;
/// `ETH_FLAG_RXVLAN`: the NIC strips VLAN tags on receive.
const ETH_FLAG_RXVLAN: u32 = 1 << 8;

/// Why an interface could not be queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EthtoolError {
    /// The name is empty, too long (more than 15 bytes) or contains a NUL byte.
    InvalidName,
    /// No interface has this name in the calling thread's namespace.
    NoSuchInterface,
    /// The driver does not answer this query.
    NotSupported,
    /// Another OS error.
    Os {
        /// The query that failed.
        op: &'static str,
        /// The OS error number.
        errno: i32,
    },
}

impl EthtoolError {
    fn from_io(op: &'static str, e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENODEV) => EthtoolError::NoSuchInterface,
            Some(libc::EOPNOTSUPP) => EthtoolError::NotSupported,
            Some(libc::EINVAL) => EthtoolError::InvalidName,
            errno => EthtoolError::Os {
                op,
                errno: errno.unwrap_or(libc::EIO),
            },
        }
    }
}

impl fmt::Display for EthtoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EthtoolError::InvalidName => f.write_str("interface names are 1 to 15 bytes long"),
            EthtoolError::NoSuchInterface => f.write_str("no such network interface"),
            EthtoolError::NotSupported => f.write_str("the driver does not support this query"),
            EthtoolError::Os { op, errno } => {
                write!(f, "{op} failed: {}", io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl std::error::Error for EthtoolError {}

/// What `ETHTOOL_GET_TS_INFO` says about an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimestampInfo {
    /// The `SOF_TIMESTAMPING_*` capabilities the driver reports.
    pub so_timestamping: u32,
    /// Index of the PTP hardware clock (`/dev/ptpN`), if the NIC has one.
    pub phc_index: Option<u32>,
    /// Bit mask of supported `HWTSTAMP_TX_*` modes.
    pub tx_types: u32,
    /// Bit mask of supported `HWTSTAMP_FILTER_*` receive filters.
    pub rx_filters: u32,
    /// Receive timestamps from the software path.
    pub rx_software: bool,
    /// Transmit timestamps from the driver (`skb_tx_timestamp`).
    pub tx_software: bool,
    /// Receive timestamps from the NIC.
    pub rx_hardware: bool,
    /// Transmit timestamps from the NIC.
    pub tx_hardware: bool,
    /// The NIC reports raw hardware (PHC) time.
    pub raw_hardware: bool,
}

impl TimestampInfo {
    fn from_words(w: &sys::TsInfoWords) -> Self {
        let so = w[1];
        let has = |flag: u32| so & flag != 0;
        TimestampInfo {
            so_timestamping: so,
            phc_index: u32::try_from(w[2] as i32).ok(),
            tx_types: w[3],
            rx_filters: w[7],
            rx_software: has(libc::SOF_TIMESTAMPING_RX_SOFTWARE),
            tx_software: has(libc::SOF_TIMESTAMPING_TX_SOFTWARE),
            rx_hardware: has(libc::SOF_TIMESTAMPING_RX_HARDWARE),
            tx_hardware: has(libc::SOF_TIMESTAMPING_TX_HARDWARE),
            raw_hardware: has(libc::SOF_TIMESTAMPING_RAW_HARDWARE),
        }
    }

    /// The same as the core's capability flags.
    pub fn caps(&self) -> TimestampCaps {
        let mut caps = TimestampCaps::default();
        caps.rx_software = self.rx_software;
        caps.tx_software = self.tx_software;
        caps.rx_hardware = self.rx_hardware && self.raw_hardware;
        caps.tx_hardware = self.tx_hardware && self.raw_hardware;
        caps
    }
}

/// Offload facts of one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffloadFacts {
    /// VLAN tag offload (`rx-vlan-offload`, `tx-vlan-offload`).
    pub vlan: VlanOffload,
    /// Timestamping capabilities; `None` if the driver does not answer.
    pub timestamps: Option<TimestampInfo>,
}

fn check_name(name: &str) -> Result<(), EthtoolError> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        Err(EthtoolError::InvalidName)
    } else {
        Ok(())
    }
}

fn query_socket() -> Result<std::os::fd::OwnedFd, EthtoolError> {
    crate::sys::ioctl::query_socket().map_err(|e| EthtoolError::from_io("socket", &e))
}

/// Timestamping capabilities of `name`, asked on an existing socket `fd` (any socket in the
/// interface's namespace).
pub(crate) fn timestamp_info_on(fd: BorrowedFd<'_>, name: &str) -> io::Result<TimestampInfo> {
    sys::ts_info(fd, name).map(|w| TimestampInfo::from_words(&w))
}

/// Timestamping capabilities of interface `name`.
pub fn timestamp_info(name: &str) -> Result<TimestampInfo, EthtoolError> {
    check_name(name)?;
    let sock = query_socket()?;
    timestamp_info_on(sock.as_fd(), name)
        .map_err(|e| EthtoolError::from_io("ioctl(ETHTOOL_GET_TS_INFO)", &e))
}

/// VLAN offload of interface `name`.
pub fn vlan_offload(name: &str) -> Result<VlanOffload, EthtoolError> {
    check_name(name)?;
    let sock = query_socket()?;
    vlan_offload_on(sock.as_fd(), name)
}

fn vlan_offload_on(fd: BorrowedFd<'_>, name: &str) -> Result<VlanOffload, EthtoolError> {
    let flags =
        sys::flags(fd, name).map_err(|e| EthtoolError::from_io("ioctl(ETHTOOL_GFLAGS)", &e))?;
    let mut vlan = VlanOffload::default();
    vlan.rx_strip = flags & ETH_FLAG_RXVLAN != 0;
    vlan.tx_insert = flags & ETH_FLAG_TXVLAN != 0;
    Ok(vlan)
}

/// VLAN offload and timestamping capabilities of interface `name`, for `l2net link`.
pub fn offload_facts(name: &str) -> Result<OffloadFacts, EthtoolError> {
    check_name(name)?;
    let sock = query_socket()?;
    let vlan = vlan_offload_on(sock.as_fd(), name)?;
    let timestamps = match timestamp_info_on(sock.as_fd(), name) {
        Ok(info) => Some(info),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => None,
        Err(e) => return Err(EthtoolError::from_io("ioctl(ETHTOOL_GET_TS_INFO)", &e)),
    };
    Ok(OffloadFacts { vlan, timestamps })
}
