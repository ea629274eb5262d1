//! The std `Node` API: an l2net participant over any link, usable from several threads, with
//! blocking and timed receive.
//!
//! ```no_run
//! # #[cfg(unix)] {
//! use l2net::node::{Node, NodeConfig, Qos};
//! let node = Node::open("eth0", NodeConfig::new(0, "robot")).unwrap();
//! let publ = node.publisher("/odom", "nav/Odometry", Qos::reliable(10)).unwrap();
//! publ.publish(b"hello").unwrap();
//! let sub = node.subscriber("/cmd", "nav/Twist", Qos::BEST_EFFORT).unwrap();
//! let mut buf = vec![0u8; 65536];
//! let info = sub.recv(&mut buf).unwrap();
//! println!("{} bytes from {:x}", info.len, info.writer.participant);
//! # }
//! ```
//!
//! # How it runs
//!
//! The participant and the link live together behind one mutex (the *core*). Whichever thread
//! holds it drives the protocol ([`l2net_core::engine::drive`]): a publisher sends its sample at
//! once from its own thread, and a blocked receiver sleeps on the link's file descriptor itself
//! and drives the participant when it wakes, so a sample costs one wake-up, not two. A background
//! I/O thread handles timers (announcements, heartbeats, leases, retransmissions) and receives
//! while nobody else is waiting. A thread that delivers what another thread waits for wakes it
//! through that thread's own wake-up socket (no lost wake-ups, no spinning).
//!
//! Memory is set aside when a node or an endpoint is created (the engine's arenas); publishing
//! and receiving allocate nothing.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

use l2net_core::engine::{
    self, ClientHandle, Config, EndpointError, Participant, ReaderHandle, ServerHandle, TakeError,
    TypeHash, WriteError, WriterHandle,
};
pub use l2net_core::engine::{
    Durability, Event, HistoryKind, Qos, Reliability, RemoteId, SampleId, SampleInfo, Stats,
};
use l2net_core::{Instant, MacAddr, RawLink};

/// Remote participants a node tracks.
pub const MAX_PARTICIPANTS: usize = 64;
/// Remote endpoints a node tracks.
pub const MAX_REMOTE_ENDPOINTS: usize = 512;
/// Local writers (publishers, and one per service client or server).
pub const MAX_WRITERS: usize = 32;
/// Local readers (subscribers, and one per service client or server).
pub const MAX_READERS: usize = 32;
/// History / queue slots per endpoint.
pub const HISTORY_SLOTS: usize = 256;
/// Remote endpoints matched to one local endpoint.
pub const MAX_MATCHES: usize = 32;
/// Samples in reassembly at once.
pub const REASSEMBLY_SLOTS: usize = 16;
/// Events kept for [`Node::next_event`] before the oldest are dropped.
pub const EVENT_BACKLOG: usize = 1024;

type Part = Participant<
    'static,
    MAX_PARTICIPANTS,
    MAX_REMOTE_ENDPOINTS,
    MAX_WRITERS,
    MAX_READERS,
    HISTORY_SLOTS,
    MAX_MATCHES,
    REASSEMBLY_SLOTS,
>;

/// How a node sleeps until its link may have a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Poll this file descriptor for reading.
    Fd(RawFd),
    /// The link has no descriptor: look again after this long.
    Every(Duration),
}

/// A link a [`Node`] can run on: any [`RawLink`] that can be moved between threads and says how
/// to wait for it.
pub trait NodeLink: RawLink + Send + 'static {
    /// How to sleep until a frame may be waiting. Must stay valid while the link lives.
    fn readiness(&self) -> Readiness;
}

/// The in-memory segment (for tests, demos and running without privileges). It has no file
/// descriptor, so a waiting node looks again every 200 us.
impl<const LINKS: usize, const SLOTS: usize, const GROUPS: usize> NodeLink
    for l2net_core::link::mem::SyncMemLink<'static, 'static, LINKS, SLOTS, GROUPS>
{
    fn readiness(&self) -> Readiness {
        Readiness::Every(Duration::from_micros(200))
    }
}

#[cfg(target_os = "linux")]
impl NodeLink for l2net_linux::link::LinuxLink {
    fn readiness(&self) -> Readiness {
        Readiness::Fd(self.as_raw_fd())
    }
}

#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
impl NodeLink for l2net_bsd::BpfLink {
    fn readiness(&self) -> Readiness {
        Readiness::Fd(self.as_raw_fd())
    }
}

/// The link type of the host's port: `LinuxLink` on Linux, `BpfLink` on macOS and the BSDs.
#[cfg(target_os = "linux")]
pub type HostLink = l2net_linux::link::LinuxLink;
/// The link type of the host's port: `LinuxLink` on Linux, `BpfLink` on macOS and the BSDs.
#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
pub type HostLink = l2net_bsd::BpfLink;

/// Settings of a [`Node`]. [`NodeConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// Domain id: nodes of different domains on one wire ignore each other.
    pub domain: u16,
    /// Name announced in discovery (at most 63 bytes).
    pub name: String,
    /// Unicast MACs to announce to directly, for networks that drop multicast.
    pub static_peers: Vec<MacAddr>,
    /// Largest sample this node receives (fragmented above the MTU).
    pub max_sample_len: usize,
    /// Bytes of each endpoint's history or receive queue. Bounds the largest sample an
    /// endpoint takes and, with the QoS depth, how many it holds.
    pub endpoint_arena: usize,
    /// Lease announced to others: they drop this node after this long without hearing it.
    pub lease: Duration,
    /// How long a small best-effort sample may wait for others to share a frame.
    pub batch_delay: Duration,
    /// Receivers spin on the link instead of sleeping: lowest latency, one core busy.
    pub busy_poll: bool,
}

impl NodeConfig {
    /// Defaults: 4 MiB samples, 8 MiB endpoint arenas (memory is only touched as it is used),
    /// 10 s lease, no batching delay, blocking receive.
    pub fn new(domain: u16, name: &str) -> Self {
        NodeConfig {
            domain,
            name: name.to_string(),
            static_peers: Vec::new(),
            max_sample_len: 4 << 20,
            endpoint_arena: 8 << 20,
            lease: Duration::from_secs(10),
            batch_delay: Duration::ZERO,
            busy_poll: false,
        }
    }
}

/// Why a node operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// The configuration was refused (the message says what is wrong).
    Config(String),
    /// Opening the link failed.
    Open(String),
    /// An endpoint could not be created.
    Endpoint(EndpointError),
    /// A sample could not be written.
    Write(WriteError),
    /// A sample could not be taken.
    Take(TakeError),
    /// The link failed for good (down or removed); the message says how.
    Link(l2net_core::LinkError),
    /// Waiting for the link failed.
    Io(io::Error),
    /// The wait ended before anything arrived.
    Timeout,
    /// The node is shutting down.
    Closed,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Config(m) => write!(f, "invalid node configuration: {m}"),
            NodeError::Open(m) => write!(f, "{m}"),
            NodeError::Endpoint(e) => write!(f, "cannot create endpoint: {e:?}"),
            NodeError::Write(WriteError::TooLarge { len, max }) => {
                write!(
                    f,
                    "sample of {len} bytes exceeds the endpoint's limit of {max}"
                )
            }
            NodeError::Write(e) => write!(f, "cannot write sample: {e:?}"),
            NodeError::Take(TakeError::BufferTooSmall { need }) => {
                write!(f, "receive buffer too small: the sample has {need} bytes")
            }
            NodeError::Take(e) => write!(f, "cannot take sample: {e:?}"),
            NodeError::Link(e) => write!(f, "link failed: {e}"),
            NodeError::Io(e) => write!(f, "waiting for the link failed: {e}"),
            NodeError::Timeout => f.write_str("timed out"),
            NodeError::Closed => f.write_str("the node is closed"),
        }
    }
}

impl std::error::Error for NodeError {}

/// Byte arenas (and the static peer list) lent to the participant for its whole life, freed
/// after it is dropped.
struct Arenas {
    bytes: Vec<NonNull<[u8]>>,
    peers: Option<NonNull<[MacAddr]>>,
}

// SAFETY: the arenas are plain heap bytes; they are only reached through the participant,
// which is itself only reached under the core mutex.
unsafe impl Send for Arenas {}

impl Arenas {
    /// A zeroed arena of `len` bytes that lives until `self` is dropped. Large zeroed
    /// allocations come straight from the kernel, so untouched pages cost no memory.
    fn alloc(&mut self, len: usize) -> &'static mut [u8] {
        let raw: *mut [u8] = Box::into_raw(vec![0u8; len].into_boxed_slice());
        // SAFETY: `raw` comes from Box::into_raw, so it is non-null.
        self.bytes.push(unsafe { NonNull::new_unchecked(raw) });
        // SAFETY: the allocation stays alive until `Arenas` is dropped, which happens after the
        // participant (the only holder of the returned reference) is dropped; see `Drop`.
        unsafe { &mut *raw }
    }

    fn peers(&mut self, peers: &[MacAddr]) -> &'static [MacAddr] {
        let raw: *mut [MacAddr] = Box::into_raw(peers.to_vec().into_boxed_slice());
        // SAFETY: `raw` comes from Box::into_raw, so it is non-null.
        if let Some(old) = self.peers.replace(unsafe { NonNull::new_unchecked(raw) }) {
            // SAFETY: the previous list came from Box::leak here and nothing borrows it any more
            // (it is only replaced before the participant exists).
            drop(unsafe { Box::from_raw(old.as_ptr()) });
        }
        // SAFETY: as in `alloc`: alive until `Arenas` is dropped, after the participant.
        unsafe { &*raw }
    }

    fn alloc_str(&mut self, s: &str) -> &'static str {
        let bytes = self.alloc(s.len());
        bytes.copy_from_slice(s.as_bytes());
        // The bytes came from a str.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl Drop for Arenas {
    fn drop(&mut self) {
        // SAFETY (both loops): each pointer came from Box::leak (in `alloc` / `peers`) and is
        // freed once. `Core` declares the participant (the only borrower) before its arenas, so
        // it was dropped before this runs and no reference into the arenas is left.
        for p in self.bytes.drain(..) {
            drop(unsafe { Box::from_raw(p.as_ptr()) });
        }
        if let Some(p) = self.peers.take() {
            drop(unsafe { Box::from_raw(p.as_ptr()) });
        }
    }
}

/// Everything behind the node's mutex.
struct Core<L: NodeLink> {
    // Field order matters: the participant borrows `arenas` and must be dropped first.
    participant: Box<Part>,
    link: L,
    arenas: Arenas,
    events: VecDeque<Event>,
    /// Wake-up sockets of threads sleeping on the link or on a condition.
    waiters: Vec<RawFd>,
    /// Set when the link failed for good.
    link_error: Option<l2net_core::LinkError>,
    epoch: StdInstant,
    /// Nanoseconds since `epoch` of the last drive, readable without the lock.
    activity: Arc<AtomicU64>,
}

impl<L: NodeLink> Core<L> {
    fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// Run the protocol until it has nothing more to do right now; wake the waiters if
    /// anything arrived or happened.
    fn pump(&mut self) -> Result<(), NodeError> {
        if let Some(e) = self.link_error {
            return Err(NodeError::Link(e));
        }
        let mut progressed = false;
        self.activity
            .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
        for _ in 0..64 {
            let now = self.now();
            match engine::drive(&mut self.participant, &mut self.link, now) {
                Ok(r) => {
                    progressed |= r.received > 0;
                    if !(r.rx_more || r.tx_more) {
                        break;
                    }
                }
                Err(e) => {
                    self.link_error = Some(e);
                    self.wake_all();
                    return Err(NodeError::Link(e));
                }
            }
        }
        while let Some(ev) = self.participant.poll_event() {
            progressed = true;
            if self.events.len() == EVENT_BACKLOG {
                self.events.pop_front();
            }
            self.events.push_back(ev);
        }
        if progressed {
            self.wake_all();
        }
        Ok(())
    }

    fn wake_all(&self) {
        for &fd in &self.waiters {
            // SAFETY: fd is the write end of a waiter's socket pair, registered while that
            // waiter is blocked and removed before its thread leaves the wait; a full socket
            // buffer (EAGAIN) already means "woken".
            unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
        }
    }
}

struct Shared<L: NodeLink> {
    core: Mutex<Core<L>>,
    /// The core's `activity` and `epoch`, for the I/O thread to see without the lock.
    activity: Arc<AtomicU64>,
    epoch: StdInstant,
    readiness: Readiness,
    busy_poll: bool,
    endpoint_arena: usize,
    stop: AtomicBool,
    io_wake: UnixStream,
}

impl<L: NodeLink> Shared<L> {
    fn lock(&self) -> MutexGuard<'_, Core<L>> {
        // A panic while holding the lock cannot leave the engine inconsistent in a way that
        // matters more than stopping the node would: keep serving.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drive the node until `ready` returns `Some`, or `timeout` passes.
    fn wait_for<T>(
        &self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&mut Core<L>) -> Result<Option<T>, NodeError>,
    ) -> Result<T, NodeError> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        WAKER.with(|w| {
            loop {
                let engine_due;
                {
                    let mut core = self.lock();
                    // What is already queued needs no system call; drive the link only when
                    // the condition is not met yet.
                    if let Some(v) = ready(&mut core)? {
                        return Ok(v);
                    }
                    core.pump()?;
                    if let Some(v) = ready(&mut core)? {
                        return Ok(v);
                    }
                    if self.stop.load(Ordering::Relaxed) {
                        return Err(NodeError::Closed);
                    }
                    engine_due = core.participant.poll_timeout().map(|t| {
                        Duration::from_nanos(t.as_nanos().saturating_sub(core.now().as_nanos()))
                    });
                    if !self.busy_poll {
                        core.waiters.push(w.tx_fd);
                    }
                }
                if self.busy_poll {
                    if deadline.is_some_and(|d| StdInstant::now() >= d) {
                        return Err(NodeError::Timeout);
                    }
                    std::hint::spin_loop();
                    continue;
                }
                let left = deadline.map(|d| d.saturating_duration_since(StdInstant::now()));
                let sleep = match (left, engine_due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let res = wait_fds(self.readiness, w.rx.as_raw_fd(), sleep);
                w.drain();
                {
                    let mut core = self.lock();
                    core.waiters.retain(|&fd| fd != w.tx_fd);
                }
                res.map_err(NodeError::Io)?;
                if deadline.is_some_and(|d| StdInstant::now() >= d) {
                    // One last look before giving up.
                    let mut core = self.lock();
                    core.pump()?;
                    return match ready(&mut core)? {
                        Some(v) => Ok(v),
                        None => Err(NodeError::Timeout),
                    };
                }
            }
        })
    }
}

/// A thread's own wake-up socket pair, made once per thread.
struct ThreadWaker {
    rx: UnixStream,
    _tx: UnixStream,
    tx_fd: RawFd,
}

impl ThreadWaker {
    fn new() -> Self {
        let (rx, tx) = UnixStream::pair().expect("socketpair for the node's wake-ups");
        rx.set_nonblocking(true)
            .expect("nonblocking wake-up socket");
        tx.set_nonblocking(true)
            .expect("nonblocking wake-up socket");
        let tx_fd = tx.as_raw_fd();
        ThreadWaker { rx, _tx: tx, tx_fd }
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
    }
}

thread_local! {
    static WAKER: ThreadWaker = ThreadWaker::new();
}

/// Sleep until the link may be readable, `wake_fd` is readable, or `timeout` passes.
fn wait_fds(readiness: Readiness, wake_fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    let (link_fd, cap) = match readiness {
        Readiness::Fd(fd) => (fd, None),
        Readiness::Every(d) => (-1, Some(d)),
    };
    let timeout = match (timeout, cap) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let ms = timeout.map_or(-1, |d| {
        // Round up so that a sub-millisecond wait does not become a busy loop.
        d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
    });
    let mut fds = [
        libc::pollfd {
            fd: wake_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: link_fd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = if link_fd < 0 { 1 } else { 2 };
    // SAFETY: fds is a valid array of `n` pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), n, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// A remote participant as [`Node::peers`] reports it.
#[derive(Debug, Clone)]
pub struct PeerView {
    /// Participant id.
    pub id: u64,
    /// MAC address.
    pub mac: MacAddr,
    /// Announced name.
    pub name: String,
    /// Its lease.
    pub lease: Duration,
    /// Time left before it is dropped unless heard from again.
    pub lease_left: Duration,
    /// Its endpoints.
    pub endpoints: Vec<l2net_core::engine::EndpointInfo>,
}

/// An l2net participant with its own I/O thread. Cheap to share: publishers and subscribers
/// hold a reference to it.
pub struct Node<L: NodeLink> {
    shared: Arc<Shared<L>>,
    io: Option<JoinHandle<()>>,
    id: u64,
    mac: MacAddr,
}

#[cfg(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
impl Node<HostLink> {
    /// Open interface `iface` with the host's port (on Linux the best backend this kernel
    /// offers, on macOS and the BSDs `/dev/bpf`) and start a node on it. The same code runs on
    /// every host.
    pub fn open(iface: &str, config: NodeConfig) -> Result<Self, NodeError> {
        #[cfg(target_os = "linux")]
        let link = {
            let cfg = l2net_linux::link::LinkConfig::new(iface);
            l2net_linux::link::LinuxLink::open(&cfg)
                .map_err(|e| NodeError::Open(e.to_string()))?
                .0
        };
        #[cfg(not(target_os = "linux"))]
        let link = l2net_bsd::BpfLink::open(iface).map_err(|e| NodeError::Open(e.to_string()))?;
        Node::new(link, config)
    }
}

fn random_id() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        let v = u64::from_ne_bytes(b);
        if v != 0 {
            return v;
        }
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(StdInstant::now().elapsed().as_nanos() ^ std::process::id() as u128);
    h.finish() | 1
}

impl<L: NodeLink> Node<L> {
    /// Start a node on `link`.
    pub fn new(link: L, config: NodeConfig) -> Result<Self, NodeError> {
        let mut arenas = Arenas {
            bytes: Vec::new(),
            peers: None,
        };
        let mut cfg = Config::new(config.domain, arenas.alloc_str(&config.name));
        cfg.static_peers = arenas.peers(&config.static_peers);
        cfg.max_sample_len = config.max_sample_len;
        cfg.lease = config.lease;
        cfg.announce_period = config.lease / 3;
        cfg.batch_delay = config.batch_delay;
        cfg.mtu = link.capabilities().mtu.min(usize::from(u16::MAX));
        let mac = link.mac();
        let id = random_id();
        let epoch = StdInstant::now();
        let reassembly = arenas.alloc(config.max_sample_len.saturating_mul(2).max(1 << 16));
        // The participant's tables are a few MiB; build it on a thread with room for them so
        // that it never passes through a small caller stack (a test thread has 2 MiB).
        let participant = std::thread::Builder::new()
            .name("l2net-init".into())
            .stack_size(64 << 20)
            .spawn(move || {
                Participant::new(cfg, id, mac, reassembly, Instant::ZERO)
                    .map(Box::new)
                    .map_err(|e| NodeError::Config(format!("{e:?}")))
            })
            .map_err(NodeError::Io)?
            .join()
            .map_err(|_| NodeError::Config("building the participant panicked".into()))??;
        let readiness = link.readiness();
        let (io_rx, io_wake) = UnixStream::pair().map_err(NodeError::Io)?;
        io_rx.set_nonblocking(true).map_err(NodeError::Io)?;
        io_wake.set_nonblocking(true).map_err(NodeError::Io)?;
        let activity = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                participant,
                link,
                arenas,
                events: VecDeque::with_capacity(EVENT_BACKLOG),
                waiters: Vec::with_capacity(64),
                link_error: None,
                epoch,
                activity: Arc::clone(&activity),
            }),
            activity,
            epoch,
            readiness,
            busy_poll: config.busy_poll,
            endpoint_arena: config.endpoint_arena.max(1 << 12),
            stop: AtomicBool::new(false),
            io_wake,
        });
        let s = Arc::clone(&shared);
        let io = std::thread::Builder::new()
            .name("l2net-io".into())
            .spawn(move || io_thread(&s, io_rx))
            .map_err(NodeError::Io)?;
        Ok(Node {
            shared,
            io: Some(io),
            id,
            mac,
        })
    }

    /// This node's participant id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The link's MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Protocol counters.
    pub fn stats(&self) -> Stats {
        *self.shared.lock().participant.stats()
    }

    /// The remote participants this node knows and their endpoints, with the time left on each
    /// lease.
    pub fn peers(&self) -> Vec<PeerView> {
        let core = self.shared.lock();
        let now = core.now();
        let g = core.participant.graph();
        g.peers()
            .map(|(_, p)| PeerView {
                id: p.id,
                mac: p.mac,
                name: p.name.as_str().to_string(),
                lease: p.lease,
                lease_left: p.expires().saturating_duration_since(now),
                endpoints: g
                    .endpoints()
                    .filter(|(_, e)| e.participant == p.id)
                    .map(|(_, e)| e.info)
                    .collect(),
            })
            .collect()
    }

    /// Run `f` with the participant (read-only), for example to list the graph.
    pub fn with_participant<T>(&self, f: impl FnOnce(&Part) -> T) -> T {
        f(&self.shared.lock().participant)
    }

    /// The next event (discovery, matching, QoS, ...), waiting up to `timeout` (`None`: forever).
    pub fn next_event(&self, timeout: Option<Duration>) -> Result<Event, NodeError> {
        self.shared.wait_for(timeout, |c| Ok(c.events.pop_front()))
    }

    /// Create an endpoint with `N` fresh arenas, and announce it at once.
    fn create<H, const N: usize>(
        &self,
        make: impl FnOnce(&mut Part, [&'static mut [u8]; N]) -> Result<H, EndpointError>,
    ) -> Result<H, NodeError> {
        let mut core = self.shared.lock();
        let arenas = std::array::from_fn(|_| core.arenas.alloc(self.shared.endpoint_arena));
        let h = make(&mut core.participant, arenas).map_err(NodeError::Endpoint)?;
        core.pump()?;
        Ok(h)
    }

    /// Create a publisher.
    pub fn publisher(
        &self,
        topic: &str,
        type_name: &str,
        qos: Qos,
    ) -> Result<Publisher<L>, NodeError> {
        self.publisher_with_hash(topic, type_name, None, qos)
    }

    /// Create a publisher that announces a type hash (matching requires equal hashes).
    pub fn publisher_with_hash(
        &self,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
    ) -> Result<Publisher<L>, NodeError> {
        let handle = self.create(|p, [a]| p.create_writer(topic, type_name, type_hash, qos, a))?;
        Ok(Publisher {
            shared: Arc::clone(&self.shared),
            handle,
        })
    }

    /// Create a subscriber.
    pub fn subscriber(
        &self,
        topic: &str,
        type_name: &str,
        qos: Qos,
    ) -> Result<Subscriber<L>, NodeError> {
        self.subscriber_with_hash(topic, type_name, None, qos)
    }

    /// Create a subscriber that announces a type hash.
    pub fn subscriber_with_hash(
        &self,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
    ) -> Result<Subscriber<L>, NodeError> {
        let handle = self.create(|p, [a]| p.create_reader(topic, type_name, type_hash, qos, a))?;
        Ok(Subscriber {
            shared: Arc::clone(&self.shared),
            handle,
        })
    }

    /// Create a service client (requests and replies are reliable).
    pub fn client(&self, service: &str, type_name: &str) -> Result<Client<L>, NodeError> {
        let handle = self.create(|p, [a, b]| {
            p.create_client(service, type_name, None, Qos::reliable(64), a, b)
        })?;
        Ok(Client {
            shared: Arc::clone(&self.shared),
            handle,
        })
    }

    /// Create a service server.
    pub fn server(&self, service: &str, type_name: &str) -> Result<Server<L>, NodeError> {
        let handle = self.create(|p, [a, b]| {
            p.create_server(service, type_name, None, Qos::reliable(64), a, b)
        })?;
        Ok(Server {
            shared: Arc::clone(&self.shared),
            handle,
        })
    }

    /// Leave cleanly: send GOODBYE (others drop this node at once instead of after its lease),
    /// then stop the I/O thread. Dropping the node does the same.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(io) = self.io.take() else { return };
        {
            let mut core = self.shared.lock();
            let now = core.now();
            core.participant.close(now);
            let until = StdInstant::now() + Duration::from_millis(100);
            while !core.participant.is_closed() && StdInstant::now() < until {
                if core.pump().is_err() {
                    break;
                }
            }
        }
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = (&self.shared.io_wake).write(&[1]);
        self.shared.lock().wake_all();
        let _ = io.join();
    }
}

impl<L: NodeLink> Drop for Node<L> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How long application threads must leave the node alone before the I/O thread drives it.
const IO_IDLE: Duration = Duration::from_millis(1);
/// How often the I/O thread checks whether it must watch the link again while receivers wait.
const IO_RECHECK: Duration = Duration::from_millis(5);

fn io_thread<L: NodeLink>(shared: &Shared<L>, wake: UnixStream) {
    let mut buf = [0u8; 64];
    while !shared.stop.load(Ordering::Relaxed) {
        // While application threads drive the node (publishing, receiving), they run the timers
        // and receive too: stay out of their way instead of contending for the lock on every
        // frame, and take over once they have been quiet for IO_IDLE.
        let since = (shared.epoch.elapsed().as_nanos() as u64)
            .saturating_sub(shared.activity.load(Ordering::Relaxed));
        if since < IO_IDLE.as_nanos() as u64 {
            let left = IO_IDLE - Duration::from_nanos(since);
            let _ = wait_fds(Readiness::Every(left), wake.as_raw_fd(), Some(left));
            while matches!((&wake).read(&mut buf), Ok(n) if n > 0) {}
            continue;
        }
        let (due, watch_link) = {
            let mut core = match shared.core.try_lock() {
                Ok(c) => c,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    // Someone is driving right now.
                    let _ = wait_fds(Readiness::Every(IO_IDLE), wake.as_raw_fd(), Some(IO_IDLE));
                    continue;
                }
            };
            if core.pump().is_err() {
                // The link failed for good: waiters were told; nothing left to drive.
                drop(core);
                let _ = wait_fds(
                    Readiness::Every(Duration::from_secs(3600)),
                    wake.as_raw_fd(),
                    None,
                );
                continue;
            }
            let now = core.now();
            let due = core
                .participant
                .poll_timeout()
                .map(|t| Duration::from_nanos(t.as_nanos().saturating_sub(now.as_nanos())));
            (due, core.waiters.is_empty())
        };
        let (readiness, due) = if watch_link {
            (shared.readiness, due)
        } else {
            // Receivers are sleeping on the link themselves: only timers are ours. Look again
            // within IO_RECHECK in case they all left (waking this thread whenever a receiver
            // leaves would cost a wake-up per sample).
            let due = due.map_or(IO_RECHECK, |d| d.min(IO_RECHECK));
            (Readiness::Every(IO_RECHECK), Some(due))
        };
        let _ = wait_fds(readiness, wake.as_raw_fd(), due);
        while matches!((&wake).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Publishes samples on one topic.
pub struct Publisher<L: NodeLink> {
    shared: Arc<Shared<L>>,
    handle: WriterHandle,
}

impl<L: NodeLink> Publisher<L> {
    /// Publish `data`, sending it at once. A reliable publisher whose slowest reader's window is
    /// full waits until there is room.
    pub fn publish(&self, data: &[u8]) -> Result<u64, NodeError> {
        self.publish_timeout(data, None)
    }

    /// Like [`Publisher::publish`], waiting at most `timeout` for room.
    pub fn publish_timeout(
        &self,
        data: &[u8],
        timeout: Option<Duration>,
    ) -> Result<u64, NodeError> {
        self.shared.wait_for(timeout, |core| {
            let now = core.now();
            match core.participant.write(self.handle, data, now) {
                Ok(seq) => {
                    core.pump()?;
                    Ok(Some(seq))
                }
                Err(WriteError::WouldBlock) => Ok(None),
                Err(e) => Err(NodeError::Write(e)),
            }
        })
    }

    /// Publish without waiting: `Err(NodeError::Write(WriteError::WouldBlock))` when a reliable
    /// reader's window is full.
    pub fn try_publish(&self, data: &[u8]) -> Result<u64, NodeError> {
        let mut core = self.shared.lock();
        let now = core.now();
        let seq = core
            .participant
            .write(self.handle, data, now)
            .map_err(NodeError::Write)?;
        core.pump()?;
        Ok(seq)
    }

    /// The engine's handle of this publisher's writer: the `local` endpoint that
    /// [`Node::next_event`] names in matching, QoS and deadline events about it.
    pub fn handle(&self) -> WriterHandle {
        self.handle
    }

    /// Number of matched subscribers.
    pub fn matched(&self) -> usize {
        self.shared.lock().participant.writer_matches(self.handle)
    }

    /// Wait until at least `n` subscribers matched.
    pub fn wait_for_subscribers(&self, n: usize, timeout: Duration) -> Result<(), NodeError> {
        self.shared.wait_for(Some(timeout), |c| {
            Ok((c.participant.writer_matches(self.handle) >= n).then_some(()))
        })
    }

    /// Wait until every matched reliable reader acknowledged everything published so far.
    pub fn wait_for_acks(&self, timeout: Duration) -> Result<(), NodeError> {
        self.shared.wait_for(Some(timeout), |c| {
            Ok(c.participant.is_acknowledged(self.handle).then_some(()))
        })
    }
}

impl<L: NodeLink> Drop for Publisher<L> {
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.participant.delete_writer(self.handle);
        let _ = core.pump();
    }
}

/// Receives samples of one topic.
pub struct Subscriber<L: NodeLink> {
    shared: Arc<Shared<L>>,
    handle: ReaderHandle,
}

impl<L: NodeLink> Subscriber<L> {
    /// Wait for the next sample and copy it into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> Result<SampleInfo, NodeError> {
        self.recv_timeout(buf, None)
    }

    /// Wait at most `timeout` (`None`: forever) for the next sample.
    pub fn recv_timeout(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<SampleInfo, NodeError> {
        self.shared.wait_for(timeout, |core| {
            core.participant
                .take(self.handle, buf)
                .map_err(NodeError::Take)
        })
    }

    /// The next sample if one is queued, without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<SampleInfo>, NodeError> {
        let mut core = self.shared.lock();
        core.pump()?;
        core.participant
            .take(self.handle, buf)
            .map_err(NodeError::Take)
    }

    /// The engine's handle of this subscriber's reader: the `local` endpoint that
    /// [`Node::next_event`] names in matching, QoS, deadline and sample-loss events about it.
    pub fn handle(&self) -> ReaderHandle {
        self.handle
    }

    /// Number of matched publishers.
    pub fn matched(&self) -> usize {
        self.shared.lock().participant.reader_matches(self.handle)
    }

    /// Wait until at least `n` publishers matched.
    pub fn wait_for_publishers(&self, n: usize, timeout: Duration) -> Result<(), NodeError> {
        self.shared.wait_for(Some(timeout), |c| {
            Ok((c.participant.reader_matches(self.handle) >= n).then_some(()))
        })
    }
}

impl<L: NodeLink> Drop for Subscriber<L> {
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.participant.delete_reader(self.handle);
        let _ = core.pump();
    }
}

/// Calls a service.
pub struct Client<L: NodeLink> {
    shared: Arc<Shared<L>>,
    handle: ClientHandle,
}

impl<L: NodeLink> Client<L> {
    /// Send `request` and wait up to `timeout` for its reply, copied into `reply`. Returns the
    /// reply's length.
    /// Takes `&mut self`: one call at a time per client, so a reply is never taken by another
    /// thread's call.
    pub fn call(
        &mut self,
        request: &[u8],
        reply: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, NodeError> {
        let deadline = StdInstant::now() + timeout;
        let id = self.shared.wait_for(Some(timeout), |core| {
            let now = core.now();
            match core.participant.call(self.handle, request, now) {
                Ok(id) => {
                    core.pump()?;
                    Ok(Some(id))
                }
                Err(WriteError::WouldBlock) => Ok(None),
                Err(e) => Err(NodeError::Write(e)),
            }
        })?;
        let left = deadline.saturating_duration_since(StdInstant::now());
        self.shared.wait_for(Some(left), |core| {
            match core
                .participant
                .take_reply(self.handle, reply)
                .map_err(NodeError::Take)?
            {
                Some((rel, len)) if rel == id => Ok(Some(len)),
                // A late reply to an earlier call that timed out: drop it.
                Some(_) => Ok(None),
                None => Ok(None),
            }
        })
    }

    /// Number of matched servers.
    pub fn servers(&self) -> usize {
        self.shared
            .lock()
            .participant
            .writer_matches(self.handle.writer)
    }

    /// Wait until a server is available.
    pub fn wait_for_server(&self, timeout: Duration) -> Result<(), NodeError> {
        self.shared.wait_for(Some(timeout), |c| {
            let ready = c.participant.writer_matches(self.handle.writer) > 0
                && c.participant.reader_matches(self.handle.reader) > 0;
            Ok(ready.then_some(()))
        })
    }
}

impl<L: NodeLink> Drop for Client<L> {
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.participant.delete_client(self.handle);
        let _ = core.pump();
    }
}

/// Answers a service's requests.
pub struct Server<L: NodeLink> {
    shared: Arc<Shared<L>>,
    handle: ServerHandle,
}

impl<L: NodeLink> Server<L> {
    /// Wait up to `timeout` for the next request, copied into `buf`. Returns its id (for
    /// [`Server::reply`]) and length.
    pub fn next_request(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<(SampleId, usize), NodeError> {
        self.shared.wait_for(timeout, |core| {
            core.participant
                .take_request(self.handle, buf)
                .map_err(NodeError::Take)
        })
    }

    /// Send the reply to request `id`.
    pub fn reply(&self, id: SampleId, data: &[u8]) -> Result<(), NodeError> {
        self.shared.wait_for(Some(Duration::from_secs(5)), |core| {
            let now = core.now();
            match core.participant.reply(self.handle, id, data, now) {
                Ok(_) => {
                    core.pump()?;
                    Ok(Some(()))
                }
                Err(WriteError::WouldBlock) => Ok(None),
                Err(e) => Err(NodeError::Write(e)),
            }
        })
    }
}

impl<L: NodeLink> Drop for Server<L> {
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.participant.delete_server(self.handle);
        let _ = core.pump();
    }
}
