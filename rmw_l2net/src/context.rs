//! The state behind an `rmw_context_t`: one l2net [`Node`] (one participant on one interface),
//! its [`Hub`] (what `rmw_wait` waits on, and where the node's events are turned into graph
//! guard condition triggers and QoS event counts through the [`EventRouter`]), and the
//! subscription queues `rmw_wait` / `rmw_take` read from.
//!
//! `rmw_wait` waits on the node itself ([`NodeWaker::wait_any`], the node's leader/follower
//! scheme): the waiting thread sleeps on the link's descriptor, takes the frames in and looks
//! at its entries, so a received sample reaches it without crossing another thread. Its
//! condition first runs [`Hub::pump`], which routes the node's queued events. A background
//! thread per context routes them while no `rmw_wait` does, so that events are counted (and
//! the node's bounded event queue does not overflow) while nothing waits; it sleeps until
//! there is work (see [`background`]): no wake-ups while the context is idle. Whatever the
//! pump changes (a QoS count, the graph) wakes the waiting threads through [`WAKER`].

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

use std::collections::{HashMap, VecDeque};

use l2net::node::{
    Event, Node, NodeConfig, NodeError, NodeWaker, Publisher, Qos, RemoteId, SampleInfo, Subscriber,
};
use l2net_core::engine::{HistoryKind, TakeError};

use crate::config::Settings;
use crate::events::{EventRouter, Identity};
use crate::graph::{self, EndpointDesc, Local, NodeDesc, View};
use crate::guard::GuardCondition;
use crate::listener::{Listener, Registered};
use crate::wait::{WAKER, Wake};

/// The link the middleware runs on.
pub type Link = l2net_linux::link::LinuxLink;
/// The node type of a context.
pub type L2Node = Node<Link>;

/// How long the background thread stands back after an `rmw_wait` routed the events (or left):
/// an executor calls `rmw_wait` again within this, in which case the background thread never
/// touches the node. Events queued meanwhile wait for the next `rmw_wait` or for the
/// background thread (the node keeps [`l2net::node::EVENT_BACKLOG`] of them, about 10k a
/// second for this long; only samples that find their queue empty queue one, which needs
/// someone taking them, so an application that takes many thousands a second without
/// `rmw_wait` or a listener could lose the oldest).
pub const STAND_BACK: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The ROS graph of a context: its own nodes and endpoints (announced on
/// [`graph::GRAPH_TOPIC`]), the latest description of every remote participant, and the graph
/// guard conditions to trigger when either changes.
pub struct GraphState {
    local: Mutex<Local>,
    remote: Mutex<HashMap<u64, Vec<NodeDesc>>>,
    guards: Mutex<Vec<Weak<GuardCondition>>>,
    publ: Publisher<Link>,
    sub: Subscriber<Link>,
    scratch: Mutex<Vec<u8>>,
    self_id: u64,
    closed: AtomicBool,
}

impl std::fmt::Debug for GraphState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphState")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl GraphState {
    fn new(node: &L2Node) -> Result<GraphState, NodeError> {
        let publ = node.publisher(
            graph::GRAPH_TOPIC,
            graph::GRAPH_TYPE,
            Qos::reliable(1).transient_local(),
        )?;
        let sub = node.subscriber(
            graph::GRAPH_TOPIC,
            graph::GRAPH_TYPE,
            Qos::reliable(256).transient_local(),
        )?;
        Ok(GraphState {
            local: Mutex::default(),
            remote: Mutex::default(),
            guards: Mutex::default(),
            publ,
            sub,
            scratch: Mutex::new(vec![0; 1 << 16]),
            self_id: node.id(),
            closed: AtomicBool::new(false),
        })
    }

    fn changed(&self) {
        for g in lock(&self.guards).iter().filter_map(Weak::upgrade) {
            g.trigger();
        }
    }

    /// Publishes the local description (the latest one reaches late joiners too).
    fn announce(&self) {
        if self.closed.load(Ordering::Relaxed) {
            // After rmw_shutdown the participant said goodbye: nothing to tell anyone.
            self.changed();
            return;
        }
        let bytes = graph::encode(&lock(&self.local).snapshot());
        // A full window or a closed node only delays the description: the next change or a
        // late joiner's match sends the latest one.
        let _ = self
            .publ
            .publish_timeout(&bytes, Some(Duration::from_millis(100)));
        self.changed();
    }

    /// Registers a node; it is unregistered when the returned guard drops.
    pub fn add_node(self: &Arc<Self>, name: &str, namespace: &str, enclave: &str) -> Registration {
        let key = lock(&self.local).add_node(name, namespace, enclave);
        self.announce();
        Registration {
            graph: Arc::clone(self),
            key,
            node: true,
        }
    }

    /// Registers an endpoint of node `node`.
    pub fn add_endpoint(self: &Arc<Self>, node: &Registration, e: EndpointDesc) -> Registration {
        let key = lock(&self.local).add_endpoint(node.key, e);
        self.announce();
        Registration {
            graph: Arc::clone(self),
            key,
            node: false,
        }
    }

    /// Reads the descriptions the node queued (without looking at the link); returns whether
    /// anything changed.
    fn drain(&self) -> bool {
        let mut buf = lock(&self.scratch);
        let mut changed = false;
        loop {
            match self.sub.try_take(&mut buf) {
                Ok(Some(info)) => {
                    if info.writer.participant == self.self_id {
                        continue;
                    }
                    // A description that does not decode is ignored: the sender's next one
                    // replaces it.
                    if let Ok(nodes) = graph::decode(&buf[..info.len]) {
                        lock(&self.remote).insert(info.writer.participant, nodes);
                        changed = true;
                    }
                }
                Err(NodeError::Take(TakeError::BufferTooSmall { need })) => buf.resize(need, 0),
                Ok(None) | Err(_) => return changed,
            }
        }
    }

    fn lost(&self, participant: u64) -> bool {
        lock(&self.remote).remove(&participant).is_some()
    }

    /// Every known node, local ones first.
    pub fn view(&self) -> View {
        self.drain();
        let mut nodes = lock(&self.local).snapshot();
        for n in lock(&self.remote).values() {
            nodes.extend(n.iter().cloned());
        }
        View { nodes }
    }
}

/// A node or endpoint in the local graph; removed (and the change announced) on drop.
#[derive(Debug)]
pub struct Registration {
    graph: Arc<GraphState>,
    key: u64,
    node: bool,
}

impl Registration {
    /// The graph it belongs to.
    pub fn graph(&self) -> &Arc<GraphState> {
        &self.graph
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        {
            let mut l = lock(&self.graph.local);
            if self.node {
                l.remove_node(self.key);
            } else {
                l.remove_endpoint(self.key);
            }
        }
        self.graph.announce();
    }
}

/// What waiting on a context needs, shared by the context, its background thread and its
/// endpoints (so that `rmw_wait` reaches it from any entry).
pub struct Hub {
    waker: NodeWaker<Link>,
    graph: Arc<GraphState>,
    router: Arc<EventRouter>,
    link_error: Mutex<Option<String>>,
    /// `link_error` is set: read by every `rmw_wait` without the lock (and the string's clone).
    failed: AtomicBool,
    /// Held while events are routed, so that they are routed in order.
    pumping: Mutex<()>,
    /// Subscription queues (of subscriptions, services, clients) that had a listener set.
    watched: Mutex<Vec<Weak<SubQueue>>>,
    /// Event listeners set now.
    event_listeners: AtomicUsize,
    /// A listener is set: the background thread waits on the node for new samples.
    listening: AtomicBool,
    /// Threads in `rmw_wait` on this context's node now (they route its events themselves).
    waiting: AtomicUsize,
    /// The background thread's stop flag and its sleep.
    bg: Background,
    /// When events were last routed, or an `rmw_wait` left (ns of the coarse monotonic
    /// clock, `crate::sys::clock`: each `rmw_wait` stores it, the fine clock would cost it a
    /// slow clock read).
    pumped_at: AtomicU64,
    /// Puts the engine's delivery times on the wall clock.
    wall: WallClock,
}

/// How often [`WallClock`] measures the wall clock against the node's monotonic clock again.
const WALL_REMEASURE_NS: u64 = 1_000_000_000;

/// The received timestamps of samples (`rmw_message_info_t::received_timestamp`: system time,
/// ns since the Unix epoch) without a clock read per sample: the engine stamps every sample
/// with its delivery into the reader's queue on the node's monotonic clock
/// ([`SampleInfo::received`], ns after [`NodeWaker::epoch`]), and this adds the offset from that
/// clock to the wall clock, measured again (one `SystemTime::now`) when the coarse clock says
/// a second passed, so that a stepped wall clock is followed within a second. The timestamp
/// is the time the node took the sample in, not the (later) time it was taken.
#[derive(Debug)]
struct WallClock {
    epoch: StdInstant,
    /// Wall-clock ns at `epoch`.
    offset_ns: AtomicI64,
    /// When `offset_ns` was measured (coarse monotonic ns).
    measured_at: AtomicU64,
}

impl WallClock {
    fn new(epoch: StdInstant) -> Self {
        let w = WallClock {
            epoch,
            offset_ns: AtomicI64::new(0),
            measured_at: AtomicU64::new(0),
        };
        w.measure();
        w
    }

    fn measure(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        let mono = i128::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(i128::MAX);
        let offset = i64::try_from((wall - mono).clamp(i64::MIN.into(), i64::MAX.into()))
            .unwrap_or(i64::MAX);
        self.offset_ns.store(offset, Ordering::Relaxed);
        self.measured_at
            .store(crate::sys::clock::coarse_now_ns(), Ordering::Relaxed);
        offset
    }

    /// Wall-clock ns of engine time `t` (never below 0).
    fn wall_ns(&self, t: l2net_core::Instant) -> i64 {
        let since = crate::sys::clock::coarse_now_ns()
            .saturating_sub(self.measured_at.load(Ordering::Relaxed));
        let offset = if since >= WALL_REMEASURE_NS {
            self.measure()
        } else {
            self.offset_ns.load(Ordering::Relaxed)
        };
        offset
            .saturating_add(i64::try_from(t.as_nanos()).unwrap_or(i64::MAX))
            .max(0)
    }
}

/// The background thread's stop flag, and what it sleeps on while it stands back.
#[derive(Default)]
struct Background {
    stopped: AtomicBool,
    /// It sleeps until kicked because threads are in `rmw_wait`: the last to leave kicks it.
    parked: AtomicBool,
    /// Kicked since it last looked.
    lock: Mutex<bool>,
    cv: Condvar,
}

impl Background {
    /// Wakes the background thread (to stop, or to look at the listeners again), wherever it
    /// sleeps.
    fn kick(&self, waker: &NodeWaker<Link>) {
        self.kick_sleep();
        waker.wake();
    }

    /// Wakes the background thread if it sleeps on its condition variable.
    fn kick_sleep(&self) {
        *lock(&self.lock) = true;
        self.cv.notify_all();
    }

    /// Takes the kicked flag.
    fn take_kick(&self) -> bool {
        std::mem::take(&mut *lock(&self.lock))
    }
}

/// A thread in `rmw_wait` on the nodes of some contexts ([`Hub::enter_wait`]); it leaves
/// them all on drop.
#[derive(Debug)]
pub struct InWait<'a>(&'a [Arc<Hub>]);

impl Drop for InWait<'_> {
    fn drop(&mut self) {
        for h in self.0 {
            h.leave_wait();
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("waker", &self.waker)
            .finish_non_exhaustive()
    }
}

impl Wake for Hub {
    fn wake(&self) {
        self.waker.wake();
    }
}

impl Hub {
    /// The node's waits.
    pub fn waker(&self) -> &NodeWaker<Link> {
        &self.waker
    }

    /// Routes the events the node queued: QoS events to the endpoints' counters, graph
    /// changes to the graph guard conditions. Whatever changed wakes the wait sets. If another
    /// thread is routing right now this returns at once: that thread wakes the wait sets for
    /// what it routes.
    pub fn pump(&self) {
        if !self.waker.has_events() && self.waiting.load(Ordering::Relaxed) > 0 {
            // Nothing to route, and no time to store (a thread in `rmw_wait` keeps the
            // background thread standing back; the last to leave stores it).
            return;
        }
        let Ok(pumping) = self.pumping.try_lock() else {
            return;
        };
        self.pump_locked(pumping, false);
    }

    /// [`Hub::pump`], waiting for a thread that is routing right now to finish first; returns
    /// whether the node's link has failed.
    pub fn pump_and_check(&self) -> bool {
        self.pump_locked(lock(&self.pumping), true);
        self.link_error().is_some()
    }

    /// Now on the clock of `pumped_at`.
    fn now_ns(&self) -> u64 {
        crate::sys::clock::coarse_now_ns()
    }

    /// Routes the events; `full`: read the graph topic even if no event said it has data.
    fn pump_locked(&self, _pumping: MutexGuard<'_, ()>, full: bool) {
        let (mut counted, mut changed, mut graph_data) = (false, false, full);
        let graph_reader = self.graph.sub.handle();
        // `has_events`: no lock for the look that would find the queue empty (after the one
        // `DataAvailable` of a sample, most often).
        while self.waker.has_events() {
            match self.waker.try_next_event() {
                Ok(Some(ev)) => {
                    if let Event::DataAvailable { reader } = ev {
                        // The common event (one per sample that finds its queue empty): only
                        // the graph topic's matter here.
                        graph_data |= reader == graph_reader;
                        continue;
                    }
                    counted |= self.router.route(&ev);
                    if let Event::Unmatched { local, .. } = ev
                        && let Some(e) = self.router.endpoint(local)
                    {
                        // The matched status changed (a match that began is counted by
                        // `route`).
                        e.listener(None).notify(1);
                    }
                    if let Event::EndpointDiscovered { remote, .. } = ev
                        && let Some(id) = remote_identity(&self.waker, remote)
                    {
                        counted |= self.router.discovered(remote, &id) > 0;
                    }
                    changed |= is_graph_event(&ev);
                    if let Event::ParticipantLost { participant, .. } = ev {
                        changed |= self.graph.lost(participant);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let mut le = lock(&self.link_error);
                    counted |= le.is_none();
                    le.get_or_insert_with(|| e.to_string());
                    self.failed.store(true, Ordering::Release);
                    break;
                }
            }
        }
        if graph_data {
            changed |= self.graph.drain();
        }
        if self.waiting.load(Ordering::Relaxed) == 0 {
            // While a thread is in `rmw_wait` (which pumps on every look, a busy-polling one
            // thousands of times a millisecond) the background thread does not look at the
            // time; the last to leave stores it (`leave_wait`).
            self.pumped_at.store(self.now_ns(), Ordering::Relaxed);
        }
        if changed {
            // Triggers the graph guard conditions, which wake the wait sets.
            self.graph.changed();
        }
        if counted {
            WAKER.notify();
        }
    }

    /// A thread enters `rmw_wait` on the nodes of these contexts: it routes their events from
    /// now on (its condition runs [`Hub::pump`]), so their background threads stand back until
    /// it leaves. Costs two atomic operations per context while its background thread does not
    /// sleep parked, a wake-up of it (at most one per [`STAND_BACK`]) when it does.
    pub fn enter_wait(hubs: &[Arc<Hub>]) -> InWait<'_> {
        for h in hubs {
            h.waiting.fetch_add(1, Ordering::SeqCst);
        }
        InWait(hubs)
    }

    /// The end of an [`Hub::enter_wait`].
    fn leave_wait(&self) {
        // The stand-back counts from here.
        self.pumped_at.store(self.now_ns(), Ordering::Relaxed);
        // SeqCst, as in `background`'s parking: either this sees it parked, or it sees no
        // thread waiting.
        if self.waiting.fetch_sub(1, Ordering::SeqCst) == 1
            && self.bg.parked.swap(false, Ordering::SeqCst)
        {
            self.bg.kick_sleep();
        }
    }

    /// How long ago events were last routed.
    fn since_pumped(&self) -> Duration {
        Duration::from_nanos(
            self.now_ns()
                .saturating_sub(self.pumped_at.load(Ordering::Relaxed)),
        )
    }

    /// Reports the samples that arrived to the listeners of the watched queues; returns
    /// whether any listener (of a queue or an event) is set.
    fn poll_listeners(&self) -> bool {
        let mut active = self.event_listeners.load(Ordering::Relaxed) > 0;
        let queues: Vec<Arc<SubQueue>> = {
            let mut w = lock(&self.watched);
            w.retain(|q| q.strong_count() > 0);
            w.iter().filter_map(Weak::upgrade).collect()
        };
        for q in queues {
            active |= q.poll_listener();
        }
        self.listening.store(active, Ordering::Relaxed);
        active
    }

    /// An endpoint of this context published: a sample for a local subscription that already
    /// held one queues no event and wakes no thread, so while a listener waits for samples it
    /// is woken here.
    pub fn published(&self) {
        if self.listening.load(Ordering::Relaxed) {
            self.waker.wake();
        }
    }

    /// A listener was set on `q`: the background thread reports its samples from now on.
    pub fn watch(&self, q: &Arc<SubQueue>) {
        {
            let mut w = lock(&self.watched);
            if !w.iter().any(|x| std::ptr::eq(x.as_ptr(), Arc::as_ptr(q))) {
                w.push(Arc::downgrade(q));
            }
        }
        self.bg.kick(&self.waker);
    }

    /// An event listener was set (`true`) or cleared.
    pub fn event_listener_changed(&self, set: bool) {
        if set {
            self.event_listeners.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = self
                .event_listeners
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        self.bg.kick(&self.waker);
    }

    /// Whether the node can still be waited on: its link has not failed and it is not closed.
    /// Two atomic loads, no lock.
    pub fn usable(&self) -> bool {
        !self.failed.load(Ordering::Acquire) && !self.waker.is_closed()
    }

    /// Why the link failed, once it did.
    pub fn link_error(&self) -> Option<String> {
        lock(&self.link_error).clone()
    }
}

/// One initialised context.
pub struct Context {
    node: Option<Arc<L2Node>>,
    pumper: Option<JoinHandle<()>>,
    hub: Arc<Hub>,
    settings: Settings,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .field("node_id", &self.node.as_ref().map(|n| n.id()))
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Opens the interface and starts the participant.
    pub fn open(settings: Settings, name: &str) -> Result<Context, String> {
        let mut cfg = NodeConfig::new(settings.domain, name);
        cfg.static_peers = settings.static_peers.clone();
        cfg.busy_poll = settings.busy_poll;
        let mut link_cfg = l2net_linux::link::LinkConfig::new(&settings.interface);
        link_cfg.backend = settings
            .backend
            .parse()
            .map_err(|e: l2net_linux::link::UnknownBackend| e.to_string())?;
        let opened = Link::open(&link_cfg)
            .map_err(|e| e.to_string())
            .and_then(|(link, _backend)| L2Node::new(link, cfg).map_err(|e| e.to_string()));
        let node = opened.map_err(|e| {
            format!(
                "cannot open l2net on interface {:?}: {e} (check {} / {}, and that the process \
                 may open raw sockets: root or CAP_NET_RAW)",
                settings.interface,
                crate::config::ENV_INTERFACE,
                crate::config::ENV_CONFIG
            )
        })?;
        let graph = GraphState::new(&node)
            .map_err(|e| format!("cannot create the graph topic {}: {e}", graph::GRAPH_TOPIC))?;
        let hub = Arc::new(Hub {
            waker: node.waker(),
            graph: Arc::new(graph),
            router: Arc::new(EventRouter::default()),
            link_error: Mutex::new(None),
            failed: AtomicBool::new(false),
            pumping: Mutex::new(()),
            watched: Mutex::default(),
            event_listeners: Default::default(),
            listening: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            bg: Background::default(),
            pumped_at: AtomicU64::new(crate::sys::clock::coarse_now_ns()),
            wall: WallClock::new(node.waker().epoch()),
        });
        let as_wake: Arc<dyn Wake> = hub.clone();
        WAKER.register(&as_wake);
        let pumper = {
            let hub = Arc::clone(&hub);
            std::thread::Builder::new()
                .name("rmw_l2net-events".into())
                .spawn(move || background(&hub))
                .map_err(|e| format!("cannot start the event thread: {e}"))?
        };
        Ok(Context {
            node: Some(Arc::new(node)),
            pumper: Some(pumper),
            hub,
            settings,
        })
    }

    /// The settings the context was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The node, unless the context was shut down.
    pub fn node(&self) -> Result<&Arc<L2Node>, String> {
        if let Some(e) = self.hub.link_error() {
            return Err(format!("the l2net link failed: {e}"));
        }
        self.node
            .as_ref()
            .ok_or_else(|| "the context has been shut down".to_string())
    }

    /// Whether `rmw_shutdown` ran.
    pub fn is_shut_down(&self) -> bool {
        self.node.is_none()
    }

    /// What waiting on this context needs.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The ROS graph.
    pub fn graph(&self) -> &Arc<GraphState> {
        &self.hub.graph
    }

    /// The ROS graph as of now (routes the queued events first: a participant that left).
    pub fn view(&self) -> View {
        self.hub.pump();
        self.hub.graph.view()
    }

    /// Where the engine's QoS events are routed to the endpoints' counters.
    pub fn events(&self) -> &EventRouter {
        &self.hub.router
    }

    /// A new graph guard condition, triggered whenever participants or endpoints appear or
    /// disappear.
    pub fn graph_guard(&self) -> Arc<GuardCondition> {
        let g = Arc::new(GuardCondition::new());
        let mut list = lock(&self.hub.graph.guards);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&g));
        g
    }

    /// Stops the background thread and closes the participant (says goodbye on the wire; its
    /// waits end). Endpoints still alive keep the engine's memory until they are destroyed,
    /// but no longer exchange anything.
    pub fn shutdown(&mut self) {
        self.hub.bg.stopped.store(true, Ordering::Relaxed);
        self.hub.bg.kick(&self.hub.waker);
        self.hub.graph.closed.store(true, Ordering::Relaxed);
        if let Some(d) = self.pumper.take() {
            let _ = d.join();
        }
        if let Some(node) = self.node.take()
            && let Ok(node) = Arc::try_unwrap(node)
        {
            node.close();
        }
        WAKER.notify();
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The context's background thread: routes the node's events while no `rmw_wait` does, and
/// calls the listeners (EventsExecutor callbacks). It sleeps until there is work:
///
/// * while a listener is set it waits on the node as `rmw_wait` does (woken by every frame and
///   every event), and reports new samples and events at once;
/// * while a thread is in `rmw_wait` on the node (which routes the events itself) it sleeps
///   *parked* until the last such thread leaves ([`InWait`]); after an `rmw_wait` it stands
///   back for [`STAND_BACK`] (so that an executor's loop costs it nothing);
/// * otherwise it sleeps as a follower of the node ([`NodeWaker::wait_events`]) until an event
///   is queued: a match, a graph change, a missed deadline or a lost liveliness (the node's
///   I/O thread runs the timers that raise those), routes it and sleeps again.
///
/// So an idle context wakes it for nothing: not while `rmw_wait` blocks, not while nothing
/// waits.
fn background(hub: &Hub) {
    let stopped = || hub.bg.stopped.load(Ordering::Relaxed);
    while !stopped() {
        if hub.poll_listeners() {
            let r = hub.waker.wait_until(
                || {
                    hub.pump();
                    // Leave to look at the mode again when the last listener was cleared.
                    !hub.poll_listeners() || stopped()
                },
                None,
            );
            if r.is_err() {
                // The node closed or its link failed: nothing to wait on any more but a kick
                // (to stop, or a listener set or cleared).
                hub.pump();
                sleep(hub, None);
            }
            continue;
        }
        if hub.waiting.load(Ordering::SeqCst) > 0 {
            hub.bg.parked.store(true, Ordering::SeqCst);
            if hub.waiting.load(Ordering::SeqCst) > 0 {
                sleep(hub, None);
            }
            hub.bg.parked.store(false, Ordering::SeqCst);
            continue;
        }
        let since = hub.since_pumped();
        if since < STAND_BACK {
            sleep(hub, Some(STAND_BACK - since));
            continue;
        }
        let r = hub.waker.wait_events(
            || stopped() || hub.waiting.load(Ordering::SeqCst) > 0 || hub.bg.take_kick(),
            None,
        );
        match r {
            // Queued events are routed at once, unless a thread just entered `rmw_wait` (it
            // routes them); the graph topic is read too.
            Ok(true) if hub.waiting.load(Ordering::SeqCst) == 0 => {
                if let Ok(pumping) = hub.pumping.try_lock() {
                    hub.pump_locked(pumping, true);
                }
            }
            Ok(_) => {}
            Err(_) => {
                // The node closed or its link failed: route what is left (the failure), then
                // sleep until kicked.
                hub.pump();
                sleep(hub, None);
            }
        }
    }
}

/// Sleeps up to `d` (`None`: no limit), or until [`Background::kick`].
fn sleep(hub: &Hub, d: Option<Duration>) {
    let mut kicked = lock(&hub.bg.lock);
    if !*kicked {
        kicked = match d {
            Some(d) => {
                hub.bg
                    .cv
                    .wait_timeout(kicked, d)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => hub.bg.cv.wait(kicked).unwrap_or_else(|e| e.into_inner()),
        };
    }
    *kicked = false;
}

/// The identity of remote endpoint `remote` as discovery knows it (`None` once it is gone, or
/// for a service endpoint).
fn remote_identity(node: &NodeWaker<Link>, remote: RemoteId) -> Option<Identity> {
    node.with_participant(|p| {
        let g = p.graph();
        let slot = g.find_endpoint(remote.participant, remote.entity)?;
        Identity::of(&g.endpoint(slot)?.info)
    })
}

/// The remote topic endpoints on `topic` that discovery knows, with their identities.
pub fn remote_identities(node: &L2Node, topic: &str) -> Vec<(RemoteId, Identity)> {
    node.with_participant(|p| {
        p.graph()
            .endpoints()
            .filter(|(_, e)| e.info.topic.as_str() == topic)
            .filter_map(|(_, e)| {
                let id = RemoteId {
                    participant: e.participant,
                    entity: e.info.entity,
                };
                Identity::of(&e.info).map(|i| (id, i))
            })
            .collect()
    })
}

fn is_graph_event(ev: &Event) -> bool {
    matches!(
        ev,
        Event::ParticipantDiscovered { .. }
            | Event::ParticipantLost { .. }
            | Event::EndpointDiscovered { .. }
            | Event::EndpointLost { .. }
            | Event::Matched { .. }
            | Event::Unmatched { .. }
    )
}

/// One received sample, lent to [`SubQueue::take_with`]'s caller.
#[derive(Clone, Copy, Debug)]
pub struct Taken<'a> {
    /// The serialized message (CDR with its header).
    pub data: &'a [u8],
    /// What the engine says about it.
    pub info: SampleInfo,
    /// Wall clock when the node took it in, in ns since the Unix epoch.
    pub received_ns: i64,
    /// Its number in this subscription's stream of received samples (from 1).
    pub reception_seq: u64,
}

/// What is known of a sample besides its bytes.
#[derive(Clone, Copy, Debug)]
struct Meta {
    info: SampleInfo,
    received_ns: i64,
    reception_seq: u64,
}

/// A sample pulled out of the engine and held by the queue.
#[derive(Debug)]
struct Held {
    data: Vec<u8>,
    meta: Meta,
}

/// Buffers of taken held samples kept for the next ones (a filtered queue's steady state
/// allocates nothing).
const SPARE_BUFFERS: usize = 4;
/// Larger buffers are not kept.
const SPARE_MAX_LEN: usize = 1 << 16;

/// What a [`SubQueue`] holds under one lock: the samples of a filtered queue pulled out of the
/// engine but not taken yet (one that `rmw_wait` pulled to see that the queue is ready; those
/// its listener counted), how many samples its listener was told about that were not taken
/// yet, the buffer samples are received into, and spare buffers for held samples.
#[derive(Debug)]
struct Slot {
    held: VecDeque<Held>,
    outstanding: usize,
    scratch: Vec<u8>,
    spare: Vec<Vec<u8>>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            held: VecDeque::new(),
            outstanding: 0,
            scratch: vec![0; 1 << 16],
            spare: Vec::new(),
        }
    }
}

impl Slot {
    /// Keeps the buffer of a taken held sample for the next one.
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() <= SPARE_MAX_LEN {
            self.spare.push(buf);
        }
    }
}

/// Samples a filtered queue holds for its listener at most, under keep-all history (the rest
/// stay in the engine's queue, which pushes back on a reliable writer).
const KEEP_ALL_HELD: usize = 4096;

/// A subscriber plus the samples pulled out of its engine queue, and its listener.
pub struct SubQueue {
    sub: Subscriber<Link>,
    hub: Arc<Hub>,
    pending: Mutex<Slot>,
    listener: Listener,
    received: AtomicU64,
    ignore_participant: Option<u64>,
    prefix: Option<Vec<u8>>,
    /// Keep-last depth (`None`: keep all) of what `held` keeps for a listener.
    depth: Option<usize>,
}

impl std::fmt::Debug for SubQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubQueue")
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl SubQueue {
    /// Wraps a subscriber of the node behind `hub`; samples of participant
    /// `ignore_participant` (ours, when the subscription ignores local publications) are
    /// dropped. `history` is the subscriber's.
    pub fn new(
        sub: Subscriber<Link>,
        hub: &Arc<Hub>,
        ignore_participant: Option<u64>,
        history: HistoryKind,
    ) -> Self {
        // Its samples are found through the node's change counter and the queue's count
        // (`rmw_wait`, the listeners): a `DataAvailable` event per sample would only be taken
        // and thrown away (`Hub::pump`), and wake the background thread.
        sub.set_data_events(false);
        SubQueue {
            sub,
            hub: Arc::clone(hub),
            pending: Mutex::default(),
            listener: Listener::default(),
            received: AtomicU64::new(0),
            ignore_participant,
            prefix: None,
            depth: match history {
                HistoryKind::KeepLast(n) => Some(usize::from(n).max(1)),
                HistoryKind::KeepAll => None,
            },
        }
    }

    /// Only samples that start with `prefix` are delivered (a client's replies start with its
    /// GID: the replies to the other clients of the service are not its own); the others are
    /// dropped, and neither make it ready nor count for its listener.
    pub fn with_prefix(mut self, prefix: &[u8]) -> Self {
        self.prefix = Some(prefix.to_vec());
        self
    }

    /// The subscriber.
    pub fn subscriber(&self) -> &Subscriber<Link> {
        &self.sub
    }

    /// The hub of the subscriber's context.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Whether samples are dropped by a filter (so the engine's count is not the queue's).
    fn filtered(&self) -> bool {
        self.prefix.is_some() || self.ignore_participant.is_some()
    }

    /// Whether a sample is waiting, without looking at the link (the thread in `rmw_wait`
    /// takes the frames in itself): the engine's count of queued samples; a filtered queue
    /// pulls one out of the engine's queue through its filters to find out.
    pub fn ready(&self) -> Result<bool, String> {
        if !self.filtered() {
            // An unfiltered queue never holds samples: the engine's queue is the whole story.
            let h = self.sub.handle();
            return Ok(self.hub.waker.with_participant(|p| p.queued(h)) > 0);
        }
        let mut p = lock(&self.pending);
        if p.held.is_empty() {
            self.hold(&mut p)?;
        }
        Ok(!p.held.is_empty())
    }

    /// Hands the oldest waiting sample, if any, to `f` (looks at the link when the queue is
    /// empty). The bytes are lent straight out of the engine's queue, where `f` reads them
    /// under the node's lock (or out of the held sample): no copy and no allocation per
    /// sample, one lock of the node.
    pub fn take_with<R>(&self, f: impl FnOnce(Taken<'_>) -> R) -> Result<Option<R>, String> {
        let mut guard = lock(&self.pending);
        let p = &mut *guard;
        if let Some(h) = p.held.pop_front() {
            p.outstanding = p.outstanding.saturating_sub(1);
            let r = f(taken(&h.data, h.meta));
            p.recycle(h.data);
            return Ok(Some(r));
        }
        let mut f = Some(f);
        let r = self
            .sub
            .try_recv_with(|info, data| {
                let meta = self.admit(info, data)?;
                // Called once: the first sample admitted ends the take.
                f.take().map(|f| f(taken(data, meta)))
            })
            .map_err(|e| e.to_string())?;
        if r.is_some() {
            p.outstanding = p.outstanding.saturating_sub(1);
        }
        Ok(r)
    }

    /// What a sample that passes the filters is, besides its bytes; `None`: dropped by them.
    fn admit(&self, info: &SampleInfo, data: &[u8]) -> Option<Meta> {
        if self.ignore_participant == Some(info.writer.participant) {
            return None;
        }
        if let Some(p) = &self.prefix
            && !data.starts_with(p)
        {
            return None;
        }
        let received_ns = self.hub.wall.wall_ns(info.received);
        let reception_seq = self.received.fetch_add(1, Ordering::Relaxed) + 1;
        Some(Meta {
            info: *info,
            received_ns,
            reception_seq,
        })
    }

    /// Pulls the next sample through the filters (without looking at the link) into a held
    /// buffer; returns whether there was one.
    fn hold(&self, p: &mut Slot) -> Result<bool, String> {
        let Some(meta) = self.pull(&mut p.scratch)? else {
            return Ok(false);
        };
        let mut data = p.spare.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(&p.scratch[..meta.info.len]);
        p.held.push_back(Held { data, meta });
        Ok(true)
    }

    /// Samples waiting: in the engine's queue and held. A filtered queue first pulls what the
    /// engine holds through its filters (keeping its history's depth), so that only its own
    /// samples count.
    fn unread(&self, slot: &mut Slot) -> Result<usize, String> {
        let h = self.sub.handle();
        if !self.filtered() {
            let queued = self.hub.waker.with_participant(|p| p.queued(h));
            return Ok(queued + slot.held.len());
        }
        loop {
            if self.depth.is_none() && slot.held.len() >= KEEP_ALL_HELD {
                // Keep all: what does not fit stays in the engine (counted as it is).
                let queued = self.hub.waker.with_participant(|p| p.queued(h));
                return Ok(queued + slot.held.len());
            }
            if !self.hold(slot)? {
                return Ok(slot.held.len());
            }
            if self.depth.is_some_and(|d| slot.held.len() > d)
                && let Some(old) = slot.held.pop_front()
            {
                // Keep last: the oldest goes, as the engine's queue would drop it.
                slot.outstanding = slot.outstanding.saturating_sub(1);
                slot.recycle(old.data);
            }
        }
    }

    /// Sets (`Some`) or clears the listener (`rmw_*_set_on_new_*_callback`); a new one is
    /// called at once with the number of samples waiting.
    pub fn set_listener(self: &Arc<Self>, r: Option<Registered>) {
        let unread = {
            let mut p = lock(&self.pending);
            // A failed link reports through take and rmw_wait; nothing to count here.
            let unread = self.unread(&mut p).unwrap_or(0);
            p.outstanding = unread;
            unread
        };
        self.listener.set(r, unread);
        self.hub.watch(self);
    }

    /// Clears the listener (its endpoint goes away): once this returns it is not running and
    /// is never called again.
    pub fn clear_listener(&self) {
        self.listener.set(None, 0);
    }

    /// Tells the listener about the samples that arrived since it was last told; returns
    /// whether a listener is set.
    fn poll_listener(&self) -> bool {
        if !self.listener.is_set() {
            return false;
        }
        let new = {
            let mut p = lock(&self.pending);
            let unread = self.unread(&mut p).unwrap_or(0);
            let new = unread.saturating_sub(p.outstanding);
            p.outstanding += new;
            new
        };
        self.listener.notify(new);
        true
    }

    /// The next sample that passes the filters, taken into `buf` (its bytes are
    /// `buf[..info.len]`), without looking at the link.
    fn pull(&self, buf: &mut Vec<u8>) -> Result<Option<Meta>, String> {
        loop {
            match self.sub.try_take(buf) {
                Ok(Some(info)) => {
                    if let Some(meta) = self.admit(&info, &buf[..info.len]) {
                        return Ok(Some(meta));
                    }
                }
                Ok(None) => return Ok(None),
                Err(NodeError::Take(TakeError::BufferTooSmall { need })) => buf.resize(need, 0),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

fn taken(data: &[u8], m: Meta) -> Taken<'_> {
    Taken {
        data,
        info: m.info,
        received_ns: m.received_ns,
        reception_seq: m.reception_seq,
    }
}

/// The matched status of a publisher or subscription, as the matched events report it:
/// `total_count` counts every match that began (the engine's `Matched` events, counted by the
/// endpoint's [`crate::events::EndpointEvents`]), so a match and an unmatch between two looks
/// still count; `current_count` is the engine's current number of matches.
#[derive(Debug, Default)]
pub struct MatchedStatus {
    last: usize,
    total: u64,
}

/// One reading of a [`MatchedStatus`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchedReading {
    pub total_count: usize,
    pub total_count_change: usize,
    pub current_count: usize,
    pub current_count_change: i32,
}

impl MatchedStatus {
    /// Whether the status changed since it was last taken: another number of matches, or a
    /// match that began (`matches_pending`) and perhaps ended again.
    pub fn changed(&self, current: usize, matches_pending: bool) -> bool {
        current != self.last || matches_pending
    }

    /// Reports the status for `current` matches, `began` of which began so far, and resets the
    /// changes. The total never reads below the current number (should the engine's event
    /// queue have dropped a `Matched`).
    pub fn take(&mut self, current: usize, began: u64) -> MatchedReading {
        let floor = (current as u64).saturating_sub(began);
        let total = (began + floor).max(self.total);
        let change = current as i64 - self.last as i64;
        let r = MatchedReading {
            total_count: usize::try_from(total).unwrap_or(usize::MAX),
            total_count_change: usize::try_from(total - self.total).unwrap_or(usize::MAX),
            current_count: current,
            current_count_change: change.clamp(i32::MIN.into(), i32::MAX.into()) as i32,
        };
        self.last = current;
        self.total = total;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_status_counts_every_match() {
        let mut m = MatchedStatus::default();
        assert!(!m.changed(0, false));
        assert!(m.changed(2, true));
        let r = m.take(2, 2);
        assert_eq!(
            (
                r.total_count,
                r.total_count_change,
                r.current_count,
                r.current_count_change
            ),
            (2, 2, 2, 2)
        );
        assert!(!m.changed(2, false));
        let r = m.take(1, 2);
        assert_eq!(
            (
                r.total_count,
                r.total_count_change,
                r.current_count,
                r.current_count_change
            ),
            (2, 0, 1, -1)
        );
        // A match and an unmatch between two looks: the count stays, the total moves.
        assert!(m.changed(1, true));
        let r = m.take(1, 3);
        assert_eq!(
            (
                r.total_count,
                r.total_count_change,
                r.current_count,
                r.current_count_change
            ),
            (3, 1, 1, 0)
        );
        // Had the event queue dropped a match, the total still covers the current count.
        let r = m.take(5, 4);
        assert_eq!((r.total_count, r.total_count_change), (5, 2));
    }
}
