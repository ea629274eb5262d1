//! Frame timestamps with `SO_TIMESTAMPING` on `AF_PACKET` sockets.
//!
//! These are plain functions over a socket and caller-owned control-message buffers, so every
//! backend can use them without giving up its own buffers: plain and mmsg with their
//! `recvmsg`/`recvmmsg` control buffers, uring with the control area of its provided buffers,
//! the ring for the transmit request it sends with a kick; the ring's receive stamps come from
//! its frame headers instead:
//!
//! * [`enable`] turns timestamping on for a socket: software receive timestamps always, and,
//!   when asked and the NIC can, hardware timestamps (`ETHTOOL_GET_TS_INFO` to ask,
//!   `SIOCSHWTSTAMP` to switch the NIC on). It reports which source is in force; veth has no
//!   hardware clock, so there it is [`TimestampSource::Software`].
//! * [`rx_timestamp`] reads the `SCM_TIMESTAMPING` control message of a received frame (raw
//!   hardware time in `ts[2]`, software time in `ts[0]`).
//! * [`write_tx_request`] writes the control messages that ask for a transmit timestamp of one
//!   frame and give it an id (`SO_TIMESTAMPING` + `SCM_TS_OPT_ID`, Linux 6.13 and later); the
//!   timestamp comes back on the socket's error queue, read with [`read_tx_timestamp`], carrying
//!   that id (`SOF_TIMESTAMPING_OPT_ID`, `OPT_TSONLY`: no copy of the frame).
//!
//! Software timestamps are on `CLOCK_REALTIME`; hardware ones on the NIC's PTP clock.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;

use l2net_core::link::{Timestamp, TimestampSource, TxTimestamp};

use crate::sys::timestamp as sys;

/// `SCM_TS_OPT_ID` (`asm-generic/socket.h`, Linux 6.13): the id of one frame's timestamps.
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64",
    target_arch = "powerpc",
    target_arch = "powerpc64"
)))]
const SCM_TS_OPT_ID: libc::c_int = 81;
/// `SO_TIMESTAMPING_NEW`: the 64-bit-time variant of the control message.
const SO_TIMESTAMPING_NEW: libc::c_int = 65;
/// `PACKET_TX_TIMESTAMP` (`linux/if_packet.h`): the error-queue message type of packet sockets.
const PACKET_TX_TIMESTAMP: libc::c_int = 16;
/// `SCM_TSTAMP_SND` (`linux/errqueue.h`): the timestamp taken when the driver sent the frame.
const SCM_TSTAMP_SND: u32 = 0;

/// Flags set on the socket: report software and raw hardware stamps, receive stamps from the
/// software path, ids on transmit stamps, no frame copies on the error queue. Transmit stamps
/// are requested per frame (see [`write_tx_request`]) so frames nobody asked about cost
/// nothing.
const SOCKET_FLAGS: u32 = libc::SOF_TIMESTAMPING_RX_SOFTWARE
    | libc::SOF_TIMESTAMPING_SOFTWARE
    | libc::SOF_TIMESTAMPING_OPT_ID
    | libc::SOF_TIMESTAMPING_OPT_TSONLY;
/// Added when the NIC timestamps in hardware.
const HARDWARE_FLAGS: u32 =
    libc::SOF_TIMESTAMPING_RX_HARDWARE | libc::SOF_TIMESTAMPING_RAW_HARDWARE;

/// Which timestamps to turn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampMode {
    /// Software timestamps only.
    Software,
    /// Hardware timestamps, or an error if the NIC cannot take them.
    Hardware,
    /// Hardware timestamps where the NIC can, software timestamps otherwise.
    PreferHardware,
}

/// What [`enable`] turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enabled {
    /// The clock that stamps received frames.
    pub rx: TimestampSource,
    /// The clock that stamps transmitted frames.
    pub tx: TimestampSource,
}

/// Why timestamping could not be set up or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// A system call failed; `errno` is the OS error number.
    Os {
        /// The call that failed.
        op: &'static str,
        /// The OS error number.
        errno: i32,
    },
    /// Hardware timestamps were required but the NIC or its driver cannot take them.
    NoHardwareSupport,
    /// The control buffer is too small for the control messages (see [`TX_REQUEST_SPACE`]).
    BufferTooSmall,
    /// Transmit timestamps with ids need `SCM_TS_OPT_ID` (Linux 6.13 or later), which this
    /// architecture's headers number differently and l2net does not support there.
    Unsupported,
}

impl TimestampError {
    fn os(op: &'static str, err: &io::Error) -> Self {
        TimestampError::Os {
            op,
            errno: err.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Os { op, errno } => {
                write!(f, "{op} failed: {}", io::Error::from_raw_os_error(*errno))
            }
            TimestampError::NoHardwareSupport => {
                f.write_str("the interface cannot timestamp in hardware")
            }
            TimestampError::BufferTooSmall => {
                f.write_str("control buffer too small for the timestamp request")
            }
            TimestampError::Unsupported => {
                f.write_str("transmit timestamp ids are not supported on this architecture")
            }
        }
    }
}

impl std::error::Error for TimestampError {}

/// Turn on timestamping for the packet socket `fd` bound to interface `ifname`.
///
/// If no socket on the system had receive timestamps on before, the kernel switches its
/// software receive stamping on from a workqueue, so frames arriving in the first moments
/// (well under 100 ms) may carry no stamp: [`rx_timestamp`] then returns `None`.
///
/// With [`TimestampMode::Hardware`] or [`TimestampMode::PreferHardware`] this asks the NIC
/// (`ETHTOOL_GET_TS_INFO`) and, if it can, switches its hardware timestamping on for all
/// received frames and requested transmits (`SIOCSHWTSTAMP`, which needs `CAP_NET_ADMIN` and
/// changes the NIC for every user of it).
pub fn enable(
    fd: BorrowedFd<'_>,
    ifname: &str,
    mode: TimestampMode,
) -> Result<Enabled, TimestampError> {
    let hardware = match mode {
        TimestampMode::Software => false,
        TimestampMode::Hardware => {
            enable_hardware(fd, ifname)?;
            true
        }
        TimestampMode::PreferHardware => enable_hardware(fd, ifname).is_ok(),
    };
    let flags = if hardware {
        SOCKET_FLAGS | HARDWARE_FLAGS
    } else {
        SOCKET_FLAGS
    };
    sys::setsockopt_u32(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags)
        .map_err(|e| TimestampError::os("setsockopt(SO_TIMESTAMPING)", &e))?;
    let source = if hardware {
        TimestampSource::Hardware
    } else {
        TimestampSource::Software
    };
    Ok(Enabled {
        rx: source,
        tx: source,
    })
}

/// Turn timestamping off for `fd` (the NIC's hardware setting is left as it is: other sockets
/// may rely on it).
pub fn disable(fd: BorrowedFd<'_>) -> Result<(), TimestampError> {
    sys::setsockopt_u32(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, 0)
        .map_err(|e| TimestampError::os("setsockopt(SO_TIMESTAMPING)", &e))
}

fn enable_hardware(fd: BorrowedFd<'_>, ifname: &str) -> Result<(), TimestampError> {
    let info = crate::ethtool::timestamp_info_on(fd, ifname)
        .map_err(|e| TimestampError::os("ioctl(ETHTOOL_GET_TS_INFO)", &e))?;
    if !(info.rx_hardware && info.tx_hardware && info.raw_hardware) {
        return Err(TimestampError::NoHardwareSupport);
    }
    let mut config = libc::hwtstamp_config {
        flags: 0,
        tx_type: libc::HWTSTAMP_TX_ON as libc::c_int,
        rx_filter: libc::HWTSTAMP_FILTER_ALL as libc::c_int,
    };
    match sys::set_hwtstamp(fd, ifname, &mut config) {
        Ok(())
            if config.tx_type == libc::HWTSTAMP_TX_ON as libc::c_int
                && config.rx_filter != libc::HWTSTAMP_FILTER_NONE as libc::c_int =>
        {
            Ok(())
        }
        Ok(()) => Err(TimestampError::NoHardwareSupport),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ERANGE)) => {
            Err(TimestampError::NoHardwareSupport)
        }
        Err(e) => Err(TimestampError::os("ioctl(SIOCSHWTSTAMP)", &e)),
    }
}

// ---- control messages, parsed and built in safe code over byte buffers ----

const fn align(len: usize) -> usize {
    len.next_multiple_of(size_of::<usize>())
}
/// `sizeof(struct cmsghdr)` rounded as `CMSG_ALIGN` does: `cmsg_len` is a `size_t`, followed by
/// two `int`s.
const CMSG_HDR: usize = align(size_of::<usize>() + 2 * size_of::<libc::c_int>());

/// `CMSG_SPACE(len)`.
pub const fn cmsg_space(len: usize) -> usize {
    CMSG_HDR + align(len)
}

/// Bytes of control buffer a transmit-timestamp request needs ([`write_tx_request`]).
pub const TX_REQUEST_SPACE: usize = 2 * cmsg_space(4);
/// Bytes of control buffer enough for the timestamp of a received frame (plus room for a
/// `PACKET_AUXDATA` message, which backends usually ask for too).
pub const RX_CONTROL_SPACE: usize = cmsg_space(3 * 16) + cmsg_space(32);
/// Bytes of control buffer [`read_tx_timestamp`] needs.
pub const ERRQUEUE_CONTROL_SPACE: usize = cmsg_space(3 * 16) + cmsg_space(16 + 16);

/// One control message: level, type and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmsg<'a> {
    /// `cmsg_level`.
    pub level: libc::c_int,
    /// `cmsg_type`.
    pub kind: libc::c_int,
    /// The data after the header.
    pub data: &'a [u8],
}

/// The control messages in `control` (the first `msg_controllen` bytes a `recvmsg` returned).
/// A malformed trailing message ends the iteration.
pub fn cmsgs(control: &[u8]) -> impl Iterator<Item = Cmsg<'_>> {
    let mut rest = control;
    std::iter::from_fn(move || {
        let len = usize::from_ne_bytes(rest.get(..size_of::<usize>())?.try_into().ok()?);
        let int = size_of::<libc::c_int>();
        let at = size_of::<usize>();
        let level = libc::c_int::from_ne_bytes(rest.get(at..at + int)?.try_into().ok()?);
        let kind = libc::c_int::from_ne_bytes(rest.get(at + int..at + 2 * int)?.try_into().ok()?);
        let data = rest.get(CMSG_HDR..len.max(CMSG_HDR))?;
        rest = rest.get(align(len).max(CMSG_HDR)..).unwrap_or(&[]);
        Some(Cmsg { level, kind, data })
    })
}

/// Append one control message to `out` at `*at`.
fn put_cmsg(
    out: &mut [u8],
    at: &mut usize,
    level: libc::c_int,
    kind: libc::c_int,
    data: &[u8],
) -> Result<(), TimestampError> {
    let space = cmsg_space(data.len());
    let dst = out
        .get_mut(*at..*at + space)
        .ok_or(TimestampError::BufferTooSmall)?;
    dst.fill(0);
    let int = size_of::<libc::c_int>();
    let at_level = size_of::<usize>();
    dst[..at_level].copy_from_slice(&(CMSG_HDR + data.len()).to_ne_bytes());
    dst[at_level..at_level + int].copy_from_slice(&level.to_ne_bytes());
    dst[at_level + int..at_level + 2 * int].copy_from_slice(&kind.to_ne_bytes());
    dst[CMSG_HDR..CMSG_HDR + data.len()].copy_from_slice(data);
    *at += space;
    Ok(())
}

/// Write into `control` the control messages that ask for a transmit timestamp of the frame
/// sent with them and give its timestamp the id `id`; returns the bytes written (pass that
/// prefix as `msg_control` to `sendmsg`). `hardware` asks the NIC too (when [`enable`] turned
/// hardware stamps on).
pub fn write_tx_request(
    control: &mut [u8],
    id: u32,
    hardware: bool,
) -> Result<usize, TimestampError> {
    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    ))]
    {
        let _ = (control, id, hardware);
        return Err(TimestampError::Unsupported);
    }
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    )))]
    {
        let mut flags = libc::SOF_TIMESTAMPING_TX_SOFTWARE;
        if hardware {
            flags |= libc::SOF_TIMESTAMPING_TX_HARDWARE;
        }
        let mut at = 0;
        put_cmsg(
            control,
            &mut at,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPING,
            &flags.to_ne_bytes(),
        )?;
        put_cmsg(
            control,
            &mut at,
            libc::SOL_SOCKET,
            SCM_TS_OPT_ID,
            &id.to_ne_bytes(),
        )?;
        Ok(at)
    }
}

/// The three `timespec`s of an `SCM_TIMESTAMPING` message, as nanoseconds (0: not set).
fn parse_timestamping(msg: &Cmsg<'_>) -> Option<[u64; 3]> {
    if msg.level != libc::SOL_SOCKET {
        return None;
    }
    // SO_TIMESTAMPING_NEW always has 64-bit fields; the old one uses time_t and long.
    let (sec_len, nsec_len) = match msg.kind {
        SO_TIMESTAMPING_NEW => (8, 8),
        libc::SO_TIMESTAMPING => (size_of::<libc::time_t>(), size_of::<libc::c_long>()),
        _ => return None,
    };
    let stride = sec_len + nsec_len;
    let int = |b: &[u8]| -> Option<i64> {
        Some(match b.len() {
            4 => i64::from(i32::from_ne_bytes(b.try_into().ok()?)),
            8 => i64::from_ne_bytes(b.try_into().ok()?),
            _ => return None,
        })
    };
    let mut out = [0u64; 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let ts = msg.data.get(i * stride..(i + 1) * stride)?;
        let sec = int(&ts[..sec_len])?;
        let nsec = int(&ts[sec_len..])?;
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return None;
        }
        *slot = (sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(nsec as u64);
    }
    Some(out)
}

fn pick(ts: [u64; 3]) -> Option<Timestamp> {
    if ts[2] != 0 {
        Some(Timestamp {
            nanos: ts[2],
            source: TimestampSource::Hardware,
        })
    } else if ts[0] != 0 {
        Some(Timestamp {
            nanos: ts[0],
            source: TimestampSource::Software,
        })
    } else {
        None
    }
}

/// The receive timestamp in the control messages of a received frame: the raw hardware stamp
/// if there is one, else the software stamp. `None` if timestamping is off or the message is
/// missing.
pub fn rx_timestamp(control: &[u8]) -> Option<Timestamp> {
    cmsgs(control)
        .find_map(|m| parse_timestamping(&m))
        .and_then(pick)
}

/// Read the next transmit timestamp from the error queue of `fd` without blocking. `control`
/// must hold at least [`ERRQUEUE_CONTROL_SPACE`] bytes. Error-queue entries that are not
/// send timestamps (scheduler stamps, ICMP-style errors) are consumed and skipped.
pub fn read_tx_timestamp(
    fd: BorrowedFd<'_>,
    control: &mut [u8],
) -> Result<Option<TxTimestamp>, TimestampError> {
    if control.len() < ERRQUEUE_CONTROL_SPACE {
        return Err(TimestampError::BufferTooSmall);
    }
    // OPT_TSONLY: no frame comes back, but give the kernel somewhere to put a stray byte.
    let mut data = [0u8; 64];
    loop {
        let got = match sys::recvmsg(
            fd,
            &mut data,
            control,
            libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
        ) {
            Ok(got) => got,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(TimestampError::os("recvmsg(MSG_ERRQUEUE)", &e)),
        };
        let mut stamp = None;
        let mut id = None;
        for msg in cmsgs(&control[..got.control_len]) {
            if let Some(ts) = parse_timestamping(&msg) {
                stamp = pick(ts);
            } else if msg.level == libc::SOL_PACKET && msg.kind == PACKET_TX_TIMESTAMP {
                id = parse_extended_err(msg.data);
            }
        }
        if let (Some(timestamp), Some(id)) = (stamp, id) {
            return Ok(Some(TxTimestamp { id, timestamp }));
        }
    }
}

/// `struct sock_extended_err`: the id (`ee_data`) of a send timestamp, `None` for anything else.
fn parse_extended_err(data: &[u8]) -> Option<u32> {
    let u32_at = |at: usize| Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?));
    let errno = u32_at(0)?;
    let origin = *data.get(4)?;
    let info = u32_at(8)?;
    let key = u32_at(12)?;
    (errno == libc::ENOMSG as u32
        && origin == libc::SO_EE_ORIGIN_TIMESTAMPING
        && info == SCM_TSTAMP_SND)
        .then_some(key)
}

/// Send one frame on the bound packet socket `fd` with control messages (for example from
/// [`write_tx_request`]). Returns the bytes sent. Never blocks (`MSG_DONTWAIT`): `EAGAIN`
/// and `ENOBUFS` come back as errors for the caller's backpressure logic.
pub fn send_with_control(fd: BorrowedFd<'_>, frame: &[u8], control: &[u8]) -> io::Result<usize> {
    sys::sendmsg(fd, frame, control, libc::MSG_DONTWAIT)
}

/// What [`recv_with_control`] received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Bytes of the frame copied into the buffer.
    pub len: usize,
    /// The frame's length on the wire (larger than `len` when the buffer was too small).
    pub wire_len: usize,
    /// Bytes of control messages at the start of the control buffer.
    pub control_len: usize,
}

/// Receive one frame from packet socket `fd` into `buf` with its control messages in
/// `control`, without blocking (`Ok(None)`: nothing waiting).
pub fn recv_with_control(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut [u8],
) -> io::Result<Option<Received>> {
    loop {
        match sys::recvmsg(fd, buf, control, libc::MSG_DONTWAIT | libc::MSG_TRUNC) {
            Ok(r) => {
                return Ok(Some(Received {
                    len: r.len.min(buf.len()),
                    wire_len: r.len,
                    control_len: r.control_len,
                }));
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamping_cmsg(kind: libc::c_int, ts: [(i64, i64); 3]) -> Vec<u8> {
        let mut data = Vec::new();
        for (s, ns) in ts {
            data.extend_from_slice(&s.to_ne_bytes());
            data.extend_from_slice(&ns.to_ne_bytes());
        }
        let mut out = vec![0u8; cmsg_space(data.len())];
        let mut at = 0;
        put_cmsg(&mut out, &mut at, libc::SOL_SOCKET, kind, &data).unwrap();
        out
    }

    #[test]
    fn software_stamp_from_ts0() {
        let c = timestamping_cmsg(libc::SO_TIMESTAMPING, [(5, 7), (0, 0), (0, 0)]);
        let ts = rx_timestamp(&c).unwrap();
        assert_eq!(ts.nanos, 5_000_000_007);
        assert_eq!(ts.source, TimestampSource::Software);
    }

    #[test]
    fn hardware_stamp_wins() {
        let c = timestamping_cmsg(SO_TIMESTAMPING_NEW, [(5, 7), (0, 0), (9, 1)]);
        let ts = rx_timestamp(&c).unwrap();
        assert_eq!(ts.nanos, 9_000_000_001);
        assert_eq!(ts.source, TimestampSource::Hardware);
    }

    #[test]
    fn malformed_control_is_ignored() {
        assert_eq!(rx_timestamp(&[]), None);
        assert_eq!(rx_timestamp(&[0xff; 7]), None);
        // Length field far beyond the buffer.
        let mut c = timestamping_cmsg(libc::SO_TIMESTAMPING, [(5, 7), (0, 0), (0, 0)]);
        c[..8].copy_from_slice(&usize::MAX.to_ne_bytes()[..8]);
        assert_eq!(rx_timestamp(&c), None);
        // Nanoseconds out of range.
        let c = timestamping_cmsg(libc::SO_TIMESTAMPING, [(5, 2_000_000_000), (0, 0), (0, 0)]);
        assert_eq!(rx_timestamp(&c), None);
        // All zero: no stamp.
        let c = timestamping_cmsg(libc::SO_TIMESTAMPING, [(0, 0); 3]);
        assert_eq!(rx_timestamp(&c), None);
    }

    #[test]
    fn tx_request_layout() {
        let mut buf = [0u8; TX_REQUEST_SPACE];
        let n = write_tx_request(&mut buf, 0xdead_beef, false).unwrap();
        assert_eq!(n, TX_REQUEST_SPACE);
        let msgs: Vec<_> = cmsgs(&buf[..n]).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].kind, libc::SO_TIMESTAMPING);
        assert_eq!(msgs[1].kind, SCM_TS_OPT_ID);
        assert_eq!(msgs[1].data, 0xdead_beef_u32.to_ne_bytes());
        let mut small = [0u8; TX_REQUEST_SPACE - 1];
        assert_eq!(
            write_tx_request(&mut small, 1, false),
            Err(TimestampError::BufferTooSmall)
        );
    }

    #[test]
    fn extended_err_only_send_stamps() {
        let mut e = [0u8; 16];
        e[..4].copy_from_slice(&(libc::ENOMSG as u32).to_ne_bytes());
        e[4] = libc::SO_EE_ORIGIN_TIMESTAMPING;
        e[12..].copy_from_slice(&42u32.to_ne_bytes());
        assert_eq!(parse_extended_err(&e), Some(42));
        e[8] = 1; // SCM_TSTAMP_SCHED
        assert_eq!(parse_extended_err(&e), None);
        assert_eq!(parse_extended_err(&e[..10]), None);
    }
}
