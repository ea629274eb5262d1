//! Kernel-side filtering: a classic-BPF program on the packet socket, so frames l2net does not
//! want (other destination MACs, other EtherTypes) never reach user space.
//!
//! [`install`] attaches the program with `SO_ATTACH_FILTER` (optionally locked with
//! `SO_LOCK_FILTER` so nothing in the process can swap it later) after draining what the
//! socket queued before the filter existed: it first attaches a drop-everything program,
//! discards the queue, then attaches the real one. Frames arriving in between are dropped by
//! the first program, so after [`install`] returns every queued frame has passed the filter.
//! (A socket opened with protocol 0 and bound after the filter is attached needs no drain;
//! this covers sockets that were already receiving.)
//!
//! [`stats`] reads `PACKET_STATISTICS`: frames that passed the filter and frames the kernel
//! dropped for lack of room. Frames the filter rejected are counted in neither.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;

use crate::sys;

use l2net_core::wire::MacAddr;
pub use l2net_core::wire::bpf::BpfInsn as Insn;
use l2net_core::wire::bpf::{BpfError, MAX_MACS, filter_len, l2net_filter};

/// Most instructions the kernel accepts in one program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// `SO_LOCK_FILTER` (`asm-generic/socket.h`).
const SO_LOCK_FILTER: libc::c_int = 44;
/// `BPF_RET | BPF_K`.
const RET_K: u16 = 0x06;

/// The program that accepts nothing: `ret #0`.
pub const DROP_ALL: [Insn; 1] = [Insn {
    code: RET_K,
    jt: 0,
    jf: 0,
    k: 0,
}];

/// Why a filter could not be installed or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    /// The program has no instructions or more than [`MAX_INSNS`].
    BadLength {
        /// The program's length.
        len: usize,
    },
    /// The kernel's verifier rejected the program (`EINVAL`).
    Rejected,
    /// The socket's filter is locked (`SO_LOCK_FILTER`) and cannot be changed (`EPERM`).
    Locked,
    /// Another OS error.
    Os {
        /// The call that failed.
        op: &'static str,
        /// The OS error number.
        errno: i32,
    },
}

impl FilterError {
    fn from_attach(e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::EINVAL) => FilterError::Rejected,
            Some(libc::EPERM) => FilterError::Locked,
            errno => FilterError::Os {
                op: "setsockopt(SO_ATTACH_FILTER)",
                errno: errno.unwrap_or(libc::EIO),
            },
        }
    }

    fn os(op: &'static str, e: &io::Error) -> Self {
        FilterError::Os {
            op,
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::BadLength { len } => write!(
                f,
                "a filter program has 1 to {MAX_INSNS} instructions, not {len}"
            ),
            FilterError::Rejected => f.write_str("the kernel rejected the filter program"),
            FilterError::Locked => f.write_str("the socket's filter is locked"),
            FilterError::Os { op, errno } => {
                write!(f, "{op} failed: {}", io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl std::error::Error for FilterError {}

/// What [`install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Installed {
    /// Frames queued before the filter that were discarded.
    pub drained: usize,
    /// The filter was locked.
    pub locked: bool,
}

/// Counters of `PACKET_STATISTICS` since the previous read (reading resets them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PacketStats {
    /// Frames that passed the filter (delivered or dropped for lack of room).
    pub packets: u32,
    /// Frames that passed the filter but were dropped because the socket was full.
    pub drops: u32,
}

/// Attach `program` to `fd` without draining (for a socket that has not received yet).
pub fn attach(fd: BorrowedFd<'_>, program: &[Insn]) -> Result<(), FilterError> {
    if program.is_empty() || program.len() > MAX_INSNS {
        return Err(FilterError::BadLength { len: program.len() });
    }
    let prog: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    sys::socket::attach_filter(fd, &prog).map_err(|e| FilterError::from_attach(&e))
}

/// Discard every frame queued on `fd` now; returns how many.
pub fn drain(fd: BorrowedFd<'_>) -> Result<usize, FilterError> {
    let mut n = 0;
    while sys::filter::discard_one(fd).map_err(|e| FilterError::os("recv", &e))? {
        n += 1;
    }
    Ok(n)
}

/// Attach `program` to `fd` so that no frame queued before it survives (drop-all, drain, real
/// program; see the module docs), then lock it if `lock`.
pub fn install(fd: BorrowedFd<'_>, program: &[Insn], lock: bool) -> Result<Installed, FilterError> {
    if program.is_empty() || program.len() > MAX_INSNS {
        return Err(FilterError::BadLength { len: program.len() });
    }
    attach(fd, &DROP_ALL)?;
    let drained = drain(fd)?;
    attach(fd, program)?;
    if lock {
        sys::socket::set_int(fd, libc::SOL_SOCKET, SO_LOCK_FILTER, 1)
            .map_err(|e| FilterError::os("setsockopt(SO_LOCK_FILTER)", &e))?;
    }
    Ok(Installed {
        drained,
        locked: lock,
    })
}

/// Install the core's l2net program ([`l2net_filter`]): accept l2net frames (EtherType
/// `0x88B5`, untagged or behind up to two tags) addressed to one of `dst_macs` (at most
/// 64), truncated to `accept_len` bytes; drain and lock as [`install`] does.
pub fn install_l2net(
    fd: BorrowedFd<'_>,
    dst_macs: &[MacAddr],
    accept_len: u32,
    lock: bool,
) -> Result<Installed, FilterError> {
    let mut prog = [Insn::default(); filter_len(MAX_MACS)];
    let n = l2net_filter(dst_macs, accept_len, &mut prog).map_err(|e| match e {
        BpfError::NoMacs => FilterError::BadLength { len: 0 },
        _ => FilterError::Rejected,
    })?;
    install(fd, &prog[..n], lock)
}

/// Read (and reset) the socket's `PACKET_STATISTICS`.
pub fn stats(fd: BorrowedFd<'_>) -> Result<PacketStats, FilterError> {
    let st = sys::socket::packet_stats(fd)
        .map_err(|e| FilterError::os("getsockopt(PACKET_STATISTICS)", &e))?;
    Ok(PacketStats {
        packets: st.tp_packets,
        drops: st.tp_drops,
    })
}
