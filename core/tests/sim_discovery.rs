//! Seeded simulations of discovery and endpoint behaviour on the in-memory segment: discovery,
//! matching, GOODBYE, lease expiry, static peers, flood protection, QoS incompatibility,
//! transient-local late joiners, keep-all flow control, batching, deadlines and services.

mod sim_util;

use std::time::Duration;

#[cfg(feature = "services")]
use l2net_core::Instant;
use l2net_core::MacAddr;
use l2net_core::engine::{Config, Event, LocalEndpoint, LostReason, Qos, QosPolicy, WriteError};
use l2net_core::link::{RawLink, TxToken};
use sim_util::{Faults, Sim, leak, mac, payload};

fn cfg(_: usize) -> Config<'static> {
    Config::new(9, "disco")
}

fn peers(sim: &Sim, i: usize) -> usize {
    sim.nodes[i].p.graph().peers().count()
}

#[test]
fn discovery_goodbye_and_lease_expiry() {
    let mut sim = Sim::new(4, 1, |i| {
        let mut c = cfg(i);
        c.lease = Duration::from_millis(900);
        c.announce_period = Duration::from_millis(300);
        c
    });
    sim.set_faults(Faults::lossy(0.1));
    assert!(sim.run_until(Duration::from_secs(5), |s| (0..4).all(|i| peers(s, i) == 3)));
    for n in &sim.nodes {
        assert_eq!(
            n.events
                .iter()
                .filter(|e| matches!(e, Event::ParticipantDiscovered { .. }))
                .count(),
            3
        );
    }
    // Node 3 leaves cleanly.
    let now = sim.now;
    sim.nodes[3].p.close(now);
    assert!(sim.run_until(Duration::from_secs(1), |s| s.nodes[3].p.is_closed()));
    sim.nodes[3].running = false;
    let id3 = sim.nodes[3].p.id();
    // GOODBYE may be lost (10 %); the lease removes it anyway within 900 ms.
    assert!(sim.run_until(Duration::from_secs(2), |s| (0..3).all(|i| peers(s, i) == 2)));
    // Node 2 falls silent: removed within its lease.
    sim.nodes[2].running = false;
    let id2 = sim.nodes[2].p.id();
    let t0 = sim.now;
    assert!(sim.run_until(Duration::from_secs(3), |s| (0..2).all(|i| peers(s, i) == 1)));
    assert!(sim.now - t0 <= Duration::from_millis(1000));
    for n in &sim.nodes[..2] {
        assert!(n.events.iter().any(|e| matches!(
            e,
            Event::ParticipantLost { participant, reason: LostReason::LeaseExpired } if *participant == id2
        )));
        assert!(n.events.iter().any(|e| matches!(
            e,
            Event::ParticipantLost { participant, .. } if *participant == id3
        )));
    }
}

#[test]
fn endpoints_appear_match_and_go_away() {
    let mut sim = Sim::new(2, 2, cfg);
    let w = sim.nodes[0]
        .p
        .create_writer("a", "T", None, Qos::reliable(8), leak(4096))
        .unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("a", "T", None, Qos::reliable(8), leak(4096))
        .unwrap();
    // Same topic, other type: never matches.
    let _other = sim.nodes[1]
        .p
        .create_reader("a", "U", None, Qos::reliable(8), leak(4096))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[0].p.writer_matches(w)
            == 1
            && s.nodes[1].p.reader_matches(r) == 1)
    );
    assert!(sim.nodes[1].events.iter().any(|e| matches!(
        e,
        Event::Matched { local: LocalEndpoint::Reader(x), .. } if *x == r
    )));
    assert!(sim.nodes[0].p.delete_writer(w));
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[1].p.reader_matches(r)
            == 0)
    );
    assert!(
        sim.nodes[1]
            .events
            .iter()
            .any(|e| matches!(e, Event::EndpointLost { .. }))
    );
    assert!(sim.nodes[1].events.iter().any(|e| matches!(
        e,
        Event::Unmatched { local: LocalEndpoint::Reader(x), .. } if *x == r
    )));
}

#[test]
fn incompatible_qos_is_reported() {
    let mut sim = Sim::new(2, 3, cfg);
    let _w = sim.nodes[0]
        .p
        .create_writer("q", "T", None, Qos::BEST_EFFORT, leak(4096))
        .unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("q", "T", None, Qos::reliable(8), leak(4096))
        .unwrap();
    sim.run_for(Duration::from_millis(500));
    assert_eq!(sim.nodes[1].p.reader_matches(r), 0);
    assert!(sim.nodes[1].events.iter().any(|e| matches!(
        e,
        Event::IncompatibleQos {
            policy: QosPolicy::Reliability,
            ..
        }
    )));
}

#[test]
fn static_peers_without_multicast() {
    // Node 1 never joins the discovery group: it is only reachable by unicast.
    static PEERS: [MacAddr; 1] = [MacAddr([0x02, 0, 0, 0, 1, 2])];
    assert_eq!(PEERS[0], mac(1));
    let mut sim = Sim::new(2, 4, |i| {
        let mut c = cfg(i);
        if i == 0 {
            c.static_peers = &PEERS;
        }
        c
    });
    // Make node 1 deaf to the discovery multicast by dropping frames to it.
    let disc = sim.nodes[1].p.discovery_mac();
    sim.step();
    sim.nodes[1].link.inner.leave_multicast(disc).unwrap();
    assert!(sim.run_until(Duration::from_secs(3), |s| peers(s, 0) == 1
        && peers(s, 1) == 1));
    assert!(sim.nodes[1].p.graph().peers().next().unwrap().1.mac == mac(0));
    assert!(sim.nodes[0].p.graph().peers().next().unwrap().1.is_static);
}

#[test]
fn flood_of_forged_participants_never_evicts_a_matched_peer() {
    let mut sim = Sim::new(3, 5, cfg);
    let w = sim.nodes[0]
        .p
        .create_writer("f", "T", None, Qos::reliable(64), leak(1 << 16))
        .unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("f", "T", None, Qos::reliable(64), leak(1 << 16))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[0].p.writer_matches(w)
            == 1)
    );
    // Node 2 is an attacker: it sends HELLOs with a new random participant id every time.
    let mut good = Vec::new();
    let mut buf = vec![0u8; 4096];
    for k in 0..3000u64 {
        let frame = forged_hello(sim.nodes[2].p.discovery_mac(), mac(2), 0xdead_0000 + k);
        let now = sim.now;
        let l = &mut sim.nodes[2].link;
        let tok = l.transmit(now, frame.len()).unwrap().unwrap();
        tok.consume(|b| b.copy_from_slice(&frame));
        l.flush(now).unwrap();
        if k % 10 == 0 {
            let now = sim.now;
            let _ = sim.nodes[0].p.write(w, &payload(k / 10 + 1, 100), now);
        }
        for i in 0..2 {
            let n = &mut sim.nodes[i];
            l2net_core::engine::drive(&mut n.p, &mut n.link, sim.now).unwrap();
            while let Some(e) = n.p.poll_event() {
                n.events.push(e);
            }
        }
        sim.now += Duration::from_micros(200);
        while let Some(info) = sim.nodes[1].p.take(r, &mut buf).unwrap() {
            good.push(info.seq);
        }
    }
    sim.run_for(Duration::from_millis(500));
    while let Some(info) = sim.nodes[1].p.take(r, &mut buf).unwrap() {
        good.push(info.seq);
    }
    assert_eq!(sim.nodes[0].p.writer_matches(w), 1);
    assert_eq!(good, (1..=300).collect::<Vec<_>>());
    let s = sim.nodes[0].p.stats();
    assert!(
        s.graph_evictions > 0 && s.graph_evictions + s.graph_full >= 2900,
        "{s:?}"
    );
    assert!(sim.nodes[0].p.graph().peers().count() <= 8);
}

/// A minimal HELLO frame (no endpoints) from participant `id`.
fn forged_hello(dst: MacAddr, src: MacAddr, id: u64) -> Vec<u8> {
    forged_hello_with(dst, src, id, 0)
}

/// A HELLO from participant `id` announcing `n` subscribers on topics nobody uses.
fn forged_hello_with(dst: MacAddr, src: MacAddr, id: u64, n: usize) -> Vec<u8> {
    use l2net_core::wire::msg::{EndpointKind, EndpointRepr, Endpoints, HelloRepr, Qos as WQos};
    use l2net_core::wire::{EntityId, HeaderRepr, MsgKind, ParticipantId};
    let eps: Vec<EndpointRepr<'_>> = (0..n)
        .map(|i| EndpointRepr {
            entity: EntityId(i as u32 + 1),
            kind: EndpointKind::Subscriber,
            qos: WQos::default(),
            topic: "junk",
            type_name: "J",
            type_hash: None,
        })
        .collect();
    let hello = HelloRepr {
        reply_requested: false,
        lease_ms: 600_000,
        graph_epoch: 1,
        first_endpoint_index: 0,
        total_endpoints: n as u16,
        name: "evil",
        endpoints: Endpoints::List(&eps),
    };
    let body = hello.buffer_len();
    let mut f = vec![0u8; 14 + 16 + body];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
    HeaderRepr {
        kind: MsgKind::Hello,
        flags: 0,
        domain: 9,
        length: body as u16,
        sender: ParticipantId::new(id).unwrap(),
    }
    .emit(&mut f[14..30])
    .unwrap();
    hello.emit(&mut f[30..]).unwrap();
    f
}

#[cfg(feature = "transient-local")]
#[test]
fn transient_local_late_joiner_gets_the_last_n() {
    let mut sim = Sim::new(2, 6, cfg);
    let qos = Qos::reliable(5).transient_local();
    let w = sim.nodes[0]
        .p
        .create_writer("tl", "T", None, qos, leak(1 << 16))
        .unwrap();
    for s in 1..=20u64 {
        let now = sim.now;
        sim.nodes[0].p.write(w, &payload(s, 50), now).unwrap();
    }
    sim.run_for(Duration::from_millis(200));
    let r = sim.nodes[1]
        .p
        .create_reader("tl", "T", None, qos, leak(1 << 16))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    sim.run_until(Duration::from_secs(3), |s| {
        while let Some(i) = s.nodes[1].p.take(r, &mut buf).unwrap() {
            got.push(i.seq);
        }
        got.len() >= 5
    });
    assert_eq!(got, vec![16, 17, 18, 19, 20]);
    // A volatile late joiner gets nothing old, only what follows.
    let r2 = sim.nodes[1]
        .p
        .create_reader("tl", "T", None, Qos::reliable(5), leak(1 << 16))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[0].p.writer_matches(w)
            == 2)
    );
    sim.run_for(Duration::from_millis(200));
    let now = sim.now;
    sim.nodes[0].p.write(w, &payload(21, 50), now).unwrap();
    let mut got2 = Vec::new();
    sim.run_until(Duration::from_secs(2), |s| {
        while let Some(i) = s.nodes[1].p.take(r2, &mut buf).unwrap() {
            got2.push(i.seq);
        }
        !got2.is_empty()
    });
    assert_eq!(got2, vec![21]);
}

#[test]
fn reliable_flow_control_blocks_instead_of_dropping() {
    let mut sim = Sim::new(2, 7, |i| {
        let mut c = cfg(i);
        c.reliable_window = 16;
        c
    });
    let w = sim.nodes[0]
        .p
        .create_writer("fc", "T", None, Qos::reliable(32).keep_all(), leak(1 << 16))
        .unwrap();
    // The reader's queue holds 4 samples and the application does not read yet.
    let r = sim.nodes[1]
        .p
        .create_reader("fc", "T", None, Qos::reliable(4).keep_all(), leak(4096))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[0].p.writer_matches(w)
            == 1)
    );
    sim.run_for(Duration::from_millis(100));
    let mut written = 0u64;
    let mut blocked = false;
    for _ in 0..200 {
        let now = sim.now;
        match sim.nodes[0].p.write(w, &payload(written + 1, 64), now) {
            Ok(_) => written += 1,
            Err(WriteError::WouldBlock) => blocked = true,
            Err(e) => panic!("{e:?}"),
        }
        sim.step();
    }
    assert!(blocked, "writer never blocked");
    assert!(written < 200);
    // Now the application reads everything: all samples arrive, none was dropped.
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let mut next = written + 1;
    sim.run_until(Duration::from_secs(10), |s| {
        while let Some(i) = s.nodes[1].p.take(r, &mut buf).unwrap() {
            got.push(i.seq);
        }
        if next <= 300 {
            let now = s.now;
            if s.nodes[0].p.write(w, &payload(next, 64), now).is_ok() {
                next += 1;
            }
        }
        got.len() == 300
    });
    assert_eq!(got, (1..=300).collect::<Vec<_>>());
    assert!(
        sim.nodes[0]
            .events
            .iter()
            .any(|e| matches!(e, Event::Writable { .. }))
    );
}

#[cfg(feature = "batching")]
#[test]
fn small_best_effort_samples_are_batched_when_the_writer_outpaces_the_link() {
    let mut sim = Sim::new(2, 8, cfg);
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
    let now = sim.now;
    // 60 of the 64 history slots, faster than one drive round sends them one by one.
    for s in 1..=60u64 {
        sim.nodes[0].p.write(w, &payload(s, 20), now).unwrap();
    }
    let frames_before = sim.nodes[0].p.stats().tx_frames;
    sim.run_for(Duration::from_millis(20));
    let frames = sim.nodes[0].p.stats().tx_frames - frames_before;
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Some(i) = sim.nodes[1].p.take(r, &mut buf).unwrap() {
        got.push(i.seq);
    }
    assert_eq!(got, (1..=60).collect::<Vec<_>>());
    assert_eq!(sim.nodes[0].p.stats().tx_batched_samples, 60);
    assert!(frames < 10, "{frames} frames for 60 small samples");
}

#[cfg(feature = "deadline")]
#[test]
fn deadline_missed_is_reported() {
    let mut sim = Sim::new(2, 9, cfg);
    let qos = Qos::BEST_EFFORT.with_deadline(Duration::from_millis(50));
    let w = sim.nodes[0]
        .p
        .create_writer("d", "T", None, qos, leak(4096))
        .unwrap();
    let r = sim.nodes[1]
        .p
        .create_reader("d", "T", None, qos, leak(4096))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[1].p.reader_matches(r)
            == 1)
    );
    for _ in 0..20 {
        let now = sim.now;
        sim.nodes[0].p.write(w, b"tick", now).unwrap();
        sim.run_for(Duration::from_millis(10));
    }
    let missed = |s: &Sim, i: usize| {
        s.nodes[i]
            .events
            .iter()
            .filter(|e| matches!(e, Event::DeadlineMissed { .. }))
            .count()
    };
    let (w0, r0) = (missed(&sim, 0), missed(&sim, 1));
    sim.run_for(Duration::from_millis(300));
    assert!(missed(&sim, 0) > w0, "writer deadline not reported");
    assert!(missed(&sim, 1) > r0, "reader deadline not reported");
}

#[cfg(feature = "services")]
#[test]
fn service_call_under_loss() {
    let mut sim = Sim::new(3, 10, cfg);
    sim.set_faults(Faults::lossy(0.2));
    let qos = Qos::reliable(16);
    let server = sim.nodes[0]
        .p
        .create_server("sum", "Sum", None, qos, leak(1 << 16), leak(1 << 16))
        .unwrap();
    let clients: Vec<_> = (1..3)
        .map(|i| {
            sim.nodes[i]
                .p
                .create_client("sum", "Sum", None, qos, leak(1 << 16), leak(1 << 16))
                .unwrap()
        })
        .collect();
    assert!(sim.run_until(Duration::from_secs(5), |s| {
        (1..3).all(|i| s.nodes[i].p.writer_matches(clients[i - 1].writer) == 1)
            && s.nodes[0].p.writer_matches(server.writer) == 2
    }));
    sim.run_for(Duration::from_millis(100));
    let mut ids = Vec::new();
    for (k, c) in clients.iter().enumerate() {
        for j in 0..10u8 {
            let now = sim.now;
            let id = sim.nodes[k + 1].p.call(*c, &[k as u8, j], now).unwrap();
            ids.push((k, id, k as u8 + j));
        }
    }
    let mut replies: Vec<Vec<(l2net_core::engine::SampleId, u8)>> = vec![Vec::new(), Vec::new()];
    let mut pending = std::collections::VecDeque::new();
    let mut buf = [0u8; 64];
    sim.run_until(Duration::from_secs(20), |s| {
        while let Some((req, len)) = s.nodes[0].p.take_request(server, &mut buf).unwrap() {
            let sum: u8 = buf[..len].iter().sum();
            pending.push_back((req, sum));
        }
        // Replies wait while the reply writer's window is full (flow control).
        while let Some(&(req, sum)) = pending.front() {
            let now = s.now;
            match s.nodes[0].p.reply(server, req, &[sum], now) {
                Ok(_) => {
                    pending.pop_front();
                }
                Err(WriteError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        for (k, c) in clients.iter().enumerate() {
            while let Some((rel, len)) = s.nodes[k + 1].p.take_reply(*c, &mut buf).unwrap() {
                assert_eq!(len, 1);
                replies[k].push((rel, buf[0]));
            }
        }
        replies.iter().all(|r| r.len() == 10)
    });
    for (k, id, sum) in ids {
        assert!(
            replies[k].contains(&(id, sum)),
            "client {k} missing reply to {id:?}"
        );
    }
    let _ = Instant::ZERO;
}

#[test]
fn endpoint_flood_does_not_lock_out_real_endpoints() {
    let mut sim = Sim::new(3, 11, cfg);
    sim.run_for(Duration::from_millis(300));
    // Attackers fill node 0's 32-entry endpoint table with junk endpoints.
    for k in 0..6u64 {
        let frame = forged_hello_with(sim.nodes[2].p.discovery_mac(), mac(2), 0xbad_0000 + k, 20);
        let now = sim.now;
        let l = &mut sim.nodes[2].link;
        let tok = l.transmit(now, frame.len()).unwrap().unwrap();
        tok.consume(|b| b.copy_from_slice(&frame));
        l.flush(now).unwrap();
        sim.step();
    }
    assert!(sim.nodes[0].p.graph().endpoints().count() >= 20);
    assert!(
        sim.nodes[0].p.stats().graph_evictions > 0,
        "the table never filled up"
    );
    // A real endpoint appears and is matched all the same.
    let w = sim.nodes[0]
        .p
        .create_writer("real", "T", None, Qos::reliable(4), leak(4096))
        .unwrap();
    let _r = sim.nodes[1]
        .p
        .create_reader("real", "T", None, Qos::reliable(4), leak(4096))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(2), |s| s.nodes[0].p.writer_matches(w)
            == 1),
        "{:?}",
        sim.nodes[0].p.stats()
    );
}
