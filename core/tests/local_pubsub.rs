//! Writers and readers of the same participant: they match without the wire (same rules and
//! events as remote pairs) and samples go straight from the writer's history into the reader's
//! queue. Simulated time; most tests never drive the link at all, which shows that no frame is
//! involved.

mod sim_util;

use std::time::Duration;

use l2net_core::Instant;
use l2net_core::engine::{
    Event, LocalEndpoint, Qos, QosPolicy, ReaderHandle, RemoteId, WriteError, WriterHandle,
};
use sim_util::{Part, Sim, leak, payload};

fn cfg(_: usize) -> l2net_core::engine::Config<'static> {
    let mut c = l2net_core::engine::Config::new(7, "local");
    c.heartbeat_period = Duration::from_millis(20);
    c
}

fn one() -> Sim {
    Sim::new(1, 0x10ca1, cfg)
}

fn events(p: &mut Part<'static>) -> Vec<Event> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

fn writer(p: &mut Part<'static>, qos: Qos) -> WriterHandle {
    p.create_writer("/local", "Msg", None, qos, leak(1 << 16))
        .unwrap()
}

fn reader(p: &mut Part<'static>, qos: Qos) -> ReaderHandle {
    p.create_reader("/local", "Msg", None, qos, leak(1 << 16))
        .unwrap()
}

fn id(p: &Part<'static>, entity: u32) -> RemoteId {
    RemoteId {
        participant: p.id(),
        entity,
    }
}

/// Every queued sample of `r`: (sequence number, bytes).
fn take_all(p: &mut Part<'static>, r: ReaderHandle) -> Vec<(u64, Vec<u8>)> {
    let mut buf = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    while let Some(info) = p.take(r, &mut buf).unwrap() {
        out.push((info.seq, buf[..info.len].to_vec()));
    }
    out
}

fn seqs(v: &[(u64, Vec<u8>)]) -> Vec<u64> {
    v.iter().map(|(s, _)| *s).collect()
}

#[test]
fn best_effort_pair_matches_and_delivers_without_frames() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    // Reader first, writer second: matching works whichever comes first.
    let r = reader(p, Qos::BEST_EFFORT.keep_all());
    assert_eq!(p.reader_matches(r), 0);
    let w = writer(p, Qos::BEST_EFFORT);
    assert_eq!(p.writer_matches(w), 1);
    assert_eq!(p.reader_matches(r), 1);
    let (w_id, r_id) = (id(p, w.entity()), id(p, r.entity()));
    let ev = events(p);
    assert!(ev.contains(&Event::Matched {
        local: LocalEndpoint::Writer(w),
        remote: r_id
    }));
    assert!(ev.contains(&Event::Matched {
        local: LocalEndpoint::Reader(r),
        remote: w_id
    }));
    assert!(ev.contains(&Event::LivelinessChanged {
        reader: r,
        remote: w_id,
        alive: true
    }));

    for i in 1..=10u64 {
        assert_eq!(p.write(w, &payload(i, 32), now).unwrap(), i);
    }
    // Exactly one DataAvailable for the burst.
    let ev = events(p);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::DataAvailable { reader } if *reader == r))
            .count(),
        1
    );
    let mut buf = [0u8; 64];
    for i in 1..=10u64 {
        let info = p.take(r, &mut buf).unwrap().unwrap();
        assert_eq!(info.writer, w_id);
        assert_eq!(info.seq, i);
        assert_eq!(info.related, None);
        assert_eq!(info.received, now);
        assert_eq!(&buf[..info.len], &payload(i, 32)[..]);
    }
    assert_eq!(p.take(r, &mut buf).unwrap(), None);
    assert_eq!(p.stats().samples_delivered, 10);
    // Nothing was driven: no frame carried them.
    assert_eq!(p.stats().tx_frames, 0);
    assert_eq!(p.stats().rx_frames, 0);
}

#[test]
fn reliable_pair_delivers_in_order_and_is_acknowledged() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    let w = writer(p, Qos::reliable(64));
    let r = reader(p, Qos::reliable(64));
    assert_eq!((p.writer_matches(w), p.reader_matches(r)), (1, 1));
    for i in 1..=50u64 {
        p.write(w, &payload(i, 100 + i as usize), now).unwrap();
    }
    let got = take_all(p, r);
    assert_eq!(seqs(&got), (1..=50).collect::<Vec<_>>());
    for (s, d) in &got {
        assert_eq!(d, &payload(*s, 100 + *s as usize));
    }
    // Every sample went into the queue at once: nothing is pending for the local reader (the
    // wire still has to send them once before the writer counts them acknowledged).
    sim.run_for(Duration::from_millis(50));
    let p = &mut sim.nodes[0].p;
    assert!(p.is_acknowledged(w));
}

#[test]
fn keep_last_reader_keeps_the_newest() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    let w = writer(p, Qos::reliable(16));
    let r = reader(p, Qos::BEST_EFFORT.keep_all());
    let r3 = p
        .create_reader("/local", "Msg", None, best_effort_depth(3), leak(1 << 16))
        .unwrap();
    assert_eq!(p.writer_matches(w), 2);
    for i in 1..=10u64 {
        // A best-effort reader never holds a reliable writer back.
        p.write(w, &payload(i, 8), now).unwrap();
    }
    assert_eq!(seqs(&take_all(p, r3)), vec![8, 9, 10]);
    assert_eq!(seqs(&take_all(p, r)), (1..=10).collect::<Vec<_>>());
}

fn best_effort_depth(d: u16) -> Qos {
    let mut q = Qos::BEST_EFFORT;
    q.history = l2net_core::engine::HistoryKind::KeepLast(d);
    q
}

#[test]
fn reliable_reader_backpressure_and_writable() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    // Writer keeps 8, reader queues 4: 4 in the queue and 8 waiting in the writer's history
    // (the first 4 of its 12 are in the queue already), then the writer blocks, as with a
    // remote reader that does not take.
    let w = writer(p, Qos::reliable(8));
    let r = reader(p, Qos::reliable(4));
    let mut written = 0u64;
    loop {
        match p.write(w, &payload(written + 1, 16), now) {
            Ok(seq) => {
                written += 1;
                assert_eq!(seq, written);
            }
            Err(WriteError::WouldBlock) => break,
            Err(e) => panic!("{e:?}"),
        }
        assert!(written < 100, "the writer never blocked");
    }
    assert_eq!(written, 12);
    assert_eq!(p.queued(r), 4);
    events(p);
    let mut buf = [0u8; 64];
    let info = p.take(r, &mut buf).unwrap().unwrap();
    assert_eq!(info.seq, 1);
    assert!(
        events(p).contains(&Event::Writable { writer: w }),
        "taking made room"
    );
    assert_eq!(
        p.queued(r),
        4,
        "the next waiting sample moved into the queue"
    );
    p.write(w, &payload(13, 16), now).unwrap();
    // Reliable keep-all reader: never drops either.
    let got = take_all(p, r);
    assert_eq!(seqs(&got), (2..=13).collect::<Vec<_>>());
    for (s, d) in &got {
        assert_eq!(d, &payload(*s, 16));
    }
}

#[test]
fn reliable_keep_all_reader_never_drops() {
    let mut sim = one();
    let p = &mut sim.nodes[0].p;
    let w = writer(p, Qos::reliable(64).keep_all());
    let r = p
        .create_reader(
            "/local",
            "Msg",
            None,
            Qos::reliable(1).keep_all(),
            // Room for 3 samples of 100 bytes.
            leak(300),
        )
        .unwrap();
    let mut next = 1u64;
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    while got.len() < 200 && sim.now < Instant::from_millis(10_000) {
        // A keep-all writer releases a sample once every reader has it and it went out on
        // the wire once (for remote best-effort readers): the link must run.
        sim.step();
        let now = sim.now;
        let p = &mut sim.nodes[0].p;
        while next <= 200 {
            match p.write(w, &payload(next, 100), now) {
                Ok(_) => next += 1,
                Err(WriteError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        // Take one at a time: the writer keeps meeting a full queue.
        if let Some(info) = p.take(r, &mut buf).unwrap() {
            assert_eq!(&buf[..info.len], &payload(info.seq, 100)[..]);
            got.push(info.seq);
        }
    }
    assert_eq!(got, (1..=200).collect::<Vec<_>>());
    assert_eq!(sim.nodes[0].p.stats().rx_queue_full, 0);
}

#[test]
fn transient_local_late_reader_gets_the_history() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    let w = writer(p, Qos::reliable(5).transient_local());
    for i in 1..=7u64 {
        p.write(w, &payload(i, 20), now).unwrap();
    }
    // Late, transient local: the 5 the writer holds.
    let late = reader(p, Qos::reliable(10).transient_local());
    assert!(
        events(p).contains(&Event::DataAvailable { reader: late }),
        "the history arrived at once"
    );
    assert_eq!(seqs(&take_all(p, late)), vec![3, 4, 5, 6, 7]);
    // Late, volatile: nothing old.
    let volatile = reader(p, Qos::reliable(10));
    assert_eq!(p.queued(volatile), 0);
    // Late, transient local, with room for 2: the rest follows as it takes.
    let small = reader(p, Qos::reliable(2).transient_local());
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Some(info) = p.take(small, &mut buf).unwrap() {
        got.push(info.seq);
    }
    assert_eq!(got, vec![3, 4, 5, 6, 7]);
    p.write(w, &payload(8, 20), now).unwrap();
    assert_eq!(seqs(&take_all(p, late)), vec![8]);
    assert_eq!(seqs(&take_all(p, volatile)), vec![8]);
    assert_eq!(seqs(&take_all(p, small)), vec![8]);
}

#[test]
fn delete_unmatches_both_sides() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    let w = writer(p, Qos::reliable(4));
    let r = reader(p, Qos::reliable(4));
    let (w_id, r_id) = (id(p, w.entity()), id(p, r.entity()));
    events(p);
    // The reader goes: both sides hear of it, and the writer is free again.
    for i in 1..=6 {
        let _ = p.write(w, &payload(i, 8), now);
    }
    assert!(p.delete_reader(r));
    let ev = events(p);
    assert!(ev.contains(&Event::Unmatched {
        local: LocalEndpoint::Writer(w),
        remote: r_id
    }));
    assert!(ev.contains(&Event::Unmatched {
        local: LocalEndpoint::Reader(r),
        remote: w_id
    }));
    assert_eq!(p.writer_matches(w), 0);
    for i in 7..=40 {
        p.write(w, &payload(i, 8), now).unwrap();
    }
    // A new reader matches; then the writer goes.
    let r2 = reader(p, Qos::reliable(4));
    let r2_id = id(p, r2.entity());
    assert_eq!(p.reader_matches(r2), 1);
    events(p);
    assert!(p.delete_writer(w));
    let ev = events(p);
    assert!(ev.contains(&Event::Unmatched {
        local: LocalEndpoint::Writer(w),
        remote: r2_id
    }));
    assert!(ev.contains(&Event::LivelinessChanged {
        reader: r2,
        remote: w_id,
        alive: false
    }));
    assert!(ev.contains(&Event::Unmatched {
        local: LocalEndpoint::Reader(r2),
        remote: w_id
    }));
    assert_eq!(p.reader_matches(r2), 0);
}

#[test]
fn incompatible_qos_and_other_types_do_not_match() {
    let mut sim = one();
    let p = &mut sim.nodes[0].p;
    let w = writer(p, Qos::BEST_EFFORT);
    let r = reader(p, Qos::reliable(4));
    let (w_id, r_id) = (id(p, w.entity()), id(p, r.entity()));
    let ev = events(p);
    assert!(ev.contains(&Event::IncompatibleQos {
        local: LocalEndpoint::Writer(w),
        remote: r_id,
        policy: QosPolicy::Reliability
    }));
    assert!(ev.contains(&Event::IncompatibleQos {
        local: LocalEndpoint::Reader(r),
        remote: w_id,
        policy: QosPolicy::Reliability
    }));
    assert_eq!((p.writer_matches(w), p.reader_matches(r)), (0, 0));
    p.write(w, b"x", Instant::from_millis(2)).unwrap();
    assert_eq!(p.queued(r), 0);

    // Liveliness: a manual reader needs a manual writer.
    use l2net_core::engine::Liveliness;
    let manual = Qos::reliable(4).with_liveliness(Liveliness::ManualByTopic, None);
    let wa = p
        .create_writer("/live", "Msg", None, Qos::reliable(4), leak(1024))
        .unwrap();
    let rm = p
        .create_reader("/live", "Msg", None, manual, leak(1024))
        .unwrap();
    assert!(events(p).contains(&Event::IncompatibleQos {
        local: LocalEndpoint::Reader(rm),
        remote: id(p, wa.entity()),
        policy: QosPolicy::Liveliness
    }));
    assert_eq!(p.reader_matches(rm), 0);

    // Another type, or another known hash: no match and no event.
    for h in [w, wa] {
        p.delete_writer(h);
    }
    for h in [r, rm] {
        p.delete_reader(h);
    }
    events(p);
    let other = p
        .create_reader("/local", "Other", None, Qos::BEST_EFFORT, leak(1024))
        .unwrap();
    let hw = p
        .create_writer("/hash", "Msg", Some([1; 32]), Qos::BEST_EFFORT, leak(1024))
        .unwrap();
    let hr = p
        .create_reader("/hash", "Msg", Some([2; 32]), Qos::BEST_EFFORT, leak(1024))
        .unwrap();
    let unknown = p
        .create_reader("/hash", "Msg", None, Qos::BEST_EFFORT, leak(1024))
        .unwrap();
    for e in events(p) {
        match e {
            Event::IncompatibleQos { .. } => panic!("types differ: no QoS check, {e:?}"),
            Event::Matched { local, remote } => {
                // Only the hash-less reader and the hashed writer.
                let pair = match local {
                    LocalEndpoint::Writer(x) => x == hw && remote.entity == unknown.entity(),
                    LocalEndpoint::Reader(x) => x == unknown && remote.entity == hw.entity(),
                };
                assert!(pair, "{e:?}");
            }
            _ => {}
        }
    }
    assert_eq!(p.reader_matches(other), 0);
    assert_eq!(p.reader_matches(hr), 0);
    // An unknown hash matches any.
    assert_eq!(p.reader_matches(unknown), 1);
    assert_eq!(p.writer_matches(hw), 1);
}

#[test]
fn large_samples_arrive_whole_and_size_limits_apply() {
    let mut sim = one();
    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    let w = p
        .create_writer("/big", "Blob", None, Qos::reliable(4), leak(1 << 20))
        .unwrap();
    let big = p
        .create_reader("/big", "Blob", None, Qos::reliable(4), leak(1 << 20))
        .unwrap();
    // Its queue is smaller than the large sample: that one is skipped (counted), the stream
    // goes on.
    let small = p
        .create_reader("/big", "Blob", None, Qos::reliable(4), leak(4096))
        .unwrap();
    p.write(w, &payload(1, 300_000), now).unwrap();
    p.write(w, &payload(2, 100), now).unwrap();
    let got = take_all(p, big);
    assert_eq!(seqs(&got), vec![1, 2]);
    assert_eq!(got[0].1, payload(1, 300_000));
    assert_eq!(seqs(&take_all(p, small)), vec![2]);
    assert_eq!(p.stats().rx_too_large, 1);
}

#[test]
fn lifespan_deadline_and_liveliness() {
    let ms = Duration::from_millis;
    let mut sim = one();
    let t0 = sim.now;
    let p = &mut sim.nodes[0].p;

    // Lifespan: samples that wait in the writer's history for a full reliable queue expire
    // there; the reader hears they are lost.
    let w = writer(p, Qos::reliable(8).with_lifespan(ms(10)));
    let r = reader(p, Qos::reliable(1));
    for i in 1..=3 {
        p.write(w, &payload(i, 8), t0).unwrap();
    }
    events(p);
    p.handle_timeout(t0 + ms(20));
    let mut buf = [0u8; 64];
    assert_eq!(p.take(r, &mut buf).unwrap().unwrap().seq, 1);
    assert!(events(p).contains(&Event::SamplesLost {
        reader: r,
        remote: id(p, w.entity()),
        count: 2
    }));
    assert_eq!(p.take(r, &mut buf).unwrap(), None);

    // Deadline: a reader with a local writer misses its deadline like with a remote one.
    let dw = p
        .create_writer(
            "/dl",
            "Msg",
            None,
            Qos::reliable(4).with_deadline(ms(50)),
            leak(1024),
        )
        .unwrap();
    let dr = p
        .create_reader(
            "/dl",
            "Msg",
            None,
            Qos::reliable(4).with_deadline(ms(50)),
            leak(1024),
        )
        .unwrap();
    assert_eq!(p.writer_matches(dw), 1);
    let t = t0 + ms(20);
    p.write(dw, b"a", t).unwrap();
    p.handle_timeout(t + ms(40));
    assert!(!events(p).contains(&Event::DeadlineMissed {
        local: LocalEndpoint::Reader(dr)
    }));
    p.handle_timeout(t + ms(60));
    assert!(events(p).contains(&Event::DeadlineMissed {
        local: LocalEndpoint::Reader(dr)
    }));

    // Liveliness: a manual writer's lapse reaches its local reader, and its next write brings
    // it back.
    use l2net_core::engine::Liveliness;
    let manual = |lease| Qos::reliable(4).with_liveliness(Liveliness::ManualByTopic, Some(lease));
    let lw = p
        .create_writer("/live", "Msg", None, manual(ms(100)), leak(1024))
        .unwrap();
    let lr = p
        .create_reader("/live", "Msg", None, manual(ms(200)), leak(1024))
        .unwrap();
    let lw_id = id(p, lw.entity());
    let t = t + ms(60);
    p.write(lw, b"a", t).unwrap();
    events(p);
    p.handle_timeout(t + ms(150));
    let ev = events(p);
    assert!(ev.contains(&Event::LivelinessLost { writer: lw }));
    assert!(ev.contains(&Event::LivelinessChanged {
        reader: lr,
        remote: lw_id,
        alive: false
    }));
    // A reader that matches the writer while its lease has run out: alive on match, as with
    // a remote writer, and not alive at once.
    let lr2 = p
        .create_reader("/live", "Msg", None, manual(ms(200)), leak(1024))
        .unwrap();
    let changes: Vec<bool> = events(p)
        .into_iter()
        .filter_map(|e| match e {
            Event::LivelinessChanged { reader, alive, .. } if reader == lr2 => Some(alive),
            _ => None,
        })
        .collect();
    assert_eq!(changes, [true, false]);
    p.assert_liveliness(lw, t + ms(160)).unwrap();
    let ev = events(p);
    for reader in [lr, lr2] {
        assert!(ev.contains(&Event::LivelinessChanged {
            reader,
            remote: lw_id,
            alive: true
        }));
    }
}
