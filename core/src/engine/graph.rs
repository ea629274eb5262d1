//! The graph cache: what this participant knows about the others on the wire and their endpoints.
//!
//! Bounded: `P` participants and `E` endpoints, fixed arrays, no allocation. Admission is where a
//! flood is stopped: a new participant takes a free slot, or the slot of the participant that was
//! heard from least recently among those that have *no matched endpoint and are not static peers*;
//! if every slot holds a matched or static peer, the newcomer is refused (and counted by the
//! caller). A flood of forged HELLOs therefore churns through the unmatched slots and never
//! pushes out a peer that carries traffic. Endpoints are limited per participant as well.

use core::fmt;
use core::time::Duration;

use super::qos::Qos;
use crate::time::Instant;
use crate::wire::MacAddr;

/// Longest topic, type or participant name, in bytes.
pub const NAME_MAX: usize = 255;

/// A name (topic, type, participant) of at most [`NAME_MAX`] bytes of UTF-8, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    len: u8,
    bytes: [u8; NAME_MAX],
}

impl Name {
    /// The empty name.
    pub const EMPTY: Name = Name {
        len: 0,
        bytes: [0; NAME_MAX],
    };

    /// `s` as a name, or `None` if it is longer than [`NAME_MAX`] bytes.
    pub fn new(s: &str) -> Option<Name> {
        // A `str` is UTF-8 already: no second validation (the wire parser checked the names it
        // hands out).
        Name::copy(s.as_bytes())
    }

    /// Bytes that must be UTF-8 of at most [`NAME_MAX`] bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Name> {
        core::str::from_utf8(b).ok().and_then(Name::new)
    }

    fn copy(b: &[u8]) -> Option<Name> {
        let mut n = Name::EMPTY;
        crate::wire::copy_prefix(n.bytes.get_mut(..b.len())?, b);
        n.len = u8::try_from(b.len()).ok()?;
        Some(n)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Validated as UTF-8 on construction; the fallback is unreachable but never panics.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Name {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

pub use crate::wire::msg::EndpointKind;

/// Hash of a type's description (ROS 2 `RIHS01` hashes are 32 bytes); all zero when unknown.
pub type TypeHash = [u8; 32];

/// Everything announced about an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    /// Entity id inside its participant.
    pub entity: u32,
    /// Publisher, subscriber, service server or client.
    pub kind: EndpointKind,
    /// Topic name.
    pub topic: Name,
    /// Type name.
    pub type_name: Name,
    /// Type hash.
    pub type_hash: TypeHash,
    /// Policies.
    pub qos: Qos,
}

/// A remote participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its participant id.
    pub id: u64,
    /// The source MAC of its frames.
    pub mac: MacAddr,
    /// Its name.
    pub name: Name,
    /// How long it stays alive without being heard from.
    pub lease: Duration,
    /// When it was last heard from.
    pub last_seen: Instant,
    /// It is one of our configured static peers.
    pub is_static: bool,
    /// Its announced graph epoch (changes whenever its endpoint list changes).
    pub epoch: u32,
    /// How many endpoints of `epoch` have been received in order, from index 0.
    pub covered: u16,
    /// When we last answered one of its REPLY_REQUESTED HELLOs.
    pub last_reply: Option<Instant>,
}

impl Peer {
    /// When its lease runs out.
    pub fn expires(&self) -> Instant {
        self.last_seen + self.lease
    }
}

/// A remote endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteEndpoint {
    /// Its participant's id.
    pub participant: u64,
    /// What it announced.
    pub info: EndpointInfo,
    /// Number of local endpoints matched with it.
    pub matched: u16,
    /// Graph epoch of the last HELLO that listed it; once every page of a newer epoch has
    /// arrived, endpoints not listed in it are gone.
    pub epoch: u32,
}

/// How a new participant gets a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It is already known, in this slot.
    Known(usize),
    /// This slot is free.
    Free(usize),
    /// The participant in this slot must be removed first (least recently heard, unmatched).
    Evict(usize),
    /// No slot can be given without pushing out a matched or static peer.
    Full,
}

/// The graph cache. See the module docs.
pub struct Graph<const P: usize, const E: usize> {
    peers: [Option<Peer>; P],
    endpoints: [Option<RemoteEndpoint>; E],
}

impl<const P: usize, const E: usize> Default for Graph<P, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const P: usize, const E: usize> Graph<P, E> {
    /// An empty cache.
    pub const fn new() -> Self {
        Graph {
            peers: [None; P],
            endpoints: [None; E],
        }
    }

    /// The slot of participant `id`.
    pub fn find_peer(&self, id: u64) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.is_some_and(|p| p.id == id))
    }

    /// The MAC address of participant `id`, if it is known.
    pub fn peer_mac(&self, id: u64) -> Option<MacAddr> {
        self.find_peer(id)
            .and_then(|slot| self.peer(slot))
            .map(|p| p.mac)
    }

    /// The participant in `slot`.
    pub fn peer(&self, slot: usize) -> Option<&Peer> {
        self.peers.get(slot)?.as_ref()
    }

    /// The participant in `slot`, mutably.
    pub fn peer_mut(&mut self, slot: usize) -> Option<&mut Peer> {
        self.peers.get_mut(slot)?.as_mut()
    }

    /// Every known participant with its slot.
    pub fn peers(&self) -> impl Iterator<Item = (usize, &Peer)> {
        self.peers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
    }

    /// True if any endpoint of participant `id` is matched with a local endpoint.
    pub fn peer_is_matched(&self, id: u64) -> bool {
        self.endpoints
            .iter()
            .flatten()
            .any(|e| e.participant == id && e.matched > 0)
    }

    /// Decide where participant `id` goes. See [`Admission`].
    pub fn admit(&self, id: u64) -> Admission {
        if let Some(s) = self.find_peer(id) {
            return Admission::Known(s);
        }
        if let Some(s) = self.peers.iter().position(Option::is_none) {
            return Admission::Free(s);
        }
        self.peers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
            .filter(|(_, p)| !p.is_static && !self.peer_is_matched(p.id))
            .min_by_key(|(_, p)| p.last_seen)
            .map_or(Admission::Full, |(i, _)| Admission::Evict(i))
    }

    /// The least recently heard participant other than `exclude` that has no matched endpoint
    /// and is not static: the one to evict when a table is full.
    pub fn eviction_candidate(&self, exclude: u64) -> Option<usize> {
        self.peers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
            .filter(|(_, p)| p.id != exclude && !p.is_static && !self.peer_is_matched(p.id))
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(i, _)| i)
    }

    /// True if the endpoint table has no free slot.
    pub fn endpoints_full(&self) -> bool {
        self.endpoints.iter().all(Option::is_some)
    }

    /// Put `peer` into `slot` (from [`Graph::admit`]; an occupant must have been removed).
    pub fn insert_peer(&mut self, slot: usize, peer: Peer) {
        if let Some(p) = self.peers.get_mut(slot) {
            *p = Some(peer);
        }
    }

    /// Remove the participant in `slot` (its endpoints must have been removed first with
    /// [`Graph::remove_endpoint`]); returns it.
    pub fn remove_peer(&mut self, slot: usize) -> Option<Peer> {
        self.peers.get_mut(slot)?.take()
    }

    /// The slot of a participant whose lease ran out before `now`.
    pub fn expired(&self, now: Instant) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.is_some_and(|p| p.expires() < now))
    }

    /// The earliest lease expiry.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.peers.iter().flatten().map(Peer::expires).min()
    }

    /// The slot of endpoint (`participant`, `entity`).
    pub fn find_endpoint(&self, participant: u64, entity: u32) -> Option<usize> {
        self.endpoints.iter().position(|e| {
            e.is_some_and(|e| e.participant == participant && e.info.entity == entity)
        })
    }

    /// The endpoint in `slot`.
    pub fn endpoint(&self, slot: usize) -> Option<&RemoteEndpoint> {
        self.endpoints.get(slot)?.as_ref()
    }

    /// The endpoint in `slot`, mutably.
    pub fn endpoint_mut(&mut self, slot: usize) -> Option<&mut RemoteEndpoint> {
        self.endpoints.get_mut(slot)?.as_mut()
    }

    /// Every known endpoint with its slot.
    pub fn endpoints(&self) -> impl Iterator<Item = (usize, &RemoteEndpoint)> {
        self.endpoints
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e)))
    }

    /// Slots of the endpoints of participant `id`.
    pub fn endpoints_of(&self, id: u64) -> impl Iterator<Item = usize> + '_ {
        self.endpoints
            .iter()
            .enumerate()
            .filter_map(move |(i, e)| e.as_ref().filter(|e| e.participant == id).map(|_| i))
    }

    /// Store a new endpoint; `None` if the table is full or the participant already has
    /// `per_peer_limit` endpoints.
    pub fn insert_endpoint(&mut self, ep: RemoteEndpoint, per_peer_limit: usize) -> Option<usize> {
        if self.endpoints_of(ep.participant).count() >= per_peer_limit {
            return None;
        }
        let slot = self.endpoints.iter().position(Option::is_none)?;
        self.endpoints[slot] = Some(ep);
        Some(slot)
    }

    /// Remove the endpoint in `slot`; returns it.
    pub fn remove_endpoint(&mut self, slot: usize) -> Option<RemoteEndpoint> {
        self.endpoints.get_mut(slot)?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::qos::Qos;

    fn peer(id: u64, t: u64) -> Peer {
        Peer {
            id,
            mac: MacAddr([2, 0, 0, 0, 0, id as u8]),
            name: Name::new("p").unwrap(),
            lease: Duration::from_secs(1),
            last_seen: Instant::from_millis(t),
            is_static: false,
            epoch: 0,
            covered: 0,
            last_reply: None,
        }
    }

    fn ep(participant: u64, entity: u32) -> RemoteEndpoint {
        RemoteEndpoint {
            participant,
            info: EndpointInfo {
                entity,
                kind: EndpointKind::Publisher,
                topic: Name::new("t").unwrap(),
                type_name: Name::new("T").unwrap(),
                type_hash: [0; 32],
                qos: Qos::BEST_EFFORT,
            },
            matched: 0,
            epoch: 0,
        }
    }

    #[test]
    fn names() {
        assert_eq!(Name::new("abc").unwrap().as_str(), "abc");
        assert!(Name::new(core::str::from_utf8(&[b'a'; 256]).unwrap()).is_none());
        assert!(Name::from_bytes(&[0xff]).is_none());
    }

    #[test]
    fn flood_never_evicts_matched_or_static_peers() {
        let mut g: Graph<3, 8> = Graph::new();
        g.insert_peer(0, peer(1, 0));
        let mut e = ep(1, 1);
        e.matched = 1;
        g.insert_endpoint(e, 8).unwrap();
        let mut s = peer(2, 0);
        s.is_static = true;
        g.insert_peer(1, s);
        assert_eq!(g.admit(3), Admission::Free(2));
        g.insert_peer(2, peer(3, 5));
        // Full: only the unmatched, non-static peer 3 may go.
        for forged in 100..200 {
            match g.admit(forged) {
                Admission::Evict(slot) => {
                    assert_eq!(slot, 2);
                    g.remove_peer(slot);
                    g.insert_peer(slot, peer(forged, 10 + forged));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(g.peer(0).unwrap().id, 1);
        assert_eq!(g.peer(1).unwrap().id, 2);
        // Once the last slot is matched too, newcomers are refused.
        let mut e = ep(199, 1);
        e.matched = 1;
        g.insert_endpoint(e, 8).unwrap();
        assert_eq!(g.admit(500), Admission::Full);
        assert_eq!(g.admit(199), Admission::Known(2));
    }

    #[test]
    fn leases_and_endpoint_limits() {
        let mut g: Graph<2, 3> = Graph::new();
        g.insert_peer(0, peer(1, 0));
        g.insert_peer(1, peer(2, 500));
        assert_eq!(g.next_expiry(), Some(Instant::from_millis(1000)));
        assert_eq!(g.expired(Instant::from_millis(1000)), None);
        assert_eq!(g.expired(Instant::from_millis(1001)), Some(0));
        assert!(g.insert_endpoint(ep(1, 1), 2).is_some());
        assert!(g.insert_endpoint(ep(1, 2), 2).is_some());
        assert!(g.insert_endpoint(ep(1, 3), 2).is_none());
        assert!(g.insert_endpoint(ep(2, 1), 2).is_some());
        assert!(g.insert_endpoint(ep(2, 2), 2).is_none());
        assert_eq!(g.endpoints_of(1).count(), 2);
        assert_eq!(g.find_endpoint(2, 1), Some(2));
    }
}
