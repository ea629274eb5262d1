//! The two halves of reliable delivery, without I/O: a reader's receive window over one matched
//! writer, and a writer's view of one matched reader (a "proxy").
//!
//! * The reader delivers sequence number `next` and only `next`; samples after a gap are held
//!   (up to [`SEQSET_BITS`] ahead) and released when the gap fills. Its ACKNACK says "everything
//!   below `next` arrived" plus a bitmap of the missing numbers from `next` on.
//! * The writer keeps, per reader, the lowest unacknowledged number. Only ACKNACKs with a newer
//!   count than the last one are applied (replays and reordered duplicates are stale), and an
//!   ACKNACK acknowledging numbers the writer never sent is forged.
//! * Flow control: a reader's ACKNACK may end its bitmap where its room ends (the samples its
//!   queue and hold slots can still take); the writer then sends nothing from there on to it
//!   until a later ACKNACK moves that end ([`ReaderProxy::room_end`]).

use super::seqset::{SEQSET_BITS, SeqSet};

/// What a reader should do with an arriving sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// It is the next one: deliver it now, then call [`ReaderWindow::delivered`].
    Deliver,
    /// It is ahead of a gap: hold it, then call [`ReaderWindow::held`].
    Hold,
    /// Already delivered or already held.
    Duplicate,
    /// Too far ahead to hold, or the window is not synchronised yet: drop (the writer resends).
    OutOfWindow,
}

/// A reliable reader's state for one matched writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderWindow {
    next: u64,
    held: SeqSet,
    synced: bool,
}

impl Default for ReaderWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReaderWindow {
    /// A window that waits for the writer to say where to start.
    pub const fn new() -> Self {
        ReaderWindow {
            next: 0,
            held: SeqSet::new(0, SEQSET_BITS),
            synced: false,
        }
    }

    /// True once the writer told us the first number for us.
    pub const fn is_synced(&self) -> bool {
        self.synced
    }

    /// The next sequence number to deliver.
    pub const fn next(&self) -> u64 {
        self.next
    }

    /// The writer says samples below `first` are not (or no longer) available to this reader.
    /// Synchronises a new window, or skips a synchronised one forward. Returns how many
    /// sequence numbers were skipped without delivery (lost), and the number of held samples
    /// below `first` that the caller must drop (they are counted in the first value too).
    pub fn skip_to(&mut self, first: u64) -> u64 {
        let first = first.max(1);
        if !self.synced {
            self.synced = true;
            self.next = first;
            self.held = SeqSet::new(first, SEQSET_BITS);
            return 0;
        }
        if first <= self.next {
            return 0;
        }
        let lost = first - self.next;
        self.next = first;
        self.held.advance_to(first);
        lost
    }

    /// Classify an arriving sample.
    pub fn arrival(&self, seq: u64) -> Arrival {
        if !self.synced || seq == 0 {
            Arrival::OutOfWindow
        } else if seq < self.next || self.held.contains(seq) {
            Arrival::Duplicate
        } else if seq == self.next {
            Arrival::Deliver
        } else if seq - self.next < u64::from(SEQSET_BITS) {
            Arrival::Hold
        } else {
            Arrival::OutOfWindow
        }
    }

    /// Record that `seq` (ahead of a gap) is now held.
    pub fn held(&mut self, seq: u64) {
        self.held.insert(seq);
    }

    /// Forget that `seq` is held (its bytes were lost), so it is requested again.
    pub fn unhold(&mut self, seq: u64) {
        self.held.remove(seq);
    }

    /// Record that `next` was delivered. Returns true if the new `next` is already held, so the
    /// caller should deliver it from its holding area too.
    pub fn delivered(&mut self) -> bool {
        self.next += 1;
        self.held.advance_to(self.next);
        self.held.contains(self.next)
    }

    /// The bitmap of an ACKNACK whose base is `next` and that ends before `end` (at most 256
    /// numbers after `next`): a bit for each number known to exist (up to `writer_last`) that
    /// has not arrived. Past `writer_last` the bits stay clear (the span still tells the writer
    /// where the reader's room ends).
    pub fn missing(&self, writer_last: u64, end: u64) -> SeqSet {
        let end = end.min(self.next.saturating_add(u64::from(SEQSET_BITS)));
        let mut m = SeqSet::new(self.next, end.saturating_sub(self.next) as u32);
        for s in self.next..end.min(writer_last.saturating_add(1)) {
            if !self.held.contains(s) {
                m.insert(s);
            }
        }
        m
    }

    /// Held numbers (ahead of `next`).
    pub fn held_set(&self) -> &SeqSet {
        &self.held
    }
}

/// Why an ACKNACK was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckError {
    /// Its count is not newer than the last applied one (a duplicate, reordered or replayed
    /// frame).
    Stale,
    /// It acknowledges sequence numbers the writer never sent.
    Forged,
}

/// A reliable writer's state for one matched reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderProxy {
    /// Every number below this one is acknowledged.
    acked_below: u64,
    /// The first number this reader is entitled to (set when matched).
    start: u64,
    last_count: Option<u32>,
    /// The first number the reader has no room for: `start` until its first ACKNACK (the
    /// writer does not know its room yet), then what its last ACKNACK said, or `u64::MAX` if
    /// that had no room flag (a reader that predates flow control).
    room_end: u64,
    /// The reader has not acknowledged the start yet: keep telling it where to start.
    pub needs_sync: bool,
}

impl ReaderProxy {
    /// A proxy for a reader that is entitled to samples from `start` on.
    pub const fn new(start: u64) -> Self {
        ReaderProxy {
            acked_below: start,
            start,
            last_count: None,
            room_end: start,
            needs_sync: true,
        }
    }

    /// Every number below this one is acknowledged by the reader (or was never meant for it).
    pub const fn acked_below(&self) -> u64 {
        self.acked_below
    }

    /// First number the reader is entitled to.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// The first number the reader has no room for: the writer sends it nothing from here on
    /// (new samples or repairs) until a later ACKNACK moves the end.
    pub const fn room_end(&self) -> u64 {
        self.room_end
    }

    /// The writer should keep sending HEARTBEATs to this reader: it has not acknowledged
    /// everything sent (`sent_below > 1`: something was), or samples below `next` wait for
    /// its room. (Without the second, an ACKNACK that announces room and is lost would stall
    /// the stream: the HEARTBEAT's answer announces it again.)
    pub const fn wants_heartbeat(&self, sent_below: u64, next: u64) -> bool {
        let sent = if sent_below < next { sent_below } else { next };
        (sent_below > 1 && self.acked_below < sent) || (self.room_end <= sent_below && sent < next)
    }

    /// Apply an ACKNACK whose base is `set.base()` ("all below arrived") and whose bits are the
    /// missing numbers; with `room` (the flag) its span also ends the reader's room, without it
    /// the reader sets no end (it predates flow control). `writer_last`
    /// is the newest number the writer has sent. On success returns the requested numbers the
    /// writer should resend (members `>= acked_below`).
    pub fn on_acknack(
        &mut self,
        set: &SeqSet,
        count: u32,
        writer_last: u64,
        room: bool,
    ) -> Result<SeqSet, AckError> {
        if set.base() > writer_last.saturating_add(1) || set.base() == 0 {
            return Err(AckError::Forged);
        }
        if self.last_count.is_some_and(|c| count <= c) {
            return Err(AckError::Stale);
        }
        self.last_count = Some(count);
        if set.base() >= self.start {
            self.needs_sync = false;
        }
        if set.base() > self.acked_below {
            self.acked_below = set.base();
        }
        self.room_end = if room {
            set.base() + u64::from(set.num_bits())
        } else {
            u64::MAX
        };
        let span = writer_last
            .saturating_add(1)
            .saturating_sub(self.acked_below)
            .min(u64::from(SEQSET_BITS)) as u32;
        let mut req = SeqSet::new(self.acked_below, span);
        // Bits below the acknowledgement or past what the writer sent are ignored, not trusted.
        // (An empty set, the steady state, is not walked; builds without `ack-with-data`, the
        // firmware's, walk it to stay small.)
        if !cfg!(feature = "ack-with-data") || !set.is_empty() {
            for s in set.iter() {
                req.insert(s);
            }
        }
        Ok(req)
    }

    /// The history no longer holds numbers below `first`: anything older is as good as
    /// acknowledged, and the reader must be told to skip.
    pub fn history_released_below(&mut self, first: u64) {
        if first > self.acked_below {
            self.acked_below = first;
            self.needs_sync = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reader_delivers_in_order_and_reports_gaps() {
        let mut w = ReaderWindow::new();
        assert_eq!(w.arrival(1), Arrival::OutOfWindow);
        w.skip_to(5);
        assert_eq!(w.arrival(4), Arrival::Duplicate);
        assert_eq!(w.arrival(6), Arrival::Hold);
        w.held(6);
        assert_eq!(w.arrival(6), Arrival::Duplicate);
        let m = w.missing(8, u64::MAX);
        assert_eq!(m.base(), 5);
        assert_eq!(m.num_bits(), 256);
        assert_eq!(
            m.iter().collect::<heapless::Vec<u64, 8>>().as_slice(),
            &[5, 7, 8]
        );
        // Ending at the room: the span says where; no bits past the writer's newest.
        let m = w.missing(8, 7);
        assert_eq!((m.num_bits(), m.iter().count()), (2, 1));
        assert_eq!(w.missing(6, 9).iter().count(), 1);
        assert_eq!(w.arrival(5), Arrival::Deliver);
        assert!(w.delivered());
        assert!(!w.delivered());
        assert_eq!(w.next(), 7);
        assert_eq!(w.arrival(7 + 256), Arrival::OutOfWindow);
        assert_eq!(w.skip_to(10), 3);
        assert_eq!(w.next(), 10);
    }

    #[test]
    fn proxy_rejects_stale_and_forged() {
        let mut p = ReaderProxy::new(1);
        let ack = |base, bits: &[u64]| {
            let mut s = SeqSet::new(base, 16);
            for b in bits {
                s.insert(*b);
            }
            s
        };
        assert_eq!(
            p.on_acknack(&ack(12, &[]), 1, 10, false),
            Err(AckError::Forged)
        );
        let req = p.on_acknack(&ack(3, &[3, 5, 40]), 1, 10, false).unwrap();
        assert_eq!(
            req.iter().collect::<heapless::Vec<u64, 8>>().as_slice(),
            &[3, 5]
        );
        assert_eq!(p.acked_below(), 3);
        assert_eq!(p.room_end(), u64::MAX);
        assert_eq!(
            p.on_acknack(&ack(9, &[]), 1, 10, false),
            Err(AckError::Stale)
        );
        // A newer ACKNACK with an older base does not move the acknowledgement back.
        p.on_acknack(&ack(2, &[2]), 2, 10, false).unwrap();
        assert_eq!(p.acked_below(), 3);
    }

    #[test]
    fn proxy_room_end_and_heartbeats() {
        let mut p = ReaderProxy::new(1);
        // Nothing is sent before the reader's first ACKNACK says how much it can take.
        assert_eq!(p.room_end(), 1);
        assert!(!p.wants_heartbeat(1, 1));
        // Samples wait: keep asking (the start synchronisation does, too).
        assert!(p.wants_heartbeat(1, 5));
        // Sent 1..=4, none acknowledged.
        assert!(p.wants_heartbeat(5, 9));
        // All sent are acknowledged, the reader has room for 5..=6 only.
        p.on_acknack(&SeqSet::new(5, 2), 1, 4, true).unwrap();
        assert_eq!((p.acked_below(), p.room_end()), (5, 7));
        assert!(!p.wants_heartbeat(5, 9));
        // 5 and 6 sent and acknowledged, 7 and 8 wait for room: keep asking.
        p.on_acknack(&SeqSet::new(7, 0), 2, 6, true).unwrap();
        assert_eq!(p.room_end(), 7);
        assert!(p.wants_heartbeat(7, 9));
        assert!(!p.wants_heartbeat(7, 7));
        // A reader without the flag (it predates flow control) sets no end.
        p.on_acknack(&SeqSet::new(7, 0), 3, 6, false).unwrap();
        assert_eq!(p.room_end(), u64::MAX);
    }

    proptest! {
        /// A writer and a reader exchanging samples and ACKNACKs over a channel that loses,
        /// duplicates and reorders: the reader delivers every sample exactly once, in order.
        #[test]
        fn exactly_once_in_order(n in 1u64..200,
                                 decisions in proptest::collection::vec(0u8..10, 2000)) {
            extern crate std;
            use std::vec::Vec;
            // The reader takes in at most `ROOM` samples past `next` and says so.
            const ROOM: u64 = 24;
            let mut reader = ReaderWindow::new();
            reader.skip_to(1);
            let mut proxy = ReaderProxy::new(1);
            let mut held: Vec<u64> = Vec::new();
            let mut delivered: Vec<u64> = Vec::new();
            let mut in_flight: Vec<u64> = Vec::new();
            let mut sent = 0u64;
            let mut count = 0u32;
            let mut d = decisions.iter().cycle();
            for _round in 0..4000 {
                if delivered.len() as u64 == n { break; }
                // writer sends new samples (window 64) or the ones the reader asked for
                while sent < n && sent + 1 - proxy.acked_below() < 64
                    && sent + 1 < proxy.room_end() {
                    sent += 1;
                    in_flight.push(sent);
                }
                // channel: lose (30 %), duplicate, reorder
                let mut arrived = Vec::new();
                for s in in_flight.drain(..) {
                    match d.next().copied().unwrap_or(0) {
                        0..=2 => {}
                        3 => { arrived.push(s); arrived.push(s); }
                        _ => arrived.push(s),
                    }
                }
                if arrived.len() > 1 { let k = arrived.len() / 2; arrived.swap(0, k); }
                for s in arrived {
                    match reader.arrival(s) {
                        Arrival::Deliver => {
                            delivered.push(s);
                            let mut more = reader.delivered();
                            while more {
                                let next = reader.next();
                                held.retain(|h| *h != next);
                                delivered.push(next);
                                more = reader.delivered();
                            }
                        }
                        Arrival::Hold if s < reader.next() + ROOM => {
                            reader.held(s);
                            held.push(s);
                        }
                        Arrival::Hold | Arrival::Duplicate | Arrival::OutOfWindow => {}
                    }
                }
                // reader answers a heartbeat with an ACKNACK (which may be lost too)
                count += 1;
                let ack = reader.missing(sent, reader.next() + ROOM);
                if d.next().copied().unwrap_or(0) > 2
                    && let Ok(req) = proxy.on_acknack(&ack, count, sent, true) {
                        // Flow control: nothing is ever sent past the reader's room.
                        prop_assert!(req.iter().all(|s| s < proxy.room_end()));
                        in_flight.extend(req.iter());
                    }
            }
            let expect: Vec<u64> = (1..=n).collect();
            prop_assert_eq!(delivered, expect);
        }
    }
}
