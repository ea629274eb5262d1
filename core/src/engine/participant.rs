//! The participant: one l2net node's protocol state, driven by frames and the time.
//!
//! Shape (after quinn-proto's `Connection` and smoltcp's `Interface`):
//!
//! * input: [`Participant::handle_frame`] for every received frame, [`Participant::handle_timeout`]
//!   when [`Participant::poll_timeout`] says so;
//! * output: [`Participant::poll_transmit`] (plan the next frame, get its length) then
//!   [`Participant::write_transmit`] (write it into a TX token of exactly that length);
//!   [`Participant::poll_event`]; [`Participant::poll_link_op`] (multicast groups to join/leave);
//! * application calls: create writers/readers/services, [`Participant::write`],
//!   [`Participant::take`], [`Participant::call`] ...
//!
//! It never reads a clock, a socket or a random source: every call that depends on time takes
//! `now`, and the participant id (the only random value) is passed to [`Participant::new`].
//! Memory is fixed at construction: const-generic table sizes and byte arenas lent by the caller.
//! [`super::drive`] runs one bounded round over any [`crate::RawLink`].

use core::mem::MaybeUninit;
use core::time::Duration;

use heapless::Deque;

use super::event::{Event, LocalEndpoint, LostReason, ReaderHandle, RemoteId, WriterHandle};
use super::graph::{EndpointInfo, EndpointKind, Graph, Name, TypeHash};
use super::history::{History, HistoryError, HistoryKind, SampleId, SampleMeta};
use super::qos::{Durability, Liveliness, Qos, Reliability};
use super::reassembly::Reassembly;
use super::seqset::{SEQSET_BITS, SeqSet};
use super::stats::Stats;
use super::window::{ReaderProxy, ReaderWindow};
use crate::time::{Instant, div_duration, mul_div_duration};
use crate::wire::{self, MacAddr, VlanTag};

/// Events a participant buffers by default (its last capacity parameter, `Q`) before new ones
/// are dropped (counted in [`Stats::events_dropped`]). A small node sets fewer: each event is
/// 40 bytes on 32-bit targets.
pub const EVENT_QUEUE: usize = 128;
/// Pending unicast HELLO replies.
const REPLY_QUEUE: usize = 4;
/// Pending NACK_FRAG requests per writer.
#[cfg(feature = "fragmentation")]
const FRAG_NACKS: usize = 8;
/// GOODBYE frames sent on shutdown (more than one survives a lossy link).
const GOODBYES: u8 = 2;

/// Settings of a participant. [`Config::new`] gives the defaults.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Config<'c> {
    /// Domain id; participants of other domains are ignored.
    pub domain: u16,
    /// Participant name (at most 63 bytes), announced in HELLO.
    pub name: &'c str,
    /// Our lease: others drop us if they hear nothing for this long.
    pub lease: Duration,
    /// Period of HELLO in steady state (should be well below `lease`, a third by default).
    pub announce_period: Duration,
    /// Period of the fast HELLOs at start-up and after the endpoint list changed.
    pub fast_announce_period: Duration,
    /// How many fast HELLO rounds to send.
    pub fast_announces: u8,
    /// Unicast MACs that get a HELLO with REPLY_REQUESTED every round (networks without
    /// multicast).
    pub static_peers: &'c [MacAddr],
    /// Remote leases are clamped to at least this...
    pub min_lease: Duration,
    /// ... and at most this (a forged HELLO cannot pin a slot forever).
    pub max_lease: Duration,
    /// Period of reliable writers' HEARTBEATs while samples are unacknowledged.
    pub heartbeat_period: Duration,
    /// Largest sample accepted from the wire (reassembly); also bounded by the reassembly arena.
    pub max_sample_len: usize,
    /// Incomplete samples that make no progress for this long are dropped.
    pub reassembly_timeout: Duration,
    /// How long a lone small best-effort sample may wait for company to share a BATCH frame
    /// (zero: send at once; batches still form when the link is slower than the writer).
    pub batch_delay: Duration,
    /// Most unacknowledged samples a reliable writer may have before `write` reports
    /// `WouldBlock` (at most 256).
    pub reliable_window: u16,
    /// Most endpoints accepted from one remote participant.
    pub max_endpoints_per_peer: usize,
    /// The participant's VLAN, if any. Every frame we send carries this tag (its PCP is the
    /// frames' priority), and a received frame is accepted only if its outermost VLAN tag (in
    /// the bytes, or reported stripped in [`crate::link::RxMeta::stripped_vlan`]) has the same
    /// VLAN id; others, untagged ones included, are counted in
    /// [`Stats::rx_other_vlan`](super::Stats) and dropped. `None`: frames are sent untagged
    /// and received whatever their tags. The link must deliver the tag for this to work
    /// (port-linux reports tags the kernel stripped).
    pub vlan: Option<VlanTag>,
    /// The link's MTU (Ethernet payload bytes per frame, without VLAN tags).
    pub mtu: usize,
}

impl<'c> Config<'c> {
    /// Defaults: 10 s lease, HELLO every 3 s after 5 fast rounds 100 ms apart, heartbeats every
    /// 50 ms, 1 MiB samples, window 128, MTU 1500, no VLAN, no static peers.
    pub const fn new(domain: u16, name: &'c str) -> Self {
        Config {
            domain,
            name,
            lease: Duration::from_secs(10),
            announce_period: Duration::from_secs(3),
            fast_announce_period: Duration::from_millis(100),
            fast_announces: 5,
            static_peers: &[],
            min_lease: Duration::from_millis(100),
            max_lease: Duration::from_secs(300),
            heartbeat_period: Duration::from_millis(50),
            max_sample_len: 1 << 20,
            reassembly_timeout: Duration::from_secs(5),
            batch_delay: Duration::ZERO,
            reliable_window: 128,
            max_endpoints_per_peer: 64,
            vlan: None,
            mtu: 1500,
        }
    }
}

/// Why a participant could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// The participant id is 0.
    ZeroId,
    /// The name is longer than 63 bytes.
    NameTooLong,
    /// The MTU is too small to carry a HELLO and a fragment (at least 256 bytes) or larger than
    /// 65535.
    BadMtu,
    /// `reliable_window` is 0 or above 256.
    BadWindow,
    /// The MAC address is a group address.
    MulticastMac,
    /// A period (announce, fast announce, heartbeat) is shorter than 1 ms, or the lease is
    /// not longer than the announce period.
    BadPeriod,
    /// The configuration asks for a feature this build of `l2net-core` leaves out
    /// (docs/ARCHITECTURE.md, "Cargo features"): a `batch_delay` without `batching`, a `vlan`
    /// without `vlan`.
    Unsupported,
}

/// Why an endpoint could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EndpointError {
    /// All writer (or reader) slots are in use.
    NoSlot,
    /// Topic or type name longer than 255 bytes.
    NameTooLong,
    /// The keep-last depth is 0.
    BadDepth,
    /// The participant is shutting down.
    Closed,
    /// The endpoint needs a feature this build of `l2net-core` leaves out (docs/ARCHITECTURE.md,
    /// "Cargo features"): a service without `services`, manual liveliness without
    /// `liveliness-manual`, transient-local durability without `transient-local`, an endpoint
    /// that would match one of this participant's own without `local`, or one more endpoint
    /// than a single HELLO frame carries without `paged-hello`.
    Unsupported,
}

/// Why a sample was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteError {
    /// No such writer (deleted, or a handle of another participant).
    UnknownWriter,
    /// The sample is larger than the writer's history arena or the configured maximum.
    TooLarge {
        /// The sample's length.
        len: usize,
        /// The largest sample the writer takes.
        max: usize,
    },
    /// A reliable reader's window (or the keep-all history) is full: try again after
    /// [`Event::Writable`]. Nothing was stored.
    WouldBlock,
    /// The participant is shutting down.
    Closed,
}

/// Why a sample could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TakeError {
    /// No such reader.
    UnknownReader,
    /// The buffer is smaller than the next sample, which stays queued.
    BufferTooSmall {
        /// The sample's length.
        need: usize,
    },
}

/// Metadata of a taken sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    /// The writer that sent it.
    pub writer: RemoteId,
    /// Its sequence number in that writer's stream.
    pub seq: u64,
    /// The sample it answers (service replies), if any.
    pub related: Option<SampleId>,
    /// When it was delivered into the reader's queue (our clock).
    pub received: Instant,
    /// Its length in bytes.
    pub len: usize,
}

/// A multicast group change the link must apply ([`Participant::poll_link_op`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkOp {
    /// Join this group.
    Join(MacAddr),
    /// Leave this group.
    Leave(MacAddr),
}

/// A service client: writes requests, reads the replies addressed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientHandle {
    /// The request-writing half.
    pub writer: WriterHandle,
    /// The reply-reading half.
    pub reader: ReaderHandle,
}

/// A service server: reads requests, writes replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerHandle {
    /// The reply-writing half.
    pub writer: WriterHandle,
    /// The request-reading half.
    pub reader: ReaderHandle,
}

/// What part an endpoint plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Topic,
    Client,
    Server,
}

impl Role {
    /// The remote kind a local writer of this role serves, and the kind a local reader of this
    /// role listens to.
    fn writer_peer_kind(self) -> EndpointKind {
        match self {
            Role::Topic => EndpointKind::Subscriber,
            Role::Client => EndpointKind::ServiceServer,
            Role::Server => EndpointKind::ServiceClient,
        }
    }
    fn reader_peer_kind(self) -> EndpointKind {
        match self {
            Role::Topic => EndpointKind::Publisher,
            Role::Client => EndpointKind::ServiceServer,
            Role::Server => EndpointKind::ServiceClient,
        }
    }
    fn announced_kind_writer(self) -> EndpointKind {
        match self {
            Role::Topic => EndpointKind::Publisher,
            Role::Client => EndpointKind::ServiceClient,
            Role::Server => EndpointKind::ServiceServer,
        }
    }
}

/// A local writer's view of one matched remote reader.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Proxy {
    pub(crate) participant: u64,
    pub(crate) entity: u32,
    pub(crate) mac: MacAddr,
    pub(crate) reliable: bool,
    pub(crate) state: ReaderProxy,
    /// When to repeat the unicast HEARTBEAT that tells the reader where to start.
    pub(crate) sync_next: Instant,
    /// It asked for repairs: once they are out, it gets a HEARTBEAT naming it.
    pub(crate) repair_hb: bool,
}

pub(crate) struct LocalWriter<'a, const H: usize, const M: usize> {
    pub(crate) entity: u32,
    pub(crate) role: Role,
    pub(crate) info: EndpointInfo,
    pub(crate) mac: MacAddr,
    pub(crate) history: History<'a, H>,
    /// Samples below this were sent at least once.
    pub(crate) sent_below: u64,
    /// Next fragment of sample `sent_below` (when it is fragmented).
    pub(crate) frag_next: u32,
    /// Whole samples to send again (requested by ACKNACK, or history for late joiners).
    pub(crate) resend: SeqSet,
    /// A fragmented sample being resent whole: (seq, next fragment).
    #[cfg(feature = "fragmentation")]
    pub(crate) resend_cursor: Option<(u64, u32)>,
    /// Fragments requested by NACK_FRAG: (seq, fragment set).
    #[cfg(feature = "fragmentation")]
    pub(crate) frag_nacks: [Option<(u64, SeqSet)>; FRAG_NACKS],
    /// How many of `frag_nacks` are `Some`: the per-drive and per-plan paths skip their scans
    /// while it is 0 (the usual case).
    #[cfg(feature = "fragmentation")]
    pub(crate) frag_nacks_used: u8,
    pub(crate) proxies: [Option<Proxy>; M],
    pub(crate) hb_count: u32,
    pub(crate) hb_next: Instant,
    /// When the last HEARTBEAT went out (rate limit of the after-burst HEARTBEAT).
    pub(crate) hb_last: Instant,
    /// When it last sent a new sample while its readers had acknowledged everything.
    #[cfg(feature = "ack-with-data")]
    pub(crate) resumed: Instant,
    /// Send a HEARTBEAT as soon as the current burst of data is out.
    pub(crate) hb_soon: bool,
    /// `write` returned WouldBlock; report [`Event::Writable`] when room appears.
    pub(crate) blocked: bool,
    pub(crate) deadline_next: Option<Instant>,
    /// A lone small sample may wait until then for a BATCH partner.
    pub(crate) batch_until: Option<Instant>,
    /// `proxies[proxies_hi..]` are all `None`: scans stop there (matches take the first free
    /// slot, so the used ones stay packed at the front).
    pub(crate) proxies_hi: usize,
    /// Last liveliness assertion (a write or `assert_liveliness`).
    pub(crate) live_asserted: Instant,
    /// [`Event::LivelinessLost`] was reported and no assertion came since.
    pub(crate) live_lost: bool,
    /// Send a HEARTBEAT with the LIVELINESS flag.
    pub(crate) assert_due: bool,
    /// Matched readers of this participant.
    pub(crate) local: super::local::LocalLinks<M>,
    /// Proxies with `repair_hb` set.
    pub(crate) repair_hbs: usize,
}

impl<const H: usize, const M: usize> LocalWriter<'_, H, M> {
    /// The proxy slots that may be in use.
    pub(crate) fn live(&self) -> &[Option<Proxy>] {
        // `get`, not a range index: no panic site (they keep `core::fmt` in a firmware image).
        self.proxies.get(..self.proxies_hi).unwrap_or(&self.proxies)
    }
    pub(crate) fn live_mut(&mut self) -> &mut [Option<Proxy>] {
        let hi = self.proxies_hi.min(self.proxies.len());
        self.proxies.split_at_mut(hi).0
    }
    fn shrink(&mut self) {
        while self.proxies_hi > 0
            && self
                .proxies
                .get(self.proxies_hi - 1)
                .is_some_and(Option::is_none)
        {
            self.proxies_hi -= 1;
        }
        self.recount_repairs();
    }
    pub(crate) fn recount_repairs(&mut self) {
        self.repair_hbs = self.live().iter().flatten().filter(|p| p.repair_hb).count();
    }
    /// No fragment repairs are pending (requested by NACK_FRAG, or a fragmented sample being
    /// resent whole); always true without the `fragmentation` feature.
    pub(crate) fn fragment_repairs_out(&self) -> bool {
        #[cfg(feature = "fragmentation")]
        return self.resend_cursor.is_none() && self.frag_nacks_used == 0;
        #[cfg(not(feature = "fragmentation"))]
        true
    }
    /// Proxy `i` asked for repairs.
    pub(crate) fn want_repair_hb(&mut self, i: usize) {
        if let Some(p) = self.proxies.get_mut(i).and_then(Option::as_mut)
            && !p.repair_hb
        {
            p.repair_hb = true;
            self.repair_hbs += 1;
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct MatchedWriter {
    pub(crate) participant: u64,
    pub(crate) entity: u32,
    pub(crate) mac: MacAddr,
    pub(crate) reliable: bool,
    pub(crate) window: ReaderWindow,
    /// Best effort: the newest sequence number delivered (older ones are dropped).
    pub(crate) be_last: u64,
    pub(crate) ack_count: u32,
    #[cfg_attr(not(feature = "fragmentation"), allow(dead_code))]
    pub(crate) nack_count: u32,
    pub(crate) ack_due: bool,
    /// End (exclusive) of the range the last ACKNACK covered: a reader asks only for what it
    /// can take in, and asks again when room appears (rx.rs, `ask_when_room`).
    pub(crate) asked_below: u64,
    /// `base_seq` of the last ACKNACK sent (alone or with data): an acknowledgement rides with
    /// this participant's data only when it has more to say (tx.rs, `ack_with_data`).
    pub(crate) acked_sent: u64,
    pub(crate) nackfrag_due: bool,
    /// NACK_FRAG windows still to send for the current HEARTBEAT, and the first fragment the
    /// next window may start at.
    pub(crate) nackfrag_left: u8,
    pub(crate) nackfrag_from: u32,
    pub(crate) last_hb_count: Option<u32>,
    /// Newest sequence number the writer announced.
    pub(crate) writer_last: u64,
    /// The writer's liveliness lease when it is [`Liveliness::ManualByTopic`] with a lease
    /// (otherwise it is alive for as long as it is matched).
    #[cfg_attr(not(feature = "liveliness-manual"), allow(dead_code))]
    pub(crate) manual_lease: Option<Duration>,
    /// Alive as reported by the last [`Event::LivelinessChanged`].
    pub(crate) alive: bool,
    /// With a manual lease: alive until then unless it asserts itself again.
    #[cfg_attr(not(feature = "liveliness-manual"), allow(dead_code))]
    pub(crate) live_until: Instant,
    /// Newest sequence number seen in its data (older ones are repairs, not assertions).
    #[cfg_attr(not(feature = "liveliness-manual"), allow(dead_code))]
    pub(crate) live_seq: u64,
}

pub(crate) struct LocalReader<'a, const H: usize, const M: usize> {
    pub(crate) entity: u32,
    pub(crate) role: Role,
    pub(crate) info: EndpointInfo,
    pub(crate) mac: MacAddr,
    pub(crate) queue: History<'a, H>,
    pub(crate) writers: [Option<MatchedWriter>; M],
    /// [`Event::DataAvailable`] was reported and the queue was not emptied since.
    pub(crate) notified: bool,
    pub(crate) deadline_next: Option<Instant>,
    /// `writers[writers_hi..]` are all `None` (see [`LocalWriter::proxies_hi`]).
    pub(crate) writers_hi: usize,
    /// Matched writers of this participant.
    pub(crate) local_writers: u16,
}

impl<const H: usize, const M: usize> LocalReader<'_, H, M> {
    /// The matched-writer slots that may be in use.
    pub(crate) fn live(&self) -> &[Option<MatchedWriter>] {
        self.writers.get(..self.writers_hi).unwrap_or(&self.writers)
    }
    pub(crate) fn live_mut(&mut self) -> &mut [Option<MatchedWriter>] {
        let hi = self.writers_hi.min(self.writers.len());
        self.writers.split_at_mut(hi).0
    }
    fn shrink(&mut self) {
        while self.writers_hi > 0
            && self
                .writers
                .get(self.writers_hi - 1)
                .is_some_and(Option::is_none)
        {
            self.writers_hi -= 1;
        }
    }

    /// A sample entered this reader's queue (reader `ri`), from the wire or from a local
    /// writer: count it, restart the deadline, and report `DataAvailable` once until the
    /// queue is drained.
    pub(crate) fn sample_queued<const Q: usize>(
        &mut self,
        ri: usize,
        now: Instant,
        stats: &mut Stats,
        events: &mut Deque<Event, Q>,
    ) {
        stats.samples_delivered += 1;
        if let Some(d) = deadline_of(&self.info.qos) {
            self.deadline_next = Some(now + d);
        }
        if !self.notified {
            self.notified = true;
            let reader = ReaderHandle {
                index: ri as u8,
                entity: self.entity,
            };
            queue_event(events, stats, Event::DataAvailable { reader });
        }
    }
}

/// Which endpoints a pass of the transmit summary looks at (see `Participant::dirty_w`): bit
/// `i` for slot `i`, bit 63 for every slot from 63 on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) w: u64,
    pub(crate) r: u64,
}

impl Scope {
    /// Every endpoint.
    pub(crate) const ALL: Scope = Scope {
        w: u64::MAX,
        r: u64::MAX,
    };

    #[cfg(feature = "ack-with-data")]
    #[inline(always)]
    pub(crate) fn bit(i: usize) -> u64 {
        1 << i.min(63)
    }

    #[cfg(feature = "ack-with-data")]
    #[inline(always)]
    pub(crate) fn has_w(self, i: usize) -> bool {
        self.w & Self::bit(i) != 0
    }

    #[cfg(feature = "ack-with-data")]
    #[inline(always)]
    pub(crate) fn has_r(self, i: usize) -> bool {
        self.r & Self::bit(i) != 0
    }

    /// No endpoint changed.
    #[cfg(feature = "ack-with-data")]
    #[inline(always)]
    pub(crate) fn is_empty(self) -> bool {
        self.w | self.r == 0
    }

    /// The writer slots of a restricted scope in `lo..hi`, in order.
    #[inline(always)]
    pub(crate) fn writers(self, lo: usize, hi: usize) -> ScopeIter {
        ScopeIter {
            bits: self.w & span(lo, hi),
            then: 0,
        }
    }

    /// The reader slots of a restricted scope in `lo..hi`, in order.
    #[inline(always)]
    pub(crate) fn readers(self, lo: usize, hi: usize) -> ScopeIter {
        ScopeIter {
            bits: self.r & span(lo, hi),
            then: 0,
        }
    }

    /// The writer slots of a restricted scope in `start..hi`, then in `0..start` (the round
    /// robin's order).
    #[inline(always)]
    pub(crate) fn writers_from(self, start: usize, hi: usize) -> ScopeIter {
        ScopeIter {
            bits: self.w & span(start, hi),
            then: self.w & span(0, start),
        }
    }
}

/// The bits of slots `lo..hi` (a restricted scope's slots are all below 63).
#[inline(always)]
fn span(lo: usize, hi: usize) -> u64 {
    let below = |n: usize| {
        if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
    };
    below(hi) & !below(lo)
}

/// The set bits of a restricted [`Scope`]'s mask, lowest first, a word at a time (then those
/// of `then`): a pass over a few changed endpoints does not walk the others' (large) slots. A
/// scope is restricted only while every slot in use is below 63 (`Participant::scope`); a full
/// pass walks the slots.
pub(crate) struct ScopeIter {
    bits: u64,
    then: u64,
}

impl Iterator for ScopeIter {
    type Item = usize;
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.bits == 0 {
            if self.then == 0 {
                return None;
            }
            self.bits = self.then;
            self.then = 0;
        }
        let i = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(i)
    }
}

/// A local endpoint's deadline period: always `None` without the `deadline` feature (such
/// endpoints are refused), so that the deadline bookkeeping folds away.
#[inline(always)]
pub(crate) fn deadline_of(q: &Qos) -> Option<Duration> {
    if cfg!(feature = "deadline") {
        q.deadline
    } else {
        None
    }
}

/// A local endpoint's lifespan: always `None` without the `lifespan` feature (see
/// [`deadline_of`]).
#[inline(always)]
pub(crate) fn lifespan_of(q: &Qos) -> Option<Duration> {
    if cfg!(feature = "lifespan") {
        q.lifespan
    } else {
        None
    }
}

/// Queue event `e`, or count it dropped when the queue is full (for code that holds the queue
/// and the counters as separate borrows).
pub(crate) fn queue_event<const Q: usize>(
    events: &mut Deque<Event, Q>,
    stats: &mut Stats,
    e: Event,
) {
    if events.push_back(e).is_err() {
        stats.events_dropped += 1;
    }
}

/// HELLO pages still to send in the current announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnnounceTarget {
    Multicast,
    Static(usize),
    Reply(MacAddr),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AnnounceCursor {
    pub(crate) target: AnnounceTarget,
    pub(crate) first_index: u16,
}

/// One l2net participant. See the module docs.
///
/// Capacities: `P` remote participants, `E` remote endpoints, `W` local writers, `R` local
/// readers, `H` history (writer) and queue (reader) slots per endpoint, `M` matched remote
/// endpoints per local endpoint (and, in a table of their own, `M` matched endpoints of this
/// participant per writer), `F` samples in reassembly at once, `Q` events buffered for
/// [`Participant::poll_event`] (default [`EVENT_QUEUE`]).
///
/// The tables live inline (names are stored in place, 255 bytes each), so the struct is large:
/// about 28 KiB for `<4, 16, 2, 2, 16, 4, 4>`, 87 KiB for `<8, 32, 4, 4, 64, 8, 16>`, 435 KiB
/// for `<64, 256, 16, 16, 64, 16, 16>`. Keep it in a `static` (`static_cell`) or a `Box`, not
/// on a small stack.
pub struct Participant<
    'a,
    const P: usize,
    const E: usize,
    const W: usize,
    const R: usize,
    const H: usize,
    const M: usize,
    const F: usize,
    const Q: usize = { EVENT_QUEUE },
> {
    pub(crate) config: Config<'a>,
    pub(crate) id: u64,
    pub(crate) mac: MacAddr,
    pub(crate) now: Instant,
    pub(crate) graph: Graph<P, E>,
    pub(crate) writers: [Option<LocalWriter<'a, H, M>>; W],
    pub(crate) readers: [Option<LocalReader<'a, H, M>>; R],
    pub(crate) reassembly: Reassembly<'a, F>,
    pub(crate) events: Deque<Event, Q>,
    pub(crate) stats: Stats,
    pub(crate) next_entity: u32,
    pub(crate) epoch: u32,
    pub(crate) next_announce: Instant,
    pub(crate) fast_left: u8,
    pub(crate) announce: Option<AnnounceCursor>,
    pub(crate) replies: Deque<MacAddr, REPLY_QUEUE>,
    /// Multicast groups applied to the link: discovery, and per reader slot its topic MAC.
    pub(crate) discovery_joined: bool,
    pub(crate) reader_groups: [Option<MacAddr>; R],
    pub(crate) goodbyes_left: u8,
    pub(crate) closing: bool,
    pub(crate) rr_writer: usize,
    /// `writers[w_hi..]` and `readers[r_hi..]` are all `None`: per-drive scans stop there, so
    /// their cost follows the endpoints in use, not the capacities.
    pub(crate) w_hi: usize,
    pub(crate) r_hi: usize,
    /// No peer lease expires before this (a lower bound; renewals only move leases later).
    pub(crate) lease_check_at: Instant,
    /// No incomplete sample in reassembly times out before this (a lower bound).
    pub(crate) reassembly_check_at: Instant,
    /// No manual liveliness lease (local writer or matched remote writer) runs out before this
    /// (a lower bound).
    pub(crate) liveliness_check_at: Instant,
    /// Some reader was ever matched with a manual-liveliness writer that has a lease: only then
    /// does received data need the liveliness bookkeeping.
    #[cfg_attr(not(feature = "liveliness-manual"), allow(dead_code))]
    pub(crate) any_manual_match: bool,
    /// The frame planned by `poll_transmit` and its length.
    pub(crate) planned: Option<(super::tx::Plan, usize)>,
    /// The transmit summary: while the time stays below this, nothing is due to send and no
    /// timer of `advance` runs (a `poll_transmit` found nothing, and no state changed since),
    /// so that `poll_transmit` returns `None` and `poll_timeout` returns `quiet_timeout`
    /// without planning. [`Instant::ZERO`]: something may have changed, plan. Every change
    /// that can make something due (frames, writes, takes that ask for more, endpoints,
    /// transmits, shutdown) calls [`Participant::tx_changed`]; the passing time needs none
    /// (the bound is the earliest timer). Debug builds check it against the full planner
    /// (`check_quiet`). Compiled in with `ack-with-data`, the ping-pong's feature: 0.65 KB of
    /// flash that a firmware node (which leaves that feature out) has no room for.
    #[cfg(feature = "ack-with-data")]
    pub(crate) quiet_until: Instant,
    /// What `poll_timeout` answers while quiet.
    #[cfg(feature = "ack-with-data")]
    pub(crate) quiet_timeout: Option<Instant>,
    /// The endpoints changed since the summary last looked at them (bit `i` for writer or
    /// reader slot `i`, bit 63 for every slot from 63 on): while the time is below
    /// `quiet_until`, the others still have nothing due and their timers are the kept ones
    /// (`w_timers`, `r_timers`), so that the timer pass, the planner and `poll_timeout` look at
    /// these only. A change that is not one endpoint's (frames of discovery, the reassembly store,
    /// endpoints created or deleted, local links, shutdown) resets the whole summary
    /// ([`Participant::tx_changed`]). Debug builds check every restricted answer against the
    /// full one.
    #[cfg(feature = "ack-with-data")]
    pub(crate) dirty_w: u64,
    #[cfg(feature = "ack-with-data")]
    pub(crate) dirty_r: u64,
    /// The writer and reader slots below `w_hi` and `r_hi` as scope masks, as of the summary's
    /// last look: a scope that holds them all is walked as all (and so is every scope once 63
    /// writer or reader slots are in use: both masks are then 0).
    #[cfg(feature = "ack-with-data")]
    pub(crate) slots_in_use: (u64, u64),
    /// Each writer's and reader's earliest timer ([`Participant::writer_timer`],
    /// [`Participant::reader_timer`]; `Instant::MAX` for a free slot) as of the summary's last
    /// look, valid for the endpoints not marked changed since. Kept side by side rather than in
    /// the (large) endpoint slots, so that finding the earliest one reads one small array.
    #[cfg(feature = "ack-with-data")]
    pub(crate) w_timers: [Instant; W],
    #[cfg(feature = "ack-with-data")]
    pub(crate) r_timers: [Instant; R],
    /// The acknowledgement that follows the planned data in its frame (docs/PROTOCOL.md
    /// section 10), built once when planned: where it starts in the frame, and what to write.
    #[cfg(feature = "ack-with-data")]
    pub(crate) planned_ack: Option<(usize, super::tx::PlannedAck)>,
}

impl<
    'a,
    const P: usize,
    const E: usize,
    const W: usize,
    const R: usize,
    const H: usize,
    const M: usize,
    const F: usize,
    const Q: usize,
> Participant<'a, P, E, W, R, H, M, F, Q>
{
    /// A new participant with id `id` (random, non-zero: the caller's random source), sending
    /// from `mac`. `reassembly` is the arena for incoming fragmented samples and for reliable
    /// samples held after a gap; it bounds the largest sample this participant can receive.
    ///
    /// The participant is returned by value: on a small stack use [`Participant::new_in`].
    pub fn new(
        config: Config<'a>,
        id: u64,
        mac: MacAddr,
        reassembly: &'a mut [u8],
        now: Instant,
    ) -> Result<Self, ConfigError> {
        Self::check_config(&config, id, mac)?;
        Ok(Self::fresh(config, id, mac, reassembly, now))
    }

    /// Like [`Participant::new`], but the participant is built in `slot` (for example a
    /// `static` `MaybeUninit` or a `static_cell::StaticCell`'s `uninit()`) instead of being
    /// returned by value and moved there: a microcontroller's stack never holds the whole
    /// participant (10 KB and more). A participant already in `slot` is overwritten, not
    /// dropped (it owns nothing that needs dropping).
    pub fn new_in<'s>(
        slot: &'s mut MaybeUninit<Self>,
        config: Config<'a>,
        id: u64,
        mac: MacAddr,
        reassembly: &'a mut [u8],
        now: Instant,
    ) -> Result<&'s mut Self, ConfigError> {
        Self::check_config(&config, id, mac)?;
        Ok(slot.write(Self::fresh(config, id, mac, reassembly, now)))
    }

    fn check_config(config: &Config<'a>, id: u64, mac: MacAddr) -> Result<(), ConfigError> {
        // Handles store slot indices in a byte.
        const { assert!(W <= 256 && R <= 256, "at most 256 writers and 256 readers") };
        if id == 0 {
            return Err(ConfigError::ZeroId);
        }
        if config.name.len() > wire::msg::MAX_NAME_LEN {
            return Err(ConfigError::NameTooLong);
        }
        if config.mtu < 256 || config.mtu > usize::from(u16::MAX) {
            return Err(ConfigError::BadMtu);
        }
        if config.reliable_window == 0 || u32::from(config.reliable_window) > SEQSET_BITS {
            return Err(ConfigError::BadWindow);
        }
        if mac.is_multicast() {
            return Err(ConfigError::MulticastMac);
        }
        let ms = Duration::from_millis(1);
        if config.announce_period < ms
            || config.fast_announce_period < ms
            || config.heartbeat_period < ms
            || config.lease <= config.announce_period
        {
            return Err(ConfigError::BadPeriod);
        }
        #[cfg(not(feature = "batching"))]
        if config.batch_delay > Duration::ZERO {
            return Err(ConfigError::Unsupported);
        }
        if !cfg!(feature = "vlan") && config.vlan.is_some() {
            return Err(ConfigError::Unsupported);
        }
        Ok(())
    }

    /// The participant's initial state (the configuration is checked). Always inlined, so that
    /// [`Participant::new_in`] writes the fields straight into its slot.
    #[inline(always)]
    fn fresh(
        config: Config<'a>,
        id: u64,
        mac: MacAddr,
        reassembly: &'a mut [u8],
        now: Instant,
    ) -> Self {
        Participant {
            config,
            id,
            mac,
            now,
            graph: Graph::new(),
            writers: core::array::from_fn(|_| None),
            readers: core::array::from_fn(|_| None),
            reassembly: Reassembly::new(reassembly),
            events: Deque::new(),
            stats: Stats::default(),
            next_entity: 1,
            epoch: 1,
            next_announce: now,
            fast_left: config.fast_announces,
            announce: None,
            replies: Deque::new(),
            discovery_joined: false,
            reader_groups: [None; R],
            goodbyes_left: 0,
            closing: false,
            rr_writer: 0,
            w_hi: 0,
            r_hi: 0,
            lease_check_at: Instant::MAX,
            reassembly_check_at: Instant::MAX,
            liveliness_check_at: Instant::MAX,
            any_manual_match: false,
            planned: None,
            #[cfg(feature = "ack-with-data")]
            quiet_until: Instant::ZERO,
            #[cfg(feature = "ack-with-data")]
            quiet_timeout: None,
            #[cfg(feature = "ack-with-data")]
            dirty_w: 0,
            #[cfg(feature = "ack-with-data")]
            dirty_r: 0,
            #[cfg(feature = "ack-with-data")]
            slots_in_use: (0, 0),
            #[cfg(feature = "ack-with-data")]
            w_timers: [Instant::MAX; W],
            #[cfg(feature = "ack-with-data")]
            r_timers: [Instant::MAX; R],
            #[cfg(feature = "ack-with-data")]
            planned_ack: None,
        }
    }

    /// Our participant id.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// Our MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }
    /// The configuration.
    pub fn config(&self) -> &Config<'a> {
        &self.config
    }
    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// The graph cache (remote participants and endpoints).
    pub fn graph(&self) -> &Graph<P, E> {
        &self.graph
    }
    /// The discovery multicast MAC of our domain.
    pub fn discovery_mac(&self) -> MacAddr {
        wire::discovery_mac(self.config.domain)
    }

    /// The next event, if any. Poll until `None` after every call that takes frames or time.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn push_event(&mut self, e: Event) {
        queue_event(&mut self.events, &mut self.stats, e);
    }

    /// The next multicast group change the link must apply. Poll until `None` after creating
    /// or deleting readers (and once after construction, for the discovery group). If the link
    /// fails to apply it, call [`Participant::link_op_failed`] so it is retried.
    pub fn poll_link_op(&mut self) -> Option<LinkOp> {
        if self.closing {
            // Leaving: give every group back.
            if self.discovery_joined {
                self.discovery_joined = false;
                return Some(LinkOp::Leave(self.discovery_mac()));
            }
            for i in 0..R {
                if let Some(mac) = self.reader_groups[i].take()
                    && !self.reader_groups.contains(&Some(mac))
                {
                    return Some(LinkOp::Leave(mac));
                }
            }
            return None;
        }
        if !self.discovery_joined {
            self.discovery_joined = true;
            return Some(LinkOp::Join(self.discovery_mac()));
        }
        for i in 0..R {
            let want = self.readers.get(i).and_then(Option::as_ref).map(|r| r.mac);
            let have = self.reader_groups[i];
            if want == have {
                continue;
            }
            self.reader_groups[i] = want;
            if let Some(old) = have
                && !self.reader_groups.contains(&Some(old))
            {
                // Leave the old group first; the new one (if any) is joined on the next call.
                self.reader_groups[i] = None;
                return Some(LinkOp::Leave(old));
            }
            if let Some(new) = want {
                let others = self
                    .reader_groups
                    .iter()
                    .enumerate()
                    .any(|(j, g)| j != i && *g == Some(new));
                if !others {
                    return Some(LinkOp::Join(new));
                }
            }
        }
        None
    }

    /// The link could not apply `op`: undo it so that [`Participant::poll_link_op`] returns it
    /// again later.
    pub fn link_op_failed(&mut self, op: LinkOp) {
        match op {
            LinkOp::Join(mac) if mac == self.discovery_mac() => self.discovery_joined = false,
            LinkOp::Join(mac) => {
                for g in self.reader_groups.iter_mut() {
                    if *g == Some(mac) {
                        *g = None;
                    }
                }
            }
            // A failed leave leaves us in a group too many: harmless, receivers filter.
            LinkOp::Leave(_) => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Endpoints

    fn alloc_entity(&mut self) -> u32 {
        let e = self.next_entity;
        self.next_entity = self.next_entity.wrapping_add(1).max(1);
        e
    }

    fn endpoint_info(
        entity: u32,
        kind: EndpointKind,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
    ) -> Result<EndpointInfo, EndpointError> {
        if matches!(qos.history, HistoryKind::KeepLast(0)) {
            return Err(EndpointError::BadDepth);
        }
        #[cfg(not(feature = "liveliness-manual"))]
        if qos.liveliness == Liveliness::ManualByTopic {
            return Err(EndpointError::Unsupported);
        }
        if !cfg!(feature = "transient-local") && qos.durability == Durability::TransientLocal {
            return Err(EndpointError::Unsupported);
        }
        if !cfg!(feature = "deadline") && qos.deadline.is_some()
            || !cfg!(feature = "lifespan") && qos.lifespan.is_some()
        {
            return Err(EndpointError::Unsupported);
        }
        Ok(EndpointInfo {
            entity,
            kind,
            topic: Name::new(topic).ok_or(EndpointError::NameTooLong)?,
            type_name: Name::new(type_name).ok_or(EndpointError::NameTooLong)?,
            type_hash: type_hash.unwrap_or([0; 32]),
            qos,
        })
    }

    /// Move `w_hi` / `r_hi` down past slots freed at the end.
    fn shrink_tables(&mut self) {
        while self.w_hi > 0 && self.writers.get(self.w_hi - 1).is_some_and(Option::is_none) {
            self.w_hi -= 1;
        }
        while self.r_hi > 0 && self.readers.get(self.r_hi - 1).is_some_and(Option::is_none) {
            self.r_hi -= 1;
        }
    }

    /// The writer slots that may be in use.
    pub(crate) fn live_writers(&self) -> &[Option<LocalWriter<'a, H, M>>] {
        self.writers.get(..self.w_hi).unwrap_or(&self.writers)
    }
    /// The reader slots that may be in use.
    pub(crate) fn live_readers(&self) -> &[Option<LocalReader<'a, H, M>>] {
        self.readers.get(..self.r_hi).unwrap_or(&self.readers)
    }
    #[cfg_attr(not(feature = "fragmentation"), allow(dead_code))]
    pub(crate) fn live_readers_mut(&mut self) -> &mut [Option<LocalReader<'a, H, M>>] {
        let hi = self.r_hi.min(self.readers.len());
        self.readers.split_at_mut(hi).0
    }

    /// Something that may make a frame or a timer due changed: the next `poll_transmit` and
    /// `poll_timeout` plan in full (see `quiet_until`).
    #[inline(always)]
    pub(crate) fn tx_changed(&mut self) {
        #[cfg(feature = "ack-with-data")]
        {
            self.quiet_until = Instant::ZERO;
        }
    }

    /// Writer `wi`'s state changed (a write, a frame sent, an ACKNACK): the summary looks at
    /// it again, and at the other endpoints only once their own timers are due.
    #[inline(always)]
    pub(crate) fn writer_changed(&mut self, wi: usize) {
        #[cfg(feature = "ack-with-data")]
        {
            self.dirty_w |= Scope::bit(wi);
        }
        #[cfg(not(feature = "ack-with-data"))]
        let _ = wi;
    }

    /// Reader `ri`'s state changed (a sample arrived, an ACKNACK was sent): see
    /// [`Participant::writer_changed`].
    #[inline(always)]
    pub(crate) fn reader_changed(&mut self, ri: usize) {
        #[cfg(feature = "ack-with-data")]
        {
            self.dirty_r |= Scope::bit(ri);
        }
        #[cfg(not(feature = "ack-with-data"))]
        let _ = ri;
    }

    /// The endpoints the timer pass, the planner and the timers must look at now: every one,
    /// or (the summary holding for the others) those changed since it last looked.
    #[inline(always)]
    pub(crate) fn scope(&self) -> Scope {
        #[cfg(feature = "ack-with-data")]
        if self.now < self.quiet_until {
            // (When every slot in use changed, the walk over all of them is the cheaper one.)
            let (w, r) = (self.dirty_w, self.dirty_r);
            let (all_w, all_r) = self.slots_in_use;
            if w & all_w == all_w && r & all_r == all_r {
                return Scope::ALL;
            }
            return Scope { w, r };
        }
        Scope::ALL
    }

    fn endpoints_changed(&mut self) {
        self.tx_changed();
        self.epoch = self.epoch.wrapping_add(1);
        self.fast_left = self.config.fast_announces.max(1);
        self.next_announce = self.now;
    }

    #[allow(clippy::too_many_arguments)]
    fn add_writer(
        &mut self,
        entity: u32,
        role: Role,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        history: &'a mut [u8],
    ) -> Result<WriterHandle, EndpointError> {
        self.tx_changed();
        let slot = self
            .writers
            .iter()
            .position(Option::is_none)
            .ok_or(EndpointError::NoSlot)?;
        let info = Self::endpoint_info(
            entity,
            role.announced_kind_writer(),
            topic,
            type_name,
            type_hash,
            qos,
        )?;
        #[cfg(not(feature = "local"))]
        self.refuse_local_pair(&info, true)?;
        self.writers[slot] = Some(LocalWriter {
            entity,
            role,
            info,
            mac: wire::topic_mac(self.config.domain, topic, type_name),
            history: History::new(history, qos.history),
            sent_below: 1,
            frag_next: 0,
            resend: SeqSet::new(1, SEQSET_BITS),
            #[cfg(feature = "fragmentation")]
            resend_cursor: None,
            #[cfg(feature = "fragmentation")]
            frag_nacks: [None; FRAG_NACKS],
            #[cfg(feature = "fragmentation")]
            frag_nacks_used: 0,
            proxies: [None; M],
            proxies_hi: 0,
            live_asserted: self.now,
            live_lost: false,
            assert_due: false,
            local: super::local::LocalLinks::new(),
            repair_hbs: 0,
            hb_count: 0,
            hb_next: self.now,
            hb_last: Instant::ZERO,
            #[cfg(feature = "ack-with-data")]
            resumed: Instant::ZERO,
            hb_soon: false,
            blocked: false,
            deadline_next: deadline_of(&qos).map(|d| self.now + d),
            batch_until: None,
        });
        self.w_hi = self.w_hi.max(slot + 1);
        Ok(WriterHandle {
            index: slot as u8,
            entity,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn add_reader(
        &mut self,
        entity: u32,
        role: Role,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        queue: &'a mut [u8],
    ) -> Result<ReaderHandle, EndpointError> {
        self.tx_changed();
        let slot = self
            .readers
            .iter()
            .position(Option::is_none)
            .ok_or(EndpointError::NoSlot)?;
        let kind = match role {
            Role::Topic => EndpointKind::Subscriber,
            Role::Client => EndpointKind::ServiceClient,
            Role::Server => EndpointKind::ServiceServer,
        };
        let info = Self::endpoint_info(entity, kind, topic, type_name, type_hash, qos)?;
        #[cfg(not(feature = "local"))]
        self.refuse_local_pair(&info, false)?;
        self.readers[slot] = Some(LocalReader {
            entity,
            role,
            info,
            mac: wire::topic_mac(self.config.domain, topic, type_name),
            queue: History::new(queue, qos.history),
            writers: [None; M],
            notified: false,
            deadline_next: None,
            writers_hi: 0,
            local_writers: 0,
        });
        self.r_hi = self.r_hi.max(slot + 1);
        Ok(ReaderHandle {
            index: slot as u8,
            entity,
        })
    }

    /// Create a writer on `topic` of `type_name`. `history` is the writer's history arena: it
    /// bounds the largest sample and, with the QoS history depth and `H`, how many samples are
    /// kept for retransmission and late joiners.
    pub fn create_writer(
        &mut self,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        history: &'a mut [u8],
    ) -> Result<WriterHandle, EndpointError> {
        if self.closing {
            return Err(EndpointError::Closed);
        }
        let entity = self.alloc_entity();
        let h = self.add_writer(
            entity,
            Role::Topic,
            topic,
            type_name,
            type_hash,
            qos,
            history,
        )?;
        if !self.hello_fits() {
            self.writers[usize::from(h.index)] = None;
            self.shrink_tables();
            return Err(EndpointError::Unsupported);
        }
        self.endpoints_changed();
        self.match_local_writer(usize::from(h.index));
        Ok(h)
    }

    /// Create a reader on `topic` of `type_name`. `queue` is the arena for received samples
    /// until [`Participant::take`]; it bounds the largest sample the reader accepts.
    pub fn create_reader(
        &mut self,
        topic: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        queue: &'a mut [u8],
    ) -> Result<ReaderHandle, EndpointError> {
        if self.closing {
            return Err(EndpointError::Closed);
        }
        let entity = self.alloc_entity();
        let h = self.add_reader(entity, Role::Topic, topic, type_name, type_hash, qos, queue)?;
        if !self.hello_fits() {
            self.readers[usize::from(h.index)] = None;
            self.shrink_tables();
            return Err(EndpointError::Unsupported);
        }
        self.endpoints_changed();
        self.match_local_reader(usize::from(h.index));
        Ok(h)
    }

    /// Create a service client for `service`: requests go out reliably through a writer with
    /// the history arena `requests`, replies addressed to this client arrive in `replies`.
    /// The QoS must be reliable for the calls to be reliable.
    pub fn create_client(
        &mut self,
        service: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        requests: &'a mut [u8],
        replies: &'a mut [u8],
    ) -> Result<ClientHandle, EndpointError> {
        self.create_service(
            Role::Client,
            service,
            type_name,
            type_hash,
            qos,
            requests,
            replies,
        )
        .map(|(writer, reader)| ClientHandle { writer, reader })
    }

    /// Create a service server for `service`: requests arrive in `requests`, replies go out
    /// through a writer with the history arena `replies`.
    pub fn create_server(
        &mut self,
        service: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        requests: &'a mut [u8],
        replies: &'a mut [u8],
    ) -> Result<ServerHandle, EndpointError> {
        self.create_service(
            Role::Server,
            service,
            type_name,
            type_hash,
            qos,
            replies,
            requests,
        )
        .map(|(writer, reader)| ServerHandle { writer, reader })
    }

    #[allow(clippy::too_many_arguments)]
    fn create_service(
        &mut self,
        role: Role,
        service: &str,
        type_name: &str,
        type_hash: Option<TypeHash>,
        qos: Qos,
        out: &'a mut [u8],
        inq: &'a mut [u8],
    ) -> Result<(WriterHandle, ReaderHandle), EndpointError> {
        if !cfg!(feature = "services") {
            return Err(EndpointError::Unsupported);
        }
        if self.closing {
            return Err(EndpointError::Closed);
        }
        if !self.readers.iter().any(Option::is_none) {
            return Err(EndpointError::NoSlot);
        }
        let entity = self.alloc_entity();
        let w = self.add_writer(entity, role, service, type_name, type_hash, qos, out)?;
        let r = match self.add_reader(entity, role, service, type_name, type_hash, qos, inq) {
            Ok(r) => r,
            Err(e) => {
                self.writers[usize::from(w.index)] = None;
                self.shrink_tables();
                return Err(e);
            }
        };
        if !self.hello_fits() {
            self.writers[usize::from(w.index)] = None;
            self.readers[usize::from(r.index)] = None;
            self.shrink_tables();
            return Err(EndpointError::Unsupported);
        }
        self.endpoints_changed();
        self.match_local_writer(usize::from(w.index));
        self.match_local_reader(usize::from(r.index));
        Ok((w, r))
    }

    /// Without the `paged-hello` feature every announced endpoint must fit one HELLO (one
    /// frame, at most 8 endpoints); always true with it.
    fn hello_fits(&self) -> bool {
        cfg!(feature = "paged-hello") || self.page_count(0) >= self.announced_count()
    }

    fn writer_index(&self, h: WriterHandle) -> Option<usize> {
        let i = usize::from(h.index);
        self.writers
            .get(i)?
            .as_ref()
            .filter(|w| w.entity == h.entity)
            .map(|_| i)
    }

    fn reader_index(&self, h: ReaderHandle) -> Option<usize> {
        let i = usize::from(h.index);
        self.readers
            .get(i)?
            .as_ref()
            .filter(|r| r.entity == h.entity)
            .map(|_| i)
    }

    /// Delete a writer. Its matches end (events) and remote readers learn it is gone from the
    /// next HELLO round.
    pub fn delete_writer(&mut self, h: WriterHandle) -> bool {
        let Some(i) = self.writer_index(h) else {
            return false;
        };
        self.drop_writer(i);
        self.endpoints_changed();
        true
    }

    /// Delete a reader (see [`Participant::delete_writer`]).
    pub fn delete_reader(&mut self, h: ReaderHandle) -> bool {
        let Some(i) = self.reader_index(h) else {
            return false;
        };
        self.drop_reader(i);
        self.endpoints_changed();
        true
    }

    fn drop_writer(&mut self, i: usize) {
        self.tx_changed();
        let Some(w) = self.writers[i].take() else {
            return;
        };
        self.shrink_tables();
        let local = LocalEndpoint::Writer(WriterHandle {
            index: i as u8,
            entity: w.entity,
        });
        for p in w.live().iter().flatten() {
            if let Some(s) = self.graph.find_endpoint(p.participant, p.entity)
                && let Some(ep) = self.graph.endpoint_mut(s)
            {
                ep.matched = ep.matched.saturating_sub(1);
            }
            let remote = RemoteId {
                participant: p.participant,
                entity: p.entity,
            };
            self.push_event(Event::Unmatched { local, remote });
        }
        self.unmatch_local_writer(i, w.entity, &w.local);
    }

    fn drop_reader(&mut self, i: usize) {
        self.tx_changed();
        let Some(r) = self.readers[i].take() else {
            return;
        };
        self.shrink_tables();
        let local = LocalEndpoint::Reader(ReaderHandle {
            index: i as u8,
            entity: r.entity,
        });
        for m in r.live().iter().flatten() {
            if let Some(s) = self.graph.find_endpoint(m.participant, m.entity)
                && let Some(ep) = self.graph.endpoint_mut(s)
            {
                ep.matched = ep.matched.saturating_sub(1);
            }
            if !self.writer_still_read(m.participant, m.entity) {
                self.reassembly
                    .remove_writer_below(m.participant, m.entity, u64::MAX);
            }
            let remote = RemoteId {
                participant: m.participant,
                entity: m.entity,
            };
            self.push_event(Event::Unmatched { local, remote });
        }
        self.unmatch_local_reader(i, r.entity);
    }

    /// Delete a service client.
    pub fn delete_client(&mut self, h: ClientHandle) -> bool {
        let a = self.writer_index(h.writer).map(|i| self.drop_writer(i));
        let b = self.reader_index(h.reader).map(|i| self.drop_reader(i));
        self.endpoints_changed();
        a.is_some() || b.is_some()
    }

    /// Delete a service server.
    pub fn delete_server(&mut self, h: ServerHandle) -> bool {
        let a = self.writer_index(h.writer).map(|i| self.drop_writer(i));
        let b = self.reader_index(h.reader).map(|i| self.drop_reader(i));
        self.endpoints_changed();
        a.is_some() || b.is_some()
    }

    /// Number of readers matched with a local writer: remote ones and those of this
    /// participant.
    pub fn writer_matches(&self, h: WriterHandle) -> usize {
        self.writer_index(h)
            .and_then(|i| self.writers.get(i).and_then(Option::as_ref))
            .map_or(0, |w| w.live().iter().flatten().count() + w.local.count())
    }

    /// Number of writers matched with a local reader: remote ones and those of this
    /// participant.
    pub fn reader_matches(&self, h: ReaderHandle) -> usize {
        self.reader_index(h)
            .and_then(|i| self.readers.get(i).and_then(Option::as_ref))
            .map_or(0, |r| {
                r.live().iter().flatten().count() + usize::from(r.local_writers)
            })
    }

    /// True if every sample a reliable writer sent was acknowledged by every matched reliable
    /// reader (and everything written was sent at least once); a reliable reader of this
    /// participant acknowledges a sample once it is in its queue.
    pub fn is_acknowledged(&self, h: WriterHandle) -> bool {
        let Some(w) = self
            .writer_index(h)
            .and_then(|i| self.writers.get(i).and_then(Option::as_ref))
        else {
            return false;
        };
        let next = w.history.next_seq();
        w.sent_below >= next
            && w.live()
                .iter()
                .flatten()
                .filter(|p| p.reliable)
                .all(|p| p.state.acked_below() >= next)
            && w.local.all_delivered(next)
    }

    // -----------------------------------------------------------------------------------------
    // Matching

    pub(crate) fn names_match(a: &EndpointInfo, b: &EndpointInfo) -> bool {
        a.topic == b.topic
            && a.type_name == b.type_name
            && (a.type_hash == [0; 32] || b.type_hash == [0; 32] || a.type_hash == b.type_hash)
    }

    pub(crate) fn match_local_writer(&mut self, wi: usize) {
        // Slot by slot (an empty one is skipped there; matching adds or removes no endpoint):
        // no list of slots collected first, whose overflow check is a panic path.
        for s in 0..E {
            self.try_match_writer(wi, s);
        }
        self.match_local_pairs_of_writer(wi);
    }

    pub(crate) fn match_local_reader(&mut self, ri: usize) {
        // Slot by slot (an empty one is skipped there; matching adds or removes no endpoint):
        // no list of slots collected first, whose overflow check is a panic path.
        for s in 0..E {
            self.try_match_reader(ri, s);
        }
        self.match_local_pairs_of_reader(ri);
    }

    pub(crate) fn match_remote(&mut self, slot: usize) {
        for wi in 0..self.w_hi {
            self.try_match_writer(wi, slot);
        }
        for ri in 0..self.r_hi {
            self.try_match_reader(ri, slot);
        }
    }

    fn try_match_writer(&mut self, wi: usize, slot: usize) {
        let Some(ep) = self.graph.endpoint(slot).copied() else {
            return;
        };
        let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
            return;
        };
        if ep.info.kind != w.role.writer_peer_kind() || !Self::names_match(&w.info, &ep.info) {
            return;
        }
        if w.live()
            .iter()
            .flatten()
            .any(|p| p.participant == ep.participant && p.entity == ep.info.entity)
        {
            return;
        }
        let local = LocalEndpoint::Writer(WriterHandle {
            index: wi as u8,
            entity: w.entity,
        });
        let remote = RemoteId {
            participant: ep.participant,
            entity: ep.info.entity,
        };
        if let Err(policy) = super::qos::compatible(&w.info.qos, &ep.info.qos) {
            self.push_event(Event::IncompatibleQos {
                local,
                remote,
                policy,
            });
            return;
        }
        let Some(free) = w.proxies.iter().position(Option::is_none) else {
            self.stats.matches_full += 1;
            return;
        };
        let mac = self
            .graph
            .peer_mac(ep.participant)
            .unwrap_or(MacAddr::BROADCAST);
        let late_joiner = cfg!(feature = "transient-local")
            && ep.info.qos.durability == Durability::TransientLocal
            && w.info.qos.durability == Durability::TransientLocal;
        let start = if late_joiner {
            w.history.first_seq()
        } else {
            w.history.next_seq()
        };
        let reliable = ep.info.qos.reliability == Reliability::Reliable;
        w.proxies_hi = w.proxies_hi.max(free + 1);
        w.proxies[free] = Some(Proxy {
            participant: ep.participant,
            entity: ep.info.entity,
            mac,
            reliable,
            state: ReaderProxy::new(start),
            sync_next: self.now,
            repair_hb: false,
        });
        if late_joiner && !reliable {
            // Best-effort late joiner: send the history once more to the topic.
            for s in w.history.first_seq()..w.history.next_seq() {
                if s < w.sent_below {
                    w.resend.insert(s);
                }
            }
        }
        if let Some(e) = self.graph.endpoint_mut(slot) {
            e.matched += 1;
        }
        self.push_event(Event::Matched { local, remote });
    }

    fn try_match_reader(&mut self, ri: usize, slot: usize) {
        let Some(ep) = self.graph.endpoint(slot).copied() else {
            return;
        };
        let Some(r) = self.readers.get_mut(ri).and_then(Option::as_mut) else {
            return;
        };
        if ep.info.kind != r.role.reader_peer_kind() || !Self::names_match(&r.info, &ep.info) {
            return;
        }
        if r.live()
            .iter()
            .flatten()
            .any(|m| m.participant == ep.participant && m.entity == ep.info.entity)
        {
            return;
        }
        let r_entity = r.entity;
        let local = LocalEndpoint::Reader(ReaderHandle {
            index: ri as u8,
            entity: r.entity,
        });
        let remote = RemoteId {
            participant: ep.participant,
            entity: ep.info.entity,
        };
        if let Err(policy) = super::qos::compatible(&ep.info.qos, &r.info.qos) {
            self.push_event(Event::IncompatibleQos {
                local,
                remote,
                policy,
            });
            return;
        }
        let Some(free) = r.writers.iter().position(Option::is_none) else {
            self.stats.matches_full += 1;
            return;
        };
        let mac = self
            .graph
            .peer_mac(ep.participant)
            .unwrap_or(MacAddr::BROADCAST);
        r.writers_hi = r.writers_hi.max(free + 1);
        r.writers[free] = Some(MatchedWriter {
            participant: ep.participant,
            entity: ep.info.entity,
            mac,
            reliable: r.info.qos.reliability == Reliability::Reliable,
            window: ReaderWindow::new(),
            be_last: 0,
            ack_count: 0,
            nack_count: 0,
            ack_due: false,
            asked_below: 0,
            acked_sent: 0,
            nackfrag_due: false,
            nackfrag_left: 0,
            nackfrag_from: 0,
            last_hb_count: None,
            writer_last: 0,
            manual_lease: (ep.info.qos.liveliness == Liveliness::ManualByTopic)
                .then_some(ep.info.qos.liveliness_lease)
                .flatten(),
            alive: true,
            live_until: self.now,
            live_seq: 0,
        });
        #[cfg(feature = "liveliness-manual")]
        if let Some(m) = r.writers.get_mut(free).and_then(Option::as_mut)
            && let Some(lease) = m.manual_lease
        {
            m.live_until = self.now.saturating_add(lease);
            self.liveliness_check_at = self.liveliness_check_at.min(m.live_until);
            self.any_manual_match = true;
        }
        if r.deadline_next.is_none() {
            r.deadline_next = deadline_of(&r.info.qos).map(|d| self.now + d);
        }
        if let Some(e) = self.graph.endpoint_mut(slot) {
            e.matched += 1;
        }
        self.push_event(Event::Matched { local, remote });
        let reader = ReaderHandle {
            index: ri as u8,
            entity: r_entity,
        };
        self.push_event(Event::LivelinessChanged {
            reader,
            remote,
            alive: true,
        });
    }

    /// End every match with the remote endpoint in `slot` (it is being removed).
    pub(crate) fn unmatch_remote(&mut self, slot: usize) {
        let Some(ep) = self.graph.endpoint(slot).copied() else {
            return;
        };
        let (pid, eid) = (ep.participant, ep.info.entity);
        let remote = RemoteId {
            participant: pid,
            entity: eid,
        };
        for wi in 0..self.w_hi {
            let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
                continue;
            };
            let mut hit = false;
            for p in w.live_mut().iter_mut() {
                if p.is_some_and(|p| p.participant == pid && p.entity == eid) {
                    *p = None;
                    hit = true;
                }
            }
            if hit {
                w.shrink();
                let local = LocalEndpoint::Writer(WriterHandle {
                    index: wi as u8,
                    entity: w.entity,
                });
                self.push_event(Event::Unmatched { local, remote });
                self.after_acks(wi);
            }
        }
        for ri in 0..self.r_hi {
            let Some(r) = self.readers.get_mut(ri).and_then(Option::as_mut) else {
                continue;
            };
            let mut hit = false;
            let mut was_alive = false;
            for m in r.live_mut().iter_mut() {
                if let Some(mw) = m
                    && mw.participant == pid
                    && mw.entity == eid
                {
                    was_alive |= mw.alive;
                    *m = None;
                    hit = true;
                }
            }
            if hit {
                r.shrink();
                let reader = ReaderHandle {
                    index: ri as u8,
                    entity: r.entity,
                };
                if was_alive {
                    self.push_event(Event::LivelinessChanged {
                        reader,
                        remote,
                        alive: false,
                    });
                }
                let local = LocalEndpoint::Reader(reader);
                self.push_event(Event::Unmatched { local, remote });
            }
        }
        self.reassembly.remove_writer_below(pid, eid, u64::MAX);
        if let Some(e) = self.graph.endpoint_mut(slot) {
            e.matched = 0;
        }
    }

    /// True if some local reader is still matched with writer (`participant`, `entity`).
    pub(crate) fn writer_still_read(&self, participant: u64, entity: u32) -> bool {
        self.live_readers().iter().flatten().any(|r| {
            r.live()
                .iter()
                .flatten()
                .any(|m| m.participant == participant && m.entity == entity)
        })
    }

    // -----------------------------------------------------------------------------------------
    // Writing

    /// The oldest sample some reliable reader still needs: not acknowledged by a remote one,
    /// or not yet in the queue of one of this participant. `u64::MAX` without reliable readers.
    pub(crate) fn min_acked(w: &LocalWriter<'a, H, M>) -> u64 {
        w.live()
            .iter()
            .flatten()
            .filter(|p| p.reliable)
            .map(|p| p.state.acked_below())
            .min()
            .unwrap_or(u64::MAX)
            .min(w.local.min_pending(w.history.first_seq()))
    }

    /// Largest sample `h` can write: its history arena, and the protocol's 32-bit sample length
    /// (without the `fragmentation` feature: what one DATA frame carries).
    pub fn max_sample_len(&self, h: WriterHandle) -> Option<usize> {
        let w = self
            .writer_index(h)
            .and_then(|i| self.writers.get(i).and_then(Option::as_ref))?;
        let max = w.history.capacity_bytes().min(u32::MAX as usize);
        #[cfg(not(feature = "fragmentation"))]
        let max = max.min(self.unfragmented_max(false));
        Some(max)
    }

    /// Without the `fragmentation` feature every sample goes out in one DATA frame: the
    /// largest payload one carries (with a related sample id when `related`).
    #[cfg(not(feature = "fragmentation"))]
    fn unfragmented_max(&self, related: bool) -> usize {
        self.body_max() - wire::msg::DataRepr::overhead(related)
    }

    /// Write a sample. Returns its sequence number.
    ///
    /// Best-effort keep-last writers never block: unsent older samples are overwritten
    /// (counted). Reliable writers report [`WriteError::WouldBlock`] when a matched reader is a
    /// whole window behind, or when the history cannot make room without dropping a sample a
    /// reader still needs; keep-all writers when their history is full.
    pub fn write(&mut self, h: WriterHandle, data: &[u8], now: Instant) -> Result<u64, WriteError> {
        self.write_inner(h, data.len(), None, now, |b| b.copy_from_slice(data))
    }

    /// Like [`Participant::write`], but the caller serializes straight into the history:
    /// `fill` gets a buffer of exactly `len` bytes.
    pub fn write_with(
        &mut self,
        h: WriterHandle,
        len: usize,
        now: Instant,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64, WriteError> {
        self.write_inner(h, len, None, now, fill)
    }

    fn write_inner(
        &mut self,
        h: WriterHandle,
        len: usize,
        related: Option<SampleId>,
        now: Instant,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64, WriteError> {
        if self.closing {
            return Err(WriteError::Closed);
        }
        self.advance(now);
        let wi = self.writer_index(h).ok_or(WriteError::UnknownWriter)?;
        // Only this writer changes (the summary looks at it again), unless the write reaches
        // readers of this participant or moves the manual-liveliness timer: then everything.
        self.writer_changed(wi);
        if self
            .writers
            .get(wi)
            .and_then(Option::as_ref)
            .is_some_and(|w| w.local.may_have_any() || Self::manual_lease_of(w).is_some())
        {
            self.tx_changed();
        }
        let window = u64::from(self.config.reliable_window);
        let batch_delay = self.config.batch_delay;
        #[cfg(not(feature = "fragmentation"))]
        let frame_max = self.unfragmented_max(related.is_some());
        let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
            return Err(WriteError::UnknownWriter);
        };
        let max = w.history.capacity_bytes().min(u32::MAX as usize);
        #[cfg(not(feature = "fragmentation"))]
        let max = max.min(frame_max);
        if len > max {
            return Err(WriteError::TooLarge { len, max });
        }
        let min_acked = Self::min_acked(w);
        let reliable = w.info.qos.reliability == Reliability::Reliable;
        if reliable
            && min_acked != u64::MAX
            && w.history.next_seq() - min_acked.min(w.history.next_seq()) >= window
        {
            w.blocked = true;
            return Err(WriteError::WouldBlock);
        }
        if w.history.kind() == HistoryKind::KeepAll {
            let release = min_acked.min(w.sent_below);
            w.history.release_below(release);
        }
        let sent_below = w.sent_below;
        let mut overwritten = 0u64;
        let meta = SampleMeta {
            written: now,
            related,
            origin: None,
        };
        let res = w.history.push_with(
            len,
            meta,
            |seq| {
                let ok = seq < min_acked;
                if ok && seq >= sent_below {
                    overwritten += 1;
                }
                ok
            },
            fill,
        );
        let out = match res {
            Ok(seq) => {
                self.stats.tx_overwritten += overwritten;
                if w.sent_below < w.history.first_seq() {
                    w.sent_below = w.history.first_seq();
                    w.frag_next = 0;
                }
                w.resend.advance_to(w.history.first_seq());
                let first = w.history.first_seq();
                for p in w.live_mut().iter_mut().flatten() {
                    p.state.history_released_below(first);
                }
                if let Some(d) = deadline_of(&w.info.qos) {
                    w.deadline_next = Some(now + d);
                }
                // A sample asserts the writer's liveliness.
                w.live_asserted = now;
                w.live_lost = false;
                if let Some(lease) = Self::manual_lease_of(w) {
                    self.liveliness_check_at =
                        self.liveliness_check_at.min(now.saturating_add(lease));
                }
                if batch_delay > Duration::ZERO && w.batch_until.is_none() {
                    w.batch_until = Some(now + batch_delay);
                }
                if w.hb_next < now {
                    w.hb_next = now + self.config.heartbeat_period;
                }
                Ok(seq)
            }
            Err(HistoryError::TooLarge) => Err(WriteError::TooLarge { len, max }),
            Err(HistoryError::Full) => {
                w.blocked = true;
                Err(WriteError::WouldBlock)
            }
        };
        if out.is_ok() {
            // Readers of this participant get the sample now, without the wire.
            self.local_after_write(wi);
        }
        out
    }

    /// Assert `h`'s liveliness without writing a sample: a HEARTBEAT with the LIVELINESS flag
    /// goes to its readers (with the next transmit calls). Writing a sample asserts it too.
    /// Meant for [`Liveliness::ManualByTopic`] writers; for automatic ones the HEARTBEAT is
    /// sent all the same and readers need nothing from it.
    pub fn assert_liveliness(&mut self, h: WriterHandle, now: Instant) -> Result<(), WriteError> {
        if self.closing {
            return Err(WriteError::Closed);
        }
        self.advance(now);
        self.tx_changed();
        let wi = self.writer_index(h).ok_or(WriteError::UnknownWriter)?;
        let now = self.now;
        let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
            return Err(WriteError::UnknownWriter);
        };
        w.assert_due = true;
        w.live_asserted = now;
        w.live_lost = false;
        if let Some(lease) = Self::manual_lease_of(w) {
            self.liveliness_check_at = self.liveliness_check_at.min(now.saturating_add(lease));
        }
        self.local_liveliness(wi, true);
        Ok(())
    }

    /// The lease a local writer must assert itself within, if it is manual with a lease (never
    /// without the `liveliness-manual` feature: such writers are refused).
    #[cfg(not(feature = "liveliness-manual"))]
    #[inline(always)]
    pub(crate) fn manual_lease_of(_w: &LocalWriter<'a, H, M>) -> Option<Duration> {
        None
    }

    /// The lease a local writer must assert itself within, if it is manual with a lease.
    #[cfg(feature = "liveliness-manual")]
    pub(crate) fn manual_lease_of(w: &LocalWriter<'a, H, M>) -> Option<Duration> {
        match w.info.qos.liveliness {
            Liveliness::ManualByTopic => w.info.qos.liveliness_lease,
            Liveliness::Automatic => None,
        }
    }

    /// Manual liveliness leases: report local writers that missed theirs and remote writers
    /// whose ran out, then find the next time to look.
    #[cfg(feature = "liveliness-manual")]
    fn check_liveliness(&mut self, now: Instant) {
        let mut next = Instant::MAX;
        for wi in 0..self.w_hi {
            let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
                continue;
            };
            let Some(lease) = Self::manual_lease_of(w) else {
                continue;
            };
            if w.live_lost {
                continue;
            }
            let until = w.live_asserted.saturating_add(lease);
            if now > until {
                w.live_lost = true;
                let writer = WriterHandle {
                    index: wi as u8,
                    entity: w.entity,
                };
                self.push_event(Event::LivelinessLost { writer });
                self.local_liveliness(wi, false);
            } else {
                next = next.min(until);
            }
        }
        for ri in 0..self.r_hi {
            let Some(r) = self.readers.get(ri).and_then(Option::as_ref) else {
                continue;
            };
            let entity = r.entity;
            for mi in 0..r.writers_hi {
                let Some(m) = self
                    .readers
                    .get_mut(ri)
                    .and_then(Option::as_mut)
                    .and_then(|r| r.writers.get_mut(mi).and_then(Option::as_mut))
                else {
                    continue;
                };
                if m.manual_lease.is_none() || !m.alive {
                    continue;
                }
                if now > m.live_until {
                    m.alive = false;
                    let remote = RemoteId {
                        participant: m.participant,
                        entity: m.entity,
                    };
                    let reader = ReaderHandle {
                        index: ri as u8,
                        entity,
                    };
                    self.push_event(Event::LivelinessChanged {
                        reader,
                        remote,
                        alive: false,
                    });
                } else {
                    next = next.min(m.live_until);
                }
            }
        }
        self.liveliness_check_at = next;
    }

    /// Without the `liveliness-manual` feature there are no manual leases to check (the next
    /// check stays at "never").
    #[cfg(not(feature = "liveliness-manual"))]
    #[inline(always)]
    fn check_liveliness(&mut self, _now: Instant) {
        self.liveliness_check_at = Instant::MAX;
    }

    /// Send a service request. Returns its id, which the reply will carry.
    pub fn call(
        &mut self,
        client: ClientHandle,
        request: &[u8],
        now: Instant,
    ) -> Result<SampleId, WriteError> {
        let seq = self.write_inner(client.writer, request.len(), None, now, |b| {
            b.copy_from_slice(request)
        })?;
        Ok(SampleId {
            participant: self.id,
            entity: client.writer.entity,
            seq,
        })
    }

    /// Send the reply to `request` (as returned by [`Participant::take_request`]).
    pub fn reply(
        &mut self,
        server: ServerHandle,
        request: SampleId,
        data: &[u8],
        now: Instant,
    ) -> Result<u64, WriteError> {
        self.write_inner(server.writer, data.len(), Some(request), now, |b| {
            b.copy_from_slice(data)
        })
    }

    // -----------------------------------------------------------------------------------------
    // Reading

    /// Take the oldest queued sample of `reader` into `buf`. `Ok(None)` if the queue is empty.
    pub fn take(
        &mut self,
        reader: ReaderHandle,
        buf: &mut [u8],
    ) -> Result<Option<SampleInfo>, TakeError> {
        self.take_with(reader, |info, data| {
            if buf.len() < data.len() {
                return Err(TakeError::BufferTooSmall { need: info.len });
            }
            crate::wire::copy_prefix(buf, data);
            Ok(*info)
        })?
        .transpose()
    }

    /// Look at the oldest queued sample in place; it is removed unless `f` returns `Err`.
    pub fn take_with<T, X>(
        &mut self,
        reader: ReaderHandle,
        f: impl FnOnce(&SampleInfo, &[u8]) -> Result<T, X>,
    ) -> Result<Option<Result<T, X>>, TakeError> {
        let ri = self.reader_index(reader).ok_or(TakeError::UnknownReader)?;
        let now = self.now;
        let Some(r) = self.readers.get_mut(ri).and_then(Option::as_mut) else {
            return Err(TakeError::UnknownReader);
        };
        if let Some(life) = lifespan_of(&r.info.qos) {
            let cutoff = Instant::from_nanos(now.as_nanos().saturating_sub(life.as_nanos() as u64));
            r.queue.expire_before(cutoff);
        }
        let seq = r.queue.first_seq();
        let Some((data, meta)) = r.queue.get(seq) else {
            r.notified = false;
            return Ok(None);
        };
        let origin = meta.origin.unwrap_or(SampleId {
            participant: 0,
            entity: 0,
            seq: 0,
        });
        let info = SampleInfo {
            writer: RemoteId {
                participant: origin.participant,
                entity: origin.entity,
            },
            seq: origin.seq,
            related: meta.related,
            received: meta.written,
            len: data.len(),
        };
        let out = f(&info, data);
        if out.is_ok() {
            r.queue.pop_oldest();
            if r.queue.is_empty() {
                r.notified = false;
            }
            // Room appeared: deliver samples held back because the queue was full.
            self.drain_held(ri);
            self.local_after_take(ri);
        }
        Ok(Some(out))
    }

    /// Take the next request of a server. Returns the request's id (for
    /// [`Participant::reply`]) and its length.
    pub fn take_request(
        &mut self,
        server: ServerHandle,
        buf: &mut [u8],
    ) -> Result<Option<(SampleId, usize)>, TakeError> {
        Ok(self.take(server.reader, buf)?.map(|i| {
            (
                SampleId {
                    participant: i.writer.participant,
                    entity: i.writer.entity,
                    seq: i.seq,
                },
                i.len,
            )
        }))
    }

    /// Take the next reply of a client: the id of the request it answers, and its length.
    pub fn take_reply(
        &mut self,
        client: ClientHandle,
        buf: &mut [u8],
    ) -> Result<Option<(SampleId, usize)>, TakeError> {
        loop {
            let Some(info) = self.take(client.reader, buf)? else {
                return Ok(None);
            };
            if let Some(rel) = info.related {
                return Ok(Some((rel, info.len)));
            }
        }
    }

    /// Number of samples queued for `reader`.
    pub fn queued(&self, reader: ReaderHandle) -> usize {
        self.reader_index(reader)
            .and_then(|i| self.readers.get(i).and_then(Option::as_ref))
            .map_or(0, |r| r.queue.len())
    }

    // -----------------------------------------------------------------------------------------
    // Time

    /// Process timers (lease expiry, reassembly timeout, deadlines, announcement rounds) up to
    /// `now`. Called by every other method that takes `now`; call it directly when
    /// [`Participant::poll_timeout`] passes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    pub(crate) fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        // Quiet (`quiet_until`): no timer is due before then, and everything below that does
        // not depend on the time already ran after the last change, but for the endpoints
        // changed since (`dirty_w`, `dirty_r`).
        #[cfg(feature = "ack-with-data")]
        if now < self.quiet_until {
            let scope = self.scope();
            #[cfg(debug_assertions)]
            self.check_clean(now, scope);
            if !scope.is_empty() {
                self.endpoint_timers(now, scope);
            }
            return;
        }
        // Leases (the peer table is only scanned when the earliest lease may have run out).
        if now > self.lease_check_at {
            while let Some(slot) = self.graph.expired(now) {
                self.remove_peer(slot, LostReason::LeaseExpired);
            }
            self.lease_check_at = self.graph.next_expiry().unwrap_or(Instant::MAX);
        }
        // Reassembly (likewise).
        if now > self.reassembly_check_at {
            let timeout = self.config.reassembly_timeout;
            let idle =
                Instant::from_nanos(now.as_nanos().saturating_sub(timeout.as_nanos() as u64));
            if now.as_nanos() > timeout.as_nanos() as u64 {
                self.stats.reassembly_expired += self.reassembly.expire(idle) as u64;
            }
            self.reassembly_check_at = self
                .reassembly
                .oldest_progress()
                .map_or(Instant::MAX, |p| p.saturating_add(timeout));
        }
        // Announcements.
        if !self.closing && self.announce.is_none() && now >= self.next_announce {
            self.announce = Some(AnnounceCursor {
                target: AnnounceTarget::Multicast,
                first_index: 0,
            });
            let period = if self.fast_left > 0 {
                self.fast_left -= 1;
                self.config.fast_announce_period
            } else {
                self.config.announce_period
            };
            self.next_announce = now + period;
        }
        if !self.closing
            && self.announce.is_none()
            && let Some(mac) = self.replies.pop_front()
        {
            self.announce = Some(AnnounceCursor {
                target: AnnounceTarget::Reply(mac),
                first_index: 0,
            });
        }
        if now > self.liveliness_check_at {
            self.check_liveliness(now);
        }
        self.endpoint_timers(now, Scope::ALL);
    }

    /// The endpoints' part of the timer pass, for the endpoints of `scope`: writers' lifespans,
    /// deadlines, void fragment requests and releases; readers' deadlines.
    #[inline(always)]
    fn endpoint_timers(&mut self, now: Instant, scope: Scope) {
        // Every slot in use (a full pass), or the scope's set bits only.
        if scope == Scope::ALL {
            for wi in 0..self.w_hi {
                self.writer_timers(wi, now);
            }
            for ri in 0..self.r_hi {
                self.reader_timers(ri, now);
            }
        } else {
            for wi in scope.writers(0, self.w_hi) {
                self.writer_timers(wi, now);
            }
            for ri in scope.readers(0, self.r_hi) {
                self.reader_timers(ri, now);
            }
        }
    }

    /// Writer `wi`'s part of the timer pass: lifespan, deadline, void fragment requests,
    /// releases.
    #[inline(always)]
    fn writer_timers(&mut self, wi: usize, now: Instant) {
        {
            let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
                return;
            };
            if let Some(life) = lifespan_of(&w.info.qos) {
                let cutoff =
                    Instant::from_nanos(now.as_nanos().saturating_sub(life.as_nanos() as u64));
                if w.history.expire_before(cutoff) > 0 {
                    let first = w.history.first_seq();
                    if w.sent_below < first {
                        w.sent_below = first;
                        w.frag_next = 0;
                    }
                    w.resend.advance_to(first);
                    for p in w.live_mut().iter_mut().flatten() {
                        p.state.history_released_below(first);
                    }
                }
            }
            // (What `after_acks` would look at first, read here while `w` is at hand: most
            // writers have nothing to release and nobody waiting, and skip the call.)
            let releases = w.blocked || w.history.kind() == HistoryKind::KeepAll;
            if let (Some(d), Some(next)) = (deadline_of(&w.info.qos), w.deadline_next)
                && now > next
            {
                w.deadline_next = Some(now + d);
                let local = LocalEndpoint::Writer(WriterHandle {
                    index: wi as u8,
                    entity: w.entity,
                });
                self.push_event(Event::DeadlineMissed { local });
            }
            // Fragment requests for samples no longer held are void.
            #[cfg(feature = "fragmentation")]
            if let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) {
                let first = w.history.first_seq();
                if w.frag_nacks_used > 0 {
                    for e in w.frag_nacks.iter_mut() {
                        if e.is_some_and(|(seq, _)| seq < first) {
                            *e = None;
                            w.frag_nacks_used -= 1;
                        }
                    }
                }
                if w.resend_cursor.is_some_and(|(seq, _)| seq < first) {
                    w.resend_cursor = None;
                }
            }
            if releases {
                self.after_acks(wi);
            }
        }
    }

    /// Reader `ri`'s part of the timer pass: its deadline.
    #[inline(always)]
    fn reader_timers(&mut self, ri: usize, now: Instant) {
        {
            let Some(r) = self.readers.get_mut(ri).and_then(Option::as_mut) else {
                return;
            };
            if let (Some(d), Some(next)) = (deadline_of(&r.info.qos), r.deadline_next)
                && now > next
                && (r.live().iter().flatten().next().is_some() || r.local_writers > 0)
            {
                r.deadline_next = Some(now + d);
                let local = LocalEndpoint::Reader(ReaderHandle {
                    index: ri as u8,
                    entity: r.entity,
                });
                self.push_event(Event::DeadlineMissed { local });
            }
        }
    }

    /// Release acknowledged history (keep-all) and report [`Event::Writable`] when a blocked
    /// writer has room again.
    pub(crate) fn after_acks(&mut self, wi: usize) {
        let window = u64::from(self.config.reliable_window);
        let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
            return;
        };
        if !w.blocked && w.history.kind() != HistoryKind::KeepAll {
            // Nothing to release and nobody waiting: skip the scan of the proxies.
            return;
        }
        let min_acked = Self::min_acked(w);
        if w.history.kind() == HistoryKind::KeepAll {
            w.history.release_below(min_acked.min(w.sent_below));
            w.resend.advance_to(w.history.first_seq());
        }
        if w.blocked {
            let next = w.history.next_seq();
            let in_flight = next - min_acked.min(next);
            let room = match w.history.kind() {
                HistoryKind::KeepAll => w.history.len() < H,
                HistoryKind::KeepLast(_) => true,
            };
            if room && (min_acked == u64::MAX || in_flight < window) {
                w.blocked = false;
                let writer = WriterHandle {
                    index: wi as u8,
                    entity: w.entity,
                };
                self.push_event(Event::Writable { writer });
            }
        }
    }

    /// When the participant next needs [`Participant::handle_timeout`] or has something to send
    /// (then the answer is the last `now` it saw: poll at once). `None`: nothing scheduled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        #[cfg(feature = "ack-with-data")]
        if self.now < self.quiet_until {
            let scope = self.scope();
            if scope.is_empty() {
                #[cfg(debug_assertions)]
                self.check_quiet(self.now);
                return self.quiet_timeout;
            }
            // Some endpoints changed since the summary: only they are planned and their
            // timers worked out (the others' are kept), as after the received frame.
            #[cfg(debug_assertions)]
            self.check_clean(self.now, scope);
            if scope == Scope::ALL {
                return self.poll_timeout_full();
            }
            let t = if self.plan_in::<false>(self.now, scope).is_some() {
                Some(self.now)
            } else {
                let t = self.next_timer_in(scope);
                (t != Instant::MAX).then_some(t)
            };
            #[cfg(debug_assertions)]
            assert_eq!(
                t,
                self.poll_timeout_full(),
                "transmit summary: poll_timeout"
            );
            return t;
        }
        self.poll_timeout_full()
    }

    /// [`Participant::poll_timeout`] without the summary.
    #[inline(always)]
    fn poll_timeout_full(&self) -> Option<Instant> {
        if self.plan_all(self.now).is_some() {
            return Some(self.now);
        }
        let t = self.next_timer();
        (t != Instant::MAX).then_some(t)
    }

    /// The earliest timer of [`Participant::poll_timeout`] (`Instant::MAX`: none), leaving out
    /// whether something is due to send now.
    #[inline(always)]
    pub(crate) fn next_timer(&self) -> Instant {
        self.next_timer_full()
    }

    /// [`Participant::next_timer`] from the summary (`quiet_timeout`, its earliest timer, and
    /// the endpoints' kept timers, `w_timers` and `r_timers`), working out again only the
    /// timers of the endpoints of `scope` (changed since). The earliest of the kept timers stays the answer unless
    /// the endpoint that had it moved it later: then every kept timer is looked at.
    #[cfg(feature = "ack-with-data")]
    fn next_timer_in(&self, scope: Scope) -> Instant {
        let mut t = self.quiet_timeout.unwrap_or(Instant::MAX);
        // The changed endpoints' earliest timer.
        let mut changed = Instant::MAX;
        let mut rescan = false;
        for wi in scope.writers(0, self.w_hi) {
            let old = self.w_timers.get(wi).copied().unwrap_or(Instant::MAX);
            let new = self
                .writers
                .get(wi)
                .and_then(Option::as_ref)
                .map_or(Instant::MAX, |w| self.writer_timer(w));
            rescan |= old <= t && new > old;
            t = t.min(new);
            changed = changed.min(new);
        }
        for ri in scope.readers(0, self.r_hi) {
            let old = self.r_timers.get(ri).copied().unwrap_or(Instant::MAX);
            let new = self
                .readers
                .get(ri)
                .and_then(Option::as_ref)
                .map_or(Instant::MAX, Self::reader_timer);
            rescan |= old <= t && new > old;
            t = t.min(new);
            changed = changed.min(new);
        }
        if !rescan {
            return t;
        }
        let mut t = self.participant_timer().min(changed);
        for (wi, tw) in self.w_timers.iter().take(self.w_hi).enumerate() {
            if !scope.has_w(wi) {
                t = t.min(*tw);
            }
        }
        for (ri, tr) in self.r_timers.iter().take(self.r_hi).enumerate() {
            if !scope.has_r(ri) {
                t = t.min(*tr);
            }
        }
        t
    }

    /// [`Participant::next_timer`] (the full walk).
    #[inline(always)]
    fn next_timer_full(&self) -> Instant {
        let mut t = self.participant_timer();
        for w in self.live_writers().iter().flatten() {
            t = t.min(self.writer_timer(w));
        }
        for r in self.live_readers().iter().flatten() {
            t = t.min(Self::reader_timer(r));
        }
        t
    }

    /// The participant's own timers (announcements, leases, reassembly, liveliness).
    #[inline(always)]
    pub(crate) fn participant_timer(&self) -> Instant {
        let mut t = Instant::MAX;
        if !self.closing {
            t = t.min(self.next_announce);
        }
        // Leases and reassembly: the checks' own times, never later than the earliest lease
        // expiry or reassembly timeout (at worst earlier: a renewed lease, a completed sample,
        // and the timer finds nothing and moves them on), so that this call need not walk the
        // peer and reassembly tables on every look.
        if self.lease_check_at != Instant::MAX {
            t = t.min(self.lease_check_at + Duration::from_nanos(1));
        }
        // (The `cfg!`s: timers a reduced build never arms, left out of its code.)
        if cfg!(feature = "fragmentation") && self.reassembly_check_at != Instant::MAX {
            t = t.min(self.reassembly_check_at + Duration::from_nanos(1));
        }
        if self.liveliness_check_at != Instant::MAX {
            t = t.min(self.liveliness_check_at + Duration::from_nanos(1));
        }
        t
    }

    /// Writer `w`'s earliest timer: HEARTBEATs, sync HEARTBEATs, deadline, batch delay,
    /// lifespan. A function of the writer's state alone (not of the time).
    #[inline(always)]
    pub(crate) fn writer_timer(&self, w: &LocalWriter<'a, H, M>) -> Instant {
        let mut t = Instant::MAX;
        if Self::needs_heartbeat(w) {
            t = t.min(w.hb_next);
            if w.hb_soon {
                t = t.min(self.hb_soon_at(w));
            }
        }
        for p in w.live().iter().flatten() {
            if p.reliable && p.state.needs_sync {
                t = t.min(p.sync_next);
            }
        }
        if cfg!(feature = "deadline")
            && let Some(d) = w.deadline_next
        {
            t = t.min(d + Duration::from_nanos(1));
        }
        if cfg!(feature = "batching")
            && let Some(b) = w.batch_until
        {
            t = t.min(b);
        }
        if let Some(life) = lifespan_of(&w.info.qos)
            && let Some((_, m)) = w.history.get(w.history.first_seq())
        {
            t = t.min(m.written + life + Duration::from_nanos(1));
        }
        t
    }

    /// Reader `r`'s earliest timer: its deadline while it has writers.
    #[inline(always)]
    pub(crate) fn reader_timer(r: &LocalReader<'a, H, M>) -> Instant {
        if cfg!(feature = "deadline")
            && let Some(d) = r.deadline_next
            && (r.live().iter().flatten().next().is_some() || r.local_writers > 0)
        {
            d + Duration::from_nanos(1)
        } else {
            Instant::MAX
        }
    }

    /// When a writer that just finished a burst sends its HEARTBEAT: an eighth of the heartbeat
    /// period after the last one; once a quarter of what it can hold unacknowledged is
    /// unacknowledged, a hundredth of the period scaled by how much of the reliable window it
    /// can hold; at once when it is blocked. What it can hold is the reliable window or, for
    /// keep-last(N), N samples (it never overwrites an unacknowledged sample). A writer that
    /// holds little blocks soon, so it must not wait long for acknowledgements: with ROS's
    /// keep-last(10) the unscaled rules left it waiting out 500 us to 6.25 ms per 10 samples.
    /// With `ack-with-data` the eighth of the period also counts from when the writer last
    /// sent again with everything acknowledged (`resumed`).
    pub(crate) fn hb_soon_at(&self, w: &LocalWriter<'a, H, M>) -> Instant {
        let next = w.history.next_seq();
        let unacked = next - Self::min_acked(w).min(next);
        let window = u64::from(self.config.reliable_window);
        let holds = match w.history.kind() {
            HistoryKind::KeepLast(n) => window.min(u64::from(n)),
            HistoryKind::KeepAll => window,
        };
        if w.blocked {
            w.hb_last
        } else if unacked >= holds.div_ceil(4) {
            // A hundredth of the period for a writer that can hold the whole window, less in
            // proportion for one that holds fewer (it blocks sooner).
            w.hb_last
                + mul_div_duration(
                    div_duration(self.config.heartbeat_period, 100),
                    holds as u32,
                    window as u32,
                )
        } else {
            // Few samples unacknowledged: the readers also get an eighth of the period from
            // when the writer, with everything acknowledged, sent again, to acknowledge by
            // themselves (with their own data: docs/PROTOCOL.md section 10).
            #[cfg(feature = "ack-with-data")]
            let from = w.hb_last.max(w.resumed);
            #[cfg(not(feature = "ack-with-data"))]
            let from = w.hb_last;
            from + div_duration(self.config.heartbeat_period, 8)
        }
    }

    pub(crate) fn needs_heartbeat(w: &LocalWriter<'a, H, M>) -> bool {
        let next = w.history.next_seq();
        w.live()
            .iter()
            .flatten()
            .any(|p| p.reliable && p.state.wants_heartbeat(w.sent_below, next))
    }

    // -----------------------------------------------------------------------------------------
    // Shutdown

    /// Leave cleanly: GOODBYE frames are queued (send them with the transmit calls), no new
    /// endpoints or samples are accepted, and the link should leave the multicast groups
    /// ([`Participant::poll_link_op`]).
    pub fn close(&mut self, now: Instant) {
        self.advance(now);
        self.tx_changed();
        if !self.closing {
            self.closing = true;
            self.goodbyes_left = GOODBYES;
            self.announce = None;
        }
    }

    /// True once [`Participant::close`] was called and every GOODBYE is out.
    pub fn is_closed(&self) -> bool {
        self.closing && self.goodbyes_left == 0
    }

    // -----------------------------------------------------------------------------------------
    // Graph maintenance

    /// Remove the participant in graph slot `slot` with all its endpoints.
    pub(crate) fn remove_peer(&mut self, slot: usize, reason: LostReason) {
        let Some(peer) = self.graph.peer(slot).copied() else {
            return;
        };
        for s in 0..E {
            if self
                .graph
                .endpoint(s)
                .is_some_and(|e| e.participant == peer.id)
            {
                self.remove_endpoint(s);
            }
        }
        self.reassembly.remove_participant(peer.id);
        self.graph.remove_peer(slot);
        self.push_event(Event::ParticipantLost {
            participant: peer.id,
            reason,
        });
    }

    pub(crate) fn remove_endpoint(&mut self, slot: usize) {
        let Some(ep) = self.graph.endpoint(slot).copied() else {
            return;
        };
        self.unmatch_remote(slot);
        self.graph.remove_endpoint(slot);
        self.push_event(Event::EndpointLost {
            remote: RemoteId {
                participant: ep.participant,
                entity: ep.info.entity,
            },
            kind: ep.info.kind,
        });
    }
}
