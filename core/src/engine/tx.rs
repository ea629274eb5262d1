//! Transmit path: deciding which frame goes next, and writing it.
//!
//! Planning is a pure function of the state ([`Participant::poll_transmit`] can be called again
//! and again without changing anything); the state moves on only when the planned frame is
//! written ([`Participant::write_transmit`]) or abandoned. Priorities, highest first: GOODBYE,
//! HELLO pages, reader control (ACKNACK, NACK_FRAG), writer HEARTBEATs, then data round-robin over
//! writers (fragment repairs, whole-sample repairs, new samples, batched when several small ones
//! wait). A DATA or BATCH frame may take one of this participant's ACKNACKs after it, when the
//! frame reaches that ACKNACK's writer and still fits the MTU (`plan_ack_with_data`,
//! docs/PROTOCOL.md section 10, "Acknowledgement with data").

use core::time::Duration;

use heapless::Vec;

use super::participant::{
    AnnounceCursor, AnnounceTarget, LocalReader, LocalWriter, Participant, Role, Scope,
};
use super::reassembly::FragKey;
use super::seqset::SEQSET_BITS;
use crate::time::Instant;
#[cfg(feature = "batching")]
use crate::wire::msg::Samples;
use crate::wire::msg::{
    AckNackRepr, BatchRepr, DataRepr, EndpointRepr, Endpoints, GoodbyeRepr, HeartbeatRepr,
    HelloRepr, RelatedSample,
};
#[cfg(feature = "fragmentation")]
use crate::wire::msg::{DataFragRepr, FragLayout, NackFragRepr};
use crate::wire::{self, EntityId, HeaderRepr, MacAddr, MsgKind, ParticipantId, WireError};

/// Most endpoints in one HELLO page.
#[cfg(feature = "paged-hello")]
const MAX_PAGE: usize = 32;
/// Without the `paged-hello` feature one HELLO carries every endpoint: at most this many (the
/// page is built on the stack, 52 bytes an endpoint on 32-bit targets).
#[cfg(not(feature = "paged-hello"))]
const MAX_PAGE: usize = 8;
/// Most samples in one BATCH.
const MAX_BATCH: usize = 64;

/// The next frame to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Goodbye,
    Hello {
        dst: MacAddr,
        reply_requested: bool,
        first: u16,
        count: u8,
    },
    AckNack {
        r: usize,
        m: usize,
    },
    #[cfg(feature = "fragmentation")]
    NackFrag {
        r: usize,
        m: usize,
        seq: u64,
        base: u32,
    },
    SyncHeartbeat {
        w: usize,
        p: usize,
    },
    Heartbeat {
        w: usize,
    },
    /// A HEARTBEAT naming one reader that asked for repairs, once they are out.
    RepairHeartbeat {
        w: usize,
        p: usize,
    },
    /// A HEARTBEAT with the LIVELINESS flag ([`Participant::assert_liveliness`]).
    Liveliness {
        w: usize,
    },
    /// A fragment asked for by NACK_FRAG (entry `k` of the writer's queue).
    #[cfg(feature = "fragmentation")]
    FragRepair {
        w: usize,
        k: usize,
        seq: u64,
        index: u32,
    },
    /// A fragment of a whole fragmented sample being sent again.
    #[cfg(feature = "fragmentation")]
    ResendFrag {
        w: usize,
        seq: u64,
        index: u32,
    },
    /// A whole small sample sent again.
    Resend {
        w: usize,
        seq: u64,
    },
    Data {
        w: usize,
        seq: u64,
    },
    #[cfg(feature = "fragmentation")]
    Frag {
        w: usize,
        seq: u64,
        index: u32,
    },
    #[cfg(feature = "batching")]
    Batch {
        w: usize,
        first: u64,
        count: u16,
    },
}

/// An ACKNACK planned to follow a frame's data: built when `poll_transmit` measures the frame
/// and written as it is by `write_transmit`, so that the reader's room and missing set are
/// worked out once per acknowledgement, not three times (measure, write, commit).
#[cfg(feature = "ack-with-data")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlannedAck {
    r: usize,
    m: usize,
    msg: AckNackRepr,
    /// The end of what it asks for (`ack_end`), for the commit.
    asked_below: u64,
}

/// Why [`Participant::write_transmit`] wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransmitError {
    /// No frame was planned by [`Participant::poll_transmit`].
    NothingPlanned,
    /// The buffer's length differs from the planned frame's length.
    WrongLength {
        /// The planned length.
        planned: usize,
        /// The buffer's length.
        got: usize,
    },
}

/// End (exclusive) of what writer `w` may send now: its newest sample, and no further than the
/// room of its slowest reliable reader (docs/PROTOCOL.md section 10, flow control). Best-effort
/// readers do not limit it.
fn sendable_end<const H: usize, const M: usize>(w: &LocalWriter<'_, H, M>) -> u64 {
    w.live()
        .iter()
        .flatten()
        .filter(|p| p.reliable)
        .fold(w.history.next_seq(), |end, p| end.min(p.state.room_end()))
}

/// Without the `services` feature no sample has a related one (only `reply` writes them).
#[cfg(not(feature = "services"))]
fn related_wire(_r: Option<super::history::SampleId>) -> Option<RelatedSample> {
    None
}

#[cfg(feature = "services")]
fn related_wire(r: Option<super::history::SampleId>) -> Option<RelatedSample> {
    let r = r?;
    Some(RelatedSample {
        participant: ParticipantId::new(r.participant)?,
        entity: EntityId(r.entity),
        seq: r.seq,
    })
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
    #[cfg(feature = "vlan")]
    fn tags(&self) -> wire::TagStack {
        match self.config.vlan {
            Some(t) => wire::TagStack::single(t),
            None => wire::TagStack::new(),
        }
    }

    /// Bytes before the body: Ethernet header, tags, l2net header.
    #[cfg(feature = "vlan")]
    fn frame_overhead(&self) -> usize {
        match self.config.vlan {
            // (No tag stack built for the untagged case, every frame's.)
            None => 14 + wire::header::HEADER_LEN,
            Some(_) => 12 + self.tags().buffer_len() + wire::header::HEADER_LEN,
        }
    }

    /// Bytes before the body: Ethernet header and l2net header (never a tag without `vlan`).
    #[cfg(not(feature = "vlan"))]
    fn frame_overhead(&self) -> usize {
        14 + wire::header::HEADER_LEN
    }

    /// Write the tags (if any) and the EtherType at the start of `buf` (frame offset 12);
    /// returns the bytes written.
    #[cfg(feature = "vlan")]
    fn emit_ethertype(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        match self.config.vlan {
            // What an empty tag stack writes, without building one (every untagged frame).
            None => Self::emit_untagged(buf),
            Some(_) => self.tags().emit(wire::ETHERTYPE_L2NET, buf),
        }
    }

    /// Write the EtherType at the start of `buf` (frame offset 12): a build without `vlan`
    /// sends no tag (`Config::vlan` is refused).
    #[cfg(not(feature = "vlan"))]
    fn emit_ethertype(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        Self::emit_untagged(buf)
    }

    /// The EtherType alone at the start of `buf`; returns 2.
    #[inline(always)]
    fn emit_untagged(buf: &mut [u8]) -> Result<usize, WireError> {
        let Some([hi, lo]) = buf.get_mut(..2) else {
            return Err(WireError::BufferTooSmall {
                len: buf.len(),
                need: 2,
            });
        };
        [*hi, *lo] = wire::ETHERTYPE_L2NET.to_be_bytes();
        Ok(2)
    }

    /// Largest body of one frame.
    pub(crate) fn body_max(&self) -> usize {
        (self.config.mtu - wire::header::HEADER_LEN).min(wire::header::MAX_BODY_LEN)
    }

    /// Bytes of sample payload in every fragment but the last.
    #[cfg(feature = "fragmentation")]
    pub(crate) fn frag_size(&self) -> usize {
        (self.body_max() - DataFragRepr::overhead(true)).min(usize::from(u16::MAX))
    }

    #[cfg(feature = "fragmentation")]
    fn is_fragmented(&self, len: usize, has_related: bool) -> bool {
        len > self.body_max() - DataRepr::overhead(has_related)
    }

    // -----------------------------------------------------------------------------------------
    // HELLO contents

    pub(crate) fn announced_count(&self) -> usize {
        self.live_writers().iter().flatten().count()
            + self
                .readers
                .iter()
                .flatten()
                .filter(|r| r.role == Role::Topic)
                .count()
    }

    fn announced(&self, index: usize) -> Option<EndpointRepr<'_>> {
        // The writers, then the topic readers: two counting loops (a chained iterator's `nth`
        // is larger in the firmware, and no faster).
        let mut left = index;
        let mut found = None;
        for w in self.writers.iter().flatten() {
            if left == 0 {
                found = Some(&w.info);
                break;
            }
            left -= 1;
        }
        if found.is_none() {
            for r in self.readers.iter().flatten() {
                if r.role != Role::Topic {
                    continue;
                }
                if left == 0 {
                    found = Some(&r.info);
                    break;
                }
                left -= 1;
            }
        }
        let info = found?;
        Some(EndpointRepr {
            entity: EntityId(info.entity),
            kind: info.kind,
            qos: super::rx::qos_to_wire(&info.qos),
            topic: info.topic.as_str(),
            type_name: info.type_name.as_str(),
            type_hash: (info.type_hash != [0; 32]).then_some(&info.type_hash),
        })
    }

    /// How many endpoints from `first` fit into one HELLO body.
    pub(crate) fn page_count(&self, first: usize) -> usize {
        let total = self.announced_count();
        // The body without endpoints (what `HelloRepr::buffer_len` gives for an empty list).
        let mut len = HelloRepr::overhead(self.config.name.len());
        let mut n = 0;
        // Once one endpoint of the page needs the extension block, every one gets a record.
        let mut ext = false;
        while first + n < total && n < MAX_PAGE {
            let Some(e) = self.announced(first + n) else {
                break;
            };
            let ext_now = ext || e.qos.has_extension();
            let ext_len = if ext_now {
                (n + 1) * EndpointRepr::EXTENSION_LEN
            } else {
                0
            };
            if len + e.buffer_len() + ext_len > self.body_max() {
                break;
            }
            len += e.buffer_len();
            ext = ext_now;
            n += 1;
        }
        n
    }

    fn lease_ms(&self) -> u32 {
        u32::try_from(self.config.lease.as_millis()).unwrap_or(u32::MAX)
    }

    // -----------------------------------------------------------------------------------------
    // Planning

    /// The next frame to send at `now`: with the transmit summary holding, only the endpoints
    /// changed since it last looked are planned (the others have nothing due).
    fn plan(&self, now: Instant) -> Option<Plan> {
        let scope = self.scope();
        if scope == Scope::ALL {
            return self.plan_all(now);
        }
        let plan = self.plan_in::<false>(now, scope);
        #[cfg(all(debug_assertions, feature = "ack-with-data"))]
        assert_eq!(
            plan,
            self.plan_all(now),
            "transmit summary: a restricted plan"
        );
        plan
    }

    /// The planner over every endpoint.
    #[inline(always)]
    pub(crate) fn plan_all(&self, now: Instant) -> Option<Plan> {
        self.plan_in::<true>(now, Scope::ALL)
    }

    /// The planner over the endpoints of `scope` (the others must have nothing due), or over
    /// all of them (`ALL`: plain walks, the scope unread).
    pub(crate) fn plan_in<const ALL: bool>(&self, now: Instant, scope: Scope) -> Option<Plan> {
        let scope = if ALL { Scope::ALL } else { scope };
        if self.closing {
            return (self.goodbyes_left > 0).then_some(Plan::Goodbye);
        }
        if let Some(c) = self.announce {
            let (dst, reply_requested) = match c.target {
                AnnounceTarget::Multicast => (self.discovery_mac(), false),
                AnnounceTarget::Static(i) => (
                    self.config
                        .static_peers
                        .get(i)
                        .copied()
                        .unwrap_or(MacAddr::BROADCAST),
                    true,
                ),
                AnnounceTarget::Reply(mac) => (mac, false),
            };
            let count = self.page_count(usize::from(c.first_index)) as u8;
            return Some(Plan::Hello {
                dst,
                reply_requested,
                first: c.first_index,
                count,
            });
        }
        // Every slot in use (the slice walks of a full plan), or the scope's set bits only.
        if ALL {
            for (ri, r) in self.live_readers().iter().enumerate() {
                if let Some(r) = r
                    && let Some(p) = self.plan_reader(ri, r)
                {
                    return Some(p);
                }
            }
            for (wi, w) in self.live_writers().iter().enumerate() {
                if let Some(w) = w
                    && let Some(p) = self.plan_writer_control(wi, w, now)
                {
                    return Some(p);
                }
            }
        } else {
            for ri in scope.readers(0, self.r_hi) {
                if let Some(r) = self.readers.get(ri).and_then(Option::as_ref)
                    && let Some(p) = self.plan_reader(ri, r)
                {
                    return Some(p);
                }
            }
            for wi in scope.writers(0, self.w_hi) {
                if let Some(w) = self.writers.get(wi).and_then(Option::as_ref)
                    && let Some(p) = self.plan_writer_control(wi, w, now)
                {
                    return Some(p);
                }
            }
        }
        // Round robin from `rr_writer` over the slots that may be in use only (the order of
        // a walk over all W slots that skips the others).
        let hi = self.w_hi;
        let start = if self.rr_writer < hi {
            self.rr_writer
        } else {
            0
        };
        if ALL {
            for wi in (start..hi).chain(0..start) {
                if let Some(w) = self.writers.get(wi).and_then(Option::as_ref)
                    && let Some(p) = self.plan_writer_data(wi, w, now)
                {
                    return Some(p);
                }
            }
        } else {
            for wi in scope.writers_from(start, hi) {
                if let Some(w) = self.writers.get(wi).and_then(Option::as_ref)
                    && let Some(p) = self.plan_writer_data(wi, w, now)
                {
                    return Some(p);
                }
            }
        }
        None
    }

    /// Reader `ri`'s control frame that is due: an ACKNACK, or a NACK_FRAG.
    #[inline(always)]
    fn plan_reader(&self, ri: usize, r: &LocalReader<'a, H, M>) -> Option<Plan> {
        for (mi, m) in r.live().iter().enumerate() {
            let Some(m) = m else { continue };
            if !m.reliable || !m.window.is_synced() {
                continue;
            }
            if m.ack_due {
                return Some(Plan::AckNack { r: ri, m: mi });
            }
            #[cfg(feature = "fragmentation")]
            if m.nackfrag_due
                && let Some((seq, base)) = self.first_incomplete(
                    m.participant,
                    m.entity,
                    m.window.next(),
                    m.writer_last,
                    m.nackfrag_from,
                )
            {
                return Some(Plan::NackFrag {
                    r: ri,
                    m: mi,
                    seq,
                    base,
                });
            }
        }
        None
    }

    /// Writer `wi`'s HEARTBEAT that is due (sync, repairs out, periodic or after a burst,
    /// liveliness).
    #[inline(always)]
    fn plan_writer_control(
        &self,
        wi: usize,
        w: &LocalWriter<'a, H, M>,
        now: Instant,
    ) -> Option<Plan> {
        for (pi, p) in w.live().iter().enumerate() {
            if p.is_some_and(|p| p.reliable && p.state.needs_sync && p.sync_next <= now) {
                return Some(Plan::SyncHeartbeat { w: wi, p: pi });
            }
        }
        let repairs_out = w.resend.is_empty() && w.fragment_repairs_out();
        if repairs_out && w.repair_hbs > 0 {
            for (pi, p) in w.live().iter().enumerate() {
                if p.is_some_and(|p| p.repair_hb) {
                    return Some(Plan::RepairHeartbeat { w: wi, p: pi });
                }
            }
        }
        if Self::needs_heartbeat(w)
            && (w.hb_next <= now
                || (w.hb_soon && w.sent_below >= sendable_end(w) && now >= self.hb_soon_at(w)))
        {
            return Some(Plan::Heartbeat { w: wi });
        }
        if w.assert_due {
            return Some(Plan::Liveliness { w: wi });
        }
        None
    }

    /// The lowest incomplete sample of a writer that the writer announced, and its first
    /// missing fragment.
    #[cfg(feature = "fragmentation")]
    #[inline(always)]
    fn first_incomplete(
        &self,
        participant: u64,
        entity: u32,
        from: u64,
        last: u64,
        min_frag: u32,
    ) -> Option<(u64, u32)> {
        let mut best: Option<(u64, u32)> = None;
        for slot in self.reassembly.slots_of(participant, entity) {
            let Some(key) = self.reassembly.key(slot) else {
                continue;
            };
            let Some((n, got)) = self.reassembly.progress(slot) else {
                continue;
            };
            if got == n || key.seq < from || key.seq > last {
                continue;
            }
            if best.is_some_and(|(s, _)| s <= key.seq) {
                continue;
            }
            let first_missing = (min_frag..n).find(|i| !self.reassembly.has_fragment(slot, *i))?;
            best = Some((key.seq, first_missing));
        }
        best
    }

    #[cfg_attr(not(feature = "batching"), allow(unreachable_code, unused_variables))]
    #[inline(always)]
    fn plan_writer_data(&self, wi: usize, w: &LocalWriter<'a, H, M>, now: Instant) -> Option<Plan> {
        #[cfg(feature = "fragmentation")]
        if w.frag_nacks_used > 0 {
            for (k, e) in w.frag_nacks.iter().enumerate() {
                if let Some((seq, set)) = e
                    && let Some(f) = set.first()
                {
                    return Some(Plan::FragRepair {
                        w: wi,
                        k,
                        seq: *seq,
                        index: f as u32,
                    });
                }
            }
        }
        #[cfg(feature = "fragmentation")]
        if let Some((seq, index)) = w.resend_cursor {
            return Some(Plan::ResendFrag { w: wi, seq, index });
        }
        if let Some(seq) = w.resend.first() {
            #[cfg_attr(not(feature = "fragmentation"), allow(unused_variables))]
            let (data, meta) = w.history.get(seq)?;
            #[cfg(feature = "fragmentation")]
            if self.is_fragmented(data.len(), meta.related.is_some()) {
                return Some(Plan::ResendFrag {
                    w: wi,
                    seq,
                    index: 0,
                });
            }
            return Some(Plan::Resend { w: wi, seq });
        }
        let seq = w.sent_below;
        let end = sendable_end(w);
        if seq >= end {
            return None;
        }
        #[cfg_attr(not(feature = "fragmentation"), allow(unused_variables))]
        let (data, meta) = w.history.get(seq)?;
        #[cfg(feature = "fragmentation")]
        if self.is_fragmented(data.len(), meta.related.is_some()) {
            return Some(Plan::Frag {
                w: wi,
                seq,
                index: w.frag_next,
            });
        }
        // Without the `batching` feature every sample goes out in a DATA frame of its own.
        #[cfg(not(feature = "batching"))]
        return Some(Plan::Data { w: wi, seq });
        // Batch consecutive small samples without a related id.
        let mut len = BatchRepr::OVERHEAD;
        let mut count = 0u16;
        let mut s = seq;
        while s < end && usize::from(count) < MAX_BATCH {
            let Some((d, m)) = w.history.get(s) else {
                break;
            };
            if m.related.is_some() || d.len() > usize::from(u16::MAX) {
                break;
            }
            let add = BatchRepr::PER_SAMPLE_OVERHEAD + d.len();
            if len + add > self.body_max() {
                break;
            }
            len += add;
            count += 1;
            s += 1;
        }
        if let Some(until) = w.batch_until {
            // Hold a lone small sample for company, up to the configured delay.
            if count < 2 && now < until && s == end {
                return None;
            }
        }
        #[cfg(feature = "batching")]
        if count >= 2 {
            return Some(Plan::Batch {
                w: wi,
                first: seq,
                count,
            });
        }
        Some(Plan::Data { w: wi, seq })
    }

    // -----------------------------------------------------------------------------------------
    // Messages

    /// Build the message of `plan` and emit its frame into `buf`, which must have the frame's
    /// length exactly; returns the bytes written, or `None` if the message cannot be built (a
    /// sample that vanished). Measuring is the same call with an empty `buf`: the wire's writer
    /// counts what does not fit, so the answer is `BufferTooSmall` with the frame's length as
    /// its `need`. One function per kind for measuring and writing, so that they cannot
    /// disagree, and each message is emitted where it is built: no `MessageRepr` of the largest
    /// kind is built and matched again, and a build emits only the kinds it plans.
    fn emit_plan<const FRAME: bool>(
        &self,
        plan: Plan,
        buf: &mut [u8],
    ) -> Option<Result<usize, WireError>> {
        let frame_len = buf.len();
        let (head, body) = match buf.split_at_mut_checked(self.overhead::<FRAME>()) {
            Some(parts) => parts,
            None => (&mut [][..], &mut [][..]),
        };
        let (dst, kind, flags, written) = match plan {
            Plan::Goodbye => (
                self.discovery_mac(),
                MsgKind::Goodbye,
                GoodbyeRepr.flags(),
                GoodbyeRepr.emit(body),
            ),
            Plan::Hello {
                dst,
                reply_requested,
                first,
                count,
            } => {
                let mut eps: Vec<EndpointRepr<'_>, MAX_PAGE> = Vec::new();
                for i in 0..usize::from(count) {
                    let e = self.announced(usize::from(first) + i)?;
                    eps.push(e).ok()?;
                }
                let total = u16::try_from(self.announced_count()).unwrap_or(u16::MAX);
                let msg = HelloRepr {
                    reply_requested,
                    lease_ms: self.lease_ms(),
                    graph_epoch: self.epoch,
                    first_endpoint_index: first,
                    total_endpoints: total,
                    name: self.config.name,
                    endpoints: Endpoints::List(&eps),
                };
                (dst, MsgKind::Hello, msg.flags(), msg.emit(body))
            }
            Plan::AckNack { r, m } => {
                let (dst, msg, _) = self.acknack(r, m)?;
                (dst, MsgKind::AckNack, msg.flags(), msg.emit(body))
            }
            #[cfg(feature = "fragmentation")]
            Plan::NackFrag { r, m, seq, base } => {
                let rd = self.readers.get(r).and_then(Option::as_ref)?;
                let mw = rd.writers.get(m).and_then(Option::as_ref)?;
                let slot = self.reassembly.find(&FragKey {
                    participant: mw.participant,
                    entity: mw.entity,
                    seq,
                })?;
                let (n, _) = self.reassembly.progress(slot)?;
                let span = (n - base).min(SEQSET_BITS) as u16;
                let mut set = crate::wire::msg::SeqSet::new(u64::from(base), span).ok()?;
                for i in base..base + u32::from(span) {
                    if !self.reassembly.has_fragment(slot, i) {
                        set.insert(u64::from(i));
                    }
                }
                let msg = NackFragRepr {
                    writer_participant: ParticipantId::new(mw.participant)?,
                    writer: EntityId(mw.entity),
                    reader: EntityId(rd.entity),
                    seq,
                    count: mw.nack_count.wrapping_add(1),
                    missing: set,
                };
                (mw.mac, MsgKind::NackFrag, msg.flags(), msg.emit(body))
            }
            // The four HEARTBEAT plans differ only in their first sequence number, their
            // addressee and their flags: one arm builds the message, so that a binary holds one
            // `HeartbeatRepr` construction and one call of `f` for all of them.
            Plan::SyncHeartbeat { w, .. }
            | Plan::RepairHeartbeat { w, .. }
            | Plan::Heartbeat { w }
            | Plan::Liveliness { w } => {
                let wr = self.writers.get(w).and_then(Option::as_ref)?;
                let px = match plan {
                    Plan::SyncHeartbeat { p, .. } | Plan::RepairHeartbeat { p, .. } => {
                        Some(wr.proxies.get(p).and_then(Option::as_ref)?)
                    }
                    _ => None,
                };
                let first = match (plan, px) {
                    // One HEARTBEAT reaches every reader of that participant, and a HEARTBEAT
                    // names no reader: start at the earliest entitlement of those that wait for
                    // it, so none is told to skip samples it is owed (one that started earlier
                    // just gets a few older samples).
                    // The HEARTBEAT names its reader, but a receiver that predates the reader
                    // field applies it to every reader of that participant.
                    (Plan::SyncHeartbeat { .. }, Some(px)) => wr
                        .live()
                        .iter()
                        .flatten()
                        .filter(|q| {
                            q.participant == px.participant && q.reliable && q.state.needs_sync
                        })
                        .map(|q| q.state.acked_below())
                        .min()
                        .unwrap_or(px.state.acked_below())
                        .max(wr.history.first_seq())
                        .max(1),
                    _ => wr.history.first_seq(),
                };
                let last = wr.sent_below.saturating_sub(1).max(first - 1);
                let liveliness = matches!(plan, Plan::Liveliness { .. });
                let msg = HeartbeatRepr {
                    // A liveliness assertion asks for no answer (readers that miss samples
                    // still answer, as for any HEARTBEAT showing them behind).
                    is_final: liveliness,
                    liveliness,
                    writer: EntityId(wr.entity),
                    first_seq: first,
                    last_seq: last,
                    count: wr.hb_count.wrapping_add(1),
                    reader: px.map(|px| EntityId(px.entity)),
                };
                (
                    px.map_or(wr.mac, |px| px.mac),
                    MsgKind::Heartbeat,
                    msg.flags(),
                    msg.emit(body),
                )
            }
            #[cfg(feature = "fragmentation")]
            Plan::FragRepair { w, seq, index, .. }
            | Plan::ResendFrag { w, seq, index }
            | Plan::Frag { w, seq, index } => {
                let wr = self.writers.get(w).and_then(Option::as_ref)?;
                let (data, meta) = wr.history.get(seq)?;
                let fs = self.frag_size();
                let layout = FragLayout::new(u32::try_from(data.len()).ok()?, fs as u16).ok()?;
                let off = layout.offset(index) as usize;
                let len = layout.frag_len(index).ok()?;
                let msg = DataFragRepr {
                    writer: EntityId(wr.entity),
                    seq,
                    // The engine has no wall clock: "not given" (section 4.3).
                    source_timestamp_ns: 0,
                    related: related_wire(meta.related),
                    layout,
                    frag_index: index,
                    fragment: data.get(off..off + len)?,
                };
                (wr.mac, MsgKind::DataFrag, msg.flags(), msg.emit(body))
            }
            Plan::Resend { w, seq } | Plan::Data { w, seq } => {
                let wr = self.writers.get(w).and_then(Option::as_ref)?;
                let (data, meta) = wr.history.get(seq)?;
                let msg = DataRepr {
                    writer: EntityId(wr.entity),
                    seq,
                    // The engine has no wall clock: "not given" (section 4.3).
                    source_timestamp_ns: 0,
                    related: related_wire(meta.related),
                    payload: data,
                };
                (wr.mac, MsgKind::Data, msg.flags(), msg.emit(body))
            }
            #[cfg(feature = "batching")]
            Plan::Batch { w, first, count } => {
                let wr = self.writers.get(w).and_then(Option::as_ref)?;
                let mut list: Vec<&[u8], MAX_BATCH> = Vec::new();
                for s in first..first + u64::from(count) {
                    list.push(wr.history.get(s)?.0).ok()?;
                }
                let msg = BatchRepr {
                    writer: EntityId(wr.entity),
                    first_seq: first,
                    source_timestamp_ns: 0,
                    samples: Samples::List(&list),
                };
                (wr.mac, MsgKind::Batch, msg.flags(), msg.emit(body))
            }
        };
        Some(self.finish_frame::<FRAME>(head, frame_len, dst, kind, flags, written))
    }

    /// Reader `r`'s ACKNACK to its matched writer `m`, its destination, and the end of what it
    /// asks for ([`Participant::ack_end`], which the commit records).
    fn acknack(&self, r: usize, m: usize) -> Option<(MacAddr, AckNackRepr, u64)> {
        let rd = self.readers.get(r).and_then(Option::as_ref)?;
        let mw = rd.writers.get(m).and_then(Option::as_ref)?;
        let end = self.ack_end(r, m);
        let next = mw.window.next();
        let set = if mw.writer_last < next {
            // Nothing announced is missing (the steady state): the bitmap is empty, only its
            // span (the room) is sent; `missing` would give the same, bit by bit.
            let span = end
                .min(next.saturating_add(u64::from(SEQSET_BITS)))
                .saturating_sub(next);
            let set = crate::wire::msg::SeqSet::new(next, span as u16).ok()?;
            debug_assert!({
                let full = mw.window.missing(mw.writer_last, end);
                full.is_empty() && full.base() == next && full.num_bits() as u64 == span
            });
            set
        } else {
            let missing = mw.window.missing(mw.writer_last, end);
            let mut set =
                crate::wire::msg::SeqSet::new(missing.base(), missing.num_bits() as u16).ok()?;
            for s in missing.iter() {
                let in_progress = self
                    .reassembly
                    .find(&FragKey {
                        participant: mw.participant,
                        entity: mw.entity,
                        seq: s,
                    })
                    .is_some();
                if !in_progress {
                    set.insert(s);
                }
            }
            set
        };
        let msg = AckNackRepr {
            is_final: false,
            room: true,
            writer_participant: ParticipantId::new(mw.participant)?,
            writer: EntityId(mw.entity),
            reader: EntityId(rd.entity),
            count: mw.ack_count.wrapping_add(1),
            missing: set,
        };
        Some((mw.mac, msg, end))
    }

    /// The length of a planned DATA frame of a sample without a related one, worked out
    /// rather than measured by emitting it (the ping-pong's frame): such a message cannot fail
    /// to build, so the answer is the measured one (debug builds check). `None`: measure.
    #[cfg(feature = "ack-with-data")]
    fn data_frame_len(&self, plan: Plan) -> Option<usize> {
        let (Plan::Data { w, seq } | Plan::Resend { w, seq }) = plan else {
            return None;
        };
        let wr = self.writers.get(w).and_then(Option::as_ref)?;
        let (data, meta) = wr.history.get(seq)?;
        if meta.related.is_some() || seq == 0 {
            return None;
        }
        let body = DataRepr::overhead(false) + data.len();
        if body > wire::header::MAX_BODY_LEN {
            return None;
        }
        let len = self.frame_overhead() + body;
        debug_assert_eq!(
            self.emit_plan::<true>(plan, &mut []),
            Some(Err(WireError::BufferTooSmall { len: 0, need: len }))
        );
        Some(len)
    }

    /// Without `ack-with-data` every frame is measured (one code path: the firmware's flash).
    #[cfg(not(feature = "ack-with-data"))]
    #[inline(always)]
    fn data_frame_len(&self, _plan: Plan) -> Option<usize> {
        None
    }

    /// Bytes before a planned message's body: a frame's whole overhead (`FRAME`), or the l2net
    /// header alone for a message that follows another in its frame (docs/PROTOCOL.md 2).
    fn overhead<const FRAME: bool>(&self) -> usize {
        if FRAME {
            self.frame_overhead()
        } else {
            wire::header::HEADER_LEN
        }
    }

    /// Complete a frame (`FRAME`) or a following message of `len` bytes whose body
    /// [`Participant::emit_plan`] emitted after the overhead (`written`: the body's length, or
    /// the emitter's refusal): check the length and write the Ethernet header (a frame's) and
    /// the l2net header into `head`. Another length fails with `BufferTooSmall` and the
    /// needed length as its `need` (what measuring asks for).
    fn finish_frame<const FRAME: bool>(
        &self,
        head: &mut [u8],
        len: usize,
        dst: MacAddr,
        kind: MsgKind,
        flags: u8,
        written: Result<usize, WireError>,
    ) -> Result<usize, WireError> {
        let body_len = match written {
            Ok(n) | Err(WireError::BufferTooSmall { need: n, .. }) => n,
            Err(e) => return Err(e),
        };
        let total = self.overhead::<FRAME>() + body_len;
        let short = WireError::BufferTooSmall { len, need: total };
        if total != len {
            return Err(short);
        }
        let header = if FRAME {
            // `get_mut` and `copy_prefix`, not indexing: no panic site.
            let (macs, rest) = head.split_at_mut_checked(12).ok_or(short)?;
            wire::copy_prefix(macs, &dst.0);
            wire::copy_prefix(macs.get_mut(6..).ok_or(short)?, &self.mac.0);
            let n = self.emit_ethertype(rest)?;
            rest.get_mut(n..).ok_or(short)?
        } else {
            head
        };
        let sender = ParticipantId::new(self.id).ok_or(WireError::ZeroParticipant)?;
        HeaderRepr {
            kind,
            flags,
            domain: self.config.domain,
            length: u16::try_from(body_len).map_err(|_| WireError::TooLarge {
                len: body_len,
                max: wire::header::MAX_BODY_LEN,
            })?,
            sender,
        }
        .emit(header)?;
        Ok(total)
    }

    /// Write `msg` as a message that follows another in its frame: `buf` must have its length
    /// exactly (l2net header and body).
    #[cfg(feature = "ack-with-data")]
    fn emit_following_ack(&self, msg: &AckNackRepr, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = buf.len();
        let (head, body) = match buf.split_at_mut_checked(wire::header::HEADER_LEN) {
            Some(parts) => parts,
            None => (&mut [][..], &mut [][..]),
        };
        // (The destination is the frame's: a following message has no Ethernet header.)
        let written = msg.emit(body);
        self.finish_frame::<false>(head, len, self.mac, MsgKind::AckNack, msg.flags(), written)
    }

    /// Without the `ack-with-data` feature every ACKNACK goes alone: the frame stays as planned.
    #[cfg(not(feature = "ack-with-data"))]
    #[inline(always)]
    fn plan_ack_with_data(&mut self, _plan: Plan, len: usize) -> usize {
        len
    }

    /// A reader's acknowledgement that can follow writer `wi`'s data in its frame
    /// (docs/PROTOCOL.md section 10, "Acknowledgement with data"): a reliable, synchronised
    /// reader of this participant whose matched writer's participant has a reader matched to
    /// `wi` (so the frame reaches it) and that delivered samples since its last ACKNACK.
    /// `(reader, matched writer)`.
    #[cfg(feature = "ack-with-data")]
    fn ack_with_data(&self, wi: usize) -> Option<(usize, usize)> {
        let w = self.writers.get(wi).and_then(Option::as_ref)?;
        for (ri, r) in self.live_readers().iter().enumerate() {
            let Some(r) = r else { continue };
            for (mi, m) in r.live().iter().enumerate() {
                let Some(m) = m else { continue };
                if m.reliable
                    && m.window.is_synced()
                    && m.window.next() > m.acked_sent
                    && w.live()
                        .iter()
                        .flatten()
                        .any(|p| p.participant == m.participant)
                {
                    return Some((ri, mi));
                }
            }
        }
        None
    }

    /// Plan an acknowledgement to follow the planned frame of `len` bytes when it carries a
    /// writer's DATA or BATCH and the ACKNACK fits the MTU; returns the frame's new length.
    #[cfg(feature = "ack-with-data")]
    fn plan_ack_with_data(&mut self, plan: Plan, len: usize) -> usize {
        self.planned_ack = None;
        let wi = match plan {
            Plan::Data { w, .. } | Plan::Resend { w, .. } => w,
            #[cfg(feature = "batching")]
            Plan::Batch { w, .. } => w,
            _ => return len,
        };
        let Some((r, m)) = self.ack_with_data(wi) else {
            return len;
        };
        let Some((_, msg, asked_below)) = self.acknack(r, m) else {
            return len;
        };
        let ack_len = wire::header::HEADER_LEN + msg.buffer_len();
        // The l2net bytes of the frame (the first message's header on) stay within the MTU.
        let l2net = len + wire::header::HEADER_LEN - self.frame_overhead();
        if l2net + ack_len > self.config.mtu {
            return len;
        }
        let ack = PlannedAck {
            r,
            m,
            msg,
            asked_below,
        };
        self.planned_ack = Some((len, ack));
        len + ack_len
    }

    // -----------------------------------------------------------------------------------------
    // Public transmit API

    /// Plan the next frame to send and return its exact length, or `None` if nothing is due
    /// (then see [`Participant::poll_timeout`]). Calling it again without writing re-plans; the
    /// state only changes in [`Participant::write_transmit`] or
    /// [`Participant::abandon_transmit`].
    pub fn poll_transmit(&mut self, now: Instant) -> Option<usize> {
        #[cfg(feature = "ack-with-data")]
        if now < self.quiet_until && self.dirty_w | self.dirty_r == 0 {
            // Nothing changed since a poll found nothing, and no timer is due yet.
            if now > self.now {
                self.now = now;
            }
            #[cfg(debug_assertions)]
            self.check_quiet(self.now);
            self.planned = None;
            self.planned_ack = None;
            return None;
        }
        self.advance(now);
        self.planned = None;
        #[cfg(feature = "ack-with-data")]
        {
            self.planned_ack = None;
        }
        // Plans whose message cannot be built (a sample that vanished) are skipped.
        for _ in 0..8 {
            #[cfg(feature = "ack-with-data")]
            let Some(plan) = self.plan(self.now) else {
                self.become_quiet();
                return None;
            };
            // (A `let else` with nothing to do in it costs the firmware node 132 B.)
            #[cfg(not(feature = "ack-with-data"))]
            let plan = self.plan(self.now)?;
            if let Some(len) = self.data_frame_len(plan) {
                let len = self.plan_ack_with_data(plan, len);
                self.planned = Some((plan, len));
                return Some(len);
            }
            match self.emit_plan::<true>(plan, &mut []) {
                Some(Err(WireError::BufferTooSmall { need: len, .. })) => {
                    let len = self.plan_ack_with_data(plan, len);
                    self.planned = Some((plan, len));
                    return Some(len);
                }
                _ => self.commit(plan),
            }
        }
        None
    }

    /// Write the frame planned by [`Participant::poll_transmit`] into `buf`, which must have
    /// exactly the planned length (a TX token's buffer). Returns the bytes written.
    pub fn write_transmit(&mut self, buf: &mut [u8]) -> Result<usize, TransmitError> {
        let (plan, len) = self.planned.ok_or(TransmitError::NothingPlanned)?;
        if buf.len() != len {
            return Err(TransmitError::WrongLength {
                planned: len,
                got: buf.len(),
            });
        }
        self.planned = None;
        #[cfg(feature = "ack-with-data")]
        let ack = self.planned_ack.take();
        #[cfg(not(feature = "ack-with-data"))]
        let ack: Option<(usize, ())> = None;
        let (first, rest) = buf.split_at_mut(ack.map_or(len, |(at, _)| at.min(len)));
        let written = self.emit_plan::<true>(plan, first);
        match written {
            Some(Ok(_)) => {
                self.stats.tx_frames += 1;
                self.commit(plan);
                // The acknowledgement that follows the data (section 10), as planned; should
                // it fail to build, its bytes are zeros, which the receiver reads as padding.
                #[cfg(feature = "ack-with-data")]
                if let Some((_, a)) = ack {
                    if self.emit_following_ack(&a.msg, rest).is_ok() {
                        // (No `reader_changed`: this clears an `ack_due` that was false, as
                        // reader control is planned before data, and moves what only the
                        // next acknowledgement reads; no plan or timer of the reader moves.)
                        self.stats.tx_acks_with_data += 1;
                        self.commit_ack(a.r, a.m, a.asked_below);
                    } else {
                        rest.fill(0);
                    }
                }
                #[cfg(not(feature = "ack-with-data"))]
                let _ = rest;
                Ok(len)
            }
            _ => {
                // Cannot happen for a plan that just measured fine; never send garbage.
                buf.fill(0);
                self.stats.tx_errors += 1;
                self.commit(plan);
                Ok(0)
            }
        }
    }

    /// The link refused the planned frame for good (for example larger than its MTU): drop it,
    /// count it in [`super::Stats::tx_errors`] and move on.
    pub fn abandon_transmit(&mut self) {
        #[cfg(feature = "ack-with-data")]
        {
            self.planned_ack = None;
        }
        if let Some((plan, _)) = self.planned.take() {
            self.stats.tx_errors += 1;
            self.commit(plan);
        }
    }

    /// A writer that had everything acknowledged is about to send a new sample: its periodic
    /// HEARTBEAT and its slow after-burst one (`hb_soon_at`) count from now, so that its
    /// readers have the time to acknowledge by themselves (with their own data, section 10)
    /// before it asks. (Counted from its last HEARTBEAT instead, a steady reliable ping-pong
    /// sent a HEARTBEAT and got an ACKNACK after the first ping of every eighth of the
    /// period.) The fast rule, for a writer with a quarter of its samples unacknowledged,
    /// still counts from the last HEARTBEAT: a stream to readers that send nothing is not
    /// slowed.
    #[cfg(feature = "ack-with-data")]
    fn restart_heartbeat_clocks(wr: &mut LocalWriter<'a, H, M>, now: Instant, period: Duration) {
        if !Self::needs_heartbeat(wr) {
            wr.resumed = now;
            wr.hb_next = now + period;
        }
    }

    /// Without `ack-with-data` no acknowledgement comes with data: the clocks keep counting
    /// from the last HEARTBEAT.
    #[cfg(not(feature = "ack-with-data"))]
    #[inline(always)]
    fn restart_heartbeat_clocks(_: &mut LocalWriter<'a, H, M>, _: Instant, _: Duration) {}

    /// Nothing is due to send (the planner found nothing after the timers ran): until the
    /// earliest timer, or a change ([`Participant::tx_changed`]), the transmit and timeout
    /// polls need not plan. The bound also covers the reassembly timer, which a build without
    /// `fragmentation` leaves out of `poll_timeout` but `advance` still runs.
    /// Only the endpoints changed since the summary last looked (`scope`) have their timers
    /// worked out again; the others keep theirs.
    #[cfg(feature = "ack-with-data")]
    fn become_quiet(&mut self) {
        let scope = self.scope();
        let t = if scope == Scope::ALL {
            // Every endpoint's timer worked out again (free slots: none).
            let mut t = self.participant_timer();
            for wi in 0..self.w_hi {
                let new = self
                    .writers
                    .get(wi)
                    .and_then(Option::as_ref)
                    .map_or(Instant::MAX, |w| self.writer_timer(w));
                if let Some(slot) = self.w_timers.get_mut(wi) {
                    *slot = new;
                }
                t = t.min(new);
            }
            for ri in 0..self.r_hi {
                let new = self
                    .readers
                    .get(ri)
                    .and_then(Option::as_ref)
                    .map_or(Instant::MAX, Self::reader_timer);
                if let Some(slot) = self.r_timers.get_mut(ri) {
                    *slot = new;
                }
                t = t.min(new);
            }
            t
        } else {
            // As `next_timer_in`: the kept earliest timer holds unless its endpoint moved it
            // later.
            let mut t = self.quiet_timeout.unwrap_or(Instant::MAX);
            let mut rescan = false;
            for wi in scope.writers(0, self.w_hi) {
                let new = self
                    .writers
                    .get(wi)
                    .and_then(Option::as_ref)
                    .map_or(Instant::MAX, |w| self.writer_timer(w));
                if let Some(slot) = self.w_timers.get_mut(wi) {
                    rescan |= *slot <= t && new > *slot;
                    *slot = new;
                }
                t = t.min(new);
            }
            for ri in scope.readers(0, self.r_hi) {
                let new = self
                    .readers
                    .get(ri)
                    .and_then(Option::as_ref)
                    .map_or(Instant::MAX, Self::reader_timer);
                if let Some(slot) = self.r_timers.get_mut(ri) {
                    rescan |= *slot <= t && new > *slot;
                    *slot = new;
                }
                t = t.min(new);
            }
            if rescan {
                t = self.participant_timer();
                for tw in self.w_timers.iter().take(self.w_hi) {
                    t = t.min(*tw);
                }
                for tr in self.r_timers.iter().take(self.r_hi) {
                    t = t.min(*tr);
                }
            }
            t
        };
        self.dirty_w = 0;
        self.dirty_r = 0;
        self.slots_in_use = if self.w_hi < 63 && self.r_hi < 63 {
            ((1u64 << self.w_hi) - 1, (1u64 << self.r_hi) - 1)
        } else {
            (0, 0)
        };
        self.quiet_timeout = (t != Instant::MAX).then_some(t);
        self.quiet_until = if self.reassembly_check_at == Instant::MAX {
            t
        } else {
            t.min(self.reassembly_check_at + Duration::from_nanos(1))
        };
    }

    /// Debug builds: a quiet participant at `now` must be one the full planner and timer pass
    /// agree with (so that every simulator test checks the summary).
    #[cfg(all(debug_assertions, feature = "ack-with-data"))]
    pub(crate) fn check_quiet(&self, now: Instant) {
        assert!(
            self.plan_all(now).is_none(),
            "transmit summary: quiet, but {:?} is due",
            self.plan_all(now)
        );
        let t = self.next_timer();
        assert_eq!(
            self.quiet_timeout,
            (t != Instant::MAX).then_some(t),
            "transmit summary: stale timeout"
        );
        self.check_clean(now, Scope { w: 0, r: 0 });
    }

    /// Debug builds: with the summary holding at `now`, the participant's timers and every
    /// endpoint outside `scope` (those not changed since the summary looked) have nothing to
    /// do: the timer pass would leave them as they are, and their kept timers are right.
    #[cfg(all(debug_assertions, feature = "ack-with-data"))]
    pub(crate) fn check_clean(&self, now: Instant, scope: Scope) {
        assert!(now < self.quiet_until && now <= self.lease_check_at);
        assert!(now <= self.reassembly_check_at && now <= self.liveliness_check_at);
        assert!(self.closing || self.announce.is_some() || now < self.next_announce);
        assert!(self.closing || self.announce.is_some() || self.replies.is_empty());
        for (wi, w) in self.live_writers().iter().enumerate() {
            let Some(w) = w else { continue };
            if scope.has_w(wi) {
                continue;
            }
            assert_eq!(
                self.w_timers[wi],
                self.writer_timer(w),
                "transmit summary: writer {wi}'s kept timer"
            );
            assert!(now < self.w_timers[wi]);
            assert!(w.deadline_next.is_none_or(|d| now <= d));
            if let Some(life) = super::participant::lifespan_of(&w.info.qos)
                && let Some((_, m)) = w.history.get(w.history.first_seq())
            {
                assert!(now <= m.written + life);
            }
            // What `after_acks` would do: release (keep-all) or unblock.
            let min_acked = Self::min_acked(w);
            if w.history.kind() == super::history::HistoryKind::KeepAll {
                assert!(
                    w.history.is_empty() || w.history.first_seq() >= min_acked.min(w.sent_below)
                );
            }
            if w.blocked {
                let next = w.history.next_seq();
                let in_flight = next - min_acked.min(next);
                let room = match w.history.kind() {
                    super::history::HistoryKind::KeepAll => w.history.len() < H,
                    super::history::HistoryKind::KeepLast(_) => true,
                };
                let window = u64::from(self.config.reliable_window);
                assert!(!(room && (min_acked == u64::MAX || in_flight < window)));
            }
            #[cfg(feature = "fragmentation")]
            {
                let first = w.history.first_seq();
                assert!(w.frag_nacks.iter().flatten().all(|(seq, _)| *seq >= first));
                assert!(w.resend_cursor.is_none_or(|(seq, _)| seq >= first));
            }
        }
        for (ri, r) in self.live_readers().iter().enumerate() {
            let Some(r) = r else { continue };
            if scope.has_r(ri) {
                continue;
            }
            assert_eq!(
                self.r_timers[ri],
                Self::reader_timer(r),
                "transmit summary: reader {ri}'s kept timer"
            );
            assert!(now < self.r_timers[ri]);
            let has_writers = r.live().iter().flatten().next().is_some() || r.local_writers > 0;
            assert!(!has_writers || r.deadline_next.is_none_or(|d| now <= d));
        }
    }

    /// Reader `r`'s ACKNACK to matched writer `m`, asking for numbers below `asked_below`, was
    /// sent (or given up).
    fn commit_ack(&mut self, r: usize, m: usize, asked_below: u64) {
        if let Some(mw) = self.matched_writer_mut(r, m) {
            mw.ack_count = mw.ack_count.wrapping_add(1);
            mw.ack_due = false;
            mw.asked_below = asked_below;
            mw.acked_sent = mw.window.next();
        }
    }

    /// Move the state past `plan` (it was sent or given up).
    fn commit(&mut self, plan: Plan) {
        // What the frame changes: the participant's announcements, or one endpoint.
        match plan {
            Plan::Goodbye | Plan::Hello { .. } => self.tx_changed(),
            Plan::AckNack { r, .. } => self.reader_changed(r),
            #[cfg(feature = "fragmentation")]
            Plan::NackFrag { r, .. } => self.reader_changed(r),
            Plan::SyncHeartbeat { w, .. }
            | Plan::Heartbeat { w }
            | Plan::RepairHeartbeat { w, .. }
            | Plan::Liveliness { w }
            | Plan::Resend { w, .. }
            | Plan::Data { w, .. } => self.writer_changed(w),
            #[cfg(feature = "fragmentation")]
            Plan::FragRepair { w, .. } | Plan::ResendFrag { w, .. } | Plan::Frag { w, .. } => {
                self.writer_changed(w)
            }
            #[cfg(feature = "batching")]
            Plan::Batch { w, .. } => self.writer_changed(w),
        }
        let now = self.now;
        let hb_period = self.config.heartbeat_period;
        match plan {
            Plan::Goodbye => self.goodbyes_left = self.goodbyes_left.saturating_sub(1),
            Plan::Hello { count, .. } => {
                let total = self.announced_count();
                let n_static = self.config.static_peers.len();
                let Some(c) = self.announce.as_mut() else {
                    return;
                };
                c.first_index = c.first_index.saturating_add(u16::from(count));
                if usize::from(c.first_index) < total && count > 0 {
                    return;
                }
                let next = match c.target {
                    AnnounceTarget::Multicast if n_static > 0 => Some(AnnounceTarget::Static(0)),
                    AnnounceTarget::Static(i) if i + 1 < n_static => {
                        Some(AnnounceTarget::Static(i + 1))
                    }
                    _ => None,
                };
                self.announce = next.map(|target| AnnounceCursor {
                    target,
                    first_index: 0,
                });
                if self.announce.is_none()
                    && let Some(mac) = self.replies.pop_front()
                {
                    self.announce = Some(AnnounceCursor {
                        target: AnnounceTarget::Reply(mac),
                        first_index: 0,
                    });
                }
            }
            Plan::AckNack { r, m } => self.commit_ack(r, m, self.ack_end(r, m)),
            #[cfg(feature = "fragmentation")]
            Plan::NackFrag { r, m, base, .. } => {
                if let Some(mw) = self.matched_writer_mut(r, m) {
                    mw.nack_count = mw.nack_count.wrapping_add(1);
                    // The next window starts after this one's 256 fragments.
                    mw.nackfrag_from = base.saturating_add(SEQSET_BITS);
                    mw.nackfrag_left = mw.nackfrag_left.saturating_sub(1);
                    mw.nackfrag_due = mw.nackfrag_left > 0;
                }
            }
            Plan::SyncHeartbeat { w, p } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    wr.hb_count = wr.hb_count.wrapping_add(1);
                    if let Some(q) = wr.proxies.get_mut(p).and_then(Option::as_mut) {
                        q.sync_next = now + hb_period;
                    }
                }
            }
            Plan::RepairHeartbeat { w, p } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    wr.hb_count = wr.hb_count.wrapping_add(1);
                    if let Some(q) = wr.proxies.get_mut(p).and_then(Option::as_mut) {
                        q.repair_hb = false;
                    }
                    wr.recount_repairs();
                }
            }
            Plan::Liveliness { w } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    wr.hb_count = wr.hb_count.wrapping_add(1);
                    wr.assert_due = false;
                }
            }
            Plan::Heartbeat { w } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    wr.hb_count = wr.hb_count.wrapping_add(1);
                    wr.hb_next = now + hb_period;
                    wr.hb_last = now;
                    wr.hb_soon = false;
                }
            }
            #[cfg(feature = "fragmentation")]
            Plan::FragRepair { w, k, index, .. } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    if let Some((_, set)) = wr.frag_nacks[k].as_mut() {
                        set.remove(u64::from(index));
                        if set.is_empty() {
                            wr.frag_nacks[k] = None;
                            wr.frag_nacks_used -= 1;
                        }
                    }
                    self.stats.tx_resent += 1;
                    // Requesters get a HEARTBEAT naming them once the repairs are out; a
                    // multicast one only when nobody asked (history for a late joiner).
                    wr.hb_soon |= wr.repair_hbs == 0;
                }
            }
            #[cfg(feature = "fragmentation")]
            Plan::ResendFrag { w, seq, index } => {
                let fs = self.frag_size();
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    wr.resend.remove(seq);
                    let n = wr
                        .history
                        .sample_len(seq)
                        .map_or(0, |l| l.div_ceil(fs) as u32);
                    wr.resend_cursor = (index + 1 < n).then_some((seq, index + 1));
                    self.stats.tx_resent += 1;
                    // Requesters get a HEARTBEAT naming them once the repairs are out; a
                    // multicast one only when nobody asked (history for a late joiner).
                    wr.hb_soon |= wr.repair_hbs == 0;
                }
            }
            Plan::Resend { w, seq } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    wr.resend.remove(seq);
                    self.stats.tx_resent += 1;
                    // Requesters get a HEARTBEAT naming them once the repairs are out; a
                    // multicast one only when nobody asked (history for a late joiner).
                    wr.hb_soon |= wr.repair_hbs == 0;
                }
                self.rr_writer = (w + 1) % W.max(1);
            }
            Plan::Data { w, seq } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    Self::restart_heartbeat_clocks(wr, now, hb_period);
                    wr.sent_below = seq + 1;
                    wr.frag_next = 0;
                    wr.batch_until = None;
                    wr.hb_soon = true;
                }
                self.rr_writer = (w + 1) % W.max(1);
            }
            #[cfg(feature = "fragmentation")]
            Plan::Frag { w, seq, index } => {
                let fs = self.frag_size();
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    Self::restart_heartbeat_clocks(wr, now, hb_period);
                    let n = wr
                        .history
                        .sample_len(seq)
                        .map_or(0, |l| l.div_ceil(fs) as u32);
                    if index + 1 >= n {
                        wr.sent_below = seq + 1;
                        wr.frag_next = 0;
                    } else {
                        wr.frag_next = index + 1;
                    }
                    wr.batch_until = None;
                    wr.hb_soon = true;
                }
                self.rr_writer = (w + 1) % W.max(1);
            }
            #[cfg(feature = "batching")]
            Plan::Batch { w, first, count } => {
                if let Some(wr) = self.writers.get_mut(w).and_then(Option::as_mut) {
                    Self::restart_heartbeat_clocks(wr, now, hb_period);
                    wr.sent_below = first + u64::from(count);
                    wr.frag_next = 0;
                    wr.batch_until = None;
                    wr.hb_soon = true;
                }
                self.stats.tx_batched_samples += u64::from(count);
                self.rr_writer = (w + 1) % W.max(1);
            }
        }
    }
}
