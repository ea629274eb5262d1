//! `SIOCETHTOOL` commands with fixed-size replies: `ETHTOOL_GET_TS_INFO` (timestamping
//! capabilities) and `ETHTOOL_GFLAGS` (offload flags, among them VLAN offload).
//!
//! Only commands whose reply size the kernel bounds by the struct we pass are used here, so
//! a buffer sized for the struct can never be overrun.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::timestamp::ifreq_for;

/// `ETHTOOL_GET_TS_INFO` (`linux/ethtool.h`).
const ETHTOOL_GET_TS_INFO: u32 = 0x0000_0041;
/// `ETHTOOL_GFLAGS`.
const ETHTOOL_GFLAGS: u32 = 0x0000_0025;

/// `struct ethtool_ts_info` as 11 words: cmd, so_timestamping, phc_index, tx_types,
/// tx_reserved[3], rx_filters, rx_reserved[3].
pub(crate) type TsInfoWords = [u32; 11];

/// Issue `SIOCETHTOOL` for `name` with `words` as the command struct (word 0 is the command).
fn ethtool<const N: usize>(fd: BorrowedFd<'_>, name: &str, words: &mut [u32; N]) -> io::Result<()> {
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_data = words.as_mut_ptr().cast();
    // SAFETY: `ifr` holds a NUL-terminated name and points at `words`, exclusively borrowed for
    // the call; the commands used with this function (GET_TS_INFO: 44 bytes, GFLAGS: 8 bytes)
    // read and write exactly their fixed-size struct, and callers pass an array of that size.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL, &raw mut ifr) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ETHTOOL_GET_TS_INFO` for interface `name`.
pub(crate) fn ts_info(fd: BorrowedFd<'_>, name: &str) -> io::Result<TsInfoWords> {
    let mut words: TsInfoWords = [0; 11];
    words[0] = ETHTOOL_GET_TS_INFO;
    ethtool(fd, name, &mut words)?;
    Ok(words)
}

/// `ETHTOOL_GFLAGS` for interface `name`: the `ETH_FLAG_*` bits.
pub(crate) fn flags(fd: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    let mut words = [ETHTOOL_GFLAGS, 0];
    ethtool(fd, name, &mut words)?;
    Ok(words[1])
}
