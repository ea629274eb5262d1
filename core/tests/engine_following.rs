//! Receiving frames with messages after the first (docs/PROTOCOL.md section 2), whatever the
//! build's features: the first message always stands; a following message of another sender,
//! domain or version is counted once and ends the frame; one addressed to another participant
//! is unmatched; padding is nothing. A build without `ack-with-data` reads no following
//! message: all of it is padding, nothing is counted.

use std::time::Duration;

use l2net_core::engine::{Config, Participant, Qos, ReaderHandle, Stats, WriterHandle};
use l2net_core::wire::frame::emit_message;
use l2net_core::wire::msg::{AckNackRepr, MessageRepr, SeqSet};
use l2net_core::wire::{EntityId, ParticipantId};
use l2net_core::{Instant, MacAddr, RxMeta};

type Part = Participant<'static, 4, 16, 2, 2, 16, 4, 4>;

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

struct Pair {
    a: Part,
    b: Part,
    w: WriterHandle,
    r: ReaderHandle,
    now: Instant,
}

const A_ID: u64 = 0xa11ce;

impl Pair {
    /// `a` writes reliable keep-last(4) samples on `t`, `b` reads them; matched.
    fn new() -> Pair {
        let now = Instant::from_millis(1);
        let mut a = Part::new(
            Config::new(9, "a"),
            A_ID,
            MacAddr([2, 0, 0, 0, 0, 1]),
            leak(1 << 18),
            now,
        )
        .unwrap();
        let mut b = Part::new(
            Config::new(9, "b"),
            0xb0b,
            MacAddr([2, 0, 0, 0, 0, 2]),
            leak(1 << 18),
            now,
        )
        .unwrap();
        let w = a
            .create_writer("t", "T", None, Qos::reliable(4), leak(1 << 14))
            .unwrap();
        let r = b
            .create_reader("t", "T", None, Qos::reliable(4), leak(1 << 14))
            .unwrap();
        let mut pair = Pair { a, b, w, r, now };
        for _ in 0..2000 {
            pair.exchange(|_| {});
            if pair.a.writer_matches(w) == 1 && pair.b.reader_matches(r) == 1 {
                break;
            }
        }
        assert_eq!(pair.a.writer_matches(w), 1, "never matched");
        // Let the start synchronisation finish.
        for _ in 0..200 {
            pair.exchange(|_| {});
        }
        pair
    }

    /// Move frames both ways until quiet, a's to b through `tweak`; then 1 ms passes.
    fn exchange(&mut self, mut tweak: impl FnMut(&mut Vec<u8>)) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(len) = self.a.poll_transmit(now) {
                let mut buf = vec![0u8; len];
                self.a.write_transmit(&mut buf).unwrap();
                if buf[15] == 0x10 {
                    tweak(&mut buf);
                }
                self.b.handle_frame(&buf, RxMeta::new(buf.len()), now);
                moved = true;
            }
            while let Some(len) = self.b.poll_transmit(now) {
                let mut buf = vec![0u8; len];
                self.b.write_transmit(&mut buf).unwrap();
                self.a.handle_frame(&buf, RxMeta::new(buf.len()), now);
                moved = true;
            }
            while self.a.poll_event().is_some() {}
            while self.b.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
        self.now += Duration::from_millis(1);
    }

    /// `a` writes one sample whose DATA frame `tweak` changes on its way; b's counters before
    /// and after, and whether b could take the sample.
    fn send(&mut self, tweak: impl FnMut(&mut Vec<u8>)) -> (Stats, Stats, bool) {
        let before = *self.b.stats();
        self.a.write(self.w, b"sample", self.now).unwrap();
        self.exchange(tweak);
        let mut buf = [0u8; 64];
        let took = self.b.take(self.r, &mut buf).unwrap().is_some();
        (before, *self.b.stats(), took)
    }
}

/// An ACKNACK to `writer_participant`, from reader entity 77.
fn ack(writer_participant: u64) -> MessageRepr<'static> {
    MessageRepr::AckNack(AckNackRepr {
        is_final: false,
        room: true,
        writer_participant: ParticipantId::new(writer_participant).unwrap(),
        writer: EntityId(5),
        reader: EntityId(77),
        count: 1,
        missing: SeqSet::new(1, 0).unwrap(),
    })
}

/// Append a message after the frame's first one (untagged: it ends at 30 + length).
fn append(frame: &mut Vec<u8>, domain: u16, sender: u64, msg: &MessageRepr<'_>) {
    let end = 30 + usize::from(u16::from_be_bytes([frame[20], frame[21]]));
    frame.truncate(end);
    let at = frame.len();
    frame.resize(at + 16 + msg.buffer_len(), 0);
    emit_message(
        &mut frame[at..],
        domain,
        ParticipantId::new(sender).unwrap(),
        msg,
    )
    .unwrap();
}

#[test]
fn following_messages_are_checked_one_by_one() {
    let mut p = Pair::new();
    // What a following message adds to a counter: nothing where none is read.
    let one = u64::from(cfg!(feature = "ack-with-data"));

    // Padding only: the sample, nothing counted.
    let (s0, s1, took) = p.send(|f| f.extend_from_slice(&[0; 40]));
    assert!(took);
    assert_eq!(s1.rx_malformed, s0.rx_malformed);
    assert_eq!(s1.rx_unmatched, s0.rx_unmatched);

    // Another sender after a's DATA: malformed, the DATA still delivered.
    let (s0, s1, took) = p.send(|f| append(f, 9, 0xbad, &ack(0xb0b)));
    assert!(took);
    assert_eq!(s1.rx_malformed, s0.rx_malformed + one);

    // Another domain: the same.
    let (s0, s1, took) = p.send(|f| append(f, 8, A_ID, &ack(0xb0b)));
    assert!(took);
    assert_eq!(s1.rx_malformed, s0.rx_malformed + one);

    // Another version: counted as such.
    let (s0, s1, took) = p.send(|f| {
        append(f, 9, A_ID, &ack(0xb0b));
        let end = 30 + usize::from(u16::from_be_bytes([f[20], f[21]]));
        f[end] = 2;
    });
    assert!(took);
    assert_eq!(s1.rx_bad_version, s0.rx_bad_version + one);
    assert_eq!(s1.rx_malformed, s0.rx_malformed);

    // An ACKNACK for another participant's writer: unmatched, nothing else.
    let (s0, s1, took) = p.send(|f| append(f, 9, A_ID, &ack(0xc0ffee)));
    assert!(took);
    assert_eq!(s1.rx_unmatched, s0.rx_unmatched + one);
    assert_eq!(s1.rx_malformed, s0.rx_malformed);

    // An ACKNACK for b, but from a reader b does not know (a has none): unmatched too.
    let (s0, s1, took) = p.send(|f| append(f, 9, A_ID, &ack(0xb0b)));
    assert!(took);
    assert_eq!(s1.rx_unmatched, s0.rx_unmatched + one);

    // A length past the frame's end: malformed, the DATA stands.
    let (s0, s1, took) = p.send(|f| {
        append(f, 9, A_ID, &ack(0xb0b));
        f.truncate(f.len() - 4);
    });
    assert!(took);
    assert_eq!(s1.rx_malformed, s0.rx_malformed + one);
}
