//! Receive path: frame parsing, discovery, data delivery, reliability control.
//!
//! Every frame is checked layer by layer (Ethernet, VLAN tags, EtherType, l2net header, domain,
//! sender, body) and every refusal increments one counter in [`Stats`](super::Stats). Nothing
//! here can panic or allocate, whatever the bytes.

use core::time::Duration;

use super::event::{Event, LostReason, ReaderHandle, RemoteId};
use super::graph::{Admission, EndpointInfo, NAME_MAX, Name, Peer, RemoteEndpoint, TypeHash};
use super::history::{HistoryKind, SampleId, SampleMeta};
use super::participant::{MatchedWriter, Participant};
use super::qos::{Durability, Liveliness, Qos, Reliability};
#[cfg(feature = "fragmentation")]
use super::reassembly::FragOutcome;
use super::reassembly::{FragError, FragKey};
use super::seqset::{SEQSET_BITS, SeqSet};
use super::window::{AckError, Arrival};
use crate::link::RxMeta;
use crate::time::Instant;
use crate::wire::msg::{
    AckNackRepr, BatchRepr, DataFragRepr, DataRepr, EndpointRepr, GoodbyeRepr, HeartbeatRepr,
    HelloRepr, NackFragRepr, RelatedSample,
};
use crate::wire::{self, MacAddr, MsgKind, WireError};

/// Engine QoS from the announced wire QoS.
pub(crate) fn qos_from_wire(q: &wire::msg::Qos) -> Qos {
    let ms = |v: u32| (v != 0).then(|| Duration::from_millis(u64::from(v)));
    Qos {
        reliability: if q.reliable {
            Reliability::Reliable
        } else {
            Reliability::BestEffort
        },
        durability: if q.transient_local {
            Durability::TransientLocal
        } else {
            Durability::Volatile
        },
        history: if q.keep_all {
            HistoryKind::KeepAll
        } else {
            HistoryKind::KeepLast(q.history_depth)
        },
        deadline: ms(q.deadline_ms),
        lifespan: ms(q.lifespan_ms),
        liveliness: if q.liveliness_manual {
            Liveliness::ManualByTopic
        } else {
            Liveliness::Automatic
        },
        liveliness_lease: ms(q.liveliness_lease_ms),
    }
}

/// Wire QoS from the engine QoS (durations in whole milliseconds, rounded up, saturating).
pub(crate) fn qos_to_wire(q: &Qos) -> wire::msg::Qos {
    // Whole seconds are whole milliseconds: only the sub-second part rounds, in 32 bits (the
    // u128 of `as_nanos` cost 0.8 KB of 128-bit division on 32-bit targets).
    let ms = |d: Option<Duration>| {
        d.map_or(0, |d| {
            let ms = d
                .as_secs()
                .saturating_mul(1000)
                .saturating_add(u64::from(d.subsec_nanos().div_ceil(1_000_000)));
            u32::try_from(ms).unwrap_or(u32::MAX)
        })
    };
    let (keep_all, depth) = match q.history {
        HistoryKind::KeepAll => (true, 0),
        HistoryKind::KeepLast(d) => (false, d),
    };
    wire::msg::Qos {
        reliable: q.reliability == Reliability::Reliable,
        transient_local: q.durability == Durability::TransientLocal,
        keep_all,
        history_depth: depth,
        deadline_ms: ms(q.deadline),
        lifespan_ms: ms(q.lifespan),
        liveliness_manual: q.liveliness == Liveliness::ManualByTopic,
        liveliness_lease_ms: ms(q.liveliness_lease),
    }
}

/// Whether `info` is what `e` announces (its entity aside): the fields `EndpointInfo`'s
/// equality compares, read from the wire form, so that an endpoint every HELLO repeats unchanged
/// is never copied into an `EndpointInfo` (two 256-byte names) just to be compared.
fn same_endpoint(
    info: &EndpointInfo,
    e: &EndpointRepr<'_>,
    qos: &Qos,
    type_hash: &TypeHash,
) -> bool {
    info.kind == e.kind
        && info.qos == *qos
        && info.type_hash == *type_hash
        && info.topic.as_bytes() == e.topic.as_bytes()
        && info.type_name.as_bytes() == e.type_name.as_bytes()
}

fn related_id(r: Option<RelatedSample>) -> Option<SampleId> {
    r.map(|r| SampleId {
        participant: r.participant.get(),
        entity: r.entity.0,
        seq: r.seq,
    })
}

/// NACK_FRAG windows (of 256 fragments each) a reader sends per HEARTBEAT.
const NACK_FRAG_WINDOWS: u8 = 8;

/// What one reader did with one complete sample.
enum Took {
    Delivered,
    Held,
    Refused,
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
    /// Process one received frame (from the destination MAC on, no FCS). Malformed, foreign,
    /// duplicate, replayed or unwanted frames are counted in [`super::Stats`] and dropped.
    pub fn handle_frame(&mut self, frame: &[u8], meta: RxMeta, now: Instant) {
        self.advance(now);
        self.stats.rx_frames += 1;
        if meta.truncated {
            self.stats.rx_truncated += 1;
            return;
        }
        match self.parse_and_dispatch(frame, meta) {
            Ok(()) => {}
            Err(WireError::NotL2net { .. }) => self.stats.rx_not_l2net += 1,
            Err(WireError::UnsupportedVersion(_)) => self.stats.rx_bad_version += 1,
            Err(_) => self.stats.rx_malformed += 1,
        }
    }

    fn parse_and_dispatch(&mut self, frame: &[u8], meta: RxMeta) -> Result<(), WireError> {
        let eth = wire::ethernet::Frame::new_checked(frame)?;
        let (dst, src) = (eth.dst_addr(), eth.src_addr());
        let after_macs = frame.get(12..).ok_or(WireError::Truncated)?;
        #[cfg(feature = "vlan")]
        let (tags, ethertype, used) = wire::TagStack::parse(after_macs)?;
        #[cfg(feature = "vlan")]
        if tags.len() + usize::from(meta.stripped_vlan.is_some()) > 2 {
            return Err(WireError::TooManyTags);
        }
        // Without `vlan` no tag is parsed: a tagged frame is counted and dropped (the
        // Ethernet view checked that the EtherType's two bytes are there).
        #[cfg(not(feature = "vlan"))]
        let (ethertype, used) = match after_macs.get(..2) {
            Some(&[hi, lo]) => (u16::from_be_bytes([hi, lo]), 2),
            _ => return Err(WireError::Truncated),
        };
        #[cfg(not(feature = "vlan"))]
        if meta.stripped_vlan.is_some() || wire::vlan::is_vlan_tpid(ethertype) {
            self.stats.rx_unsupported += 1;
            return Ok(());
        }
        if ethertype != wire::ETHERTYPE_L2NET {
            return Err(WireError::NotL2net { ethertype });
        }
        #[cfg(feature = "vlan")]
        if let Some(want) = self.config.vlan {
            // The outermost tag: one the link stripped came before any still in the bytes.
            let outer = meta.stripped_vlan.or_else(|| tags.outer());
            if outer.map(|t| t.tci.vid()) != Some(want.tci.vid()) {
                self.stats.rx_other_vlan += 1;
                return Ok(());
            }
        }
        let packet = after_macs.get(used..).ok_or(WireError::Truncated)?;
        // The first message, then (with `ack-with-data`) any that follow it in the frame
        // (docs/PROTOCOL.md section 2): the iterator checks that they share the first one's
        // domain and sender.
        #[cfg(feature = "ack-with-data")]
        {
            let mut first = true;
            for m in wire::frame::Messages::new(packet) {
                let (header, body) = m?;
                if first && !self.addressed_to_us(&header) {
                    return Ok(());
                }
                first = false;
                // One call site: `dispatch` is most of the receive path, and inlined twice
                // (the first message and those that follow) it cost the firmware node 1 KB.
                self.dispatch(header, body, src, dst)?;
            }
            if first {
                return Err(WireError::Truncated);
            }
            Ok(())
        }
        // Without `ack-with-data` the messages that follow are padding, as for a peer that
        // predates them (their writers heartbeat and get ACKNACKs alone).
        #[cfg(not(feature = "ack-with-data"))]
        {
            let header = wire::HeaderRepr::parse_bytes(packet)?;
            if !self.addressed_to_us(&header) {
                return Ok(());
            }
            let body = packet
                .get(
                    wire::header::HEADER_LEN..wire::header::HEADER_LEN + usize::from(header.length),
                )
                .ok_or(WireError::Truncated)?;
            self.dispatch(header, body, src, dst)
        }
    }

    /// False (counted) for a message of another domain or one of our own (looped back).
    fn addressed_to_us(&mut self, header: &wire::HeaderRepr) -> bool {
        if header.domain != self.config.domain {
            self.stats.rx_other_domain += 1;
            return false;
        }
        if header.sender.get() == self.id {
            self.stats.rx_own += 1;
            return false;
        }
        true
    }

    /// Handle one message of a frame from `src` to `dst` (its domain and sender checked).
    /// Each kind is parsed and handled in its own arm (no `MessageRepr` built and matched
    /// again): a malformed body is refused before the sender is looked up, as it always was.
    /// A DATA marks the readers it reaches changed, an ACKNACK its writer (for the transmit
    /// summary); any other message resets the whole summary.
    fn dispatch(
        &mut self,
        header: wire::HeaderRepr,
        body: &[u8],
        src: MacAddr,
        dst: MacAddr,
    ) -> Result<(), WireError> {
        let sender = header.sender.get();
        let flags = header.flags;
        match header.kind {
            MsgKind::Hello => {
                let h = HelloRepr::parse(flags, body)?;
                self.tx_changed();
                self.on_hello(sender, src, dst, &h);
            }
            MsgKind::Goodbye => {
                GoodbyeRepr::parse(flags, body)?;
                self.tx_changed();
                if let Some(slot) = self.heard_from(sender) {
                    self.remove_peer(slot, LostReason::Goodbye);
                }
            }
            MsgKind::Data => {
                let d = DataRepr::parse(flags, body)?;
                if self.heard_from(sender).is_some() {
                    self.note_assertion(sender, d.writer.0, Some(d.seq));
                    self.on_data(sender, &d);
                }
            }
            MsgKind::DataFrag => {
                let d = DataFragRepr::parse(flags, body)?;
                self.tx_changed();
                if self.heard_from(sender).is_some() {
                    self.note_assertion(sender, d.writer.0, Some(d.seq));
                    self.on_data_frag(sender, &d);
                }
            }
            MsgKind::Batch => {
                let b = BatchRepr::parse(flags, body)?;
                self.tx_changed();
                if self.heard_from(sender).is_some() {
                    let n = b.samples.len() as u64;
                    if n > 0 {
                        let newest = b.first_seq.saturating_add(n - 1);
                        self.note_assertion(sender, b.writer.0, Some(newest));
                    }
                    self.on_batch(sender, &b);
                }
            }
            MsgKind::Heartbeat => {
                let hb = HeartbeatRepr::parse(flags, body)?;
                self.tx_changed();
                if self.heard_from(sender).is_some() {
                    self.on_heartbeat(sender, dst, &hb);
                }
            }
            MsgKind::AckNack => {
                let a = AckNackRepr::parse(flags, body)?;
                if self.heard_from(sender).is_some() {
                    self.on_acknack(sender, &a);
                }
            }
            MsgKind::NackFrag => {
                let n = NackFragRepr::parse(flags, body)?;
                self.tx_changed();
                if self.heard_from(sender).is_some() {
                    self.on_nack_frag(sender, &n);
                }
            }
        }
        Ok(())
    }

    /// The graph slot of `sender`, whose lease any valid traffic renews; `None` (counted in
    /// `rx_unknown_sender`) for a participant not heard in a HELLO.
    fn heard_from(&mut self, sender: u64) -> Option<usize> {
        let Some(slot) = self.graph.find_peer(sender) else {
            self.stats.rx_unknown_sender += 1;
            return None;
        };
        if let Some(p) = self.graph.peer_mut(slot) {
            p.last_seen = self.now;
        }
        Some(slot)
    }

    // -----------------------------------------------------------------------------------------
    // Discovery

    // Out of line: discovery is a cold path, and inlined its 2.6 KB went into each copy of the
    // receive dispatch (the firmware node 44,936 -> 44,360 B).
    #[inline(never)]
    fn on_hello(&mut self, sender: u64, src: MacAddr, dst: MacAddr, h: &HelloRepr<'_>) {
        if src.is_multicast() {
            self.stats.rx_malformed += 1;
            return;
        }
        let slot = match self.graph.admit(sender) {
            Admission::Known(s) => s,
            Admission::Free(s) => s,
            Admission::Evict(s) => {
                self.stats.graph_evictions += 1;
                self.remove_peer(s, LostReason::Evicted);
                s
            }
            Admission::Full => {
                self.stats.graph_full += 1;
                return;
            }
        };
        // `max` then `min` rather than `clamp`: the same lease for any sane configuration, and no
        // panic (clamp asserts `min <= max`, which the configuration check does not require).
        let lease = Duration::from_millis(u64::from(h.lease_ms))
            .max(self.config.min_lease)
            .min(self.config.max_lease);
        let is_static = self.config.static_peers.contains(&src);
        let name = Name::new(h.name).unwrap_or(Name::EMPTY);
        if self.graph.peer(slot).is_none() {
            self.graph.insert_peer(
                slot,
                Peer {
                    id: sender,
                    mac: src,
                    name,
                    lease,
                    last_seen: self.now,
                    is_static,
                    epoch: h.graph_epoch,
                    covered: 0,
                    last_reply: None,
                },
            );
            self.push_event(Event::ParticipantDiscovered {
                participant: sender,
                mac: src,
            });
            // A newcomer should hear from us soon, not at the end of the steady period.
            // (At most one extra round per fast period, so a flood of newcomers cannot make
            // us flood the wire in return.) It also gets one unicast round at once, so that
            // it knows us before our data reaches it; the reply queue is small and bounded.
            if dst.is_multicast() && !h.reply_requested {
                let soon = self.now + self.config.fast_announce_period;
                self.next_announce = self.next_announce.min(soon);
                if self.replies.push_back(src).is_ok() {
                    if let Some(p) = self.graph.peer_mut(slot) {
                        p.last_reply = Some(self.now);
                    }
                } else {
                    self.stats.hello_replies_limited += 1;
                }
            }
        }
        let now = self.now;
        // The lease may be shorter than any other: make the next timer check look.
        self.lease_check_at = self.lease_check_at.min(now.saturating_add(lease));
        let Some(peer) = self.graph.peer_mut(slot) else {
            return;
        };
        peer.mac = src;
        peer.name = name;
        peer.lease = lease;
        peer.last_seen = now;
        peer.is_static |= is_static;
        if peer.epoch != h.graph_epoch {
            peer.epoch = h.graph_epoch;
            peer.covered = 0;
        }
        let epoch = h.graph_epoch;
        let count = h.endpoints.len() as u16;
        let mut page_ok = true;
        for e in h.endpoints.iter() {
            match e {
                // Every name must fit a `Name` (the wire's length bytes allow no more).
                Ok(e) if e.topic.len() <= NAME_MAX && e.type_name.len() <= NAME_MAX => {
                    self.upsert_endpoint(sender, epoch, &e);
                }
                _ => {
                    self.stats.rx_malformed += 1;
                    page_ok = false;
                }
            }
        }
        // Coverage of the epoch's endpoint list, page by page in order.
        let Some(peer) = self.graph.peer_mut(slot) else {
            return;
        };
        if page_ok {
            if h.first_endpoint_index == 0 {
                peer.covered = count;
            } else if h.first_endpoint_index == peer.covered {
                peer.covered = peer.covered.saturating_add(count);
            }
        }
        if page_ok && peer.covered >= h.total_endpoints {
            // The whole list of this epoch arrived: endpoints not in it are gone.
            for s in 0..E {
                let stale = self
                    .graph
                    .endpoint(s)
                    .is_some_and(|e| e.participant == sender && e.epoch != epoch);
                if stale {
                    self.remove_endpoint(s);
                }
            }
        }
        if h.reply_requested && !dst.is_multicast() {
            let limit = self.config.fast_announce_period;
            let Some(peer) = self.graph.peer_mut(slot) else {
                return;
            };
            let allowed = peer.last_reply.is_none_or(|t| now >= t + limit);
            if allowed && self.replies.push_back(src).is_ok() {
                peer.last_reply = Some(now);
            } else {
                self.stats.hello_replies_limited += 1;
            }
        }
    }

    /// Record endpoint `e` of `participant` (its names fit a [`Name`]), listed in `epoch`.
    fn upsert_endpoint(&mut self, participant: u64, epoch: u32, e: &EndpointRepr<'_>) {
        let qos = qos_from_wire(&e.qos);
        let type_hash = e.type_hash.copied().unwrap_or([0; 32]);
        if let Some(s) = self.graph.find_endpoint(participant, e.entity.0) {
            let same = self
                .graph
                .endpoint(s)
                .is_some_and(|x| same_endpoint(&x.info, e, &qos, &type_hash));
            if same {
                if let Some(e) = self.graph.endpoint_mut(s) {
                    e.epoch = epoch;
                }
                return;
            }
            // Changed in place (QoS, topic): the old one is gone, a new one appears.
            self.remove_endpoint(s);
        }
        let info = EndpointInfo {
            entity: e.entity.0,
            kind: e.kind,
            // The caller checked the lengths: the fallback is never taken.
            topic: Name::new(e.topic).unwrap_or(Name::EMPTY),
            type_name: Name::new(e.type_name).unwrap_or(Name::EMPTY),
            type_hash,
            qos,
        };
        let ep = RemoteEndpoint {
            participant,
            info,
            matched: 0,
            epoch,
        };
        if self.graph.endpoints_full() {
            // Same rule as for participants: room is taken from the least recently heard
            // unmatched, non-static participant, never from one that carries traffic.
            if let Some(victim) = self.graph.eviction_candidate(participant) {
                self.stats.graph_evictions += 1;
                self.remove_peer(victim, LostReason::Evicted);
            }
        }
        let Some(s) = self
            .graph
            .insert_endpoint(ep, self.config.max_endpoints_per_peer)
        else {
            self.stats.endpoints_full += 1;
            return;
        };
        self.push_event(Event::EndpointDiscovered {
            remote: RemoteId {
                participant,
                entity: info.entity,
            },
            kind: info.kind,
        });
        self.match_remote(s);
    }

    // -----------------------------------------------------------------------------------------
    // Data

    /// Readers matched with writer (`participant`, `entity`), as (reader index, match index).
    fn matched_readers(&self, participant: u64, entity: u32) -> heapless::Vec<(usize, usize), R> {
        let mut v = heapless::Vec::new();
        for (ri, r) in self.live_readers().iter().enumerate() {
            let Some(r) = r else { continue };
            if let Some(mi) = r
                .live()
                .iter()
                .position(|m| m.is_some_and(|m| m.participant == participant && m.entity == entity))
            {
                let _ = v.push((ri, mi));
            }
        }
        v
    }

    fn on_data(&mut self, sender: u64, d: &DataRepr<'_>) {
        self.on_sample(
            sender,
            d.writer.0,
            d.seq,
            related_id(d.related),
            Some(d.payload),
        );
    }

    fn on_batch(&mut self, sender: u64, b: &BatchRepr<'_>) {
        for (seq, payload) in b.iter() {
            self.on_sample(sender, b.writer.0, seq, None, Some(payload));
        }
    }

    /// A whole sample arrived (`payload`), or was completed in the reassembly store
    /// (`payload == None`).
    fn on_sample(
        &mut self,
        sender: u64,
        writer: u32,
        seq: u64,
        related: Option<SampleId>,
        payload: Option<&[u8]>,
    ) {
        let readers = self.matched_readers(sender, writer);
        if readers.is_empty() {
            self.stats.rx_unmatched += 1;
            return;
        }
        let key = FragKey {
            participant: sender,
            entity: writer,
            seq,
        };
        let origin = SampleId {
            participant: sender,
            entity: writer,
            seq,
        };
        let mut any_held = false;
        // By reference: a heapless `IntoIter`'s drop slices what is left (a panic site).
        for &(ri, mi) in &readers {
            match self.offer(ri, mi, origin, related, payload, key) {
                // (Holding resets the whole summary: the reassembly store changed.)
                Took::Held => any_held = true,
                // A sample delivered in order moves the reader's window on, which can make
                // none of its frames due (no ACKNACK or NACK_FRAG was due, and fewer samples
                // are missing now); only its deadline, if it has one, moves its timer.
                Took::Delivered => {
                    if self
                        .readers
                        .get(ri)
                        .and_then(Option::as_ref)
                        .is_some_and(|r| super::participant::deadline_of(&r.info.qos).is_some())
                    {
                        self.reader_changed(ri);
                    }
                }
                // Refused: counted, nothing else changed.
                Took::Refused => {}
            }
        }
        if !any_held
            && let Some(slot) = self.reassembly.find(&key)
            && self.reassembly.complete(slot).is_some()
            && !self.held_by_any(&key)
        {
            self.tx_changed();
            self.reassembly.remove(slot);
        }
    }

    fn reliably_read(&self, participant: u64, entity: u32) -> bool {
        self.live_readers().iter().flatten().any(|r| {
            r.live()
                .iter()
                .flatten()
                .any(|m| m.participant == participant && m.entity == entity && m.reliable)
        })
    }

    fn held_by_any(&self, key: &FragKey) -> bool {
        self.live_readers().iter().flatten().any(|r| {
            r.live().iter().flatten().any(|m| {
                m.participant == key.participant
                    && m.entity == key.entity
                    && m.reliable
                    && m.window.held_set().contains(key.seq)
            })
        })
    }

    /// Offer one complete sample to reader `ri` (match `mi`).
    fn offer(
        &mut self,
        ri: usize,
        mi: usize,
        origin: SampleId,
        related: Option<SampleId>,
        payload: Option<&[u8]>,
        key: FragKey,
    ) -> Took {
        let Some(m) = self.matched_writer(ri, mi) else {
            return Took::Refused;
        };
        if !m.reliable {
            if origin.seq <= m.be_last {
                if origin.seq == m.be_last {
                    self.stats.rx_duplicate += 1;
                } else {
                    self.stats.rx_out_of_order += 1;
                }
                return Took::Refused;
            }
            if self.deliver(ri, origin, related, payload, key) {
                if let Some(m) = self.matched_writer_mut(ri, mi) {
                    m.be_last = origin.seq;
                }
                // Older incomplete samples of this writer will never be wanted (unless a
                // reliable reader of the same writer still needs them).
                if !self.reliably_read(origin.participant, origin.entity)
                    && self.reassembly.remove_writer_below(
                        origin.participant,
                        origin.entity,
                        origin.seq,
                    ) > 0
                {
                    self.tx_changed();
                }
                return Took::Delivered;
            }
            return Took::Refused;
        }
        match m.window.arrival(origin.seq) {
            Arrival::Duplicate => {
                self.stats.rx_duplicate += 1;
                Took::Refused
            }
            Arrival::OutOfWindow => {
                self.stats.rx_out_of_window += 1;
                Took::Refused
            }
            Arrival::Deliver => {
                if self.deliver(ri, origin, related, payload, key) {
                    // Held samples follow only when the next number is one of them (a gap was
                    // just filled): otherwise there is nothing to drain. (Builds without
                    // `ack-with-data`, the firmware's, drain regardless: smaller, same result.)
                    let next_held = self
                        .matched_writer_mut(ri, mi)
                        .is_some_and(|m| m.window.delivered());
                    if next_held || !cfg!(feature = "ack-with-data") {
                        self.drain_writer(ri, mi);
                    }
                    Took::Delivered
                } else if self.hold(ri, mi, origin, related, payload, key) {
                    Took::Held
                } else {
                    Took::Refused
                }
            }
            Arrival::Hold => {
                if self.hold(ri, mi, origin, related, payload, key) {
                    Took::Held
                } else {
                    Took::Refused
                }
            }
        }
    }

    /// Keep a reliable sample in the reassembly store until it can be delivered in order.
    fn hold(
        &mut self,
        ri: usize,
        mi: usize,
        _origin: SampleId,
        related: Option<SampleId>,
        payload: Option<&[u8]>,
        key: FragKey,
    ) -> bool {
        // The reassembly store changes: its timer, and what NACK_FRAGs ask.
        self.tx_changed();
        if let Some(data) = payload {
            match self.reassembly.insert_whole(key, data, related, self.now) {
                Ok(_) => {}
                Err(FragError::NoRoom) => {
                    self.stats.rx_reassembly_full += 1;
                    return false;
                }
                Err(FragError::TooLarge) => {
                    self.stats.rx_too_large += 1;
                    return false;
                }
                Err(FragError::Inconsistent) => {
                    self.stats.rx_fragment_inconsistent += 1;
                    return false;
                }
            }
        } else if self.reassembly.find(&key).is_none() {
            return false;
        }
        if let Some(m) = self.matched_writer_mut(ri, mi) {
            m.window.held(key.seq);
        }
        true
    }

    /// Put a sample into reader `ri`'s queue; false if the queue is full (reliable) or the
    /// sample does not fit.
    fn deliver(
        &mut self,
        ri: usize,
        origin: SampleId,
        related: Option<SampleId>,
        payload: Option<&[u8]>,
        key: FragKey,
    ) -> bool {
        let now = self.now;
        let own = self.id;
        let Self {
            readers,
            reassembly,
            stats,
            events,
            ..
        } = self;
        let Some(r) = readers[ri].as_mut() else {
            return false;
        };
        let (data, related) = match payload {
            Some(d) => (d, related),
            None => match reassembly.find(&key).and_then(|s| reassembly.complete(s)) {
                Some((d, rel)) => (d, rel),
                None => return false,
            },
        };
        // A client only queues the replies to its own requests; the others still count as
        // delivered for the reliable stream.
        if cfg!(feature = "services")
            && r.role == super::participant::Role::Client
            && !related.is_some_and(|rel| rel.participant == own && rel.entity == r.entity)
        {
            return true;
        }
        let reliable = r.info.qos.reliability == Reliability::Reliable;
        if data.len() > r.queue.capacity_bytes() {
            stats.rx_too_large += 1;
            // Never deliverable: count it delivered so a reliable stream does not stall.
            return true;
        }
        let meta = SampleMeta {
            written: now,
            related,
            origin: Some(origin),
        };
        match r.queue.push(data, meta, |_| !reliable) {
            Ok(_) => {
                r.sample_queued(ri, now, stats, events);
                true
            }
            Err(_) => {
                stats.rx_queue_full += 1;
                false
            }
        }
    }

    /// Deliver samples held after a gap that is now filled, for every writer of reader `ri`
    /// (the application took a sample: room appeared), and tell writers whose last ACKNACK
    /// asked for less than they announced that more can be taken now.
    pub(crate) fn drain_held(&mut self, ri: usize) {
        let hi = self
            .readers
            .get(ri)
            .and_then(Option::as_ref)
            .map_or(0, |r| r.writers_hi);
        for mi in 0..hi {
            self.drain_writer(ri, mi);
            self.ask_when_room(ri, mi);
        }
    }

    /// Reader `ri`'s view of its matched writer `mi`, when both slots are in use.
    pub(crate) fn matched_writer(&self, ri: usize, mi: usize) -> Option<&MatchedWriter> {
        self.readers.get(ri)?.as_ref()?.writers.get(mi)?.as_ref()
    }

    /// [`Self::matched_writer`], to change it.
    pub(crate) fn matched_writer_mut(
        &mut self,
        ri: usize,
        mi: usize,
    ) -> Option<&mut MatchedWriter> {
        self.readers
            .get_mut(ri)?
            .as_mut()?
            .writers
            .get_mut(mi)?
            .as_mut()
    }

    /// How many more samples reader `ri` can take in now: free room in its queue plus free
    /// hold slots (the reassembly store), for samples as large as its newest queued one.
    fn room(&self, ri: usize) -> usize {
        let Some(r) = self.readers.get(ri).and_then(Option::as_ref) else {
            return 0;
        };
        let len = r.queue.sample_len(r.queue.last_seq()).unwrap_or(1);
        r.queue
            .room_for(len)
            .saturating_add(self.reassembly.room_for(len))
    }

    /// End (exclusive) of the next ACKNACK of reader `ri` to writer `mi`: the first number the
    /// reader has no room for. Its bitmap asks only for what the reader can take in now
    /// (`room`), and with the room flag the writer sends nothing from this end on: a writer that
    /// sends or resends more has the reader drop the excess again, and again, while the
    /// application is slower than the writer. `base_seq = next` is always reported, so the
    /// writer's window still frees what was delivered.
    pub(crate) fn ack_end(&self, ri: usize, mi: usize) -> u64 {
        self.room_end(ri, mi, self.room(ri))
    }

    /// [`Self::ack_end`] with `room` samples of room: the (`room` + 1)-th number from `next`
    /// on that is neither held nor partly reassembled (those already have their place), at
    /// most 256 after `next`.
    fn room_end(&self, ri: usize, mi: usize, mut room: usize) -> u64 {
        let Some(m) = self.matched_writer(ri, mi) else {
            return 0;
        };
        let next = m.window.next();
        let cap = next.saturating_add(u64::from(SEQSET_BITS));
        if room >= SEQSET_BITS as usize {
            // Room for the whole bitmap (the usual case): no need to look at each number.
            return cap;
        }
        if m.window.held_set().is_empty() {
            // Nothing held: no need to look at each number either (a sample being reassembled
            // is counted against the room twice, which only makes the end a little earlier).
            return next + room as u64;
        }
        let mut s = next;
        while s < cap {
            let have = m.window.held_set().contains(s)
                || self
                    .reassembly
                    .find(&FragKey {
                        participant: m.participant,
                        entity: m.entity,
                        seq: s,
                    })
                    .is_some();
            if !have {
                if room == 0 {
                    return s;
                }
                room -= 1;
            }
            s += 1;
        }
        cap
    }

    /// After a take: if the writer is less than a quarter of the queue (`step`: at least 1, at
    /// most 64) from the end of the room the last ACKNACK gave it (by what it announced or
    /// what arrived), and that end can now move `step` further, send an ACKNACK now rather
    /// than at the writer's next HEARTBEAT, so that the stream goes on without waiting for
    /// room. (One ACKNACK per quarter queue taken at most, not one per take.)
    fn ask_when_room(&mut self, ri: usize, mi: usize) {
        let Some(r) = self.readers.get(ri).and_then(Option::as_ref) else {
            return;
        };
        let Some(m) = r.writers.get(mi).and_then(Option::as_ref) else {
            return;
        };
        let depth = match r.queue.kind() {
            HistoryKind::KeepLast(d) => usize::from(d).clamp(1, H),
            HistoryKind::KeepAll => H,
        };
        let step = (depth / 4).clamp(1, SEQSET_BITS as usize / 4) as u64;
        let end_last = m.asked_below.saturating_sub(1);
        let seen = m.writer_last.max(m.window.next().saturating_sub(1));
        let near_end =
            seen.saturating_add(step) > end_last || m.window.held_set().contains(end_last);
        if !m.reliable || !m.window.is_synced() || m.ack_due || !near_end {
            return;
        }
        let asked_below = m.asked_below;
        let room = self.room(ri);
        if (room as u64) < step {
            return;
        }
        if self.room_end(ri, mi, room) >= asked_below + step
            && let Some(m) = self.matched_writer_mut(ri, mi)
        {
            m.ack_due = true;
            self.tx_changed();
        }
    }

    fn drain_writer(&mut self, ri: usize, mi: usize) {
        loop {
            let Some(m) = self.matched_writer(ri, mi) else {
                return;
            };
            if !m.reliable || !m.window.is_synced() {
                return;
            }
            let seq = m.window.next();
            if !m.window.held_set().contains(seq) {
                return;
            }
            let (participant, entity) = (m.participant, m.entity);
            let key = FragKey {
                participant,
                entity,
                seq,
            };
            let origin = SampleId {
                participant,
                entity,
                seq,
            };
            // A held sample moves on (or is asked again): timers and acknowledgements change.
            self.tx_changed();
            if self.reassembly.find(&key).is_none() {
                // Not in the store after all (it cannot happen: held samples are complete and
                // only leave with their writer). Forget the mark so the sample is asked again.
                if let Some(m) = self.matched_writer_mut(ri, mi) {
                    m.window.unhold(seq);
                    m.ack_due = true;
                }
                return;
            }
            if !self.deliver(ri, origin, None, None, key) {
                return;
            }
            if let Some(m) = self.matched_writer_mut(ri, mi) {
                m.window.delivered();
            }
            if !self.held_by_any(&key)
                && let Some(s) = self.reassembly.find(&key)
            {
                self.reassembly.remove(s);
            }
        }
    }

    /// Without the `fragmentation` feature a DATA_FRAG is counted and dropped; a reliable
    /// reader that waits for that sample skips it (as one too large to receive), so that its
    /// stream does not stall.
    #[cfg(not(feature = "fragmentation"))]
    fn on_data_frag(&mut self, sender: u64, d: &DataFragRepr<'_>) {
        self.stats.rx_unsupported += 1;
        for &(ri, mi) in &self.matched_readers(sender, d.writer.0) {
            let Some(m) = self.matched_writer_mut(ri, mi) else {
                continue;
            };
            if m.reliable && m.window.arrival(d.seq) == Arrival::Deliver {
                m.window.delivered();
                self.drain_writer(ri, mi);
            }
        }
    }

    #[cfg(feature = "fragmentation")]
    fn on_data_frag(&mut self, sender: u64, d: &DataFragRepr<'_>) {
        let readers = self.matched_readers(sender, d.writer.0);
        if readers.is_empty() {
            self.stats.rx_unmatched += 1;
            return;
        }
        let seq = d.seq;
        // Skip fragments no matched reader wants any more.
        let wanted = readers.iter().any(|&(ri, mi)| {
            self.matched_writer(ri, mi).is_some_and(|m| {
                if m.reliable {
                    matches!(m.window.arrival(seq), Arrival::Deliver | Arrival::Hold)
                        || (m.window.held_set().contains(seq)
                            && self
                                .reassembly
                                .find(&FragKey {
                                    participant: sender,
                                    entity: d.writer.0,
                                    seq,
                                })
                                .is_none())
                } else {
                    seq > m.be_last
                }
            })
        });
        if !wanted {
            self.stats.rx_duplicate += 1;
            return;
        }
        let key = FragKey {
            participant: sender,
            entity: d.writer.0,
            seq,
        };
        let head_of_line = readers.iter().any(|&(ri, mi)| {
            self.matched_writer(ri, mi)
                .is_some_and(|m| m.reliable && m.window.arrival(seq) == Arrival::Deliver)
        });
        let out = loop {
            let out = self.reassembly.insert(
                key,
                d.layout.sample_len as usize,
                usize::from(d.layout.frag_size),
                d.frag_index,
                d.fragment,
                related_id(d.related),
                self.config.max_sample_len,
                self.now,
            );
            if out.is_ok() {
                // A new incomplete sample may time out before any other.
                let at = self.now.saturating_add(self.config.reassembly_timeout);
                self.reassembly_check_at = self.reassembly_check_at.min(at);
            }
            if out != Err(FragError::NoRoom) || !head_of_line {
                break out;
            }
            // The sample that blocks in-order delivery goes first: make room by dropping this
            // writer's newest held or partial sample (the writer resends it later).
            let Some(victim) = self.reassembly.evict_newest_of(sender, d.writer.0, seq) else {
                break out;
            };
            self.stats.rx_reassembly_full += 1;
            for r in self.live_readers_mut().iter_mut().flatten() {
                for m in r.live_mut().iter_mut().flatten() {
                    if m.participant == sender && m.entity == d.writer.0 {
                        m.window.unhold(victim.seq);
                    }
                }
            }
        };
        match out {
            Ok(FragOutcome::Incomplete) => {}
            Ok(FragOutcome::Duplicate) => self.stats.rx_duplicate += 1,
            Ok(FragOutcome::Complete(_)) => {
                self.on_sample(sender, d.writer.0, seq, None, None);
            }
            Err(FragError::NoRoom) => self.stats.rx_reassembly_full += 1,
            Err(FragError::TooLarge) => {
                self.stats.rx_too_large += 1;
                // Never receivable here: a reliable reader skips it when it is next in line, so
                // its stream does not stall on it forever.
                for &(ri, mi) in &readers {
                    let Some(m) = self.matched_writer_mut(ri, mi) else {
                        continue;
                    };
                    if m.reliable && m.window.arrival(seq) == Arrival::Deliver {
                        m.window.delivered();
                        self.drain_writer(ri, mi);
                    }
                }
            }
            Err(FragError::Inconsistent) => self.stats.rx_fragment_inconsistent += 1,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reliability control

    /// A manual-liveliness writer asserted itself: new data (`seq` newer than any seen from
    /// it in data or announced by its HEARTBEATs) or a HEARTBEAT with the LIVELINESS flag
    /// (`seq == None`). Its readers' leases restart
    /// and, if it was not alive, it is again.
    #[cfg(feature = "liveliness-manual")]
    fn note_assertion(&mut self, sender: u64, writer: u32, seq: Option<u64>) {
        if !self.any_manual_match {
            return;
        }
        // Leases move (the participant's liveliness timer).
        self.tx_changed();
        let now = self.now;
        for ri in 0..self.r_hi {
            let Some(r) = self.readers.get_mut(ri).and_then(Option::as_mut) else {
                continue;
            };
            let entity = r.entity;
            let Some(m) = r
                .live_mut()
                .iter_mut()
                .flatten()
                .find(|m| m.participant == sender && m.entity == writer)
            else {
                continue;
            };
            let Some(lease) = m.manual_lease else {
                continue;
            };
            if let Some(s) = seq {
                if s <= m.live_seq {
                    continue;
                }
                m.live_seq = s;
            }
            m.live_until = now.saturating_add(lease);
            self.liveliness_check_at = self.liveliness_check_at.min(m.live_until);
            if !m.alive {
                m.alive = true;
                let remote = RemoteId {
                    participant: sender,
                    entity: writer,
                };
                let reader = ReaderHandle {
                    index: ri as u8,
                    entity,
                };
                self.push_event(Event::LivelinessChanged {
                    reader,
                    remote,
                    alive: true,
                });
            }
        }
    }

    /// A HEARTBEAT says the writer had written up to `last_seq`: samples up to there that
    /// arrive later (repairs) are not new assertions.
    #[cfg(feature = "liveliness-manual")]
    fn note_announced(&mut self, sender: u64, writer: u32, last_seq: u64) {
        if !self.any_manual_match {
            return;
        }
        for r in self.readers[..self.r_hi].iter_mut().flatten() {
            for m in r.live_mut().iter_mut().flatten() {
                if m.participant == sender && m.entity == writer {
                    m.live_seq = m.live_seq.max(last_seq);
                }
            }
        }
    }

    /// Without the `liveliness-manual` feature no remote writer's manual lease is tracked (a
    /// matched writer is alive while it is matched): nothing to note.
    #[cfg(not(feature = "liveliness-manual"))]
    #[inline(always)]
    fn note_assertion(&mut self, _sender: u64, _writer: u32, _seq: Option<u64>) {}
    #[cfg(not(feature = "liveliness-manual"))]
    #[inline(always)]
    fn note_announced(&mut self, _sender: u64, _writer: u32, _last_seq: u64) {}

    fn on_heartbeat(&mut self, sender: u64, dst: MacAddr, hb: &HeartbeatRepr) {
        if hb.liveliness {
            self.note_assertion(sender, hb.writer.0, None);
        }
        self.note_announced(sender, hb.writer.0, hb.last_seq);
        let unicast = dst == self.mac;
        let readers = self.matched_readers(sender, hb.writer.0);
        if readers.is_empty() {
            self.stats.rx_unmatched += 1;
            return;
        }
        for &(ri, mi) in &readers {
            let Some(r) = self.readers.get_mut(ri).and_then(Option::as_mut) else {
                continue;
            };
            let entity = r.entity;
            // A HEARTBEAT naming another reader of ours is not for this one.
            if hb.reader.is_some_and(|e| e.0 != entity) {
                continue;
            }
            let Some(m) = r.writers.get_mut(mi).and_then(Option::as_mut) else {
                continue;
            };
            if !m.reliable {
                continue;
            }
            if m.last_hb_count.is_some_and(|c| hb.count <= c) {
                self.stats.rx_stale_control += 1;
                continue;
            }
            m.last_hb_count = Some(hb.count);
            m.writer_last = m.writer_last.max(hb.last_seq);
            if !m.window.is_synced() {
                if unicast {
                    // The writer tells us where our stream starts.
                    m.window.skip_to(hb.first_seq);
                    m.ack_due = true;
                    m.nackfrag_due = true;
                    m.nackfrag_left = NACK_FRAG_WINDOWS;
                    m.nackfrag_from = 0;
                }
                continue;
            }
            // An undirected unicast HEARTBEAT (from a writer that predates the reader field)
            // may be meant for another reader of this participant: only a multicast one (first =
            // oldest sample the writer holds) or one naming this reader makes a synchronised
            // reader skip. (A sync HEARTBEAT's first is at most this reader's entitlement, so
            // for a reader already synchronised it skips nothing.)
            let lost = if unicast && hb.reader.is_none() {
                0
            } else {
                m.window.skip_to(hb.first_seq)
            };
            if lost > 0 {
                let remote = RemoteId {
                    participant: sender,
                    entity: hb.writer.0,
                };
                self.reassembly
                    .remove_writer_below(sender, hb.writer.0, hb.first_seq);
                self.stats.samples_lost += lost;
                let reader = ReaderHandle {
                    index: ri as u8,
                    entity,
                };
                self.push_event(Event::SamplesLost {
                    reader,
                    remote,
                    count: lost,
                });
            }
            if let Some(m) = self.matched_writer_mut(ri, mi)
                && (!hb.is_final || m.window.next() <= hb.last_seq)
            {
                m.ack_due = true;
                m.nackfrag_due = true;
                m.nackfrag_left = NACK_FRAG_WINDOWS;
                m.nackfrag_from = 0;
            }
            self.drain_writer(ri, mi);
        }
    }

    fn find_writer(&self, entity: u32) -> Option<usize> {
        self.writers
            .iter()
            .position(|w| w.as_ref().is_some_and(|w| w.entity == entity))
    }

    fn on_acknack(&mut self, sender: u64, a: &AckNackRepr) {
        if a.writer_participant.get() != self.id {
            self.stats.rx_unmatched += 1;
            return;
        }
        let Some(wi) = self.find_writer(a.writer.0) else {
            self.stats.rx_unmatched += 1;
            return;
        };
        let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
            return;
        };
        let Some(pi) = w.live().iter().position(|p| {
            p.is_some_and(|p| p.participant == sender && p.entity == a.reader.0 && p.reliable)
        }) else {
            self.stats.rx_unmatched += 1;
            return;
        };
        let Some(p) = w.proxies.get_mut(pi).and_then(Option::as_mut) else {
            return;
        };
        // Only this writer changes (the summary looks at it again).
        #[cfg(feature = "ack-with-data")]
        {
            self.dirty_w |= super::participant::Scope::bit(wi);
        }
        let mut repairs = false;
        let mut set = SeqSet::new(a.missing.base(), u32::from(a.missing.num_bits()));
        // (An empty bitmap, the steady state, has no member to copy: no walk of its words. This
        // and the early return below are speed, not behaviour: builds without `ack-with-data`,
        // the firmware's, leave them out to stay small.)
        if !cfg!(feature = "ack-with-data") || a.missing.words().iter().any(|w| *w != 0) {
            for s in a.missing.iter() {
                set.insert(s);
            }
        }
        let sent_last = w.sent_below.saturating_sub(1);
        match p.state.on_acknack(&set, a.count, sent_last, a.room) {
            Ok(req) => {
                p.state.needs_sync = false;
                if cfg!(feature = "ack-with-data") && req.is_empty() {
                    // Nothing asked for: no repairs, nothing released to tell about.
                    self.after_acks(wi);
                    return;
                }
                let first = w.history.first_seq();
                if req.iter().any(|s| s < first) {
                    // Asked for samples we no longer hold: tell it where to continue.
                    p.state.history_released_below(first);
                    p.sync_next = self.now;
                }
                for s in req.iter().filter(|s| *s >= first) {
                    repairs = true;
                    // The resend set spans 256 numbers; when it is empty it moves to where the
                    // requests are (a history deeper than 256 samples).
                    if !w.resend.insert(s) && w.resend.is_empty() {
                        w.resend = SeqSet::new(s, SEQSET_BITS);
                        w.resend.insert(s);
                    }
                }
                if repairs {
                    w.want_repair_hb(pi);
                }
            }
            Err(AckError::Stale) => self.stats.rx_stale_control += 1,
            Err(AckError::Forged) => self.stats.rx_forged_control += 1,
        }
        self.after_acks(wi);
    }

    /// Without the `fragmentation` feature this participant never sends a fragment, so there
    /// is nothing to repair: counted and dropped.
    #[cfg(not(feature = "fragmentation"))]
    fn on_nack_frag(&mut self, _sender: u64, _n: &NackFragRepr) {
        self.stats.rx_unsupported += 1;
    }

    #[cfg(feature = "fragmentation")]
    fn on_nack_frag(&mut self, sender: u64, n: &NackFragRepr) {
        if n.writer_participant.get() != self.id {
            self.stats.rx_unmatched += 1;
            return;
        }
        let Some(wi) = self.find_writer(n.writer.0) else {
            self.stats.rx_unmatched += 1;
            return;
        };
        let Some(w) = self.writers.get_mut(wi).and_then(Option::as_mut) else {
            return;
        };
        let Some(pi) = w.live().iter().position(|p| {
            p.is_some_and(|p| p.participant == sender && p.entity == n.reader.0 && p.reliable)
        }) else {
            self.stats.rx_unmatched += 1;
            return;
        };
        if n.seq >= w.sent_below || w.history.sample_len(n.seq).is_none() {
            // Never sent, or no longer held (the next HEARTBEAT says so).
            self.stats.rx_forged_control += u64::from(n.seq >= w.sent_below);
            return;
        }
        let mut set = SeqSet::new(n.missing.base(), u32::from(n.missing.num_bits()));
        for s in n.missing.iter() {
            set.insert(s);
        }
        if set.is_empty() {
            return;
        }
        // Merge with a pending request for the same sample, or take a free slot.
        for (seq, have) in w.frag_nacks.iter_mut().flatten() {
            if *seq == n.seq && have.base() == set.base() {
                for f in set.iter() {
                    have.insert(f);
                }
                w.want_repair_hb(pi);
                return;
            }
        }
        if let Some(e) = w.frag_nacks.iter_mut().find(|e| e.is_none()) {
            *e = Some((n.seq, set));
            w.frag_nacks_used += 1;
            w.want_repair_hb(pi);
        } else {
            self.stats.nack_frag_overflow += 1;
        }
    }
}
