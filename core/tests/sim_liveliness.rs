//! Manual liveliness in seeded simulations (simulated time): leases kept by samples and by
//! `assert_liveliness` HEARTBEATs (also under loss), lapses reported on both sides exactly once
//! per lapse, automatic liveliness following the participant, and the request/offered rule.

mod sim_util;

use std::time::Duration;

use l2net_core::engine::{
    Config, Event, Liveliness, LocalEndpoint, Qos, QosPolicy, ReaderHandle, WriterHandle,
};
use sim_util::{Faults, Sim, leak};

fn cfg(_: usize) -> Config<'static> {
    let mut c = Config::new(9, "live");
    c.heartbeat_period = Duration::from_millis(20);
    c.lease = Duration::from_secs(1);
    c.announce_period = Duration::from_millis(300);
    c
}

const MS: fn(u64) -> Duration = Duration::from_millis;

fn manual(q: Qos, lease: u64) -> Qos {
    q.with_liveliness(Liveliness::ManualByTopic, Some(MS(lease)))
}

/// Writer on node 0, reader on node 1, matched.
fn pair(sim: &mut Sim, qw: Qos, qr: Qos) -> (WriterHandle, ReaderHandle) {
    let w = sim.nodes[0]
        .p
        .create_writer("alive", "T", None, qw, leak(1 << 16))
        .unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("alive", "T", None, qr, leak(1 << 16))
        .unwrap();
    let ok = sim.run_until(MS(5_000), |s| {
        s.nodes[0].p.writer_matches(w) == 1 && s.nodes[1].p.reader_matches(r) == 1
    });
    assert!(ok, "never matched");
    (w, r)
}

/// The reader's liveliness events so far, as `alive` flags, and drains them.
fn changes(sim: &mut Sim, r: ReaderHandle) -> Vec<bool> {
    let evs = std::mem::take(&mut sim.nodes[1].events);
    evs.iter()
        .filter_map(|e| match e {
            Event::LivelinessChanged { reader, alive, .. } if *reader == r => Some(*alive),
            _ => None,
        })
        .collect()
}

fn lost(sim: &mut Sim, w: WriterHandle) -> usize {
    let evs = std::mem::take(&mut sim.nodes[0].events);
    evs.iter()
        .filter(|e| matches!(e, Event::LivelinessLost { writer } if *writer == w))
        .count()
}

/// Run for `d`, calling `each(sim)` every `period`.
fn run_with(sim: &mut Sim, d: Duration, period: Duration, mut each: impl FnMut(&mut Sim)) {
    let end = sim.now + d;
    let mut next = sim.now;
    while sim.now < end {
        if sim.now >= next {
            each(sim);
            next = sim.now + period;
        }
        sim.step();
    }
}

#[test]
fn manual_writer_kept_alive_by_samples_then_lapses_and_recovers() {
    let mut sim = Sim::new(2, 11, cfg);
    let q = manual(Qos::reliable(10), 100);
    let (w, r) = pair(&mut sim, q, q);
    assert_eq!(changes(&mut sim, r), [true], "alive on match");

    // Samples every 20 ms keep it alive.
    run_with(&mut sim, MS(1_000), MS(20), |s| {
        let now = s.now;
        s.nodes[0].p.write(w, b"x", now).unwrap();
        while s.nodes[1].p.take(r, &mut [0u8; 64]).unwrap().is_some() {}
    });
    assert_eq!(changes(&mut sim, r), [] as [bool; 0]);
    assert_eq!(lost(&mut sim, w), 0);

    // Silence: both sides notice once, not once per period.
    sim.run_for(MS(500));
    assert_eq!(changes(&mut sim, r), [false]);
    assert_eq!(lost(&mut sim, w), 1);

    // One assertion without data brings it back, and the lease runs again.
    let now = sim.now;
    sim.nodes[0].p.assert_liveliness(w, now).unwrap();
    sim.run_for(MS(50));
    assert_eq!(changes(&mut sim, r), [true]);
    sim.run_for(MS(300));
    assert_eq!(changes(&mut sim, r), [false]);
    assert_eq!(lost(&mut sim, w), 1, "a new lapse is reported again");
}

#[test]
fn liveliness_heartbeats_keep_a_silent_writer_alive_under_loss() {
    for reliable in [true, false] {
        let mut sim = Sim::new(2, 23, cfg);
        let base = if reliable {
            Qos::reliable(10)
        } else {
            Qos::BEST_EFFORT
        };
        let (w, r) = pair(&mut sim, manual(base, 150), manual(base, 150));
        sim.set_faults(Faults::lossy(0.2));
        changes(&mut sim, r);
        run_with(&mut sim, MS(3_000), MS(20), |s| {
            let now = s.now;
            s.nodes[0].p.assert_liveliness(w, now).unwrap();
        });
        assert_eq!(
            changes(&mut sim, r),
            [] as [bool; 0],
            "reliable: {reliable}"
        );
        assert_eq!(lost(&mut sim, w), 0);
        // The HEARTBEATs did go out (one per assertion at most, some lost on the way).
        assert!(sim.nodes[0].p.stats().tx_frames > 100);
        sim.set_faults(Faults::NONE);
        sim.run_for(MS(400));
        assert_eq!(changes(&mut sim, r), [false], "reliable: {reliable}");
    }
}

#[test]
fn old_repairs_do_not_count_as_assertions() {
    // A reader that keeps missing samples gets them resent; a resend is not a new write.
    let mut sim = Sim::new(2, 5, cfg);
    let q = manual(Qos::reliable(64), 100);
    let (w, r) = pair(&mut sim, q, q);
    changes(&mut sim, r);
    let now = sim.now;
    for i in 0..20u8 {
        sim.nodes[0].p.write(w, &[i; 8], now).unwrap();
    }
    sim.set_faults(Faults::lossy(0.3));
    sim.run_for(MS(400));
    sim.set_faults(Faults::NONE);
    assert!(
        sim.nodes[0].p.stats().tx_resent > 0,
        "the loss caused repairs"
    );
    assert_eq!(changes(&mut sim, r), [false]);
    sim.run_for(MS(400));
    assert_eq!(
        changes(&mut sim, r),
        [] as [bool; 0],
        "no flapping from repairs"
    );
}

#[test]
fn automatic_writer_follows_its_participant() {
    let mut sim = Sim::new(2, 3, cfg);
    let q = Qos::reliable(10).with_liveliness(Liveliness::Automatic, Some(MS(50)));
    let (_w, r) = pair(&mut sim, q, q);
    assert_eq!(changes(&mut sim, r), [true]);
    // Silent for longer than its liveliness lease: the participant still announces itself.
    sim.run_for(MS(2_000));
    assert_eq!(changes(&mut sim, r), [] as [bool; 0]);
    // The participant goes away: not alive any more, then unmatched.
    sim.nodes[0].running = false;
    sim.run_for(MS(2_000));
    let evs = std::mem::take(&mut sim.nodes[1].events);
    let pos = |f: &dyn Fn(&Event) -> bool| evs.iter().position(f);
    let dead = pos(
        &|e| matches!(e, Event::LivelinessChanged { alive: false, reader, .. } if *reader == r),
    );
    let gone =
        pos(&|e| matches!(e, Event::Unmatched { local: LocalEndpoint::Reader(x), .. } if *x == r));
    assert!(dead.is_some() && gone.is_some() && dead < gone, "{evs:?}");
}

#[test]
fn liveliness_request_offered() {
    let cases = [
        // (writer, reader, compatible)
        (Qos::reliable(10), manual(Qos::reliable(10), 100), false),
        (manual(Qos::reliable(10), 100), Qos::reliable(10), true),
        (
            manual(Qos::reliable(10), 200),
            manual(Qos::reliable(10), 100),
            false,
        ),
        (
            manual(Qos::reliable(10), 100),
            manual(Qos::reliable(10), 200),
            true,
        ),
    ];
    for (i, (qw, qr, ok)) in cases.into_iter().enumerate() {
        let mut sim = Sim::new(2, 40 + i as u64, cfg);
        let w = sim.nodes[0]
            .p
            .create_writer("alive", "T", None, qw, leak(4096))
            .unwrap();
        let r = sim.nodes[1]
            .p
            .create_reader("alive", "T", None, qr, leak(4096))
            .unwrap();
        sim.run_for(MS(1_000));
        assert_eq!(sim.nodes[0].p.writer_matches(w) == 1, ok, "case {i}");
        assert_eq!(sim.nodes[1].p.reader_matches(r) == 1, ok, "case {i}");
        if !ok {
            for n in 0..2 {
                assert!(
                    sim.nodes[n].events.iter().any(|e| matches!(
                        e,
                        Event::IncompatibleQos {
                            policy: QosPolicy::Liveliness,
                            ..
                        }
                    )),
                    "case {i} node {n}"
                );
            }
        }
    }
}

#[test]
fn a_driver_that_sleeps_until_poll_timeout_sees_lapses_in_time() {
    // Lease checks are timers like the others: poll_timeout must not sleep past them. Slow
    // announcements and a long participant lease, so that no other timer comes first.
    let quiet = |_| {
        let mut c = Config::new(9, "live");
        c.lease = Duration::from_secs(30);
        c.announce_period = Duration::from_secs(10);
        c.fast_announces = 1;
        c
    };
    let mut sim = Sim::new(2, 8, quiet);
    let q = manual(Qos::BEST_EFFORT, 100);
    let (w, r) = pair(&mut sim, q, q);
    sim.run_for(MS(1_000));
    let now = sim.now;
    sim.nodes[0].p.write(w, b"x", now).unwrap();
    sim.run_for(MS(5));
    let lapse = now + MS(100);
    for n in 0..2 {
        let t = sim.nodes[n].p.poll_timeout().expect("a timer");
        assert!(t > sim.now, "node {n}: nothing due yet");
        assert!(
            t <= lapse + MS(6),
            "node {n}: next timer {t:?}, lease ends {lapse:?}"
        );
    }
    changes(&mut sim, r);
    lost(&mut sim, w);
}
