//! `drive` against link limits, and the remaining QoS timing policies: backpressure from a tiny
//! transmit queue loses nothing, frames a link can never carry are refused and counted, a
//! lone small sample waits at most `batch_delay`, lifespans expire samples.

mod sim_util;

use std::time::Duration;

use l2net_core::engine::{Config, Participant, Qos, drive};
use l2net_core::link::mem::{LinkConfig, Segment, SegmentConfig, arena_len};
use l2net_core::{Instant, MacAddr};
#[cfg(any(
    feature = "batching",
    all(feature = "transient-local", feature = "lifespan")
))]
use sim_util::Sim;
use sim_util::{leak, payload};

#[test]
fn transmit_backpressure_loses_nothing() {
    // Two participants straight on the segment (no fault layer), the writer with a 2-frame
    // transmit queue, so almost every drive round ends with tx_blocked.
    let arena = leak(arena_len(2 * (256 + 2), 1500));
    let seg: &'static Segment<'static, 2, 516> = Box::leak(Box::new(
        Segment::new(arena, SegmentConfig::DEFAULT).unwrap(),
    ));
    let mac = |i| MacAddr([2, 0, 0, 0, 7, i]);
    let mut la = LinkConfig::new(mac(1), 1500, &seg.config());
    la.tx_queue = 2;
    la.rx_queue = 256;
    let mut lb = la;
    lb.mac = mac(2);
    let mut a = seg.link_with(la).unwrap();
    let mut b = seg.link_with(lb).unwrap();
    let t0 = Instant::from_millis(1);
    let mut pa: Participant<'static, 4, 8, 2, 2, 256, 4, 4> =
        Participant::new(Config::new(0, "a"), 1, mac(1), leak(1 << 20), t0).unwrap();
    let mut pb: Participant<'static, 4, 8, 2, 2, 256, 4, 4> =
        Participant::new(Config::new(0, "b"), 2, mac(2), leak(1 << 20), t0).unwrap();
    let w = pa
        .create_writer("x", "T", None, Qos::reliable(200), leak(1 << 20))
        .unwrap();
    let r = pb
        .create_reader("x", "T", None, Qos::reliable(200), leak(1 << 20))
        .unwrap();
    let mut now = t0;
    let mut blocked = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let mut next = 1u64;
    let mut ready: Option<Instant> = None;
    for _ in 0..20_000 {
        // Start once both sides matched and the reader had time to learn where to start, so
        // that every resend would be caused by the backpressure.
        if ready.is_none() && pa.writer_matches(w) == 1 && pb.reader_matches(r) == 1 {
            ready = Some(now + Duration::from_millis(200));
        }
        while ready.is_some_and(|t| now >= t) && next <= 500 {
            if pa.write(w, &payload(next, 1000), now).is_err() {
                break;
            }
            next += 1;
        }
        let rep = drive(&mut pa, &mut a, now).unwrap();
        blocked += usize::from(rep.tx_blocked);
        drive(&mut pb, &mut b, now).unwrap();
        while let Some(i) = pb.take(r, &mut buf).unwrap() {
            got.push(i.seq);
        }
        if got.len() == 500 {
            break;
        }
        now += Duration::from_micros(100);
    }
    assert!(blocked > 0, "the link never pushed back");
    assert_eq!(got, (1..=500).collect::<Vec<_>>());
    assert_eq!(
        pa.stats().tx_resent,
        0,
        "backpressure must not look like loss"
    );
}

#[test]
fn frames_the_link_cannot_carry_are_refused_and_counted() {
    // The participant believes in a 1500-byte MTU, the link carries 600.
    let arena = leak(arena_len(64, 1500));
    let seg: &'static Segment<'static, 2, 64> = Box::leak(Box::new(
        Segment::new(arena, SegmentConfig::DEFAULT).unwrap(),
    ));
    let mut cfg = LinkConfig::new(MacAddr([2, 0, 0, 0, 8, 1]), 600, &seg.config());
    cfg.tx_queue = 16;
    let mut link = seg.link_with(cfg).unwrap();
    let t0 = Instant::from_millis(1);
    let mut p: Participant<'static, 4, 8, 2, 2, 16, 4, 4> =
        Participant::new(Config::new(0, "p"), 5, cfg.mac, leak(1 << 16), t0).unwrap();
    let w = p
        .create_writer("big", "T", None, Qos::BEST_EFFORT, leak(1 << 16))
        .unwrap();
    p.write(w, &[7u8; 1200], t0).unwrap();
    let rep = drive(&mut p, &mut link, t0).unwrap();
    assert_eq!(rep.refused, 1);
    assert_eq!(p.stats().tx_errors, 1);
    // Nothing is stuck: the next round has nothing left to refuse.
    let rep = drive(&mut p, &mut link, t0 + Duration::from_millis(1)).unwrap();
    assert_eq!(rep.refused, 0);
}

#[cfg(feature = "batching")]
#[test]
fn batch_delay_bounds_the_wait_of_a_lone_sample() {
    let mut sim = Sim::new(2, 40, |_| {
        let mut c = Config::new(0, "b");
        c.batch_delay = Duration::from_millis(5);
        c
    });
    let w = sim.nodes[0]
        .p
        .create_writer("b", "T", None, Qos::BEST_EFFORT.keep_all(), leak(1 << 16))
        .unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("b", "T", None, Qos::BEST_EFFORT.keep_all(), leak(1 << 16))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[0].p.writer_matches(w)
            == 1
            && s.nodes[1].p.reader_matches(r) == 1)
    );
    sim.run_for(Duration::from_millis(50));
    let t = sim.now;
    sim.nodes[0].p.write(w, b"lone", t).unwrap();
    let mut buf = [0u8; 16];
    let mut arrived = None;
    sim.run_until(Duration::from_millis(100), |s| {
        if s.nodes[1].p.take(r, &mut buf).unwrap().is_some() {
            arrived = Some(s.now);
        }
        arrived.is_some()
    });
    let waited = arrived.expect("lone sample never sent") - t;
    assert!(waited >= Duration::from_millis(4), "sent after {waited:?}");
    assert!(waited <= Duration::from_millis(8), "sent after {waited:?}");
    // Two samples written together leave at once, in one BATCH.
    let t = sim.now;
    sim.nodes[0].p.write(w, b"one", t).unwrap();
    sim.nodes[0].p.write(w, b"two", t).unwrap();
    sim.step();
    sim.step();
    let mut n = 0;
    while sim.nodes[1].p.take(r, &mut buf).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 2);
}

#[cfg(all(feature = "transient-local", feature = "lifespan"))]
#[test]
fn lifespan_expires_samples_on_both_sides() {
    let mut sim = Sim::new(2, 41, |_| Config::new(0, "l"));
    let life = Duration::from_millis(100);
    let qos = Qos::reliable(10).transient_local().with_lifespan(life);
    let w = sim.nodes[0]
        .p
        .create_writer("l", "T", None, qos, leak(1 << 16))
        .unwrap();
    let now = sim.now;
    for s in 1..=5u64 {
        sim.nodes[0].p.write(w, &payload(s, 10), now).unwrap();
    }
    // Older than the lifespan by the time a late joiner appears: not delivered.
    sim.run_for(Duration::from_millis(150));
    let now = sim.now;
    sim.nodes[0].p.write(w, &payload(6, 10), now).unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("l", "T", None, qos, leak(1 << 16))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    sim.run_until(Duration::from_millis(90), |s| {
        while let Some(i) = s.nodes[1].p.take(r, &mut buf).unwrap() {
            got.push(i.seq);
        }
        !got.is_empty()
    });
    assert_eq!(got, vec![6]);
    // Reader side: a sample left unread for longer than its lifespan is not taken.
    let now = sim.now;
    sim.nodes[0].p.write(w, &payload(7, 10), now).unwrap();
    sim.run_for(Duration::from_millis(20));
    assert_eq!(sim.nodes[1].p.queued(r), 1);
    sim.run_for(Duration::from_millis(150));
    assert!(sim.nodes[1].p.take(r, &mut buf).unwrap().is_none());
}
