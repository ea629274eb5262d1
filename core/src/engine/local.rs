//! Local matching: a writer and a reader of the same participant.
//!
//! The participant drops its own frames, so endpoints of one participant never see each other
//! on the wire. Instead they are matched here, with the rules of remote pairs (kinds, topic,
//! type and type hash, [`super::qos::compatible`]) and the same events, the `remote` id being
//! this participant's id and the other endpoint's entity id. A written sample goes straight
//! from the writer's history into each matched local reader's queue: no frame, no
//! fragmentation, no loss.
//!
//! Each match is a cursor in the writer's history (the next sequence number the reader has not
//! been offered). Best-effort readers are offered every sample at once (a full keep-all queue
//! drops it, as on the wire). A reliable reader whose queue is full keeps its cursor: the
//! sample stays in the writer's history, which counts it as unacknowledged, so the writer
//! meets the same backpressure as with a slow remote reader (`WouldBlock` when its window or
//! history is full, [`Event::Writable`] once the reader takes and the queue drains the
//! history). A transient-local pair starts the cursor at the oldest sample the writer holds,
//! so a late local reader gets the history.

#[cfg(feature = "local")]
use super::event::{Event, LocalEndpoint, ReaderHandle, RemoteId, WriterHandle};
use super::graph::EndpointKind;
#[cfg(feature = "local")]
use super::history::{SampleId, SampleMeta};
#[cfg(not(feature = "local"))]
use super::participant::EndpointError;
use super::participant::Participant;
#[cfg(feature = "local")]
use super::participant::{Role, queue_event};
#[cfg(feature = "local")]
use super::qos::{Durability, Reliability};

/// A writer's match with one reader of the same participant.
#[cfg(feature = "local")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalLink {
    /// Next sequence number of the writer that the reader was not offered yet.
    pub(crate) next: u64,
    /// The reader's slot.
    pub(crate) reader: u8,
    /// The reader is reliable: it holds the writer's history back until it has the samples.
    pub(crate) reliable: bool,
    /// The writer is alive as last reported to the reader ([`Event::LivelinessChanged`]).
    pub(crate) alive: bool,
}

/// A writer's matches with readers of the same participant (at most `M`, like its remote
/// matches; the two tables are separate).
#[cfg(feature = "local")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalLinks<const M: usize> {
    links: [Option<LocalLink>; M],
    /// `links[hi..]` are all `None`.
    hi: usize,
}

#[cfg(feature = "local")]
impl<const M: usize> LocalLinks<M> {
    pub(crate) const fn new() -> Self {
        LocalLinks {
            links: [None; M],
            hi: 0,
        }
    }

    /// Number of matched local readers.
    pub(crate) fn count(&self) -> usize {
        self.links[..self.hi].iter().flatten().count()
    }

    /// Whether a local reader may be matched (a look at the high-water mark, not the slots).
    #[inline(always)]
    pub(crate) fn may_have_any(&self) -> bool {
        self.hi > 0
    }

    /// The oldest sequence number a reliable local reader has not been given yet, at least
    /// `first` (older ones are gone from the history); `u64::MAX` without reliable local
    /// readers. Counts as unacknowledged for the writer's history and window.
    pub(crate) fn min_pending(&self, first: u64) -> u64 {
        self.links[..self.hi]
            .iter()
            .flatten()
            .filter(|l| l.reliable)
            .map(|l| l.next.max(first))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// True if every reliable local reader was given every sample below `next`.
    pub(crate) fn all_delivered(&self, next: u64) -> bool {
        self.links[..self.hi]
            .iter()
            .flatten()
            .all(|l| !l.reliable || l.next >= next)
    }

    fn find(&self, reader: usize) -> Option<usize> {
        self.links[..self.hi]
            .iter()
            .position(|l| l.is_some_and(|l| usize::from(l.reader) == reader))
    }

    fn insert(&mut self, link: LocalLink) -> Option<usize> {
        let free = self.links.iter().position(Option::is_none)?;
        self.links[free] = Some(link);
        self.hi = self.hi.max(free + 1);
        Some(free)
    }

    fn remove(&mut self, i: usize) -> Option<LocalLink> {
        let l = self.links.get_mut(i)?.take();
        while self.hi > 0 && self.links[self.hi - 1].is_none() {
            self.hi -= 1;
        }
        l
    }

    fn iter(&self) -> impl Iterator<Item = (usize, &LocalLink)> {
        self.links[..self.hi]
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|l| (i, l)))
    }
}

/// Whether a writer of kind `w` serves a reader of kind `r` (a topic's publisher its
/// subscribers, a client's requests the servers, a server's replies the clients).
pub(crate) fn kinds_pair(w: EndpointKind, r: EndpointKind) -> bool {
    matches!(
        (w, r),
        (EndpointKind::Publisher, EndpointKind::Subscriber)
            | (EndpointKind::ServiceClient, EndpointKind::ServiceServer)
            | (EndpointKind::ServiceServer, EndpointKind::ServiceClient)
    )
}

#[cfg(feature = "local")]
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
    /// Match new writer `wi` with the local readers.
    pub(crate) fn match_local_pairs_of_writer(&mut self, wi: usize) {
        for ri in 0..self.r_hi {
            self.try_match_local(wi, ri);
        }
    }

    /// Match new reader `ri` with the local writers.
    pub(crate) fn match_local_pairs_of_reader(&mut self, ri: usize) {
        for wi in 0..self.w_hi {
            self.try_match_local(wi, ri);
        }
    }

    fn try_match_local(&mut self, wi: usize, ri: usize) {
        let (Some(w), Some(r)) = (self.writers[wi].as_ref(), self.readers[ri].as_ref()) else {
            return;
        };
        if !kinds_pair(w.info.kind, r.info.kind)
            || !Self::names_match(&w.info, &r.info)
            || w.local.find(ri).is_some()
        {
            return;
        }
        let writer = WriterHandle {
            index: wi as u8,
            entity: w.entity,
        };
        let reader = ReaderHandle {
            index: ri as u8,
            entity: r.entity,
        };
        let (w_id, r_id) = (
            RemoteId {
                participant: self.id,
                entity: w.entity,
            },
            RemoteId {
                participant: self.id,
                entity: r.entity,
            },
        );
        if let Err(policy) = super::qos::compatible(&w.info.qos, &r.info.qos) {
            self.push_event(Event::IncompatibleQos {
                local: LocalEndpoint::Writer(writer),
                remote: r_id,
                policy,
            });
            self.push_event(Event::IncompatibleQos {
                local: LocalEndpoint::Reader(reader),
                remote: w_id,
                policy,
            });
            return;
        }
        let late_joiner = cfg!(feature = "transient-local")
            && w.info.qos.durability == Durability::TransientLocal
            && r.info.qos.durability == Durability::TransientLocal;
        let link = LocalLink {
            next: if late_joiner {
                w.history.first_seq()
            } else {
                w.history.next_seq()
            },
            reader: ri as u8,
            reliable: r.info.qos.reliability == Reliability::Reliable,
            alive: !w.live_lost,
        };
        let now = self.now;
        let Some(li) = self
            .writers
            .get_mut(wi)
            .and_then(Option::as_mut)
            .and_then(|w| w.local.insert(link))
        else {
            self.stats.matches_full += 1;
            return;
        };
        if let Some(r) = self.readers[ri].as_mut() {
            r.local_writers += 1;
            if r.deadline_next.is_none() {
                r.deadline_next = super::participant::deadline_of(&r.info.qos).map(|d| now + d);
            }
        }
        self.push_event(Event::Matched {
            local: LocalEndpoint::Writer(writer),
            remote: r_id,
        });
        self.push_event(Event::Matched {
            local: LocalEndpoint::Reader(reader),
            remote: w_id,
        });
        // Alive on match, as a remote writer; one whose manual lease already ran out is
        // reported not alive at once (a remote reader would see that after the lease).
        self.push_event(Event::LivelinessChanged {
            reader,
            remote: w_id,
            alive: true,
        });
        if !link.alive {
            self.push_event(Event::LivelinessChanged {
                reader,
                remote: w_id,
                alive: false,
            });
        }
        // A transient-local reader gets the history at once.
        self.pump_local(wi, li);
    }

    /// Offer reader `link.reader` what writer `wi` wrote since its cursor: every sample to a
    /// best-effort reader, to a reliable one as many as its queue takes.
    fn pump_local(&mut self, wi: usize, li: usize) {
        let now = self.now;
        let own = self.id;
        let max_len = self.config.max_sample_len;
        let Self {
            writers,
            readers,
            stats,
            events,
            ..
        } = self;
        let Some(w) = writers[wi].as_mut() else {
            return;
        };
        let Some(Some(link)) = w.local.links.get_mut(li) else {
            return;
        };
        let ri = usize::from(link.reader);
        let Some(r) = readers[ri].as_mut() else {
            return;
        };
        let first = w.history.first_seq();
        if link.next < first {
            // Gone before the reader got them (lifespan, or a keep-last best-effort history).
            let count = first - link.next;
            link.next = first;
            if link.reliable {
                stats.samples_lost += count;
                let e = Event::SamplesLost {
                    reader: ReaderHandle {
                        index: ri as u8,
                        entity: r.entity,
                    },
                    remote: RemoteId {
                        participant: own,
                        entity: w.entity,
                    },
                    count,
                };
                queue_event(events, stats, e);
            }
        }
        while link.next < w.history.next_seq() {
            let seq = link.next;
            let Some((data, meta)) = w.history.get(seq) else {
                link.next += 1;
                continue;
            };
            // A client queues only the replies to its own requests (as from the wire).
            let foreign_reply = cfg!(feature = "services")
                && r.role == Role::Client
                && !meta
                    .related
                    .is_some_and(|rel| rel.participant == own && rel.entity == r.entity);
            if foreign_reply {
                link.next += 1;
                continue;
            }
            if data.len() > r.queue.capacity_bytes() || data.len() > max_len {
                // Never deliverable (as a too large sample from the wire).
                stats.rx_too_large += 1;
                link.next += 1;
                continue;
            }
            let m = SampleMeta {
                written: now,
                related: meta.related,
                origin: Some(SampleId {
                    participant: own,
                    entity: w.entity,
                    seq,
                }),
            };
            match r.queue.push(data, m, |_| !link.reliable) {
                Ok(_) => r.sample_queued(ri, now, stats, events),
                // Reliable: the sample waits in the writer's history until the reader takes.
                Err(_) if link.reliable => return,
                // Best effort with a full keep-all queue: dropped, as from the wire.
                Err(_) => stats.rx_queue_full += 1,
            }
            link.next += 1;
        }
    }

    /// Writer `wi` wrote (or asserted itself): hand the new sample to its local readers.
    pub(crate) fn local_after_write(&mut self, wi: usize) {
        let hi = self.writers[wi].as_ref().map_or(0, |w| w.local.hi);
        for li in 0..hi {
            self.pump_local(wi, li);
        }
        self.local_liveliness(wi, true);
    }

    /// Reader `ri` took a sample: its local writers may hand it more, and a writer held back
    /// by it may be writable again.
    pub(crate) fn local_after_take(&mut self, ri: usize) {
        if self.readers[ri]
            .as_ref()
            .is_none_or(|r| r.local_writers == 0)
        {
            return;
        }
        // Local writers' windows move: releases, unblocking, what they may send.
        self.tx_changed();
        for wi in 0..self.w_hi {
            let Some(li) = self.writers[wi].as_ref().and_then(|w| w.local.find(ri)) else {
                continue;
            };
            self.pump_local(wi, li);
            self.after_acks(wi);
        }
    }

    /// Writer `wi`'s liveliness is now `alive` (a manual writer's lease ran out, or it
    /// asserted itself again): tell its local readers whose view changes.
    pub(crate) fn local_liveliness(&mut self, wi: usize, alive: bool) {
        let Some(w) = self.writers[wi].as_mut() else {
            return;
        };
        let remote = RemoteId {
            participant: self.id,
            entity: w.entity,
        };
        for l in w.local.links[..w.local.hi].iter_mut().flatten() {
            if l.alive == alive {
                continue;
            }
            l.alive = alive;
            let ri = usize::from(l.reader);
            let Some(r) = self.readers[ri].as_ref() else {
                continue;
            };
            let reader = ReaderHandle {
                index: ri as u8,
                entity: r.entity,
            };
            queue_event(
                &mut self.events,
                &mut self.stats,
                Event::LivelinessChanged {
                    reader,
                    remote,
                    alive,
                },
            );
        }
    }

    /// Writer `wi` (entity `entity`, already out of its slot) was deleted with these local
    /// matches: end them.
    pub(crate) fn unmatch_local_writer(&mut self, wi: usize, entity: u32, links: &LocalLinks<M>) {
        let writer = WriterHandle {
            index: wi as u8,
            entity,
        };
        let w_id = RemoteId {
            participant: self.id,
            entity,
        };
        for (_, l) in links.iter() {
            let ri = usize::from(l.reader);
            let Some(r) = self.readers[ri].as_mut() else {
                continue;
            };
            r.local_writers = r.local_writers.saturating_sub(1);
            let reader = ReaderHandle {
                index: ri as u8,
                entity: r.entity,
            };
            let r_id = RemoteId {
                participant: self.id,
                entity: r.entity,
            };
            self.push_event(Event::Unmatched {
                local: LocalEndpoint::Writer(writer),
                remote: r_id,
            });
            if l.alive {
                self.push_event(Event::LivelinessChanged {
                    reader,
                    remote: w_id,
                    alive: false,
                });
            }
            self.push_event(Event::Unmatched {
                local: LocalEndpoint::Reader(reader),
                remote: w_id,
            });
        }
    }

    /// Reader `ri` (entity `entity`, already out of its slot) was deleted: end its local
    /// matches; writers it held back may be writable again.
    pub(crate) fn unmatch_local_reader(&mut self, ri: usize, entity: u32) {
        let reader = ReaderHandle {
            index: ri as u8,
            entity,
        };
        let r_id = RemoteId {
            participant: self.id,
            entity,
        };
        for wi in 0..self.w_hi {
            let Some(w) = self.writers[wi].as_mut() else {
                continue;
            };
            let Some(li) = w.local.find(ri) else {
                continue;
            };
            w.local.remove(li);
            let writer = WriterHandle {
                index: wi as u8,
                entity: w.entity,
            };
            let w_id = RemoteId {
                participant: self.id,
                entity: w.entity,
            };
            self.push_event(Event::Unmatched {
                local: LocalEndpoint::Writer(writer),
                remote: r_id,
            });
            self.push_event(Event::Unmatched {
                local: LocalEndpoint::Reader(reader),
                remote: w_id,
            });
            self.after_acks(wi);
        }
    }
}

// Without the `local` feature: no matching inside a participant. Creating an endpoint that would
// match one of the participant's own is refused (`EndpointError::Unsupported`,
// `Participant::refuse_local_pair`), so no pair is left silently unmatched; the rest of the
// engine sees a writer without local readers.

/// A writer's matches with readers of the same participant: none without the `local` feature.
#[cfg(not(feature = "local"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalLinks<const M: usize>;

#[cfg(not(feature = "local"))]
impl<const M: usize> LocalLinks<M> {
    pub(crate) const fn new() -> Self {
        LocalLinks
    }
    pub(crate) fn count(&self) -> usize {
        0
    }
    #[inline(always)]
    pub(crate) fn may_have_any(&self) -> bool {
        false
    }
    pub(crate) fn min_pending(&self, _first: u64) -> u64 {
        u64::MAX
    }
    pub(crate) fn all_delivered(&self, _next: u64) -> bool {
        true
    }
}

#[cfg(not(feature = "local"))]
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
    /// `Err(Unsupported)` if an endpoint announced as `info` (a writer if `writer`) would match
    /// an endpoint of this participant.
    pub(crate) fn refuse_local_pair(
        &self,
        info: &super::graph::EndpointInfo,
        writer: bool,
    ) -> Result<(), EndpointError> {
        let pairs = if writer {
            self.live_readers()
                .iter()
                .flatten()
                .any(|r| kinds_pair(info.kind, r.info.kind) && Self::names_match(info, &r.info))
        } else {
            self.live_writers()
                .iter()
                .flatten()
                .any(|w| kinds_pair(w.info.kind, info.kind) && Self::names_match(&w.info, info))
        };
        if pairs {
            Err(EndpointError::Unsupported)
        } else {
            Ok(())
        }
    }
    pub(crate) fn match_local_pairs_of_writer(&mut self, _wi: usize) {}
    pub(crate) fn match_local_pairs_of_reader(&mut self, _ri: usize) {}
    pub(crate) fn local_after_write(&mut self, _wi: usize) {}
    pub(crate) fn local_after_take(&mut self, _ri: usize) {}
    pub(crate) fn local_liveliness(&mut self, _wi: usize, _alive: bool) {}
    pub(crate) fn unmatch_local_writer(
        &mut self,
        _wi: usize,
        _entity: u32,
        _links: &LocalLinks<M>,
    ) {
    }
    pub(crate) fn unmatch_local_reader(&mut self, _ri: usize, _entity: u32) {}
}
