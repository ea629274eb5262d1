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
//! holds it drives the protocol. A publisher writes its sample and sends it at once from its
//! own thread, without looking at the receive side ([`Publisher::publish_batch`] sends many
//! samples in shared frames with one system call). Waiting threads follow a leader/follower
//! scheme: the first thread to wait (in `recv`, `next_request`, `call`, `next_event`, ...)
//! sleeps on the link's file descriptor itself, so a frame wakes exactly the thread that waits
//! for it; it takes the frames in, sends what they made due, and wakes the other waiters
//! (through each one's own wake-up socket: no lost wake-ups, no spinning) only when something
//! arrived. A busy-polling waiter instead tries a non-blocking receive in a loop and runs the
//! engine only when something arrived or a timer fell due. A background I/O thread runs the
//! timers (announcements, heartbeats, leases, retransmissions), and receives while no
//! application thread waits; while they do, it stands back.
//!
//! Memory is set aside when a node or an endpoint is created (the engine's arenas); publishing
//! and receiving allocate nothing.

use std::cell::Cell;
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
use l2net_core::link::{RxFrame, TxToken};
use l2net_core::{Instant, LinkError, MacAddr, RawLink};

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
    /// How often a reliable writer with unacknowledged samples sends a HEARTBEAT (readers
    /// answer with what they miss). A writer that just finished a burst heartbeats after an
    /// eighth of this, or a hundredth once a quarter of its window is unacknowledged, so this
    /// also paces a fast reliable writer.
    pub heartbeat_period: Duration,
    /// Samples a reliable writer may have unacknowledged per reader (1 to 256; the engine's
    /// default, 128). A larger window lets a fast writer run further ahead of the
    /// acknowledgements; each reader keeps track of that many samples out of order.
    pub reliable_window: u16,
}

impl NodeConfig {
    /// Defaults: 4 MiB samples, 8 MiB endpoint arenas (memory is only touched as it is used),
    /// 10 s lease, no batching delay, blocking receive, the engine's heartbeat period (50 ms)
    /// and reliable window (128 samples).
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
            heartbeat_period: Config::new(domain, "").heartbeat_period,
            reliable_window: Config::new(domain, "").reliable_window,
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
    /// Wake-up sockets of threads sleeping in a wait (the leader's among them).
    waiters: Vec<RawFd>,
    /// Wake-up sockets of threads in [`NodeWaker::wait_events`]: woken when an event is
    /// queued (and by [`NodeWaker::wake`], a link failure, the node's closing), not by every
    /// frame, and never handed the link.
    followers: Vec<RawFd>,
    /// Readers whose samples queue no [`Event::DataAvailable`] ([`Subscriber::set_data_events`]).
    quiet_readers: Vec<ReaderHandle>,
    /// A user thread is sleeping on the link itself (the *leader*); the others sleep on their
    /// wake-up sockets only, and the I/O thread leaves the link to it.
    leader: bool,
    /// When the sleeping leader wants to be woken and its wake-up socket, if it left that to
    /// the I/O thread instead of arming a timer of its own ([`LEADER_TIMER_MIN`]).
    leader_until: Option<(Instant, RawFd)>,
    /// The participant's [`Participant::poll_timeout`] after the last call that could change
    /// it, so that waits and spins need not walk the engine's tables to learn it.
    next_due: Option<Instant>,
    /// The last receive stopped before the link ran dry: frames may sit in the link's own
    /// buffer, where polling its descriptor would not see them.
    rx_more: bool,
    /// Set when the link failed for good.
    link_error: Option<l2net_core::LinkError>,
    epoch: Epoch,
    /// What the last [`Core::now`] read: the hot paths read the clock once per look under the
    /// lock and reuse it ([`Core::recent`]); a look that finds the link empty reads none.
    last_now: Cell<Instant>,
    /// Bumped whenever the waiters are woken ([`NodeWaker::changes`]).
    changes: Arc<AtomicU64>,
    /// `events` may be non-empty or the link failed ([`NodeWaker::has_events`]): set before
    /// `changes` is bumped for an event, cleared (under the lock) when the last one is taken.
    attention: Arc<AtomicBool>,
}

/// A leader whose deadline is at least this far away sleeps without a timeout and leaves the
/// wake-up to the I/O thread, which sleeps with a timer anyway: arming and cancelling a timer
/// for every sleep cost 1.5-2 us of CPU per wait on the benchmark VM (a C ping: 11.4-11.5 us of
/// CPU per round trip with a `ppoll` timeout, 9.6-10.0 us without). Nearer deadlines keep their
/// own timer, for precision. The participant's timers are always the I/O thread's: no waiter
/// sleeps for them (`Shared::kick` wakes the I/O thread when a look schedules one before it
/// planned to look).
const LEADER_TIMER_MIN: Duration = Duration::from_millis(20);

/// A busy-polling waiter yields its CPU once per this many empty looks. Spinners that share a
/// CPU otherwise take turns only when the scheduler preempts them: a round trip then costs a
/// time slice (milliseconds; the compare benchmark's busy-poll cells showed 1.8-8 ms p50 for
/// both l2net and raw AF_PACKET in runs where the two spinners shared a CPU).
const SPINS_PER_YIELD: u32 = 32;

/// Frames one [`Core::receive`] takes before the waiting thread looks at its condition again:
/// a receiver takes its samples between chunks, so that a burst of BATCH frames (up to 64
/// samples each) does not overflow its queue.
const RX_CHUNK: usize = 4;
/// Most frames one wait takes from the link under one lock.
const RX_LIMIT: usize = 256;
/// Most transmit bursts ([`engine::TX_BURST`] frames, one flush each) of one [`Core::step`].
const TX_ROUNDS: usize = 16;

/// The instant a node's engine clock counts from: [`StdInstant`] for the callers, and on Linux
/// the same instant in nanoseconds of `CLOCK_MONOTONIC` (which `StdInstant` reads there), so
/// that a reading is one `clock_gettime` and a subtraction: `StdInstant::elapsed` costs about
/// twice the instructions (a checked timespec subtraction and a `Duration`), and the hot paths
/// read the clock once or twice per sample.
#[derive(Clone, Copy)]
struct Epoch {
    std: StdInstant,
    #[cfg(target_os = "linux")]
    ns: u64,
}

impl Epoch {
    fn now() -> Self {
        let std = StdInstant::now();
        Epoch {
            std,
            #[cfg(target_os = "linux")]
            ns: monotonic_ns(),
        }
    }

    /// Nanoseconds since the epoch.
    #[cfg(target_os = "linux")]
    fn elapsed_ns(&self) -> u64 {
        monotonic_ns().saturating_sub(self.ns)
    }

    /// Nanoseconds since the epoch.
    #[cfg(not(target_os = "linux"))]
    fn elapsed_ns(&self) -> u64 {
        self.std.elapsed().as_nanos() as u64
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds (a vDSO call, no system call).
#[cfg(target_os = "linux")]
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill; CLOCK_MONOTONIC always exists, so
    // the call cannot fail (were it to, `ts` stays zero and the reading saturates to the epoch).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

impl<L: NodeLink> Core<L> {
    fn now(&self) -> Instant {
        let now = Instant::from_nanos(self.epoch.elapsed_ns());
        self.last_now.set(now);
        now
    }

    /// The time of the last [`Core::now`]: for work that follows a clock read under the same
    /// lock (a step after a write or a receive, the checks at the end of a look).
    fn recent(&self) -> Instant {
        self.last_now.get()
    }

    fn check(&self) -> Result<(), NodeError> {
        match self.link_error {
            Some(e) => Err(NodeError::Link(e)),
            None => Ok(()),
        }
    }

    /// The link failed for good: remember it and tell every waiter.
    fn fail(&mut self, e: l2net_core::LinkError) -> NodeError {
        self.link_error = Some(e);
        self.attention.store(true, Ordering::Relaxed);
        self.wake_all(None);
        NodeError::Link(e)
    }

    /// Everything: multicast group changes, receive, timers, transmit, until the protocol has
    /// nothing more to do right now; wake the waiters if anything arrived or happened. For the
    /// I/O thread, endpoint changes and links without a descriptor.
    fn pump(&mut self) -> Result<(), NodeError> {
        self.check()?;
        let mut progressed = false;
        for _ in 0..64 {
            let now = self.now();
            match engine::drive(&mut self.participant, &mut self.link, now) {
                Ok(r) => {
                    progressed |= r.received > 0;
                    self.rx_more = r.rx_more;
                    if !(r.rx_more || r.tx_more) {
                        break;
                    }
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
        self.next_due = self.participant.poll_timeout();
        self.settle(progressed, None);
        Ok(())
    }

    /// Take up to `limit` frames from the link into the participant, then send what they made
    /// due (acknowledgements, repairs) and wake the other waiters if anything arrived. `me` is
    /// the calling thread's own wake-up socket, which needs no wake-up. Returns whether a frame
    /// came in or a timer ran (false: nothing changed for a waiting thread).
    ///
    /// The clock is read when the first frame comes in: a look that finds the link empty (the
    /// look of a thread that takes until its queue is empty, or that enters a wait) reads none,
    /// and runs the timers only if they were due by the last reading ([`Core::recent`]; the
    /// I/O thread runs them on time). `fresh` reads it first regardless, for a spinning thread,
    /// which runs the timers itself. The link's own `receive` gets the last reading (no link
    /// uses the time of a receive).
    fn receive(&mut self, me: Option<RawFd>, limit: usize, fresh: bool) -> Result<bool, NodeError> {
        self.check()?;
        let mut now = fresh.then(|| self.now());
        let mut n = 0;
        self.rx_more = true;
        while n < limit {
            let got = match self.link.receive(self.last_now.get()) {
                Ok(Some(frame)) => {
                    let t = *now.get_or_insert_with(|| {
                        let t = Instant::from_nanos(self.epoch.elapsed_ns());
                        self.last_now.set(t);
                        t
                    });
                    self.participant.handle_frame(frame.data(), frame.meta(), t);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            match got {
                Ok(true) => n += 1,
                Ok(false) => {
                    self.rx_more = false;
                    break;
                }
                Err(e) => return Err(self.fail(e)),
            }
            if !self.link.rx_maybe_pending() {
                // The link knows its queue ran dry with this frame: a receive now would only
                // find nothing (a system call on the way to the frame's reader). Asked after
                // every frame, so `rx_more` is still true only when the limit was reached
                // with frames left.
                self.rx_more = false;
                break;
            }
        }
        if n > 0 {
            // Most frames (samples, heartbeats answered later) make nothing due at once:
            // look before running the transmit planner.
            self.next_due = self.participant.poll_timeout();
        }
        let stepped = self.is_due(now.unwrap_or_else(|| self.recent()));
        if stepped {
            self.step()?;
        }
        if n > 0 || stepped {
            self.settle(n > 0, me);
        }
        Ok(n > 0 || stepped)
    }

    /// One look at the link, the shape every waiting thread shares ([`Shared::attempt`],
    /// [`Watch::drive`]): a link without a descriptor is driven whole ([`Core::pump`]); with
    /// `take` (the link was readable, frames may wait in its buffer, or the thread spins) up
    /// to that many frames come in ([`Core::receive`]); otherwise due timers run. Returns
    /// whether anything may have changed for a waiting thread's condition (not when a receive
    /// found nothing and no timer ran: a spinning thread then need not look at it again).
    /// `fresh`: read the clock even when nothing comes in (a spinning thread, which runs the
    /// timers itself); otherwise timers run here only when due by the last reading.
    fn look(
        &mut self,
        has_fd: bool,
        take: Option<usize>,
        me: RawFd,
        fresh: bool,
    ) -> Result<bool, NodeError> {
        if !has_fd {
            // No descriptor to sleep on: drive everything each time.
            self.pump()?;
            Ok(true)
        } else if let Some(limit) = take {
            self.receive(Some(me), limit, fresh)
        } else if self.is_due(if fresh { self.now() } else { self.recent() }) {
            self.step()?;
            self.settle(false, Some(me));
            Ok(true)
        } else {
            self.check()?;
            Ok(false)
        }
    }

    /// Whether the link may hold frames that its descriptor would not announce, or that
    /// arrived since the thread last looked (`RawLink::rx_maybe_pending`): for the frame ring
    /// an exact look at its next slot, for mmsg whether its last batch came back full, for
    /// links that cannot tell always (their look then finds nothing).
    fn may_have_frames(&self) -> bool {
        self.rx_more || self.link.rx_maybe_pending()
    }

    fn is_due(&self, now: Instant) -> bool {
        self.next_due.is_some_and(|d| d <= now)
    }

    /// How long until the participant's next work from `now`, at least 20 us: work due now
    /// that a step did not clear (the link pushed back) is looked at again shortly rather
    /// than spun on. `None`: nothing scheduled.
    fn due_in(&self, now: Instant) -> Option<Duration> {
        self.next_due.map(|d| {
            Duration::from_nanos(d.as_nanos().saturating_sub(now.as_nanos()))
                .max(Duration::from_micros(20))
        })
    }

    /// Run the timers and send what is due, without receiving: a publisher's sample leaves at
    /// once from its own thread, in as few flushes (`sendmmsg` calls) as the link allows.
    /// Runs at [`Core::recent`]: every caller read the clock under the same lock just before.
    fn step(&mut self) -> Result<(), NodeError> {
        self.check()?;
        let now = self.recent();
        for _ in 0..TX_ROUNDS {
            let (mut handled, mut blocked) = (0, false);
            while handled < engine::TX_BURST {
                let Some(len) = self.participant.poll_transmit(now) else {
                    break;
                };
                let sent = match self.link.transmit(now, len) {
                    Ok(Some(token)) => {
                        token
                            .consume(|buf| self.participant.write_transmit(buf))
                            .ok();
                        Ok(true)
                    }
                    Ok(None) => Ok(false),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(true) => {}
                    Ok(false) => {
                        blocked = true;
                        break;
                    }
                    Err(LinkError::TooLarge { .. } | LinkError::TooShort { .. }) => {
                        self.participant.abandon_transmit();
                    }
                    Err(e) => {
                        // Whatever was queued before the failure still goes out if it can.
                        let _ = self.link.flush(now);
                        return Err(self.fail(e));
                    }
                }
                handled += 1;
            }
            if let Err(e) = self.link.flush(now) {
                return Err(self.fail(e));
            }
            if blocked || handled < engine::TX_BURST {
                break;
            }
        }
        self.next_due = self.participant.poll_timeout();
        Ok(())
    }

    /// Queue the participant's events for [`Node::next_event`]; wake the waiters (but `me`)
    /// if anything arrived or happened.
    fn settle(&mut self, progressed: bool, me: Option<RawFd>) {
        let (mut queued, mut data) = (false, false);
        while let Some(ev) = self.participant.poll_event() {
            if let Event::DataAvailable { reader } = ev
                && self.quiet_readers.contains(&reader)
            {
                // Not queued, but a sample arrived all the same (a local one, with no frame
                // to say so): the waiters still look.
                data = true;
                continue;
            }
            queued = true;
            if self.events.len() == EVENT_BACKLOG {
                self.events.pop_front();
            }
            self.events.push_back(ev);
        }
        if queued {
            // Before `changes` moves (its bump is a release): a reader that sees the new
            // count sees this too.
            self.attention.store(true, Ordering::Relaxed);
        }
        if progressed || queued || data {
            self.wake_waiters(me);
        }
        if queued {
            self.wake_followers();
        }
    }

    /// Wake the waiters (but `me`) and the followers.
    /// The oldest queued event.
    fn pop_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front();
        if self.events.is_empty() && self.link_error.is_none() {
            self.attention.store(false, Ordering::Relaxed);
        }
        ev
    }

    fn wake_all(&self, me: Option<RawFd>) {
        self.wake_waiters(me);
        self.wake_followers();
    }

    fn wake_waiters(&self, me: Option<RawFd>) {
        self.changes.fetch_add(1, Ordering::Release);
        for &fd in &self.waiters {
            if Some(fd) != me {
                wake(fd);
            }
        }
    }

    fn wake_followers(&self) {
        for &fd in &self.followers {
            wake(fd);
        }
    }
}

/// The sooner of two optional waits (`None`: no limit).
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Write one byte to a wake-up socket.
fn wake(fd: RawFd) {
    // SAFETY: fd is the write end of a socket pair that outlives every registration of it (a
    // waiter removes its descriptor before its thread leaves the wait; the I/O thread's lives
    // in `Shared`); a full socket buffer (EAGAIN) already means "woken".
    unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
}

struct Shared<L: NodeLink> {
    core: Mutex<Core<L>>,
    epoch: Epoch,
    /// Nanoseconds since `epoch` when a user thread last waited or spun on the node; the I/O
    /// thread leaves the link alone while this is recent.
    activity: AtomicU64,
    /// Nanoseconds since `epoch` until which the I/O thread sleeps (written under the core
    /// lock): work that falls due earlier must wake it.
    io_until: AtomicU64,
    /// The I/O thread sleeps without looking for the leader's leaving (the leader has slept
    /// for [`IO_PARK_AFTER`]): the leader wakes it when it leaves.
    io_parked: AtomicBool,
    readiness: Readiness,
    busy_poll: bool,
    endpoint_arena: usize,
    stop: AtomicBool,
    io_wake: UnixStream,
    /// The core's `changes`, read without the lock.
    changes: Arc<AtomicU64>,
    /// The core's `attention`, read without the lock.
    attention: Arc<AtomicBool>,
}

impl<L: NodeLink> Shared<L> {
    fn lock(&self) -> MutexGuard<'_, Core<L>> {
        // A panic while holding the lock cannot leave the engine inconsistent in a way that
        // matters more than stopping the node would: keep serving.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn since_epoch(&self) -> u64 {
        self.epoch.elapsed_ns()
    }

    /// After a call that may have scheduled work (a held batch, a heartbeat, an announcement):
    /// wake the I/O thread if that work falls due before it looks again. Called under the lock.
    fn kick(&self, core: &Core<L>) {
        if let Some(due) = core.next_due
            && due.as_nanos() < self.io_until.load(Ordering::Relaxed)
        {
            // Once is enough until the I/O thread sets a new time.
            self.io_until.store(0, Ordering::Relaxed);
            wake(self.io_wake.as_raw_fd());
        }
    }

    /// Send what a write made due, from the caller's thread; queue events; tell the I/O thread
    /// about new timers. Call it under the lock that read [`Core::now`] for the write (the send
    /// runs at that time).
    fn after_write(&self, core: &mut Core<L>) -> Result<(), NodeError> {
        core.step()?;
        core.settle(false, None);
        self.kick(core);
        Ok(())
    }

    /// The leader stopped leading: wake the I/O thread if it parked (it watches the link
    /// again unless another thread takes the lead).
    fn leader_left(&self) {
        if self.io_parked.swap(false, Ordering::Relaxed) {
            wake(self.io_wake.as_raw_fd());
        }
    }

    /// After a take: a reader's queue had room again, so samples held back may have moved on,
    /// a local writer may be writable again (an event for the thread blocked in its publish)
    /// and an acknowledgement may be due (for the I/O thread). Called under the lock.
    fn after_take(&self, core: &mut Core<L>, me: Option<RawFd>) {
        core.settle(false, me);
        self.kick(core);
    }

    /// A take found its queue empty: look at the link once (a link without a descriptor: drive
    /// everything). Whether anything may have come in; a look that finds the link empty reads
    /// no clock.
    fn look_for_samples(&self, core: &mut Core<L>) -> Result<bool, NodeError> {
        match self.readiness {
            Readiness::Fd(_) => core.receive(None, RX_CHUNK, false),
            Readiness::Every(_) => core.pump().map(|()| true),
        }
    }

    /// Take `reader`'s oldest queued sample into `buf`, if any, and tell whom the room it
    /// made concerns ([`Shared::after_take`]).
    fn take_now(
        &self,
        core: &mut Core<L>,
        reader: ReaderHandle,
        buf: &mut [u8],
    ) -> Result<Option<SampleInfo>, NodeError> {
        let taken = core
            .participant
            .take(reader, buf)
            .map_err(NodeError::Take)?;
        if taken.is_some() {
            self.after_take(core, None);
        }
        Ok(taken)
    }

    /// Drive the node until `ready` returns `Some`, or `timeout` passes.
    ///
    /// Leader/follower: the first thread to wait sleeps on the link's descriptor and its own
    /// wake-up socket (the *leader*); when a frame arrives it is woken directly, takes the
    /// frames in, sends what that made due, and wakes the others only if something arrived.
    /// Later waiters sleep on their wake-up sockets alone; a leader that leaves hands the link
    /// to one of them. With `busy_poll`, the thread instead tries a non-blocking receive in a
    /// loop and runs the engine only when something arrived or a timer is due.
    fn wait_for<T>(
        &self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&mut Core<L>) -> Result<Option<T>, NodeError>,
    ) -> Result<T, NodeError> {
        // On the core's clock, set by the first look that finds the condition false (from
        // the time it read): a wait that succeeds at once reads no clock for its deadline.
        let mut deadline = None;
        let link_fd = match self.readiness {
            Readiness::Fd(fd) => Some(fd),
            Readiness::Every(_) => None,
        };
        WAKER.with(|w| {
            let me = w.tx_fd;
            // State of the last sleep: registered as a waiter, as the leader, saw the link
            // readable.
            let (mut registered, mut led, mut readable) = (false, false, false);
            let mut spins = 0u32;
            loop {
                let mut core = self.lock();
                if registered {
                    core.waiters.retain(|&fd| fd != me);
                    registered = false;
                }
                if led {
                    core.leader = false;
                    core.leader_until = None;
                    self.leader_left();
                }
                let out = self.attempt(
                    &mut core,
                    &mut ready,
                    link_fd,
                    readable,
                    me,
                    (timeout, &mut deadline),
                );
                if let Some(out) = out {
                    // What `ready` did (a take that made room, a reply) may have freed a
                    // blocked writer of this node or made an acknowledgement due: tell the
                    // threads that wait for it.
                    self.after_take(&mut core, Some(me));
                    if led {
                        // Hand the link to a thread still waiting.
                        if let Some(&fd) = core.waiters.first() {
                            wake(fd);
                        }
                    }
                    return out;
                }
                let now = core.recent();
                self.activity.store(now.as_nanos(), Ordering::Relaxed);
                led = false;
                if self.busy_poll || core.rx_more {
                    // Spinning, or frames still wait in the link's buffer: look again at once.
                    drop(core);
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(SPINS_PER_YIELD) {
                        // Let a thread that shares this CPU run (the peer we wait for, on a
                        // machine with fewer free CPUs than spinners); returns at once when
                        // nothing else is runnable here.
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                    continue;
                }
                led = link_fd.is_some() && !core.leader;
                if led {
                    core.leader = true;
                }
                core.waiters.push(me);
                registered = true;
                // The participant's timers are the I/O thread's (it sleeps until the next one
                // and runs it): a waiter sleeps until its own deadline only, and wakes the I/O
                // thread if what this look scheduled falls due before it planned to look.
                self.kick(&core);
                let left = deadline
                    .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(now.as_nanos())));
                let mut sleep = left;
                if led && sleep.is_none_or(|s| s >= LEADER_TIMER_MIN) {
                    // Far away: the I/O thread wakes this leader then (it runs due timers
                    // itself); tell it if it planned to sleep longer.
                    if let Some(s) = sleep {
                        let at = now.saturating_add(s);
                        core.leader_until = Some((at, me));
                        if at.as_nanos() < self.io_until.load(Ordering::Relaxed) {
                            self.io_until.store(0, Ordering::Relaxed);
                            wake(self.io_wake.as_raw_fd());
                        }
                    }
                    sleep = None;
                }
                drop(core);
                let (watch, sleep) = match self.readiness {
                    Readiness::Fd(fd) => (led.then_some(fd), sleep),
                    Readiness::Every(d) => (None, Some(sleep.map_or(d, |s| s.min(d)))),
                };
                let woke = wait_fds(watch, w.rx.as_raw_fd(), sleep);
                let woke = match woke {
                    Ok(woke) => woke,
                    Err(e) => {
                        let mut core = self.lock();
                        core.waiters.retain(|&fd| fd != me);
                        if led {
                            core.leader = false;
                            core.leader_until = None;
                            self.leader_left();
                        }
                        return Err(NodeError::Io(e));
                    }
                };
                if woke.wake {
                    w.drain();
                }
                readable = watch.is_some() && woke.link;
            }
        })
    }

    /// One look under the lock: `Some` ends the wait. `deadline` is set from `timeout` by the
    /// first look that finds the condition false.
    fn attempt<T>(
        &self,
        core: &mut Core<L>,
        ready: &mut impl FnMut(&mut Core<L>) -> Result<Option<T>, NodeError>,
        link_fd: Option<RawFd>,
        readable: bool,
        me: RawFd,
        (timeout, deadline): (Option<Duration>, &mut Option<Instant>),
    ) -> Option<Result<T, NodeError>> {
        let res = (|| {
            // What is already queued needs no system call.
            if let Some(v) = ready(core)? {
                return Ok(Some(v));
            }
            // Take frames in chunks and look at the condition after each. The first chunk is
            // one frame: when it is what the thread waits for (a ping, a reply), the thread
            // goes on at once, and the receive that finds the link empty happens in its next
            // wait instead of before its answer (or never, when the link says its queue ran
            // dry: `RawLink::rx_maybe_pending`).
            // The link is looked at when it was readable, when the thread spins, and when it
            // may hold frames (the frame ring says exactly whether its next slot holds one:
            // a frame that came in since the thread last looked is taken without a sleep).
            let take = readable || self.busy_poll || core.may_have_frames();
            let (mut looks, mut limit) = (0, 1);
            loop {
                if !core.look(link_fd.is_some(), take.then_some(limit), me, self.busy_poll)? {
                    // Nothing came in and no timer ran: `ready` said no a moment ago.
                    return Ok(None);
                }
                looks += limit;
                if !(take && link_fd.is_some() && core.rx_more && looks < RX_LIMIT) {
                    break;
                }
                if let Some(v) = ready(core)? {
                    return Ok(Some(v));
                }
                limit = RX_CHUNK;
            }
            ready(core)
        })();
        match res {
            Ok(Some(v)) => Some(Ok(v)),
            Err(e) => Some(Err(e)),
            Ok(None) if self.stop.load(Ordering::Relaxed) => Some(Err(NodeError::Closed)),
            Ok(None) => {
                // A look that found nothing read no clock: a timed wait reads it here.
                let now = if timeout.is_some() {
                    core.now()
                } else {
                    core.recent()
                };
                let d = match (*deadline, timeout) {
                    (Some(d), _) => d,
                    (None, Some(t)) => *deadline.insert(now.saturating_add(t)),
                    (None, None) => return None,
                };
                (now >= d).then_some(Err(NodeError::Timeout))
            }
        }
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
        while matches!((&self.rx).read(&mut buf), Ok(n) if n == buf.len()) {}
    }
}

thread_local! {
    static WAKER: ThreadWaker = ThreadWaker::new();
}

/// Which descriptors a [`wait_fds`] saw readable.
#[derive(Debug, Clone, Copy, Default)]
struct Woke {
    link: bool,
    wake: bool,
}

/// Sleep until `link_fd` (if any) or `wake_fd` is readable, or `timeout` passes (to the
/// microsecond: `ppoll`, so that short timers such as a batch delay are kept).
fn wait_fds(link_fd: Option<RawFd>, wake_fd: RawFd, timeout: Option<Duration>) -> io::Result<Woke> {
    let mut fds = [
        libc::pollfd {
            fd: wake_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: link_fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = if link_fd.is_some() { 2 } else { 1 };
    let rc = poll(&mut fds[..n], timeout);
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        return Ok(Woke::default());
    }
    // Errors and hang-ups count as readable: the next receive reports them.
    Ok(Woke {
        wake: fds[0].revents != 0,
        link: n == 2 && fds[1].revents != 0,
    })
}

/// `ppoll(2)`: the timeout to the nanosecond.
#[cfg(not(target_vendor = "apple"))]
fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> libc::c_int {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: fds is a valid slice of pollfd structs and `ts_ptr` is null or points to a
    // timespec, both alive for the duration of the call; a null signal mask keeps the
    // thread's mask.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    }
}

/// `poll(2)` (macOS has no `ppoll`): the timeout rounded up to the millisecond, so a short
/// timer fires late rather than spinning.
#[cfg(target_vendor = "apple")]
fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> libc::c_int {
    let ms = timeout.map_or(-1, |d| {
        d.as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int
    });
    // SAFETY: fds is a valid slice of pollfd structs, alive for the duration of the call.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) }
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
    /// Open interface `iface` with the host's port and start a node on it. The same code runs
    /// on every host. On Linux the link uses the `frame-ring` backend (a `TPACKET_V2` receive
    /// ring): the kernel hands every frame over as soon as it arrives and the node finds it
    /// without a system call (a busy-polling round trip 0.70x the `mmsg` backend's, a blocking
    /// one 0.87-0.91x), where the TPACKET_V3 `ring` (what `auto` prefers, for throughput) hands
    /// frames over a block at a time, up to its block timeout late — about a millisecond per
    /// round trip (docs/BENCHMARKS.md). For another backend open the link yourself
    /// (`LinuxLink::open`) and call [`Node::new`]. On macOS and the BSDs it is `/dev/bpf`.
    pub fn open(iface: &str, config: NodeConfig) -> Result<Self, NodeError> {
        #[cfg(target_os = "linux")]
        let link = {
            let mut cfg = l2net_linux::link::LinkConfig::new(iface);
            cfg.backend = l2net_linux::link::Backend::FrameRing;
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
        if config.heartbeat_period.is_zero() {
            return Err(NodeError::Config(
                "heartbeat_period must be above zero".into(),
            ));
        }
        cfg.heartbeat_period = config.heartbeat_period;
        if !(1..=256).contains(&config.reliable_window) {
            return Err(NodeError::Config(format!(
                "reliable_window must be 1 to 256, not {}",
                config.reliable_window
            )));
        }
        cfg.reliable_window = config.reliable_window;
        cfg.mtu = link.capabilities().mtu.min(usize::from(u16::MAX));
        let mac = link.mac();
        let id = random_id();
        let epoch = Epoch::now();
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
        let changes = Arc::new(AtomicU64::new(0));
        let attention = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                participant,
                link,
                arenas,
                events: VecDeque::with_capacity(EVENT_BACKLOG),
                waiters: Vec::with_capacity(64),
                followers: Vec::new(),
                quiet_readers: Vec::new(),
                leader: false,
                leader_until: None,
                next_due: None,
                rx_more: false,
                link_error: None,
                epoch,
                last_now: Cell::new(Instant::ZERO),
                changes: Arc::clone(&changes),
                attention: Arc::clone(&attention),
            }),
            epoch,
            activity: AtomicU64::new(0),
            io_until: AtomicU64::new(u64::MAX),
            io_parked: AtomicBool::new(false),
            readiness,
            busy_poll: config.busy_poll,
            endpoint_arena: config.endpoint_arena.max(1 << 12),
            stop: AtomicBool::new(false),
            io_wake,
            changes,
            attention,
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
        self.shared.wait_for(timeout, |c| Ok(c.pop_event()))
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
        self.shared.kick(&core);
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
        self.shared.lock().wake_all(None);
        let _ = io.join();
    }
}

impl<L: NodeLink> Drop for Node<L> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How long user threads must leave the link alone before the I/O thread watches it.
const IO_IDLE: Duration = Duration::from_millis(1);
/// How often the I/O thread looks again while a user thread leads the link.
const IO_RECHECK: Duration = Duration::from_millis(5);
/// After a leader has slept this long, the I/O thread stops looking every [`IO_RECHECK`] and
/// sleeps until its own work falls due; the leader wakes it when it leaves. A thread blocked
/// on an idle link then costs no wake-ups, and a busy one (whose sleeps are short) pays no
/// extra system call per wait.
const IO_PARK_AFTER: Duration = Duration::from_millis(50);

/// The I/O thread: runs the timers, and receives while no user thread waits on the link.
/// While user threads wait or spin (and so receive themselves) it stands back, so that a frame
/// wakes exactly the thread that wants it; it comes back within [`IO_IDLE`] of their leaving
/// (within [`IO_RECHECK`] after a leader left), or at once when a write schedules work earlier
/// than it planned to look ([`Shared::kick`]).
fn io_thread<L: NodeLink>(shared: &Shared<L>, wake: UnixStream) {
    while !shared.stop.load(Ordering::Relaxed) {
        let since = shared
            .since_epoch()
            .saturating_sub(shared.activity.load(Ordering::Relaxed));
        let standing_back = since < IO_IDLE.as_nanos() as u64;
        let (watch, sleep) = {
            let mut core = match shared.core.try_lock() {
                Ok(c) => c,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    // Someone is driving right now; look again shortly, or after a whole
                    // IO_IDLE while user threads are busy with the link (a busy-polling one
                    // holds the lock most of the time: waking four times as often only takes
                    // its CPU away).
                    let pause = if standing_back { IO_IDLE } else { IO_IDLE / 4 };
                    if wait_fds(None, wake.as_raw_fd(), Some(pause)).is_ok_and(|w| w.wake) {
                        drain(&wake);
                    }
                    continue;
                }
            };
            let link_fd = match shared.readiness {
                Readiness::Fd(fd) => Some(fd),
                Readiness::Every(_) => None,
            };
            let now = core.now();
            let res = if standing_back || core.leader {
                if core.is_due(now) {
                    core.step().map(|()| core.settle(false, None))
                } else {
                    Ok(())
                }
            } else {
                core.pump()
            };
            let (watch, cap) = if res.is_err() {
                // The link failed for good: waiters were told; nothing left to drive.
                (None, Some(Duration::from_secs(3600)))
            } else if standing_back {
                // A whole IO_IDLE, not just what is left of it: half the wake-ups while user
                // threads keep the link busy, at most 2 * IO_IDLE before taking over.
                (None, Some(IO_IDLE))
            } else if core.leader && link_fd.is_some() {
                if since >= IO_PARK_AFTER.as_nanos() as u64 {
                    shared.io_parked.store(true, Ordering::Relaxed);
                    (None, None)
                } else {
                    (None, Some(IO_RECHECK))
                }
            } else if link_fd.is_none() {
                let every = match shared.readiness {
                    Readiness::Every(d) => d,
                    Readiness::Fd(_) => IO_RECHECK,
                };
                (None, Some(if core.leader { IO_RECHECK } else { every }))
            } else {
                (link_fd, None)
            };
            // Frames left in the link's own buffer: come back at once.
            let cap = if core.rx_more && res.is_ok() {
                Some(Duration::ZERO)
            } else {
                cap
            };
            let due = core.due_in(now);
            // A leader that left its wake-up to this thread: wake it when its time came.
            let leader = match core.leader_until {
                Some((at, fd)) if at <= now => {
                    self::wake(fd);
                    core.leader_until = None;
                    None
                }
                Some((at, _)) => Some(Duration::from_nanos(at.as_nanos() - now.as_nanos())),
                None => None,
            };
            let due = earliest(due, leader);
            let sleep = earliest(due, cap);
            let until = sleep.map_or(u64::MAX, |d| {
                now.as_nanos().saturating_add(d.as_nanos() as u64)
            });
            shared.io_until.store(until, Ordering::Relaxed);
            (watch, sleep)
        };
        if wait_fds(watch, wake.as_raw_fd(), sleep).is_ok_and(|w| w.wake) {
            drain(&wake);
        }
    }
}

/// Empty a non-blocking wake-up socket.
fn drain(s: &UnixStream) {
    let mut buf = [0u8; 64];
    while matches!((&*s).read(&mut buf), Ok(n) if n == buf.len()) {}
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
        self.publish_with(data.len(), timeout, |b| b.copy_from_slice(data))
    }

    /// Like [`Publisher::publish_timeout`], with the sample written in place: `fill` gets the
    /// `len` bytes of the sample's slot in the publisher's history and must write all of them
    /// (a middleware serializes straight into the history instead of into a buffer of its own
    /// that is then copied). `fill` runs while the node is locked, once room was found (at
    /// most once per call); it must not call into the node.
    pub fn publish_with(
        &self,
        len: usize,
        timeout: Option<Duration>,
        mut fill: impl FnMut(&mut [u8]),
    ) -> Result<u64, NodeError> {
        // The common case first: room in the window. No wait state (the thread's wake-up
        // socket, a thread-local behind a call in a dynamically loaded library) and no second
        // pass over the events that `after_write` already queued.
        match self.try_publish_with(len, &mut fill) {
            Err(NodeError::Write(WriteError::WouldBlock)) => {}
            done => return done,
        }
        self.shared.wait_for(timeout, |core| {
            let now = core.now();
            match core
                .participant
                .write_with(self.handle, len, now, &mut fill)
            {
                Ok(seq) => {
                    self.shared.after_write(core)?;
                    Ok(Some(seq))
                }
                Err(WriteError::WouldBlock) => Ok(None),
                Err(e) => Err(NodeError::Write(e)),
            }
        })
    }

    /// Publish several samples in one go: they are written together and then sent with one
    /// pass over the link, so that consecutive small samples share frames (BATCH messages) and
    /// the frames leave in as few system calls as the link allows (one `sendmmsg` for up to
    /// 64 frames). Waits like [`Publisher::publish_timeout`] for room for the first sample;
    /// returns how many were published, fewer than `samples.len()` when a reliable reader's
    /// window filled up (publish the rest with another call).
    pub fn publish_batch<S: AsRef<[u8]>>(
        &self,
        samples: &[S],
        timeout: Option<Duration>,
    ) -> Result<usize, NodeError> {
        if samples.is_empty() {
            return Ok(0);
        }
        self.shared.wait_for(timeout, |core| {
            let now = core.now();
            let mut n = 0;
            for s in samples {
                match core.participant.write(self.handle, s.as_ref(), now) {
                    Ok(_) => n += 1,
                    Err(WriteError::WouldBlock) => break,
                    // Report the error unless some samples went in: those are sent first, the
                    // caller meets the error again with the next call.
                    Err(e) if n == 0 => return Err(NodeError::Write(e)),
                    Err(_) => break,
                }
            }
            if n == 0 {
                return Ok(None);
            }
            self.shared.after_write(core)?;
            Ok(Some(n))
        })
    }

    /// Publish without waiting: `Err(NodeError::Write(WriteError::WouldBlock))` when a reliable
    /// reader's window is full.
    pub fn try_publish(&self, data: &[u8]) -> Result<u64, NodeError> {
        self.try_publish_with(data.len(), |b| b.copy_from_slice(data))
    }

    /// [`Publisher::try_publish`] written in place, as [`Publisher::publish_with`].
    pub fn try_publish_with(
        &self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64, NodeError> {
        let mut core = self.shared.lock();
        let now = core.now();
        let seq = core
            .participant
            .write_with(self.handle, len, now, fill)
            .map_err(NodeError::Write)?;
        self.shared.after_write(&mut core)?;
        Ok(seq)
    }

    /// The engine's handle of this publisher's writer: the `local` endpoint that
    /// [`Node::next_event`] names in matching, QoS and deadline events about it.
    pub fn handle(&self) -> WriterHandle {
        self.handle
    }

    /// Assert this publisher's liveliness without publishing (what a manual-by-topic writer
    /// must do within its lease when it has nothing to publish): its readers get a HEARTBEAT
    /// with the liveliness flag at once.
    pub fn assert_liveliness(&self) -> Result<(), NodeError> {
        let mut core = self.shared.lock();
        let now = core.now();
        core.participant
            .assert_liveliness(self.handle, now)
            .map_err(NodeError::Write)?;
        core.pump()
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

    /// Wait at most `timeout` (`None`: forever) for samples, then take up to `max` of the
    /// queued ones under one lock, handing each to `f` in place (its info and bytes, no copy
    /// into a buffer of the caller). Returns how many were taken (at least one, unless `max`
    /// is 0). Cheaper per sample than [`Subscriber::recv`] when samples arrive faster than
    /// one thread takes them one by one.
    ///
    /// `f` runs while the node is locked: it must not call into the node (that deadlocks).
    pub fn recv_batch(
        &self,
        max: usize,
        timeout: Option<Duration>,
        mut f: impl FnMut(&SampleInfo, &[u8]),
    ) -> Result<usize, NodeError> {
        if max == 0 {
            return Ok(0);
        }
        self.shared.wait_for(timeout, |core| {
            let mut n = 0;
            while n < max {
                let took = core
                    .participant
                    .take_with(self.handle, |info, data| {
                        f(info, data);
                        Ok::<(), std::convert::Infallible>(())
                    })
                    .map_err(NodeError::Take)?;
                if took.is_none() {
                    break;
                }
                n += 1;
            }
            Ok((n > 0).then_some(n))
        })
    }

    /// The next sample if one is queued, without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<SampleInfo>, NodeError> {
        let mut core = self.shared.lock();
        if let Some(info) = self.shared.take_now(&mut core, self.handle, buf)? {
            return Ok(Some(info));
        }
        // Nothing queued: look at the link; one that finds it empty takes nothing again.
        if !self.shared.look_for_samples(&mut core)? {
            return Ok(None);
        }
        self.shared.take_now(&mut core, self.handle, buf)
    }

    /// [`Subscriber::try_recv`] in place: the next queued sample (after a look at the link when
    /// none is queued) is handed to `f` as it lies in the reader's queue, with no copy into a
    /// buffer of the caller, and taken. When `f` returns `None` the sample is dropped all the
    /// same and the next one is handed over (a filter); returns what `f` returned for the
    /// sample it kept, `None` when none was left. One lock for all of it.
    ///
    /// `f` runs while the node is locked: it must not call into the node (that deadlocks).
    pub fn try_recv_with<R>(
        &self,
        mut f: impl FnMut(&SampleInfo, &[u8]) -> Option<R>,
    ) -> Result<Option<R>, NodeError> {
        let mut core = self.shared.lock();
        let (mut took, mut looked) = (false, false);
        loop {
            let got = core
                .participant
                .take_with(self.handle, |info, data| {
                    Ok::<_, std::convert::Infallible>(f(info, data))
                })
                .map_err(NodeError::Take)?;
            match got {
                Some(Ok(Some(r))) => {
                    self.shared.after_take(&mut core, None);
                    return Ok(Some(r));
                }
                Some(Ok(None)) => {
                    took = true;
                    continue;
                }
                Some(Err(never)) => match never {},
                None => {}
            }
            // Nothing (more) queued: look at the link once.
            let more = !looked && self.shared.look_for_samples(&mut core)?;
            looked = true;
            if !more {
                if took {
                    self.shared.after_take(&mut core, None);
                }
                return Ok(None);
            }
        }
    }

    /// Whether a sample that finds this subscriber's queue empty queues an
    /// [`Event::DataAvailable`] for [`Node::next_event`] (on by default). A caller that learns
    /// of samples otherwise (it waits in `recv`, or on [`NodeWaker::changes`] and the queue)
    /// turns it off, so that each sample costs no event to queue, to take and to throw away,
    /// and wakes no thread in [`NodeWaker::wait_events`].
    pub fn set_data_events(&self, on: bool) {
        let mut core = self.shared.lock();
        core.quiet_readers.retain(|&r| r != self.handle);
        if !on {
            core.quiet_readers.push(self.handle);
        }
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
        core.quiet_readers.retain(|&r| r != self.handle);
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
                    self.shared.after_write(core)?;
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
                    self.shared.after_write(core)?;
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

// ---------------------------------------------------------------------------------------------
// Waiting on a node from outside its endpoints: `NodeWaker`, `Node::wait_until`,
// `NodeWaker::wait_any`, `Node::try_next_event` and `Subscriber::try_take`, for middlewares
// (rmw_l2net) whose wait sets watch many entries of one or several nodes at once, plus
// conditions the node does not know about (guard conditions).

/// A cloneable handle on a node's waits, usable from any thread without owning the node (it
/// keeps the node's memory alive, as an endpoint does, not the node: closing the node ends its
/// waits with [`NodeError::Closed`]).
///
/// * [`NodeWaker::wake`] wakes every thread waiting on the node (in `recv`, `next_event`,
///   [`NodeWaker::wait_until`], ...) so that it looks at its condition again: how a condition
///   the node does not know about (a flag another thread raised) ends a wait without delay.
/// * [`NodeWaker::wait_until`] and [`NodeWaker::wait_any`] wait for such a condition, taking
///   part in the leader/follower scheme of the module doc: the waiting thread sleeps on the
///   link's descriptor itself when no other thread does, and takes the frames in itself.
pub struct NodeWaker<L: NodeLink> {
    shared: Arc<Shared<L>>,
}

impl<L: NodeLink> Clone for NodeWaker<L> {
    fn clone(&self) -> Self {
        NodeWaker {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<L: NodeLink> fmt::Debug for NodeWaker<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeWaker")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<L: NodeLink> Node<L> {
    /// A handle that wakes this node's waiting threads, and waits on it, from anywhere.
    pub fn waker(&self) -> NodeWaker<L> {
        NodeWaker {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Drive the node until `ready` returns true (`Ok`), `deadline` passes
    /// ([`NodeError::Timeout`]) or the node closes; see [`NodeWaker::wait_any`].
    pub fn wait_until(
        &self,
        ready: impl FnMut() -> bool,
        deadline: Option<StdInstant>,
    ) -> Result<(), NodeError> {
        NodeWaker::wait_any(std::slice::from_ref(&self.waker()), ready, deadline)
    }

    /// The next queued event without waiting and without looking at the link.
    pub fn try_next_event(&self) -> Result<Option<Event>, NodeError> {
        self.waker().try_next_event()
    }
}

/// One node of a [`NodeWaker::wait_any`], and what the waiting thread holds in it.
struct Watch<'a, L: NodeLink> {
    shared: &'a Shared<L>,
    /// The thread's wake-up socket is in the node's `waiters`.
    registered: bool,
    /// The thread leads the node (sleeps on its link).
    led: bool,
    /// The last sleep saw the link readable.
    readable: bool,
    /// The node's `changes` at the end of the thread's last look, read under its lock: while
    /// the counter reads the same, nothing happened since that could make the thread's
    /// condition true (every frame taken in, event queued, [`NodeWaker::wake`], closing and
    /// link failure moves it under the lock).
    seen: u64,
}

impl<'a, L: NodeLink> Watch<'a, L> {
    /// The thread's part in `shared`, before it drives it; `readable`: take frames at once.
    fn new(shared: &'a Shared<L>, readable: bool) -> Self {
        Watch {
            shared,
            registered: false,
            led: false,
            readable,
            seen: 0,
        }
    }

    /// Run the node as far as it can go without sleeping: take what the link holds (one frame
    /// right after a wake-up, most often what the thread waits for, then chunks, looking at
    /// the condition in between in `wait_loop`) and run due timers. When the look found
    /// nothing, the usual way to a sleep, the thread registers (and leads, if nobody does) at
    /// once; when something came in, its condition most likely holds now and it leaves the
    /// node instead, so that the wait ends without locking the node again ([`Watch::arm`]
    /// registers it should it sleep after all). Returns when the node wants to be looked at
    /// again.
    fn drive(&mut self, me: RawFd) -> Result<WatchNext, NodeError> {
        let shared = self.shared;
        let mut core = shared.lock();
        if shared.stop.load(Ordering::Relaxed) {
            return Err(NodeError::Closed);
        }
        let link_fd = match shared.readiness {
            Readiness::Fd(fd) => Some(fd),
            Readiness::Every(_) => None,
        };
        // The link is looked at when it was readable, when the thread spins, and when it may
        // hold frames (the frame ring says exactly whether its next slot holds one): a frame
        // that came in since the thread last looked is taken without a sleep.
        let take = (self.readable || shared.busy_poll || core.may_have_frames())
            .then_some(if self.readable { 1 } else { RX_CHUNK });
        let changed = core.look(link_fd.is_some(), take, me, shared.busy_poll)?;
        self.readable = false;
        if changed && !shared.busy_poll {
            self.release(&mut core, me);
        } else {
            self.register(&mut core, link_fd.is_some(), me);
        }
        self.seen = shared.changes.load(Ordering::Relaxed);
        // The last clock reading: the time of this look, or of the last one that took a frame
        // in (the I/O thread parks early rather than late should it be old).
        let now = core.recent();
        shared.activity.store(now.as_nanos(), Ordering::Relaxed);
        // The participant's timers are the I/O thread's (as in `Shared::wait_for`): tell it if
        // this look scheduled work before it planned to look.
        shared.kick(&core);
        let every = match shared.readiness {
            Readiness::Every(d) => Some(d),
            Readiness::Fd(_) => None,
        };
        Ok(WatchNext {
            again: core.rx_more || shared.busy_poll,
            sleep: every,
        })
    }

    /// Register the thread in the locked node, and lead it if nobody does.
    fn register(&mut self, core: &mut Core<L>, has_fd: bool, me: RawFd) {
        if !self.registered {
            core.waiters.push(me);
            self.registered = true;
        }
        if !self.led && has_fd && !core.leader {
            core.leader = true;
            self.led = true;
        }
        if self.led {
            // A far deadline left to the I/O thread is set again before each sleep.
            core.leader_until = None;
        }
    }

    /// Before a sleep: make sure the thread is registered. Without a lock when it still is
    /// since its look (whatever happened since woke it); otherwise it registers under the lock
    /// unless the node changed since its look, and then returns false: look again.
    fn arm(&mut self, me: RawFd) -> Result<bool, NodeError> {
        if self.registered {
            return Ok(true);
        }
        let shared = self.shared;
        let mut core = shared.lock();
        if shared.stop.load(Ordering::Relaxed) {
            return Err(NodeError::Closed);
        }
        if shared.changes.load(Ordering::Relaxed) != self.seen {
            return Ok(false);
        }
        let has_fd = matches!(shared.readiness, Readiness::Fd(_));
        self.register(&mut core, has_fd, me);
        Ok(true)
    }

    /// The link descriptor to sleep on: the node's, when the thread leads it.
    fn link_fd(&self) -> Option<RawFd> {
        match self.shared.readiness {
            Readiness::Fd(fd) if self.led => Some(fd),
            _ => None,
        }
    }

    /// Unregister from the locked node, and hand the link to a thread still waiting.
    fn release(&mut self, core: &mut Core<L>, me: RawFd) {
        if self.registered {
            core.waiters.retain(|&fd| fd != me);
            self.registered = false;
        }
        if self.led {
            core.leader = false;
            core.leader_until = None;
            self.shared.leader_left();
            if let Some(&fd) = core.waiters.first() {
                wake(fd);
            }
            self.led = false;
        }
    }

    /// Leave the node at the end of the wait (no lock if the last look left it already).
    fn leave(&mut self, me: RawFd) {
        if !(self.registered || self.led) {
            return;
        }
        let mut core = self.shared.lock();
        self.release(&mut core, me);
    }

    /// If the thread leads this node: leave the wake-up `left` from now to the node's I/O
    /// thread (as a leader in `Shared::wait_for` does, [`LEADER_TIMER_MIN`]) and return true.
    fn wake_me_in(&mut self, left: Duration, me: RawFd) -> bool {
        if !self.led {
            return false;
        }
        let shared = self.shared;
        let mut core = shared.lock();
        let at = core.now().saturating_add(left);
        core.leader_until = Some((at, me));
        if at.as_nanos() < shared.io_until.load(Ordering::Relaxed) {
            shared.io_until.store(0, Ordering::Relaxed);
            wake(shared.io_wake.as_raw_fd());
        }
        true
    }
}

/// What [`Watch::drive`] found.
struct WatchNext {
    /// Frames wait in the link's buffer (or the node busy-polls): look again without sleeping.
    again: bool,
    /// Longest sleep before the next look at a link without a descriptor (`None` for a link
    /// with one: the participant's timers are the I/O thread's).
    sleep: Option<Duration>,
}

impl<L: NodeLink> NodeWaker<L> {
    /// Wake every thread waiting on the node, so that each looks at its condition again.
    /// Cheap (one byte per waiting thread), callable from any thread, and never lost: a
    /// [`NodeWaker::wait_any`] that looked at its condition before this call and found it
    /// false is woken.
    pub fn wake(&self) {
        self.shared.lock().wake_all(None);
    }

    /// Whether the node was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// A counter the node bumps whenever it wakes its waiting threads: frames taken in, events
    /// queued, a [`NodeWaker::wake`], a link failure. One atomic load, no lock. A
    /// [`NodeWaker::wait_any`] condition that read it before looking at the node (its queues,
    /// its events) and found nothing need not look again while it reads the same value: no
    /// sample and no event has arrived since (a busy-polling waiter's cheap test).
    pub fn changes(&self) -> u64 {
        self.shared.changes.load(Ordering::Acquire)
    }

    /// Whether an event may be queued for [`NodeWaker::try_next_event`] (or the link failed, which
    /// it reports): one atomic load, no lock. `false` means that the queue was empty when last
    /// looked at and nothing was queued since; an event queued later is flagged before
    /// [`NodeWaker::changes`] moves, so a caller that read the counter first and finds this
    /// false need not lock the node to look.
    pub fn has_events(&self) -> bool {
        self.shared.attention.load(Ordering::Acquire)
    }

    /// The instant the node's engine clock counts from: a [`SampleInfo::received`] is that
    /// many nanoseconds after it (so that a caller can put the delivery on its own clock
    /// without reading one per sample).
    pub fn epoch(&self) -> StdInstant {
        self.shared.epoch.std
    }

    /// Run `f` with the participant (read-only), as [`Node::with_participant`].
    pub fn with_participant<T>(&self, f: impl FnOnce(&Part) -> T) -> T {
        f(&self.shared.lock().participant)
    }

    /// Whether both handles belong to the same node.
    pub fn same_node(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The next queued event (as [`Node::next_event`] hands them out) without waiting and
    /// without looking at the link; `Err` once the link failed for good.
    pub fn try_next_event(&self) -> Result<Option<Event>, NodeError> {
        let mut core = self.shared.lock();
        match core.pop_event() {
            Some(ev) => Ok(Some(ev)),
            None => core.check().map(|()| None),
        }
    }

    /// Sleep until the node has an event queued (for [`NodeWaker::try_next_event`]), `ready`
    /// returns true, or `deadline` passes; returns which (`Ok(true)`: an event is queued).
    ///
    /// Unlike [`NodeWaker::wait_any`] the thread is a *follower* only: it never takes the
    /// link, never drives the node and does not keep the I/O thread standing back, and it is
    /// woken only when an event is queued (or by [`NodeWaker::wake`], a link failure, the
    /// node's closing), not by every frame. So a thread that routes the node's events while
    /// nothing else waits (a middleware's event thread) sleeps until there is work, at no cost
    /// to the threads that receive. `ready` is called without the node locked, after the
    /// thread registered: a [`NodeWaker::wake`] after raising a flag `ready` reads is not lost.
    pub fn wait_events(
        &self,
        mut ready: impl FnMut() -> bool,
        deadline: Option<StdInstant>,
    ) -> Result<bool, NodeError> {
        WAKER.with(|w| {
            let me = w.tx_fd;
            self.shared.lock().followers.push(me);
            let res = (|| loop {
                {
                    let core = self.shared.lock();
                    if self.shared.stop.load(Ordering::Relaxed) {
                        return Err(NodeError::Closed);
                    }
                    if !core.events.is_empty() {
                        return Ok(true);
                    }
                    core.check()?;
                }
                if ready() {
                    return Ok(false);
                }
                let sleep = match deadline {
                    Some(d) => match d.checked_duration_since(StdInstant::now()) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => return Err(NodeError::Timeout),
                    },
                    None => None,
                };
                match wait_fds(None, w.rx.as_raw_fd(), sleep) {
                    Ok(woke) if woke.wake => w.drain(),
                    Ok(_) => {}
                    Err(e) => return Err(NodeError::Io(e)),
                }
            })();
            self.shared.lock().followers.retain(|&fd| fd != me);
            res
        })
    }

    /// [`NodeWaker::wait_any`] on this node alone.
    pub fn wait_until(
        &self,
        ready: impl FnMut() -> bool,
        deadline: Option<StdInstant>,
    ) -> Result<(), NodeError> {
        Self::wait_any(std::slice::from_ref(self), ready, deadline)
    }

    /// Drive `nodes` until `ready` returns true (`Ok`), `deadline` passes
    /// ([`NodeError::Timeout`]; `None`: no deadline), one of them closes
    /// ([`NodeError::Closed`]) or its link fails.
    ///
    /// The calling thread takes part in each node's leader/follower scheme: where no other
    /// thread sleeps on a node's link it does (so a frame wakes it directly, and it takes the
    /// frames in and sends what they made due itself), elsewhere it is woken by the thread
    /// that took something in. `ready` is called without any node locked, after the thread
    /// registered as a waiter everywhere: whatever makes it true later — a sample, an event,
    /// another thread's [`NodeWaker::wake`] after it raised a flag — wakes the thread, so no
    /// wake-up is lost. `ready` may take samples and events (`try_take`, `try_recv`,
    /// `try_next_event`, ...) but must not wait on these nodes itself. A wait whose deadline
    /// has already passed (a poll) first takes in what the links hold, so that a thread that
    /// only polls still receives.
    pub fn wait_any(
        nodes: &[Self],
        mut ready: impl FnMut() -> bool,
        deadline: Option<StdInstant>,
    ) -> Result<(), NodeError> {
        // A wait that cannot sleep (its deadline passed: a poll) takes in what the link holds
        // first; otherwise a thread that only ever polls would keep the I/O thread standing
        // back (it leaves the link to waiting threads) and never see a frame.
        let polling = deadline.is_some_and(|d| d <= StdInstant::now());
        // One node (the common case: an rmw wait set of one context) needs no allocation.
        let (mut one, mut many);
        let watches: &mut [Watch<'_, L>] = match nodes {
            [] => return Err(NodeError::Config("wait_any needs at least one node".into())),
            [n] => {
                one = [Watch::new(&n.shared, polling)];
                &mut one
            }
            _ => {
                many = Vec::with_capacity(nodes.len());
                for n in nodes {
                    if !many
                        .iter()
                        .any(|w: &Watch<'_, L>| std::ptr::eq(w.shared, &*n.shared))
                    {
                        many.push(Watch::new(&n.shared, polling));
                    }
                }
                &mut many
            }
        };
        WAKER.with(|w| {
            let res = Self::wait_loop(watches, w, &mut ready, deadline);
            for x in watches.iter_mut() {
                x.leave(w.tx_fd);
            }
            res
        })
    }

    fn wait_loop(
        watches: &mut [Watch<'_, L>],
        w: &ThreadWaker,
        ready: &mut impl FnMut() -> bool,
        deadline: Option<StdInstant>,
    ) -> Result<(), NodeError> {
        let me = w.tx_fd;
        // The thread's wake-up socket, then each node's link (on the stack for up to 4 nodes).
        const ON_STACK: usize = 5;
        let unused = libc::pollfd {
            fd: -1,
            events: libc::POLLIN,
            revents: 0,
        };
        let (mut stack, mut heap) = ([unused; ON_STACK], Vec::new());
        let fds: &mut [libc::pollfd] = if watches.len() < ON_STACK {
            &mut stack[..watches.len() + 1]
        } else {
            heap.resize(watches.len() + 1, unused);
            &mut heap
        };
        let mut spins = 0u32;
        'look: loop {
            let mut again = false;
            let mut sleep = None;
            for x in watches.iter_mut() {
                let next = x.drive(me)?;
                again |= next.again;
                sleep = earliest(sleep, next.sleep);
            }
            if ready() {
                return Ok(());
            }
            if again {
                // As `Shared::wait_for`: a busy-polling waiter lets a thread that shares its
                // CPU run now and then. It reads the clock for its deadline after the first
                // spin (a zero timeout returns at once) and then only as often as it yields:
                // a read costs about a quarter of a spin on the benchmark VM, and the deadline
                // is overrun by at most SPINS_PER_YIELD spins (a few microseconds).
                spins = spins.wrapping_add(1);
                let yields = spins.is_multiple_of(SPINS_PER_YIELD);
                if (spins == 1 || yields) && deadline.is_some_and(|d| StdInstant::now() >= d) {
                    return Err(NodeError::Timeout);
                }
                if yields {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            // Registered everywhere before sleeping, with nothing missed since each look.
            for x in watches.iter_mut() {
                if !x.arm(me)? {
                    continue 'look;
                }
            }
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(StdInstant::now());
                if left.is_zero() {
                    return Err(NodeError::Timeout);
                }
                // A far deadline is left to the I/O thread of a node this thread leads, which
                // sleeps with a timer anyway (LEADER_TIMER_MIN: a timer armed for every sleep
                // cost 1.5-2 us per wait).
                let delegated =
                    left >= LEADER_TIMER_MIN && watches.iter_mut().any(|x| x.wake_me_in(left, me));
                if !delegated {
                    sleep = earliest(Some(left), sleep);
                }
            }
            fds[0] = libc::pollfd {
                fd: w.rx.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            for (x, fd) in watches.iter().zip(&mut fds[1..]) {
                *fd = libc::pollfd {
                    fd: x.link_fd().unwrap_or(-1),
                    events: libc::POLLIN,
                    revents: 0,
                };
            }
            // poll(2) ignores entries with a negative descriptor.
            if poll(fds, sleep) < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(NodeError::Io(e));
                }
                continue;
            }
            if fds[0].revents != 0 {
                w.drain();
            }
            for (x, fd) in watches.iter_mut().zip(&fds[1..]) {
                // Errors and hang-ups count as readable: the next receive reports them.
                x.readable = fd.fd >= 0 && fd.revents != 0;
            }
        }
    }
}

impl<L: NodeLink> Subscriber<L> {
    /// The next sample if one is already queued, without looking at the link: cheap enough to
    /// test readiness with (in a [`NodeWaker::wait_any`] condition, for instance), where
    /// [`Subscriber::try_recv`] also receives when the queue is empty.
    pub fn try_take(&self, buf: &mut [u8]) -> Result<Option<SampleInfo>, NodeError> {
        let mut core = self.shared.lock();
        self.shared.take_now(&mut core, self.handle, buf)
    }
}
