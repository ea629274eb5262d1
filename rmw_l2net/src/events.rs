//! QoS event statuses of publishers and subscriptions: the engine's events (deadline missed,
//! incompatible QoS, samples lost, liveliness changed and lost), routed to the endpoint they
//! name, and endpoints of the same topic with another type, counted the way the rmw status
//! structs report them.
//!
//! Every publisher and subscription owns an [`EndpointEvents`]; the context's [`EventRouter`]
//! maps the engine's handle of its writer or reader ([`LocalEndpoint`]) to it. Whoever routes
//! the context's events (`context::Hub::pump`: a thread in `rmw_wait` or `rmw_take_event`, or
//! the context's background thread) hands each to [`EventRouter::route`] and then wakes the wait
//! sets, so an event entry of a wait set becomes ready without anyone polling; each event type
//! also has a [`Listener`] for the EventsExecutor's callback.
//!
//! Counting follows DDS (and so rmw_cyclonedds_cpp): `total_count` is cumulative, each
//! `*_change` is the difference since the status was last taken and is reset by a take.

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use l2net_core::engine::{
    EndpointInfo, EndpointKind, Event, LocalEndpoint, QosPolicy, RemoteId, TypeHash,
};

use crate::abi::*;
use crate::listener::Listener;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The event types of one endpoint that this module counts (the matched events are computed
/// from the current number of matches instead, see `context::MatchedStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `RMW_EVENT_OFFERED_DEADLINE_MISSED` / `RMW_EVENT_REQUESTED_DEADLINE_MISSED`.
    DeadlineMissed,
    /// `RMW_EVENT_OFFERED_QOS_INCOMPATIBLE` / `RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE`.
    IncompatibleQos,
    /// `RMW_EVENT_MESSAGE_LOST`.
    MessageLost,
    /// `RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE` / `RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE`.
    IncompatibleType,
    /// `RMW_EVENT_LIVELINESS_CHANGED` (subscriptions).
    LivelinessChanged,
    /// `RMW_EVENT_LIVELINESS_LOST` (publishers).
    LivelinessLost,
}

impl Kind {
    /// The kind behind an rmw event type, for a publisher (`publisher == true`) or a
    /// subscription; `None` for types this module does not count.
    pub fn from_rmw(event_type: rmw_event_type_t, publisher: bool) -> Option<Kind> {
        match (event_type, publisher) {
            (RMW_EVENT_OFFERED_DEADLINE_MISSED, true)
            | (RMW_EVENT_REQUESTED_DEADLINE_MISSED, false) => Some(Kind::DeadlineMissed),
            (RMW_EVENT_OFFERED_QOS_INCOMPATIBLE, true)
            | (RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE, false) => Some(Kind::IncompatibleQos),
            (RMW_EVENT_MESSAGE_LOST, false) => Some(Kind::MessageLost),
            (RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE, true)
            | (RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE, false) => Some(Kind::IncompatibleType),
            (RMW_EVENT_LIVELINESS_CHANGED, false) => Some(Kind::LivelinessChanged),
            (RMW_EVENT_LIVELINESS_LOST, true) => Some(Kind::LivelinessLost),
            _ => None,
        }
    }
}

/// The `rmw_qos_policy_kind_t` of the engine's policy.
pub fn policy_kind(p: QosPolicy) -> rmw_qos_policy_kind_t {
    match p {
        QosPolicy::Reliability => RMW_QOS_POLICY_RELIABILITY,
        QosPolicy::Durability => RMW_QOS_POLICY_DURABILITY,
        QosPolicy::Deadline => RMW_QOS_POLICY_DEADLINE,
        QosPolicy::Liveliness => RMW_QOS_POLICY_LIVELINESS,
    }
}

/// A cumulative count and what of it was already reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    total: u64,
    reported: u64,
}

impl Count {
    fn add(&mut self, n: u64) {
        self.total = self.total.saturating_add(n);
    }

    fn pending(&self) -> bool {
        self.total != self.reported
    }

    /// `(total, change)`, and the change is reset.
    fn take(&mut self) -> (u64, u64) {
        let change = self.total - self.reported;
        self.reported = self.total;
        (self.total, change)
    }
}

/// Saturating conversion to the `int32_t` counters of the rmw statuses.
fn i32_of(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// `usize` counters (`rmw_message_lost_status_t`).
fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The liveliness of the writers matched to one reader, as `rmw_liveliness_changed_status_t`
/// reports it: how many are alive and not alive now, and how those numbers moved since the
/// last take.
#[derive(Debug, Default)]
pub struct LivelinessTracker {
    writers: HashMap<RemoteId, bool>,
    alive_change: i64,
    not_alive_change: i64,
}

impl LivelinessTracker {
    fn counts(&self) -> (usize, usize) {
        let alive = self.writers.values().filter(|a| **a).count();
        (alive, self.writers.len() - alive)
    }

    /// Writer `remote` became alive (`true`) or not alive (`false`).
    pub fn changed(&mut self, remote: RemoteId, alive: bool) {
        match self.writers.insert(remote, alive) {
            Some(was) if was == alive => {}
            Some(_) if alive => {
                self.alive_change += 1;
                self.not_alive_change -= 1;
            }
            Some(_) => {
                self.alive_change -= 1;
                self.not_alive_change += 1;
            }
            None if alive => self.alive_change += 1,
            None => self.not_alive_change += 1,
        }
    }

    /// Writer `remote` is no longer matched: it leaves whichever count it was in.
    pub fn gone(&mut self, remote: RemoteId) {
        match self.writers.remove(&remote) {
            Some(true) => self.alive_change -= 1,
            Some(false) => self.not_alive_change -= 1,
            None => {}
        }
    }

    /// Whether the counts moved since the last take.
    pub fn pending(&self) -> bool {
        self.alive_change != 0 || self.not_alive_change != 0
    }

    /// The status; the changes are reset.
    pub fn take(&mut self) -> rmw_liveliness_changed_status_t {
        let (alive, not_alive) = self.counts();
        let clamp = |v: i64| v.clamp(i32::MIN.into(), i32::MAX.into()) as i32;
        let st = rmw_liveliness_changed_status_t {
            alive_count: clamp(alive as i64),
            not_alive_count: clamp(not_alive as i64),
            alive_count_change: clamp(self.alive_change),
            not_alive_count_change: clamp(self.not_alive_change),
        };
        self.alive_change = 0;
        self.not_alive_change = 0;
        st
    }
}

#[derive(Debug, Default)]
struct Counters {
    deadline: Count,
    incompatible: Count,
    last_policy: Option<QosPolicy>,
    lost: Count,
    incompatible_type: Count,
    liveliness: LivelinessTracker,
    liveliness_lost: Count,
    matches: Count,
}

/// What an engine event adds to the counters of the endpoint it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occurrence {
    /// A deadline passed without a sample.
    DeadlineMissed,
    /// A remote endpoint of the topic has incompatible QoS; the first policy that failed.
    IncompatibleQos(QosPolicy),
    /// This many samples will never arrive.
    Lost(u64),
    /// An endpoint of the other side of the topic has another type.
    IncompatibleType,
    /// A matched writer became alive (`true`) or not alive (reader side).
    Liveliness(RemoteId, bool),
    /// A matched writer's match ended (reader side).
    WriterGone(RemoteId),
    /// This manual-by-topic writer missed its lease (writer side).
    LivelinessLost,
    /// A match with a remote endpoint began.
    Matched,
}

impl Occurrence {
    /// The local endpoint an engine event is about and what it adds, if it is one this
    /// module counts.
    pub fn of(ev: &Event) -> Option<(LocalEndpoint, Occurrence)> {
        match *ev {
            Event::DeadlineMissed { local } => Some((local, Occurrence::DeadlineMissed)),
            Event::IncompatibleQos { local, policy, .. } => {
                Some((local, Occurrence::IncompatibleQos(policy)))
            }
            Event::SamplesLost { reader, count, .. } => {
                Some((LocalEndpoint::Reader(reader), Occurrence::Lost(count)))
            }
            Event::LivelinessChanged {
                reader,
                remote,
                alive,
            } => Some((
                LocalEndpoint::Reader(reader),
                Occurrence::Liveliness(remote, alive),
            )),
            Event::Unmatched {
                local: local @ LocalEndpoint::Reader(_),
                remote,
            } => Some((local, Occurrence::WriterGone(remote))),
            Event::LivelinessLost { writer } => {
                Some((LocalEndpoint::Writer(writer), Occurrence::LivelinessLost))
            }
            Event::Matched { local, .. } => Some((local, Occurrence::Matched)),
            _ => None,
        }
    }
}

/// The QoS event counters of one publisher or subscription, and the listener of each of its
/// event types.
#[derive(Debug, Default)]
pub struct EndpointEvents {
    c: Mutex<Counters>,
    listeners: [Listener; 7],
}

/// The listener slot of a counted kind (`Some`) or of the matched status (`None`).
fn listener_index(kind: Option<Kind>) -> usize {
    match kind {
        None => 0,
        Some(Kind::DeadlineMissed) => 1,
        Some(Kind::IncompatibleQos) => 2,
        Some(Kind::MessageLost) => 3,
        Some(Kind::IncompatibleType) => 4,
        Some(Kind::LivelinessChanged) => 5,
        Some(Kind::LivelinessLost) => 6,
    }
}

impl Occurrence {
    /// The event type whose status this occurrence changes (`None`: the matched status).
    fn kind(self) -> Option<Kind> {
        match self {
            Occurrence::DeadlineMissed => Some(Kind::DeadlineMissed),
            Occurrence::IncompatibleQos(_) => Some(Kind::IncompatibleQos),
            Occurrence::Lost(_) => Some(Kind::MessageLost),
            Occurrence::IncompatibleType => Some(Kind::IncompatibleType),
            Occurrence::Liveliness(..) | Occurrence::WriterGone(_) => Some(Kind::LivelinessChanged),
            Occurrence::LivelinessLost => Some(Kind::LivelinessLost),
            Occurrence::Matched => None,
        }
    }
}

impl EndpointEvents {
    /// The listener of event type `kind` (`None`: the matched status).
    pub fn listener(&self, kind: Option<Kind>) -> &Listener {
        &self.listeners[listener_index(kind)]
    }

    /// Clears every listener; returns how many were set.
    pub fn clear_listeners(&self) -> usize {
        self.listeners.iter().filter(|l| l.set(None, 0)).count()
    }

    /// Counts one occurrence at this endpoint and tells the listener of its event type.
    pub fn record(&self, o: Occurrence) {
        self.count(o);
        self.listener(o.kind()).notify(1);
    }

    fn count(&self, o: Occurrence) {
        let mut c = lock(&self.c);
        match o {
            Occurrence::DeadlineMissed => c.deadline.add(1),
            Occurrence::IncompatibleQos(policy) => {
                c.incompatible.add(1);
                c.last_policy = Some(policy);
            }
            Occurrence::Lost(count) => c.lost.add(count),
            Occurrence::IncompatibleType => c.incompatible_type.add(1),
            Occurrence::Liveliness(remote, alive) => c.liveliness.changed(remote, alive),
            Occurrence::WriterGone(remote) => c.liveliness.gone(remote),
            Occurrence::LivelinessLost => c.liveliness_lost.add(1),
            Occurrence::Matched => c.matches.add(1),
        }
    }

    /// Whether the status of `kind` changed since it was last taken (what makes a wait set's
    /// event entry ready).
    pub fn pending(&self, kind: Kind) -> bool {
        let c = lock(&self.c);
        match kind {
            Kind::DeadlineMissed => c.deadline.pending(),
            Kind::IncompatibleQos => c.incompatible.pending(),
            Kind::MessageLost => c.lost.pending(),
            Kind::IncompatibleType => c.incompatible_type.pending(),
            Kind::LivelinessChanged => c.liveliness.pending(),
            Kind::LivelinessLost => c.liveliness_lost.pending(),
        }
    }

    /// Takes the deadline-missed status (offered and requested have the same layout).
    pub fn take_deadline(&self) -> rmw_requested_deadline_missed_status_t {
        let (total, change) = lock(&self.c).deadline.take();
        rmw_requested_deadline_missed_status_t {
            total_count: i32_of(total),
            total_count_change: i32_of(change),
        }
    }

    /// Takes the incompatible-QoS status. `last_policy_kind` is `RMW_QOS_POLICY_INVALID`
    /// until an incompatibility was seen.
    pub fn take_incompatible_qos(&self) -> rmw_qos_incompatible_event_status_t {
        let mut c = lock(&self.c);
        let (total, change) = c.incompatible.take();
        rmw_qos_incompatible_event_status_t {
            total_count: i32_of(total),
            total_count_change: i32_of(change),
            last_policy_kind: c.last_policy.map_or(RMW_QOS_POLICY_INVALID, policy_kind),
        }
    }

    /// Takes the incompatible-type status.
    pub fn take_incompatible_type(&self) -> rmw_incompatible_type_status_t {
        let (total, change) = lock(&self.c).incompatible_type.take();
        rmw_incompatible_type_status_t {
            total_count: i32_of(total),
            total_count_change: i32_of(change),
        }
    }

    /// Whether a match began since the matches were last taken (the matched status changed
    /// even if an unmatch followed).
    pub fn matches_pending(&self) -> bool {
        lock(&self.c).matches.pending()
    }

    /// The matches that began so far and since the last take; the latter is reset.
    pub fn take_matches(&self) -> (u64, u64) {
        lock(&self.c).matches.take()
    }

    /// Takes the liveliness-changed status.
    pub fn take_liveliness_changed(&self) -> rmw_liveliness_changed_status_t {
        lock(&self.c).liveliness.take()
    }

    /// Takes the liveliness-lost status.
    pub fn take_liveliness_lost(&self) -> rmw_liveliness_lost_status_t {
        let (total, change) = lock(&self.c).liveliness_lost.take();
        rmw_liveliness_lost_status_t {
            total_count: i32_of(total),
            total_count_change: i32_of(change),
        }
    }

    /// Takes the message-lost status.
    pub fn take_message_lost(&self) -> rmw_message_lost_status_t {
        let (total, change) = lock(&self.c).lost.take();
        rmw_message_lost_status_t {
            total_count: usize_of(total),
            total_count_change: usize_of(change),
        }
    }
}

/// What a publisher or subscription is, for the incompatible-type check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// A publisher (writer); otherwise a subscription (reader).
    pub writer: bool,
    /// The topic name as the engine knows it.
    pub topic: String,
    /// The type name as the engine knows it (`pkg/msg/Type`).
    pub type_name: String,
    /// The RIHS01 hash, all zero when unknown.
    pub type_hash: TypeHash,
}

impl Identity {
    /// The identity of a discovered topic endpoint (`None` for service endpoints).
    pub fn of(info: &EndpointInfo) -> Option<Identity> {
        let writer = match info.kind {
            EndpointKind::Publisher => true,
            EndpointKind::Subscriber => false,
            EndpointKind::ServiceServer | EndpointKind::ServiceClient => return None,
        };
        Some(Identity {
            writer,
            topic: info.topic.as_str().to_string(),
            type_name: info.type_name.as_str().to_string(),
            type_hash: info.type_hash,
        })
    }

    /// Whether `other` is on the other side of the same topic with a type the engine does not
    /// match with ours: another type name, or another type hash when both are known (the
    /// engine's matching rule, `names_match`, negated).
    pub fn type_conflicts(&self, other: &Identity) -> bool {
        let known = |h: &TypeHash| *h != [0; 32];
        self.writer != other.writer
            && self.topic == other.topic
            && (self.type_name != other.type_name
                || (known(&self.type_hash)
                    && known(&other.type_hash)
                    && self.type_hash != other.type_hash))
    }
}

#[derive(Debug)]
struct Entry {
    events: Weak<EndpointEvents>,
    identity: Identity,
    /// Remote endpoints already counted as an incompatible type (each counts once).
    counted: HashSet<RemoteId>,
}

/// Routes the engine's events to the endpoints they name.
#[derive(Debug, Default)]
pub struct EventRouter {
    map: Mutex<HashMap<LocalEndpoint, Entry>>,
}

impl EventRouter {
    /// Registers `events` as the counters of `local`, whose identity is `identity`. Hold
    /// [`EventRouter::creating`] while the endpoint is created and registered, so that an
    /// event the engine reports during its creation (an incompatible remote endpoint) is not
    /// routed before it is registered. `remotes` are the remote endpoints already discovered:
    /// those (and the local endpoints) of the topic with another type are counted at once, as
    /// later discoveries are by [`EventRouter::discovered`].
    pub fn register(
        guard: &mut RouterGuard<'_>,
        local: LocalEndpoint,
        events: &Arc<EndpointEvents>,
        identity: Identity,
        remotes: &[(RemoteId, Identity)],
    ) {
        guard.0.retain(|_, e| e.events.strong_count() > 0);
        for other in guard.0.values() {
            if identity.type_conflicts(&other.identity) {
                events.record(Occurrence::IncompatibleType);
                if let Some(o) = other.events.upgrade() {
                    o.record(Occurrence::IncompatibleType);
                }
            }
        }
        let mut counted = HashSet::new();
        for (rid, r) in remotes {
            if identity.type_conflicts(r) && counted.insert(*rid) {
                events.record(Occurrence::IncompatibleType);
            }
        }
        guard.0.insert(
            local,
            Entry {
                events: Arc::downgrade(events),
                identity,
                counted,
            },
        );
    }

    /// Locks the router (see [`EventRouter::register`]).
    pub fn creating(&self) -> RouterGuard<'_> {
        RouterGuard(lock(&self.map))
    }

    /// The counters of local endpoint `local`, if it is registered and alive.
    pub fn endpoint(&self, local: LocalEndpoint) -> Option<Arc<EndpointEvents>> {
        lock(&self.map).get(&local).and_then(|e| e.events.upgrade())
    }

    /// Counts `ev` at the endpoint it names, if that endpoint is registered and alive.
    /// Returns whether it was routed.
    pub fn route(&self, ev: &Event) -> bool {
        let Some((local, o)) = Occurrence::of(ev) else {
            return false;
        };
        let Some(e) = lock(&self.map).get(&local).and_then(|e| e.events.upgrade()) else {
            return false;
        };
        e.record(o);
        true
    }

    /// Remote endpoint `id` was discovered: every local endpoint on the other side of its
    /// topic with another type counts an incompatible type (once per remote endpoint, also
    /// when it was already counted at registration). Returns how many did.
    pub fn discovered(&self, id: RemoteId, remote: &Identity) -> usize {
        let mut n = 0;
        for e in lock(&self.map).values_mut() {
            if e.identity.type_conflicts(remote)
                && e.counted.insert(id)
                && let Some(ev) = e.events.upgrade()
            {
                ev.record(Occurrence::IncompatibleType);
                n += 1;
            }
        }
        n
    }
}

/// The locked router, while an endpoint is being created.
#[derive(Debug)]
pub struct RouterGuard<'a>(MutexGuard<'a, HashMap<LocalEndpoint, Entry>>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reset_their_change_on_take() {
        let e = EndpointEvents::default();
        assert!(!e.pending(Kind::DeadlineMissed));
        let s = e.take_deadline();
        assert_eq!((s.total_count, s.total_count_change), (0, 0));
        e.record(Occurrence::DeadlineMissed);
        e.record(Occurrence::DeadlineMissed);
        assert!(e.pending(Kind::DeadlineMissed));
        assert!(!e.pending(Kind::IncompatibleQos));
        let s = e.take_deadline();
        assert_eq!((s.total_count, s.total_count_change), (2, 2));
        assert!(!e.pending(Kind::DeadlineMissed));
        e.record(Occurrence::DeadlineMissed);
        let s = e.take_deadline();
        assert_eq!((s.total_count, s.total_count_change), (3, 1));

        let q = e.take_incompatible_qos();
        assert_eq!(q.last_policy_kind, RMW_QOS_POLICY_INVALID);
        e.record(Occurrence::IncompatibleQos(QosPolicy::Reliability));
        e.record(Occurrence::IncompatibleQos(QosPolicy::Durability));
        assert!(e.pending(Kind::IncompatibleQos));
        let q = e.take_incompatible_qos();
        assert_eq!((q.total_count, q.total_count_change), (2, 2));
        assert_eq!(q.last_policy_kind, RMW_QOS_POLICY_DURABILITY);
        let q = e.take_incompatible_qos();
        assert_eq!((q.total_count, q.total_count_change), (2, 0));
        assert_eq!(q.last_policy_kind, RMW_QOS_POLICY_DURABILITY);
    }

    #[test]
    fn messages_lost_add_up() {
        let e = EndpointEvents::default();
        e.record(Occurrence::Lost(5));
        e.record(Occurrence::Lost(3));
        assert!(e.pending(Kind::MessageLost));
        let s = e.take_message_lost();
        assert_eq!((s.total_count, s.total_count_change), (8, 8));
        assert!(!e.pending(Kind::MessageLost));
        let s = e.take_message_lost();
        assert_eq!((s.total_count, s.total_count_change), (8, 0));
    }

    #[test]
    fn saturates_at_the_c_counter_width() {
        let e = EndpointEvents::default();
        e.record(Occurrence::Lost(u64::MAX));
        e.record(Occurrence::Lost(1));
        lock(&e.c).deadline.add(u64::from(u32::MAX) + 5);
        assert_eq!(e.take_deadline().total_count, i32::MAX);
        assert_eq!(e.take_message_lost().total_count, usize::MAX);
    }

    #[test]
    fn kinds_of_rmw_event_types() {
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_OFFERED_DEADLINE_MISSED, true),
            Some(Kind::DeadlineMissed)
        );
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_REQUESTED_DEADLINE_MISSED, false),
            Some(Kind::DeadlineMissed)
        );
        // A subscription event on a publisher (and the reverse) is not one of its kinds.
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_REQUESTED_DEADLINE_MISSED, true),
            None
        );
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_OFFERED_QOS_INCOMPATIBLE, false),
            None
        );
        assert_eq!(Kind::from_rmw(RMW_EVENT_MESSAGE_LOST, true), None);
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_MESSAGE_LOST, false),
            Some(Kind::MessageLost)
        );
        assert_eq!(Kind::from_rmw(RMW_EVENT_INVALID, false), None);
        assert_eq!(Kind::from_rmw(-1, true), None);
    }

    fn id(writer: bool, topic: &str, ty: &str, hash: u8) -> Identity {
        Identity {
            writer,
            topic: topic.into(),
            type_name: ty.into(),
            type_hash: [hash; 32],
        }
    }

    #[test]
    fn type_conflicts_follow_the_engine_matching_rule() {
        let w = id(true, "/t", "a/msg/A", 1);
        assert!(
            !w.type_conflicts(&id(false, "/t", "a/msg/A", 1)),
            "same type"
        );
        assert!(
            !w.type_conflicts(&id(false, "/t", "a/msg/A", 0)),
            "unknown hash"
        );
        assert!(
            !w.type_conflicts(&id(true, "/t", "b/msg/B", 1)),
            "same side"
        );
        assert!(
            !w.type_conflicts(&id(false, "/u", "b/msg/B", 1)),
            "other topic"
        );
        assert!(
            w.type_conflicts(&id(false, "/t", "b/msg/B", 1)),
            "other name"
        );
        assert!(
            w.type_conflicts(&id(false, "/t", "b/msg/B", 0)),
            "other name"
        );
        assert!(
            w.type_conflicts(&id(false, "/t", "a/msg/A", 2)),
            "other hash"
        );
        let e = EndpointEvents::default();
        assert!(!e.pending(Kind::IncompatibleType));
        e.record(Occurrence::IncompatibleType);
        assert!(e.pending(Kind::IncompatibleType));
        let st = e.take_incompatible_type();
        assert_eq!((st.total_count, st.total_count_change), (1, 1));
        assert!(!e.pending(Kind::IncompatibleType));
    }

    #[test]
    fn liveliness_counts_alive_and_not_alive_writers() {
        let w = |entity| RemoteId {
            participant: 9,
            entity,
        };
        let mut t = LivelinessTracker::default();
        assert!(!t.pending());
        assert_eq!(t.take(), rmw_liveliness_changed_status_t::default());
        t.changed(w(1), true);
        t.changed(w(2), true);
        t.changed(w(2), true);
        assert!(t.pending());
        let st = t.take();
        assert_eq!(
            (
                st.alive_count,
                st.not_alive_count,
                st.alive_count_change,
                st.not_alive_count_change
            ),
            (2, 0, 2, 0)
        );
        assert!(!t.pending());
        // Writer 1 stops asserting: alive 2 -> 1, not alive 0 -> 1.
        t.changed(w(1), false);
        let st = t.take();
        assert_eq!(
            (
                st.alive_count,
                st.not_alive_count,
                st.alive_count_change,
                st.not_alive_count_change
            ),
            (1, 1, -1, 1)
        );
        // It comes back, and writer 2 goes away: both moves are in one take.
        t.changed(w(1), true);
        t.gone(w(2));
        let st = t.take();
        assert_eq!(
            (
                st.alive_count,
                st.not_alive_count,
                st.alive_count_change,
                st.not_alive_count_change
            ),
            (1, 0, 0, -1)
        );
        // A change that returns to where it was still counts as no change.
        t.changed(w(1), false);
        t.changed(w(1), true);
        assert!(!t.pending());
        t.gone(w(7));
        assert!(!t.pending());
        t.changed(w(3), false);
        let st = t.take();
        assert_eq!((st.alive_count, st.not_alive_count), (1, 1));
        assert_eq!(st.not_alive_count_change, 1);
    }

    #[test]
    fn liveliness_occurrences_reach_their_statuses() {
        let e = EndpointEvents::default();
        let w = RemoteId {
            participant: 3,
            entity: 4,
        };
        e.record(Occurrence::Liveliness(w, true));
        assert!(e.pending(Kind::LivelinessChanged));
        let st = e.take_liveliness_changed();
        assert_eq!((st.alive_count, st.alive_count_change), (1, 1));
        // Not alive, then the match ends (the engine's order): it leaves both counts.
        e.record(Occurrence::Liveliness(w, false));
        e.record(Occurrence::WriterGone(w));
        let st = e.take_liveliness_changed();
        assert_eq!(
            (
                st.alive_count,
                st.not_alive_count,
                st.alive_count_change,
                st.not_alive_count_change
            ),
            (0, 0, -1, 0)
        );
        assert!(!e.pending(Kind::LivelinessLost));
        e.record(Occurrence::LivelinessLost);
        e.record(Occurrence::LivelinessLost);
        assert!(e.pending(Kind::LivelinessLost));
        let st = e.take_liveliness_lost();
        assert_eq!((st.total_count, st.total_count_change), (2, 2));
        assert!(!e.pending(Kind::LivelinessLost));
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_LIVELINESS_CHANGED, false),
            Some(Kind::LivelinessChanged)
        );
        assert_eq!(Kind::from_rmw(RMW_EVENT_LIVELINESS_CHANGED, true), None);
        assert_eq!(
            Kind::from_rmw(RMW_EVENT_LIVELINESS_LOST, true),
            Some(Kind::LivelinessLost)
        );
    }

    #[test]
    fn policies_map_to_rmw_kinds() {
        assert_eq!(
            policy_kind(QosPolicy::Reliability),
            RMW_QOS_POLICY_RELIABILITY
        );
        assert_eq!(
            policy_kind(QosPolicy::Durability),
            RMW_QOS_POLICY_DURABILITY
        );
        assert_eq!(policy_kind(QosPolicy::Deadline), RMW_QOS_POLICY_DEADLINE);
        assert_eq!(
            policy_kind(QosPolicy::Liveliness),
            RMW_QOS_POLICY_LIVELINESS
        );
    }
}
