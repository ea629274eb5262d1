//! Link configuration, the packet socket every backend shares, and backend selection.
//!
//! One [`LinkConfig`] describes a link: the interface, the [`Backend`] (one value, `auto` by
//! default) and the socket options. [`LinuxLink::open`] picks the backend, reports the choice
//! and why ([`Selection`]), and dispatches [`RawLink`] to it.
//!
//! # Which frames a link receives
//!
//! The socket is bound with `ETH_P_ALL`, not with l2net's EtherType, on purpose. When the
//! kernel (or the NIC) strips a VLAN tag on receive, it delivers the frame to `ETH_P_ALL`
//! sockets with the tag still in the packet metadata (`PACKET_AUXDATA`, the ring headers), but
//! by the time it reaches protocol-specific sockets it has cleared the tag (and marked frames
//! of a VLAN without a VLAN device as "other host"); double-tagged frames never reach a
//! `0x88B5` socket at all, since their EtherType after the stripped outer tag is `0x8100`. So
//! the link binds `ETH_P_ALL` and attaches a classic BPF filter (when [`LinkConfig::ethertype`]
//! is set, as it is by default) that accepts frames whose EtherType, after up to two in-band
//! tags, is l2net's. `PACKET_IGNORE_OUTGOING` keeps the link's own transmissions out. With
//! [`LinkConfig::mac_filter`] the core's l2net program replaces that filter and also checks the
//! destination: the link's MAC and the groups it joined (the program is swapped on every join
//! and leave).
//!
//! # Frame sizes
//!
//! A link carries frames of up to `14 + MTU` bytes, and `18 + MTU` when the outermost tag is an
//! 802.1Q tag (`0x8100`): that is what `AF_PACKET` accepts. A QinQ frame (or one whose outer tag
//! is `0x88A8`) must fit `14 + MTU` bytes in all. A filled transmit token that breaks this rule
//! is not queued: the next [`RawLink::flush`] reports [`LinkError::TooLarge`] (and sends nothing
//! in that call, so no status is lost) and [`LinkStats::tx_rejected`] counts it.

use core::fmt;
use core::str::FromStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use l2net_core::link::{FlushStatus, RxMeta, TimestampCaps, TimestampSource, TxTimestamp};
use l2net_core::wire::ethernet::HEADER_LEN;
use l2net_core::wire::vlan::TPID_8021Q;
use l2net_core::wire::{ETHERTYPE_L2NET, MacAddr};
use l2net_core::{Capabilities, Instant, LinkError, RawLink, RxFrame, TxToken};

use crate::error::{IfName, OpenError, link_error};
use crate::frame_ring::FrameRingLink;
use crate::iface::{self, InterfaceInfo};
use crate::mmsg::MmsgLink;
use crate::plain::PlainLink;
use crate::ring::RingLink;
use crate::sys::socket as sock;
use crate::timestamp::{self, Enabled, TimestampError, TimestampMode};
use crate::uring::UringLink;

/// Which I/O mechanism a link uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The best one this kernel offers (see [`LinuxLink::open`]).
    #[default]
    Auto,
    /// `TPACKET_V3` `PACKET_RX_RING` + `PACKET_TX_RING` in one `mmap`: zero-copy both ways.
    Ring,
    /// `TPACKET_V2` `PACKET_RX_RING` (every frame handed over at once, found without a system
    /// call) + `sendmmsg` batches: the lowest latency. Never picked by [`Backend::Auto`].
    FrameRing,
    /// io_uring submissions on the packet socket.
    Uring,
    /// `recvmmsg`/`sendmmsg` batches over preallocated buffers.
    Mmsg,
    /// One `recvmsg`/`send` per frame: the simplest, works everywhere.
    Plain,
}

impl Backend {
    /// Every backend a link can run on (all but [`Backend::Auto`], which picks one of them).
    pub const CONCRETE: [Backend; 5] = [
        Backend::Plain,
        Backend::Mmsg,
        Backend::Ring,
        Backend::FrameRing,
        Backend::Uring,
    ];

    /// The backend's configuration name.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Ring => "ring",
            Backend::FrameRing => "frame-ring",
            Backend::Uring => "uring",
            Backend::Mmsg => "mmsg",
            Backend::Plain => "plain",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The string is not a backend name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownBackend;

impl fmt::Display for UnknownBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown backend: expected auto, ring, frame-ring, uring, mmsg or plain")
    }
}

impl std::error::Error for UnknownBackend {}

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Backend::Auto,
            "ring" => Backend::Ring,
            "frame-ring" => Backend::FrameRing,
            "uring" => Backend::Uring,
            "mmsg" => Backend::Mmsg,
            "plain" => Backend::Plain,
            _ => return Err(UnknownBackend),
        })
    }
}

/// How a `PACKET_FANOUT` group spreads frames over its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FanoutMode {
    /// By flow hash.
    Hash,
    /// Round robin.
    LoadBalance,
    /// By receiving CPU.
    Cpu,
    /// Fill one socket, then the next.
    Rollover,
    /// Randomly.
    Random,
    /// By the NIC's receive queue.
    QueueMapping,
}

/// Join a `PACKET_FANOUT` group: several links on one interface share its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fanout {
    /// Group id; links with the same id (in one namespace) form one group.
    pub group: u16,
    /// How frames are spread.
    pub mode: FanoutMode,
}

/// Configuration of a link. Build with [`LinkConfig::new`] and change fields; every option the
/// kernel refuses makes [`LinuxLink::open`] (or the backend's `open`) fail with
/// [`OpenError::OptionRefused`]; nothing is silently ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Interface name (`eth0`, a veth end).
    pub interface: String,
    /// Backend to use; [`Backend::Auto`] picks the best available.
    pub backend: Backend,
    /// Receive only frames of this EtherType (after up to two VLAN tags), through a BPF filter
    /// attached before the socket is bound. Default l2net's `0x88B5`; `None` receives every
    /// frame.
    pub ethertype: Option<u16>,
    /// Do not receive frames this socket (or any socket of this host) sends on the interface
    /// (`PACKET_IGNORE_OUTGOING`). Default `true`.
    pub ignore_outgoing: bool,
    /// Send straight to the driver, bypassing the qdisc (`PACKET_QDISC_BYPASS`). Faster, but
    /// the kernel then drops instead of pushing back when the device queue is full. Default
    /// `false`.
    pub qdisc_bypass: bool,
    /// Socket receive buffer in bytes (`SO_RCVBUF`, `SO_RCVBUFFORCE` above `rmem_max`).
    pub rcvbuf: Option<usize>,
    /// Socket send buffer in bytes (`SO_SNDBUF`, `SO_SNDBUFFORCE` above `wmem_max`).
    pub sndbuf: Option<usize>,
    /// Busy-poll the device for this many microseconds on receive (`SO_BUSY_POLL`).
    pub busy_poll_us: Option<u32>,
    /// Join a fanout group.
    pub fanout: Option<Fanout>,
    /// Frames that can be queued between two flushes (transmit slots). Default 64.
    pub tx_slots: usize,
    /// Frames received per system call (mmsg backend). Default 32.
    pub rx_batch: usize,
    /// Memory for the ring backend's two rings together, in bytes (at least 256 KiB are
    /// used). Default 8 MiB; the geometry is derived from it and the MTU (blocks of up to
    /// 64 KiB, smaller so that a small ring still has eight receive blocks), and shrunk if the
    /// kernel refuses it. The frame-ring backend has only a receive ring and gives it all of
    /// this memory (one MTU-sized slot per frame, at least 256 KiB, shrunk the same way).
    pub ring_memory: usize,
    /// How long the ring backend lets a partly filled receive block wait before the kernel
    /// hands it over (`tp_retire_blk_tov`), in milliseconds. Default 1.
    pub ring_block_timeout_ms: u32,
    /// Receive only l2net frames addressed to this link: the core's classic-BPF program
    /// ([`crate::filter::install_l2net`]) accepts EtherType `0x88B5` (untagged or behind up to
    /// two tags) sent to the interface's MAC or to a multicast group joined with
    /// [`RawLink::join_multicast`]; the program is replaced on every join and leave. Frames of
    /// a group already queued when it is left may still be received. Needs
    /// [`LinkConfig::ethertype`] to be l2net's `0x88B5`; at most 63 groups. Default `false`
    /// (every l2net frame the interface sees).
    pub mac_filter: bool,
    /// Timestamp frames (`SO_TIMESTAMPING`, see [`crate::timestamp`]): every received frame
    /// carries [`RxMeta::timestamp`], and a frame whose token asked with
    /// [`TxToken::request_timestamp`] reports when it left through
    /// [`RawLink::poll_tx_timestamp`] (needs Linux 6.13 for the per-frame id). Software
    /// stamps are on `CLOCK_REALTIME`; [`TimestampMode::Hardware`] switches the NIC's stamping
    /// on (`CAP_NET_ADMIN`) or fails the open. Per backend:
    /// * plain: receive and transmit stamps (`SCM_TIMESTAMPING`, the error queue);
    /// * mmsg: the same, and still in batches: each message's control buffer holds the stamp
    ///   and the VLAN auxdata on receive, and a stamped frame's message carries its request in
    ///   the `sendmmsg` batch;
    /// * ring: receive stamps from the frame headers (the ring stamps every frame anyway);
    ///   each stamped frame is kicked on its own with the request's control messages (see
    ///   [`crate::ring`]), its stamp read from the error queue;
    /// * uring: receive stamps in each provided buffer's control area; a stamped frame is an
    ///   `IORING_OP_SENDMSG` with the request in the flush's send chain;
    /// * frame-ring: receive stamps from the slot headers (every frame is stamped anyway),
    ///   transmit stamps as mmsg.
    ///
    /// [`Capabilities::timestamps`] says what the opened link delivers. Default `None`.
    pub timestamps: Option<TimestampMode>,
}

impl LinkConfig {
    /// Defaults for `interface`: auto backend, l2net frames only, 64 transmit slots.
    pub fn new(interface: &str) -> Self {
        LinkConfig {
            interface: interface.to_owned(),
            backend: Backend::Auto,
            ethertype: Some(ETHERTYPE_L2NET),
            ignore_outgoing: true,
            qdisc_bypass: false,
            rcvbuf: None,
            sndbuf: None,
            busy_poll_us: None,
            fanout: None,
            tx_slots: 64,
            rx_batch: 32,
            ring_memory: 8 << 20,
            ring_block_timeout_ms: 1,
            mac_filter: false,
            timestamps: None,
        }
    }

    /// The same configuration with another backend.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    fn validate(&self) -> Result<IfName, OpenError> {
        let name = IfName::new(&self.interface)?;
        if self.tx_slots == 0 || self.tx_slots > 65536 {
            return Err(OpenError::InvalidConfig("tx_slots must be 1 to 65536"));
        }
        if self.rx_batch == 0 || self.rx_batch > 1024 {
            return Err(OpenError::InvalidConfig("rx_batch must be 1 to 1024"));
        }
        if matches!(self.rcvbuf, Some(n) if n == 0 || n > i32::MAX as usize / 2) {
            return Err(OpenError::InvalidConfig("rcvbuf must be 1 byte to 1 GiB"));
        }
        if matches!(self.sndbuf, Some(n) if n == 0 || n > i32::MAX as usize / 2) {
            return Err(OpenError::InvalidConfig("sndbuf must be 1 byte to 1 GiB"));
        }
        if matches!(self.busy_poll_us, Some(n) if n > i32::MAX as u32) {
            return Err(OpenError::InvalidConfig("busy_poll_us is too large"));
        }
        if self.ring_memory > 1 << 30 {
            return Err(OpenError::InvalidConfig(
                "ring_memory must be at most 1 GiB",
            ));
        }
        if self.ring_block_timeout_ms == 0 {
            return Err(OpenError::InvalidConfig(
                "ring_block_timeout_ms must be at least 1",
            ));
        }
        if self.mac_filter && self.ethertype != Some(ETHERTYPE_L2NET) {
            return Err(OpenError::InvalidConfig(
                "mac_filter accepts only l2net frames: set ethertype to Some(0x88B5)",
            ));
        }
        Ok(name)
    }
}

/// Counters of a link. Kernel counters come from `PACKET_STATISTICS`, which the kernel resets
/// on every read; the link accumulates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LinkStats {
    /// Frames handed to the caller.
    pub rx_frames: u64,
    /// Of those, frames longer than the receive buffer (their views are truncated).
    pub rx_truncated: u64,
    /// Frames the kernel took for sending.
    pub tx_frames: u64,
    /// Filled transmit tokens not queued because the frame was too large for its tags.
    pub tx_rejected: u64,
    /// Frames the kernel passed the socket's filter (`tp_packets`).
    pub kernel_packets: u64,
    /// Frames the kernel dropped for lack of buffer or ring space (`tp_drops`).
    pub kernel_drops: u64,
    /// Times the receive ring was full (`tp_freeze_q_cnt`, ring backend only).
    pub kernel_ring_full: u64,
    /// Transmit stamps lost: failed reads of the error queue, or (ring) a request the kernel
    /// refused when the frame was kicked.
    pub tx_timestamp_errors: u64,
}

/// Classic BPF: accept frames whose EtherType after up to two in-band VLAN tags is `ethertype`
/// (the tag the kernel strips is not in the bytes the filter sees). This is the link's default
/// filter, for any EtherType and every destination; the core's generator
/// (`l2net_core::wire::bpf`, installed by [`crate::filter`]) adds a destination-MAC allow-list on
/// top and replaces this program when a caller installs it.
pub(crate) fn ethertype_filter(ethertype: u16) -> [libc::sock_filter; 12] {
    const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let e = u32::from(ethertype);
    let q = u32::from(TPID_8021Q);
    let ad = 0x88A8u32;
    [
        /* 0 */ op(LDH_ABS, 0, 0, 12),
        /* 1 */ op(JEQ_K, 9, 0, e), // -> 11 accept
        /* 2 */ op(JEQ_K, 1, 0, q), // -> 4
        /* 3 */ op(JEQ_K, 0, 6, ad), // -> 4, else -> 10 reject
        /* 4 */ op(LDH_ABS, 0, 0, 16),
        /* 5 */ op(JEQ_K, 5, 0, e), // -> 11 accept
        /* 6 */ op(JEQ_K, 1, 0, q), // -> 8
        /* 7 */ op(JEQ_K, 0, 2, ad), // -> 8, else -> 10 reject
        /* 8 */ op(LDH_ABS, 0, 0, 20),
        /* 9 */ op(JEQ_K, 1, 0, e), // -> 11 accept, else -> 10 reject
        /* 10 */ op(RET_K, 0, 0, 0),
        /* 11 */ op(RET_K, 0, 0, u32::MAX),
    ]
}

/// The kernel's size rule for a frame about to be queued (see the module docs).
pub(crate) fn check_frame(frame: &[u8], mtu: usize) -> Result<(), LinkError> {
    let plain_max = HEADER_LEN + mtu;
    if frame.len() <= plain_max {
        return Ok(());
    }
    let outer_q = frame.len() >= HEADER_LEN && frame[12..14] == TPID_8021Q.to_be_bytes();
    if outer_q && frame.len() <= plain_max + 4 {
        Ok(())
    } else {
        Err(LinkError::TooLarge {
            len: frame.len(),
            max: plain_max,
        })
    }
}

/// RxMeta from a `tp_status` word and the VLAN fields the kernel reported with it.
pub(crate) fn rx_meta(
    status: u32,
    vlan_tci: u16,
    vlan_tpid: u16,
    wire_len: usize,
    held: usize,
) -> RxMeta {
    let mut meta = RxMeta::new(wire_len);
    if status & sock::TP_STATUS_VLAN_VALID != 0 {
        let tpid = if status & sock::TP_STATUS_VLAN_TPID_VALID != 0 {
            vlan_tpid
        } else {
            TPID_8021Q
        };
        meta.stripped_vlan = Some(l2net_core::wire::VlanTag {
            tpid,
            tci: l2net_core::wire::Tci(vlan_tci),
        });
    }
    meta.truncated = wire_len > held;
    meta
}

/// The receive buffer length a link on `cfg.interface` needs, from the interface's MTU.
pub(crate) fn rx_len_for(cfg: &LinkConfig) -> Result<usize, OpenError> {
    let name = cfg.validate()?;
    let q = crate::sys::ioctl::query_socket().map_err(|e| OpenError::os("socket", &e))?;
    let mtu = crate::sys::ioctl::if_mtu(q.as_fd(), &name).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) => OpenError::NoSuchInterface(name),
        _ => OpenError::os("SIOCGIFMTU", &e),
    })?;
    Ok(HEADER_LEN + 8 + mtu as usize)
}

/// The packet socket every backend is built on: its descriptor, the interface it is bound to
/// and its counters.
#[derive(Debug)]
pub(crate) struct PacketSocket {
    pub fd: OwnedFd,
    pub info: InterfaceInfo,
    pub stats: LinkStats,
    /// [`LinkConfig::mac_filter`] is on.
    mac_filter: bool,
    /// Multicast groups joined through this socket, once per join (the kernel counts
    /// memberships the same way).
    groups: Vec<MacAddr>,
    /// What [`LinkConfig::timestamps`] turned on.
    pub ts: Option<Enabled>,
}

/// `PACKET_TIMESTAMP` (`linux/if_packet.h`): which stamp the rings report.
const PACKET_TIMESTAMP: libc::c_int = 17;

/// Status word, TCI and TPID of the `PACKET_AUXDATA` message in received control bytes.
pub(crate) fn auxdata(control: &[u8]) -> Option<(u32, u16, u16)> {
    let m = timestamp::cmsgs(control)
        .find(|m| m.level == libc::SOL_PACKET && m.kind == sock::PACKET_AUXDATA)?;
    let d = m.data;
    let u16_at = |at: usize| Some(u16::from_ne_bytes(d.get(at..at + 2)?.try_into().ok()?));
    let status = u32::from_ne_bytes(d.get(0..4)?.try_into().ok()?);
    Some((status, u16_at(16)?, u16_at(18)?))
}

fn timestamp_open_error(e: TimestampError) -> OpenError {
    match e {
        TimestampError::NoHardwareSupport => {
            OpenError::Unsupported("hardware timestamps on this interface")
        }
        TimestampError::Os { op, errno } => OpenError::OptionRefused { option: op, errno },
        _ => OpenError::Unsupported("transmit timestamp ids on this architecture"),
    }
}

/// The core's l2net program for `own` and `groups` (duplicates removed), or `None` if there
/// are more addresses than one program can match.
fn mac_program(own: MacAddr, groups: &[MacAddr]) -> Option<Vec<crate::filter::Insn>> {
    use l2net_core::wire::bpf::{MAX_MACS, filter_len, l2net_filter};
    let mut macs = Vec::with_capacity(groups.len() + 1);
    macs.push(own);
    for g in groups {
        if !macs.contains(g) {
            macs.push(*g);
        }
    }
    if macs.len() > MAX_MACS {
        return None;
    }
    let mut prog = vec![crate::filter::Insn::default(); filter_len(macs.len())];
    let n = l2net_filter(&macs, u32::MAX, &mut prog).ok()?;
    prog.truncate(n);
    Some(prog)
}

fn refused(option: &'static str) -> impl Fn(io::Error) -> OpenError {
    move |e| OpenError::OptionRefused {
        option,
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    }
}

fn set_buffer(
    fd: BorrowedFd<'_>,
    size: usize,
    normal: libc::c_int,
    force: libc::c_int,
    option: &'static str,
) -> Result<(), OpenError> {
    let want = size as libc::c_int;
    sock::set_int(fd, libc::SOL_SOCKET, normal, want).map_err(refused(option))?;
    // The kernel doubles the value for bookkeeping and caps it at [rw]mem_max silently; read it
    // back and force it (CAP_NET_ADMIN) if it was capped.
    let got = sock::get_int(fd, libc::SOL_SOCKET, normal).map_err(refused(option))?;
    if got / 2 < want {
        sock::set_int(fd, libc::SOL_SOCKET, force, want).map_err(refused(option))?;
    }
    Ok(())
}

impl PacketSocket {
    /// Open an unbound packet socket for `cfg` and apply every option that must precede the
    /// bind. The caller sets up rings (if any) and then calls [`PacketSocket::bind`].
    pub(crate) fn open(cfg: &LinkConfig) -> Result<PacketSocket, OpenError> {
        let name = cfg.validate()?;
        let fd = sock::packet_socket().map_err(|e| match e.raw_os_error() {
            Some(errno @ (libc::EPERM | libc::EACCES)) => OpenError::NeedsCapNetRaw { errno },
            _ => OpenError::os("socket(AF_PACKET)", &e),
        })?;
        let info = iface::query_on(fd.as_fd(), &name)?;
        if !info.is_ethernet() {
            return Err(OpenError::NotEthernet {
                name,
                hw_type: info.hw_type,
            });
        }
        let f = fd.as_fd();
        sock::set_int(f, sock::SOL_PACKET, sock::PACKET_AUXDATA, 1)
            .map_err(refused("PACKET_AUXDATA"))?;
        if cfg.ignore_outgoing {
            sock::set_int(f, sock::SOL_PACKET, sock::PACKET_IGNORE_OUTGOING, 1)
                .map_err(refused("PACKET_IGNORE_OUTGOING"))?;
        }
        if cfg.qdisc_bypass {
            sock::set_int(f, sock::SOL_PACKET, sock::PACKET_QDISC_BYPASS, 1)
                .map_err(refused("PACKET_QDISC_BYPASS"))?;
        }
        if let Some(n) = cfg.rcvbuf {
            set_buffer(f, n, libc::SO_RCVBUF, libc::SO_RCVBUFFORCE, "SO_RCVBUF")?;
        }
        if let Some(n) = cfg.sndbuf {
            set_buffer(f, n, libc::SO_SNDBUF, libc::SO_SNDBUFFORCE, "SO_SNDBUF")?;
        }
        if let Some(us) = cfg.busy_poll_us {
            sock::set_int(f, libc::SOL_SOCKET, libc::SO_BUSY_POLL, us as libc::c_int)
                .map_err(refused("SO_BUSY_POLL"))?;
        }
        let ts = match cfg.timestamps {
            Some(mode) => {
                let on = timestamp::enable(f, name.as_str(), mode).map_err(timestamp_open_error)?;
                if on.rx == TimestampSource::Hardware {
                    // The receive ring reports the NIC's raw stamp instead of the software one.
                    sock::set_int(
                        f,
                        sock::SOL_PACKET,
                        PACKET_TIMESTAMP,
                        libc::SOF_TIMESTAMPING_RAW_HARDWARE as libc::c_int,
                    )
                    .map_err(refused("PACKET_TIMESTAMP"))?;
                }
                Some(on)
            }
            None => None,
        };
        if cfg.mac_filter {
            // The socket is not bound yet, so nothing is queued and install's drain is empty.
            crate::filter::install_l2net(f, &[info.mac], u32::MAX, false).map_err(|e| {
                OpenError::OptionRefused {
                    option: "SO_ATTACH_FILTER",
                    errno: filter_errno(e),
                }
            })?;
        } else if let Some(et) = cfg.ethertype {
            sock::attach_filter(f, &ethertype_filter(et)).map_err(refused("SO_ATTACH_FILTER"))?;
        }
        Ok(PacketSocket {
            fd,
            info,
            stats: LinkStats::default(),
            mac_filter: cfg.mac_filter,
            groups: Vec::new(),
            ts,
        })
    }

    /// Bind to the interface (`ETH_P_ALL`, see the module docs) and join the fanout group.
    pub(crate) fn bind(&self, cfg: &LinkConfig) -> Result<(), OpenError> {
        sock::bind(self.fd.as_fd(), self.info.index, sock::ETH_P_ALL).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::ENODEV) => OpenError::NoSuchInterface(self.info.name),
                _ => OpenError::os("bind(AF_PACKET)", &e),
            }
        })?;
        if let Some(fanout) = cfg.fanout {
            let mode = match fanout.mode {
                FanoutMode::Hash => sock::PACKET_FANOUT_HASH,
                FanoutMode::LoadBalance => sock::PACKET_FANOUT_LB,
                FanoutMode::Cpu => sock::PACKET_FANOUT_CPU,
                FanoutMode::Rollover => sock::PACKET_FANOUT_ROLLOVER,
                FanoutMode::Random => sock::PACKET_FANOUT_RND,
                FanoutMode::QueueMapping => sock::PACKET_FANOUT_QM,
            };
            let arg = (u32::from(mode) << 16) | u32::from(fanout.group);
            sock::set_int(
                self.fd.as_fd(),
                sock::SOL_PACKET,
                sock::PACKET_FANOUT,
                arg as libc::c_int,
            )
            .map_err(refused("PACKET_FANOUT"))?;
        }
        Ok(())
    }

    /// Largest frame a transmit token may have (one 802.1Q tag over the MTU).
    pub(crate) fn max_tx_len(&self) -> usize {
        HEADER_LEN + 4 + self.info.mtu as usize
    }

    /// Receive buffer size: the MTU plus the header and two in-band tags.
    pub(crate) fn rx_len(&self) -> usize {
        HEADER_LEN + 8 + self.info.mtu as usize
    }

    pub(crate) fn mtu(&self) -> usize {
        self.info.mtu as usize
    }

    /// Map an errno of an I/O call onto [`LinkError`], telling a removed interface
    /// ([`LinkError::Gone`]) from one that is down.
    pub(crate) fn error(&self, op: &'static str, errno: i32) -> LinkError {
        match link_error(op, errno) {
            LinkError::Down if !iface::index_exists(self.fd.as_fd(), self.info.index) => {
                LinkError::Gone
            }
            e => e,
        }
    }

    pub(crate) fn multicast(&mut self, mac: MacAddr, join: bool) -> Result<(), LinkError> {
        if !mac.is_multicast() {
            return Err(LinkError::Unsupported(
                "multicast membership needs a group address",
            ));
        }
        let op = if join {
            "PACKET_ADD_MEMBERSHIP"
        } else {
            "PACKET_DROP_MEMBERSHIP"
        };
        if !self.mac_filter {
            return sock::membership(self.fd.as_fd(), self.info.index, mac.octets(), join)
                .map_err(|e| self.error(op, crate::sys::errno(&e)));
        }
        let mut groups = self.groups.clone();
        if join {
            groups.push(mac);
        } else {
            match groups.iter().position(|g| *g == mac) {
                Some(i) => {
                    groups.remove(i);
                }
                // Not joined through this link: nothing to leave (the kernel, too, accepts
                // PACKET_DROP_MEMBERSHIP of a group the socket is not in).
                None => return Ok(()),
            }
        }
        let prog = mac_program(self.info.mac, &groups).ok_or(LinkError::Unsupported(
            "more than 63 multicast groups on a link with mac_filter",
        ))?;
        // Join: membership first, then widen the filter. Leave: narrow the filter first, then
        // drop the membership. Either way the filter never admits a group the kernel does not
        // deliver, and a failure is undone.
        if join {
            sock::membership(self.fd.as_fd(), self.info.index, mac.octets(), true)
                .map_err(|e| self.error(op, crate::sys::errno(&e)))?;
        }
        if let Err(e) = crate::filter::attach(self.fd.as_fd(), &prog) {
            if join {
                let _ = sock::membership(self.fd.as_fd(), self.info.index, mac.octets(), false);
            }
            return Err(self.error("SO_ATTACH_FILTER", filter_errno(e)));
        }
        if !join
            && let Err(e) = sock::membership(self.fd.as_fd(), self.info.index, mac.octets(), false)
        {
            let errno = crate::sys::errno(&e);
            if let Some(old) = mac_program(self.info.mac, &self.groups) {
                let _ = crate::filter::attach(self.fd.as_fd(), &old);
            }
            return Err(self.error(op, errno));
        }
        self.groups = groups;
        Ok(())
    }

    /// Fold the kernel's counters (reset by the read) into ours and return them.
    pub(crate) fn stats(&mut self) -> Result<LinkStats, LinkError> {
        let st = sock::packet_stats(self.fd.as_fd())
            .map_err(|e| self.error("PACKET_STATISTICS", crate::sys::errno(&e)))?;
        self.stats.kernel_packets += u64::from(st.tp_packets);
        self.stats.kernel_drops += u64::from(st.tp_drops);
        self.stats.kernel_ring_full += u64::from(st.tp_freeze_q_cnt);
        Ok(self.stats)
    }

    pub(crate) fn wait(
        &self,
        events: libc::c_short,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        sock::poll(self.fd.as_fd(), events, timeout)
    }

    pub(crate) fn capabilities(&self, max_burst: usize) -> Capabilities {
        let mut caps = Capabilities::new(self.mtu());
        caps.max_burst = max_burst;
        caps.vlan.rx_strip = true;
        caps.timestamps = self.timestamp_caps(false);
        caps
    }

    /// Timestamps in force: receive stamps when on, transmit stamps too when the backend
    /// sends them (`tx`).
    pub(crate) fn timestamp_caps(&self, tx: bool) -> TimestampCaps {
        let mut caps = TimestampCaps::default();
        if let Some(on) = self.ts {
            let hw = on.rx == TimestampSource::Hardware;
            caps.rx_hardware = hw;
            caps.rx_software = !hw;
            if tx {
                caps.tx_hardware = on.tx == TimestampSource::Hardware;
                caps.tx_software = on.tx != TimestampSource::Hardware;
            }
        }
        caps
    }

    /// Whether transmit stamps are taken by the NIC (for the per-frame request).
    pub(crate) fn tx_hardware(&self) -> bool {
        self.ts.is_some_and(|on| on.tx == TimestampSource::Hardware)
    }

    /// The next transmit timestamp from the error queue, if timestamps are on and one is
    /// waiting. Errors reading the queue are counted ([`LinkStats::tx_timestamp_errors`]).
    pub(crate) fn poll_tx_timestamp(&mut self, control: &mut [u8]) -> Option<TxTimestamp> {
        self.ts?;
        match timestamp::read_tx_timestamp(self.fd.as_fd(), control) {
            Ok(t) => t,
            Err(_) => {
                self.stats.tx_timestamp_errors += 1;
                None
            }
        }
    }
}

/// Which backend [`LinuxLink::open`] picked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The backend in use.
    pub backend: Backend,
    /// Why: the request, or the probe results that led to the choice.
    pub reason: String,
}

impl Selection {
    fn new(backend: Backend, reason: String) -> Self {
        Selection { backend, reason }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.backend, self.reason)
    }
}

/// A link on any backend, chosen by [`LinkConfig::backend`].
// A link lives as long as the program uses the interface; boxing the larger variants would put
// an indirection on every call for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum LinuxLink {
    /// [`Backend::Ring`].
    Ring(RingLink),
    /// [`Backend::FrameRing`].
    FrameRing(FrameRingLink),
    /// [`Backend::Uring`].
    Uring(UringLink),
    /// [`Backend::Mmsg`].
    Mmsg(MmsgLink),
    /// [`Backend::Plain`].
    Plain(PlainLink),
}

impl LinuxLink {
    /// Open a link with the configured backend. [`Backend::Auto`] tries, in order, the ring
    /// (zero-copy both ways, no system call per frame), io_uring (no system call per frame, but
    /// the kernel copies into provided buffers), mmsg (one system call per batch), then plain,
    /// and takes the first one the kernel accepts; the [`Selection`] says which and why. It
    /// never takes [`Backend::FrameRing`], which trades throughput for latency (a wake-up per
    /// frame: see `docs/BENCHMARKS.md`) and must be asked for. Errors
    /// that no backend can avoid (no such interface, missing privileges, an option the kernel
    /// refuses) are returned at once.
    pub fn open(cfg: &LinkConfig) -> Result<(LinuxLink, Selection), OpenError> {
        match cfg.backend {
            Backend::Ring => Ok((
                LinuxLink::Ring(RingLink::open(cfg)?),
                Selection {
                    backend: Backend::Ring,
                    reason: "requested".into(),
                },
            )),
            Backend::FrameRing => Ok((
                LinuxLink::FrameRing(FrameRingLink::open(cfg)?),
                Selection {
                    backend: Backend::FrameRing,
                    reason: "requested".into(),
                },
            )),
            Backend::Mmsg => Ok((
                LinuxLink::Mmsg(MmsgLink::open(cfg)?),
                Selection {
                    backend: Backend::Mmsg,
                    reason: "requested".into(),
                },
            )),
            Backend::Plain => Ok((
                LinuxLink::Plain(PlainLink::open(cfg)?),
                Selection {
                    backend: Backend::Plain,
                    reason: "requested".into(),
                },
            )),
            Backend::Uring => Ok((
                LinuxLink::Uring(UringLink::open(cfg)?),
                Selection {
                    backend: Backend::Uring,
                    reason: "requested".into(),
                },
            )),
            Backend::Auto => {
                let ring_err = match RingLink::open(cfg) {
                    Ok(link) => {
                        let reason = format!(
                            "auto: TPACKET_V3 rings accepted ({} KiB RX, {} KiB TX)",
                            link.rx_ring_bytes() >> 10,
                            link.tx_ring_bytes() >> 10
                        );
                        return Ok((LinuxLink::Ring(link), Selection::new(Backend::Ring, reason)));
                    }
                    Err(e) if fatal_for_all(&e) => return Err(e),
                    Err(e) => e,
                };
                let uring_err = match UringLink::open(cfg) {
                    Ok(link) => {
                        let reason = format!("auto: ring refused ({ring_err}); io_uring accepted");
                        return Ok((
                            LinuxLink::Uring(link),
                            Selection::new(Backend::Uring, reason),
                        ));
                    }
                    Err(e) if fatal_for_all(&e) => return Err(e),
                    Err(e) => e,
                };
                let mmsg_err = match MmsgLink::open(cfg) {
                    Ok(link) => {
                        let reason = format!(
                            "auto: ring refused ({ring_err}), io_uring refused ({uring_err}); \
                             recvmmsg/sendmmsg"
                        );
                        return Ok((LinuxLink::Mmsg(link), Selection::new(Backend::Mmsg, reason)));
                    }
                    Err(e) if fatal_for_all(&e) => return Err(e),
                    Err(e) => e,
                };
                let reason = format!(
                    "auto: ring refused ({ring_err}), io_uring refused ({uring_err}), mmsg \
                     refused ({mmsg_err})"
                );
                Ok((
                    LinuxLink::Plain(PlainLink::open(cfg)?),
                    Selection::new(Backend::Plain, reason),
                ))
            }
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match self {
            LinuxLink::Ring(_) => Backend::Ring,
            LinuxLink::FrameRing(_) => Backend::FrameRing,
            LinuxLink::Uring(_) => Backend::Uring,
            LinuxLink::Mmsg(_) => Backend::Mmsg,
            LinuxLink::Plain(_) => Backend::Plain,
        }
    }

    /// The interface as it was when the link opened.
    pub fn interface(&self) -> &InterfaceInfo {
        match self {
            LinuxLink::Ring(l) => l.interface(),
            LinuxLink::FrameRing(l) => l.interface(),
            LinuxLink::Uring(l) => l.interface(),
            LinuxLink::Mmsg(l) => l.interface(),
            LinuxLink::Plain(l) => l.interface(),
        }
    }

    /// Counters (reads and folds in the kernel's `PACKET_STATISTICS`).
    pub fn stats(&mut self) -> Result<LinkStats, LinkError> {
        match self {
            LinuxLink::Ring(l) => l.stats(),
            LinuxLink::FrameRing(l) => l.stats(),
            LinuxLink::Uring(l) => l.stats(),
            LinuxLink::Mmsg(l) => l.stats(),
            LinuxLink::Plain(l) => l.stats(),
        }
    }

    /// Sleep until a frame may be waiting or `timeout` passes (`None`: forever). Returns
    /// whether the link became readable.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        match self {
            LinuxLink::Ring(l) => l.wait_readable(timeout),
            LinuxLink::FrameRing(l) => l.wait_readable(timeout),
            LinuxLink::Uring(l) => l.wait_readable(timeout),
            LinuxLink::Mmsg(l) => l.wait_readable(timeout),
            LinuxLink::Plain(l) => l.wait_readable(timeout),
        }
    }

    /// Sleep until the link can take frames again (after a flush left some pending) or
    /// `timeout` passes (`None`: forever).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        match self {
            LinuxLink::Ring(l) => l.wait_writable(timeout),
            LinuxLink::FrameRing(l) => l.wait_writable(timeout),
            LinuxLink::Uring(l) => l.wait_writable(timeout),
            LinuxLink::Mmsg(l) => l.wait_writable(timeout),
            LinuxLink::Plain(l) => l.wait_writable(timeout),
        }
    }
}

/// The errno behind a filter error.
fn filter_errno(e: crate::filter::FilterError) -> i32 {
    use crate::filter::FilterError;
    match e {
        FilterError::Os { errno, .. } => errno,
        FilterError::Locked => libc::EPERM,
        FilterError::Rejected | FilterError::BadLength { .. } => libc::EINVAL,
    }
}

/// Errors that the next backend would hit as well.
fn fatal_for_all(e: &OpenError) -> bool {
    matches!(
        e,
        OpenError::InvalidName
            | OpenError::NoSuchInterface(_)
            | OpenError::NotEthernet { .. }
            | OpenError::NeedsCapNetRaw { .. }
            | OpenError::InvalidConfig(_)
    ) || matches!(e, OpenError::OptionRefused { option, .. }
        if !matches!(*option, "PACKET_RX_RING" | "PACKET_TX_RING" | "PACKET_VERSION" | "mmap"))
}

impl AsFd for LinuxLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            LinuxLink::Ring(l) => l.as_fd(),
            LinuxLink::FrameRing(l) => l.as_fd(),
            LinuxLink::Uring(l) => l.as_fd(),
            LinuxLink::Mmsg(l) => l.as_fd(),
            LinuxLink::Plain(l) => l.as_fd(),
        }
    }
}

impl std::os::fd::AsRawFd for LinuxLink {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Receive view of a [`LinuxLink`].
#[derive(Debug)]
pub enum LinuxRx<'a> {
    /// From the ring backend.
    Ring(<RingLink as RawLink>::Rx<'a>),
    /// From the frame-ring backend.
    FrameRing(<FrameRingLink as RawLink>::Rx<'a>),
    /// From the io_uring backend.
    Uring(<UringLink as RawLink>::Rx<'a>),
    /// From the mmsg backend.
    Mmsg(<MmsgLink as RawLink>::Rx<'a>),
    /// From the plain backend.
    Plain(<PlainLink as RawLink>::Rx<'a>),
}

impl RxFrame for LinuxRx<'_> {
    fn data(&self) -> &[u8] {
        match self {
            LinuxRx::Ring(f) => f.data(),
            LinuxRx::FrameRing(f) => f.data(),
            LinuxRx::Uring(f) => f.data(),
            LinuxRx::Mmsg(f) => f.data(),
            LinuxRx::Plain(f) => f.data(),
        }
    }
    fn meta(&self) -> RxMeta {
        match self {
            LinuxRx::Ring(f) => f.meta(),
            LinuxRx::FrameRing(f) => f.meta(),
            LinuxRx::Uring(f) => f.meta(),
            LinuxRx::Mmsg(f) => f.meta(),
            LinuxRx::Plain(f) => f.meta(),
        }
    }
}

/// Transmit token of a [`LinuxLink`].
#[derive(Debug)]
pub enum LinuxTx<'a> {
    /// From the ring backend.
    Ring(<RingLink as RawLink>::Tx<'a>),
    /// From the frame-ring backend.
    FrameRing(<FrameRingLink as RawLink>::Tx<'a>),
    /// From the io_uring backend.
    Uring(<UringLink as RawLink>::Tx<'a>),
    /// From the mmsg backend.
    Mmsg(<MmsgLink as RawLink>::Tx<'a>),
    /// From the plain backend.
    Plain(<PlainLink as RawLink>::Tx<'a>),
}

impl TxToken for LinuxTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        match self {
            LinuxTx::Ring(t) => t.consume(f),
            LinuxTx::FrameRing(t) => t.consume(f),
            LinuxTx::Uring(t) => t.consume(f),
            LinuxTx::Mmsg(t) => t.consume(f),
            LinuxTx::Plain(t) => t.consume(f),
        }
    }

    fn request_timestamp(&mut self, id: u32) -> Result<(), LinkError> {
        match self {
            LinuxTx::Ring(t) => t.request_timestamp(id),
            LinuxTx::FrameRing(t) => t.request_timestamp(id),
            LinuxTx::Uring(t) => t.request_timestamp(id),
            LinuxTx::Mmsg(t) => t.request_timestamp(id),
            LinuxTx::Plain(t) => t.request_timestamp(id),
        }
    }
}

impl RawLink for LinuxLink {
    type Rx<'a> = LinuxRx<'a>;
    type Tx<'a> = LinuxTx<'a>;

    fn capabilities(&self) -> Capabilities {
        match self {
            LinuxLink::Ring(l) => l.capabilities(),
            LinuxLink::FrameRing(l) => l.capabilities(),
            LinuxLink::Uring(l) => l.capabilities(),
            LinuxLink::Mmsg(l) => l.capabilities(),
            LinuxLink::Plain(l) => l.capabilities(),
        }
    }

    fn mac(&self) -> MacAddr {
        self.interface().mac
    }

    fn receive(&mut self, now: Instant) -> Result<Option<LinuxRx<'_>>, LinkError> {
        Ok(match self {
            LinuxLink::Ring(l) => l.receive(now)?.map(LinuxRx::Ring),
            LinuxLink::FrameRing(l) => l.receive(now)?.map(LinuxRx::FrameRing),
            LinuxLink::Uring(l) => l.receive(now)?.map(LinuxRx::Uring),
            LinuxLink::Mmsg(l) => l.receive(now)?.map(LinuxRx::Mmsg),
            LinuxLink::Plain(l) => l.receive(now)?.map(LinuxRx::Plain),
        })
    }

    fn transmit(&mut self, now: Instant, len: usize) -> Result<Option<LinuxTx<'_>>, LinkError> {
        Ok(match self {
            LinuxLink::Ring(l) => l.transmit(now, len)?.map(LinuxTx::Ring),
            LinuxLink::FrameRing(l) => l.transmit(now, len)?.map(LinuxTx::FrameRing),
            LinuxLink::Uring(l) => l.transmit(now, len)?.map(LinuxTx::Uring),
            LinuxLink::Mmsg(l) => l.transmit(now, len)?.map(LinuxTx::Mmsg),
            LinuxLink::Plain(l) => l.transmit(now, len)?.map(LinuxTx::Plain),
        })
    }

    fn flush(&mut self, now: Instant) -> Result<FlushStatus, LinkError> {
        match self {
            LinuxLink::Ring(l) => l.flush(now),
            LinuxLink::FrameRing(l) => l.flush(now),
            LinuxLink::Uring(l) => l.flush(now),
            LinuxLink::Mmsg(l) => l.flush(now),
            LinuxLink::Plain(l) => l.flush(now),
        }
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        match self {
            LinuxLink::Ring(l) => l.join_multicast(mac),
            LinuxLink::FrameRing(l) => l.join_multicast(mac),
            LinuxLink::Uring(l) => l.join_multicast(mac),
            LinuxLink::Mmsg(l) => l.join_multicast(mac),
            LinuxLink::Plain(l) => l.join_multicast(mac),
        }
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        match self {
            LinuxLink::Ring(l) => l.leave_multicast(mac),
            LinuxLink::FrameRing(l) => l.leave_multicast(mac),
            LinuxLink::Uring(l) => l.leave_multicast(mac),
            LinuxLink::Mmsg(l) => l.leave_multicast(mac),
            LinuxLink::Plain(l) => l.leave_multicast(mac),
        }
    }

    fn poll_tx_timestamp(&mut self) -> Option<TxTimestamp> {
        match self {
            LinuxLink::Ring(l) => l.poll_tx_timestamp(),
            LinuxLink::FrameRing(l) => l.poll_tx_timestamp(),
            LinuxLink::Uring(l) => l.poll_tx_timestamp(),
            LinuxLink::Mmsg(l) => l.poll_tx_timestamp(),
            LinuxLink::Plain(l) => l.poll_tx_timestamp(),
        }
    }

    fn rx_maybe_pending(&self) -> bool {
        match self {
            LinuxLink::Ring(l) => l.rx_maybe_pending(),
            LinuxLink::FrameRing(l) => l.rx_maybe_pending(),
            LinuxLink::Uring(l) => l.rx_maybe_pending(),
            LinuxLink::Mmsg(l) => l.rx_maybe_pending(),
            LinuxLink::Plain(l) => l.rx_maybe_pending(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for b in [
            Backend::Auto,
            Backend::Ring,
            Backend::FrameRing,
            Backend::Uring,
            Backend::Mmsg,
            Backend::Plain,
        ] {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
            assert_eq!(b.to_string(), b.name());
        }
        assert_eq!("xdp".parse::<Backend>(), Err(UnknownBackend));
    }

    #[test]
    fn config_is_validated() {
        let mut c = LinkConfig::new("veth0");
        assert!(c.validate().is_ok());
        c.tx_slots = 0;
        assert!(matches!(c.validate(), Err(OpenError::InvalidConfig(_))));
        let c = LinkConfig::new("bad name");
        assert_eq!(c.validate(), Err(OpenError::InvalidName));
    }

    #[test]
    fn frame_size_rule() {
        let mut f = vec![0u8; 14 + 1500];
        assert!(check_frame(&f, 1500).is_ok());
        f.extend_from_slice(&[0; 4]);
        assert_eq!(
            check_frame(&f, 1500),
            Err(LinkError::TooLarge {
                len: 1518,
                max: 1514
            })
        );
        f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        assert!(check_frame(&f, 1500).is_ok());
        f[12..14].copy_from_slice(&0x88A8u16.to_be_bytes());
        assert!(check_frame(&f, 1500).is_err());
        f.extend_from_slice(&[0; 4]);
        f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        assert!(check_frame(&f, 1500).is_err());
    }

    /// Run the filter program in a tiny interpreter over hand-made frames.
    fn run(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
        let mut pc = 0;
        let mut a = 0u32;
        loop {
            let i = prog[pc];
            match i.code {
                0x28 => {
                    let k = i.k as usize;
                    if k + 2 > pkt.len() {
                        return 0;
                    }
                    a = u32::from(u16::from_be_bytes([pkt[k], pkt[k + 1]]));
                    pc += 1;
                }
                0x15 => pc += 1 + usize::from(if a == i.k { i.jt } else { i.jf }),
                0x06 => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn ethertype_filter_accepts_l2net_behind_up_to_two_tags() {
        let prog = ethertype_filter(0x88B5);
        let frame = |types: &[u16]| {
            let mut f = vec![0u8; 12];
            for (i, t) in types.iter().enumerate() {
                f.extend_from_slice(&t.to_be_bytes());
                if i + 1 < types.len() {
                    f.extend_from_slice(&[0x20, 0x05]);
                }
            }
            f.extend_from_slice(&[0; 32]);
            f
        };
        assert_eq!(run(&prog, &frame(&[0x88B5])), u32::MAX);
        assert_eq!(run(&prog, &frame(&[0x8100, 0x88B5])), u32::MAX);
        assert_eq!(run(&prog, &frame(&[0x88A8, 0x88B5])), u32::MAX);
        assert_eq!(run(&prog, &frame(&[0x88A8, 0x8100, 0x88B5])), u32::MAX);
        assert_eq!(run(&prog, &frame(&[0x0800])), 0);
        assert_eq!(run(&prog, &frame(&[0x8100, 0x0800])), 0);
        assert_eq!(run(&prog, &frame(&[0x8100, 0x8100, 0x8100, 0x88B5])), 0);
        assert_eq!(run(&prog, &[0u8; 13]), 0);
    }
}
