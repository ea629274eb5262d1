//! Link-state monitor: interface up/down, carrier, MTU and removal events from rtnetlink.
//!
//! A [`LinkMonitor`] owns one `NETLINK_ROUTE` socket subscribed to `RTMGRP_LINK`. The kernel pushes
//! an `RTM_NEWLINK` message whenever anything about an interface changes and an `RTM_DELLINK` when
//! it goes away; each message carries the interface's whole state, not the change. The monitor
//! therefore keeps a snapshot of every interface (taken with an `RTM_GETLINK` dump when it is
//! created) and turns each message into the typed [`LinkChange`]s that differ from the snapshot.
//!
//! Nothing polls: [`LinkMonitor::next_event`] sleeps in `poll(2)` until the kernel sends something
//! or the timeout passes, and [`LinkMonitor::try_next_event`] never blocks, for callers that wait
//! on the monitor's file descriptor ([`AsFd`]) in their own event loop.
//!
//! If the kernel had to drop notifications because the socket's buffer was full (`ENOBUFS`), the
//! monitor takes a fresh dump and reports whatever differs from its snapshot, so a slow reader
//! still ends up with a correct picture (it may miss a flap that came and went in between).
//!
//! The socket belongs to the network namespace of the thread that created the monitor, and keeps
//! watching that namespace whichever thread uses it later.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::sys::netlink as sys;

/// Receive buffer: large enough for any rtnetlink datagram (dump parts are at most 32 KiB).
const RECV_BUF_LEN: usize = 64 * 1024;
/// Socket receive buffer we ask for, so bursts of changes do not overrun it.
const SOCKET_RCVBUF: usize = 1024 * 1024;
/// How long creating a monitor (and a resynchronisation) may wait for the kernel's dump.
const DUMP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a dump is retried when the kernel says the interface list changed while dumping.
const DUMP_RETRIES: u32 = 5;

/// Why a monitor operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorError {
    /// A system call failed; `errno` is the OS error number.
    Os {
        /// The call that failed, for example `"bind"`.
        op: &'static str,
        /// The OS error number.
        errno: i32,
    },
    /// The kernel answered the interface dump with an error (`errno`).
    Kernel {
        /// The error number the kernel returned.
        errno: i32,
    },
    /// No interface has the requested name or index (in the monitor's network namespace).
    NoSuchInterface,
    /// The interface name is empty or longer than `IFNAMSIZ - 1` (15) bytes.
    InvalidName,
    /// The kernel did not finish the interface dump in time.
    DumpTimeout,
    /// The interface list kept changing while the kernel dumped it.
    DumpInconsistent,
}

impl MonitorError {
    fn os(op: &'static str, err: &io::Error) -> Self {
        MonitorError::Os {
            op,
            errno: err.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

impl fmt::Display for MonitorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorError::Os { op, errno } => {
                write!(f, "{op} failed: {}", io::Error::from_raw_os_error(*errno))
            }
            MonitorError::Kernel { errno } => write!(
                f,
                "the kernel refused the interface dump: {}",
                io::Error::from_raw_os_error(*errno)
            ),
            MonitorError::NoSuchInterface => f.write_str("no such network interface"),
            MonitorError::InvalidName => f.write_str("interface names are 1 to 15 bytes long"),
            MonitorError::DumpTimeout => {
                f.write_str("the kernel did not finish the interface dump in time")
            }
            MonitorError::DumpInconsistent => {
                f.write_str("the interface list kept changing during the dump")
            }
        }
    }
}

impl std::error::Error for MonitorError {}

/// What the monitor knows about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkState {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Administratively up (`IFF_UP`, `ip link set ... up`).
    pub admin_up: bool,
    /// The lower layer is up: there is carrier and the device is running (`IFF_LOWER_UP`).
    pub carrier: bool,
    /// MTU in bytes.
    pub mtu: u32,
}

impl LinkState {
    /// True when frames can flow: administratively up and with carrier.
    pub fn is_usable(&self) -> bool {
        self.admin_up && self.carrier
    }

    fn from_message(msg: &LinkMessage) -> Option<Self> {
        let mut name = None;
        let mut mtu = None;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::Mtu(m) => mtu = Some(*m),
                _ => {}
            }
        }
        // A message without a name or MTU is not a full state report; RTM_NEWLINK always has
        // both, so such a message is malformed and ignored.
        Some(LinkState {
            index: msg.header.index,
            name: name?,
            admin_up: msg.header.flags.contains(LinkFlags::Up),
            carrier: msg.header.flags.contains(LinkFlags::LowerUp),
            mtu: mtu?,
        })
    }
}

/// One change to an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkChange {
    /// A new interface appeared (or moved into the monitor's namespace).
    Added,
    /// The interface was set administratively up.
    AdminUp,
    /// The interface was set administratively down.
    AdminDown,
    /// The lower layer came up (carrier gained; for veth: both ends are up).
    CarrierUp,
    /// The lower layer went down (carrier lost; for veth: the peer went down).
    CarrierDown,
    /// The MTU changed.
    Mtu {
        /// MTU before the change.
        old: u32,
        /// MTU after the change.
        new: u32,
    },
    /// The interface was renamed; the event's `name` is the new name.
    Renamed {
        /// The name before the change.
        old: String,
    },
    /// The interface was removed (or moved out of the monitor's namespace).
    Removed,
}

/// A change to one interface, with the interface's state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkEvent {
    /// Interface index.
    pub index: u32,
    /// Interface name (after the change; the last known name for [`LinkChange::Removed`]).
    pub name: String,
    /// What changed.
    pub change: LinkChange,
}

/// Which interfaces a monitor reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Index(u32),
}

/// An in-progress `RTM_GETLINK` dump.
struct Dump {
    seq: u32,
    /// The first dump, taken at creation: it fills the snapshot without reporting events.
    initial: bool,
    /// How many times this dump was restarted because it was interrupted.
    attempt: u32,
    /// Indices reported by the dump (or added by notifications while it ran).
    seen: HashSet<u32>,
    /// Indices removed by notifications while the dump ran: stale dump entries are ignored.
    deleted: HashSet<u32>,
    /// The kernel flagged the dump as interrupted by concurrent changes, or notifications were
    /// lost while it ran.
    interrupted: bool,
}

/// Reports link-state changes of one interface or of all. See the module docs.
pub struct LinkMonitor {
    socket: Socket,
    /// Our netlink port id: dump replies are addressed to it.
    port: u32,
    scope: Scope,
    links: HashMap<u32, LinkState>,
    pending: VecDeque<LinkEvent>,
    dump: Option<Dump>,
    next_seq: u32,
    buf: Vec<u8>,
    malformed: u64,
    overruns: u64,
}

impl fmt::Debug for LinkMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkMonitor")
            .field("scope", &self.scope)
            .field("links", &self.links.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl AsFd for LinkMonitor {
    /// The netlink socket: readable when [`LinkMonitor::try_next_event`] may have something.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl LinkMonitor {
    /// Monitor every interface of the calling thread's network namespace.
    pub fn all() -> Result<Self, MonitorError> {
        Self::open()
    }

    /// Monitor the interface called `name`.
    pub fn for_name(name: &str) -> Result<Self, MonitorError> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['\0', '/']) {
            return Err(MonitorError::InvalidName);
        }
        let mut monitor = Self::open()?;
        let index = monitor
            .links
            .values()
            .find(|l| l.name == name)
            .map(|l| l.index)
            .ok_or(MonitorError::NoSuchInterface)?;
        monitor.scope = Scope::Index(index);
        Ok(monitor)
    }

    /// Monitor the interface with index `index`.
    pub fn for_index(index: u32) -> Result<Self, MonitorError> {
        let mut monitor = Self::open()?;
        if !monitor.links.contains_key(&index) {
            return Err(MonitorError::NoSuchInterface);
        }
        monitor.scope = Scope::Index(index);
        Ok(monitor)
    }

    fn open() -> Result<Self, MonitorError> {
        let mut socket = Socket::new(NETLINK_ROUTE)
            .map_err(|e| MonitorError::os("socket(NETLINK_ROUTE)", &e))?;
        // Subscribe before dumping, so no change between the dump and the first event is lost.
        let groups = libc::RTMGRP_LINK as u32;
        socket
            .bind(&SocketAddr::new(0, groups))
            .map_err(|e| MonitorError::os("bind", &e))?;
        let mut addr = SocketAddr::new(0, 0);
        socket
            .get_address(&mut addr)
            .map_err(|e| MonitorError::os("getsockname", &e))?;
        // A larger buffer only lowers the odds of ENOBUFS (which is handled anyway), so a refusal
        // (the size is capped by net.core.rmem_max) is harmless.
        let _ = socket.set_rx_buf_sz(SOCKET_RCVBUF);
        socket
            .set_non_blocking(true)
            .map_err(|e| MonitorError::os("fcntl(O_NONBLOCK)", &e))?;
        let mut monitor = LinkMonitor {
            socket,
            port: addr.port_number(),
            scope: Scope::All,
            links: HashMap::new(),
            pending: VecDeque::new(),
            dump: None,
            next_seq: 1,
            buf: vec![0; RECV_BUF_LEN],
            malformed: 0,
            overruns: 0,
        };
        monitor.start_dump(true, 0)?;
        let deadline = std::time::Instant::now() + DUMP_TIMEOUT;
        while monitor.dump.is_some() {
            if !monitor.read_datagram()? {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero()
                    || !sys::wait_readable(monitor.socket.as_fd(), Some(left))
                        .map_err(|e| MonitorError::os("poll", &e))?
                {
                    return Err(MonitorError::DumpTimeout);
                }
            }
        }
        Ok(monitor)
    }

    /// The last known state of interface `index` (any interface of the namespace, whatever the
    /// scope), as of the last event read. `None` if there is no such interface.
    pub fn state(&self, index: u32) -> Option<&LinkState> {
        self.links.get(&index)
    }

    /// The index of the monitored interface, or `None` when monitoring all interfaces.
    pub fn index(&self) -> Option<u32> {
        match self.scope {
            Scope::All => None,
            Scope::Index(i) => Some(i),
        }
    }

    /// Every known interface of the namespace, whatever the scope.
    pub fn links(&self) -> impl Iterator<Item = &LinkState> {
        self.links.values()
    }

    /// Netlink messages that could not be parsed and were skipped.
    pub fn malformed_messages(&self) -> u64 {
        self.malformed
    }

    /// How often the kernel dropped notifications (`ENOBUFS`) and the monitor resynchronised.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Wait for the next event, at most `timeout` (`None`: as long as it takes). `Ok(None)` means
    /// the timeout passed without an event.
    pub fn next_event(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<LinkEvent>, MonitorError> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if let Some(ev) = self.try_next_event()? {
                return Ok(Some(ev));
            }
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
            if !sys::wait_readable(self.socket.as_fd(), left)
                .map_err(|e| MonitorError::os("poll", &e))?
            {
                return Ok(None);
            }
        }
    }

    /// The next event if one has arrived; never blocks. Call it until it returns `Ok(None)` each
    /// time the monitor's file descriptor becomes readable.
    pub fn try_next_event(&mut self) -> Result<Option<LinkEvent>, MonitorError> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(Some(ev));
            }
            if !self.read_datagram()? {
                return Ok(None);
            }
        }
    }

    fn start_dump(&mut self, initial: bool, attempt: u32) -> Result<(), MonitorError> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(
            header,
            NetlinkPayload::from(RouteNetlinkMessage::GetLink(LinkMessage::default())),
        );
        packet.finalize();
        let mut req = [0u8; 64];
        let len = packet.buffer_len();
        // An empty RTM_GETLINK is 32 bytes; the check keeps `serialize` from ever panicking.
        let req = req.get_mut(..len).ok_or(MonitorError::Os {
            op: "RTM_GETLINK",
            errno: libc::EMSGSIZE,
        })?;
        packet.serialize(req);
        let kernel = SocketAddr::new(0, 0);
        self.socket
            .send_to(req, &kernel, 0)
            .map_err(|e| MonitorError::os("sendto(RTM_GETLINK)", &e))?;
        self.dump = Some(Dump {
            seq,
            initial,
            attempt,
            seen: HashSet::new(),
            deleted: HashSet::new(),
            interrupted: false,
        });
        Ok(())
    }

    /// Read and process one datagram. `Ok(false)`: nothing was waiting.
    fn read_datagram(&mut self) -> Result<bool, MonitorError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.read_into(&mut buf);
        self.buf = buf;
        result
    }

    fn read_into(&mut self, buf: &mut [u8]) -> Result<bool, MonitorError> {
        let (n, from) = match self.socket.recv_from(&mut &mut buf[..], libc::MSG_TRUNC) {
            Ok(r) => r,
            Err(e) => {
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(false),
                    Some(libc::EINTR) => Ok(true),
                    Some(libc::ENOBUFS) => {
                        // The kernel dropped notifications: resynchronise from a fresh dump.
                        self.overruns += 1;
                        match &mut self.dump {
                            Some(dump) => dump.interrupted = true,
                            None => self.start_dump(false, 0)?,
                        }
                        Ok(true)
                    }
                    _ => Err(MonitorError::os("recvfrom", &e)),
                };
            }
        };
        if from.port_number() != 0 {
            // Only the kernel speaks on this socket; anything else is not ours to trust.
            self.malformed += 1;
            return Ok(true);
        }
        if n > buf.len() {
            // Truncated datagram: what it said is lost, so treat it like an overrun.
            self.malformed += 1;
            match &mut self.dump {
                Some(dump) => dump.interrupted = true,
                None => self.start_dump(false, 0)?,
            }
            return Ok(true);
        }
        let mut off = 0;
        while let Some(head) = buf.get(off..off + 4).filter(|_| off < n) {
            let len = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let Some(bytes) = buf
                .get(off..off + len)
                .filter(|_| len >= 16 && off + len <= n)
            else {
                self.malformed += 1;
                break;
            };
            match NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
                Ok(msg) => self.handle(msg)?,
                Err(_) => self.malformed += 1,
            }
            off += len.next_multiple_of(4);
        }
        Ok(true)
    }

    fn is_dump_reply(&self, header: &NetlinkHeader) -> bool {
        self.dump
            .as_ref()
            .is_some_and(|d| d.seq == header.sequence_number && header.port_number == self.port)
    }

    fn handle(&mut self, msg: NetlinkMessage<RouteNetlinkMessage>) -> Result<(), MonitorError> {
        let from_dump = self.is_dump_reply(&msg.header);
        if from_dump
            && msg.header.flags & NLM_F_DUMP_INTR != 0
            && let Some(dump) = &mut self.dump
        {
            dump.interrupted = true;
        }
        match msg.payload {
            NetlinkPayload::Done(_) if from_dump => self.finish_dump(),
            NetlinkPayload::Error(err) if from_dump => match err.code {
                Some(code) => {
                    self.dump = None;
                    Err(MonitorError::Kernel {
                        errno: code.get().checked_neg().unwrap_or(libc::EIO),
                    })
                }
                None => Ok(()),
            },
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                let Some(state) = LinkState::from_message(&link) else {
                    self.malformed += 1;
                    return Ok(());
                };
                let index = state.index;
                let mut report = true;
                if let Some(dump) = &mut self.dump {
                    if from_dump && dump.deleted.contains(&index) {
                        // Removed by a notification after the kernel dumped it: stale.
                        return Ok(());
                    }
                    dump.seen.insert(index);
                    if !from_dump {
                        dump.deleted.remove(&index);
                    }
                    report = !dump.initial;
                }
                self.apply_new(state, report);
                Ok(())
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) if !from_dump => {
                let index = link.header.index;
                let mut report = true;
                if let Some(dump) = &mut self.dump {
                    dump.seen.remove(&index);
                    dump.deleted.insert(index);
                    report = !dump.initial;
                }
                self.apply_del(index, report);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish_dump(&mut self) -> Result<(), MonitorError> {
        let Some(dump) = self.dump.take() else {
            return Ok(());
        };
        if dump.interrupted {
            if dump.attempt + 1 < DUMP_RETRIES {
                return self.start_dump(dump.initial, dump.attempt + 1);
            }
            if dump.initial {
                return Err(MonitorError::DumpInconsistent);
            }
            // Keep what we have rather than report removals we are not sure of.
            return Ok(());
        }
        if !dump.initial {
            let gone: Vec<u32> = self
                .links
                .keys()
                .copied()
                .filter(|i| !dump.seen.contains(i))
                .collect();
            for index in gone {
                self.apply_del(index, true);
            }
        }
        Ok(())
    }

    fn in_scope(&self, index: u32) -> bool {
        match self.scope {
            Scope::All => true,
            Scope::Index(i) => i == index,
        }
    }

    fn apply_new(&mut self, state: LinkState, report: bool) {
        let index = state.index;
        let old = self.links.insert(index, state.clone());
        if !report || !self.in_scope(index) {
            return;
        }
        let mut push = |change| {
            self.pending.push_back(LinkEvent {
                index,
                name: state.name.clone(),
                change,
            })
        };
        let Some(old) = old else {
            push(LinkChange::Added);
            return;
        };
        if old.name != state.name {
            push(LinkChange::Renamed { old: old.name });
        }
        if old.admin_up != state.admin_up {
            push(if state.admin_up {
                LinkChange::AdminUp
            } else {
                LinkChange::AdminDown
            });
        }
        if old.mtu != state.mtu {
            push(LinkChange::Mtu {
                old: old.mtu,
                new: state.mtu,
            });
        }
        if old.carrier != state.carrier {
            push(if state.carrier {
                LinkChange::CarrierUp
            } else {
                LinkChange::CarrierDown
            });
        }
    }

    fn apply_del(&mut self, index: u32, report: bool) {
        if let Some(old) = self.links.remove(&index)
            && report
            && self.in_scope(index)
        {
            self.pending.push_back(LinkEvent {
                index,
                name: old.name,
                change: LinkChange::Removed,
            });
        }
    }
}
