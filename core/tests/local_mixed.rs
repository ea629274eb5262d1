//! Local and remote endpoints together: a writer with readers in its own participant and in
//! another one (over a lossy simulated wire), and services whose clients are local and remote.

mod sim_util;

use std::time::Duration;

use l2net_core::engine::{
    Config, Event, LocalEndpoint, Qos, ReaderHandle, RemoteId, SampleId, WriteError,
};
use sim_util::{Faults, Sim, check_payload, leak, payload};

fn cfg(_: usize) -> Config<'static> {
    let mut c = Config::new(9, "mixed");
    c.heartbeat_period = Duration::from_millis(10);
    c
}

#[test]
fn local_and_remote_readers_each_get_everything_once_in_order() {
    for seed in [1u64, 2, 3] {
        let mut sim = Sim::new(2, 0xa11ce + seed, cfg);
        let qos = Qos::reliable(32);
        let w = sim.nodes[0]
            .p
            .create_writer("/mix", "Msg", None, qos, leak(1 << 20))
            .unwrap();
        let local = sim.nodes[0]
            .p
            .create_reader("/mix", "Msg", None, qos, leak(1 << 20))
            .unwrap();
        // Best effort, keep-all: locally nothing is lost, whatever the wire does.
        let local_be = sim.nodes[0]
            .p
            .create_reader(
                "/mix",
                "Msg",
                None,
                Qos::BEST_EFFORT.keep_all(),
                leak(1 << 20),
            )
            .unwrap();
        let remote = sim.nodes[1]
            .p
            .create_reader("/mix", "Msg", None, qos, leak(1 << 20))
            .unwrap();
        assert!(
            sim.run_until(Duration::from_secs(5), |s| s.nodes[0].p.writer_matches(w)
                == 3
                && s.nodes[1].p.reader_matches(remote) == 1),
            "no match"
        );
        assert_eq!(sim.nodes[0].p.reader_matches(local), 1);
        sim.set_faults(Faults::lossy(0.1));

        const N: u64 = 400;
        // Small ones batch, 4000 bytes are fragmented on the wire (whole locally).
        let sizes = [8usize, 200, 4000, 1200, 30];
        let readers: [(usize, ReaderHandle); 3] = [(0, local), (0, local_be), (1, remote)];
        let mut got: [Vec<u64>; 3] = Default::default();
        let mut next = 1u64;
        let mut buf = vec![0u8; 1 << 16];
        let done = sim.run_until(Duration::from_secs(60), |s| {
            while next <= N {
                let data = payload(next, sizes[next as usize % sizes.len()]);
                let now = s.now;
                match s.nodes[0].p.write(w, &data, now) {
                    Ok(seq) => {
                        assert_eq!(seq, next);
                        next += 1;
                    }
                    Err(WriteError::WouldBlock) => break,
                    Err(e) => panic!("write: {e:?}"),
                }
            }
            for (k, &(i, r)) in readers.iter().enumerate() {
                while let Some(info) = s.nodes[i].p.take(r, &mut buf).unwrap() {
                    assert_eq!(check_payload(&buf[..info.len]), Some(info.seq));
                    assert_eq!(
                        info.writer,
                        RemoteId {
                            participant: s.nodes[0].p.id(),
                            entity: w.entity()
                        }
                    );
                    got[k].push(info.seq);
                }
            }
            got.iter().all(|g| g.len() as u64 == N)
        });
        let want: Vec<u64> = (1..=N).collect();
        assert!(
            done,
            "seed {seed}: got {:?} samples",
            got.iter().map(Vec::len).collect::<Vec<_>>()
        );
        for g in &got {
            assert_eq!(g, &want, "seed {seed}");
        }
        // The wire really was lossy for the remote one.
        let st = sim.nodes[0].p.stats();
        assert!(st.tx_resent > 0, "seed {seed}: no repair was needed");
    }
}

#[test]
fn local_service_round_trip_with_a_remote_client_too() {
    let mut sim = Sim::new(2, 0x5e7, cfg);
    let q = Qos::reliable(16);
    let (p0, p1) = (sim.nodes[0].p.id(), sim.nodes[1].p.id());
    let server = sim.nodes[0]
        .p
        .create_server("/add", "Add", None, q, leak(1 << 16), leak(1 << 16))
        .unwrap();
    let client = sim.nodes[0]
        .p
        .create_client("/add", "Add", None, q, leak(1 << 16), leak(1 << 16))
        .unwrap();
    // A second local client that must not see the first one's replies.
    let other = sim.nodes[0]
        .p
        .create_client("/add", "Add", None, q, leak(1 << 16), leak(1 << 16))
        .unwrap();
    {
        let p = &mut sim.nodes[0].p;
        // Matched at once, both halves, with the usual events.
        assert_eq!(p.writer_matches(client.writer), 1);
        assert_eq!(p.reader_matches(client.reader), 1);
        assert_eq!(p.writer_matches(server.writer), 2);
        assert_eq!(p.reader_matches(server.reader), 2);
        let ev: Vec<Event> = std::iter::from_fn(|| p.poll_event()).collect();
        let server_id = RemoteId {
            participant: p0,
            entity: server.writer.entity(),
        };
        assert!(ev.contains(&Event::Matched {
            local: LocalEndpoint::Writer(client.writer),
            remote: server_id
        }));
        assert!(ev.contains(&Event::Matched {
            local: LocalEndpoint::Reader(client.reader),
            remote: server_id
        }));
    }

    let now = sim.now;
    let p = &mut sim.nodes[0].p;
    let id = p.call(client, b"2+3", now).unwrap();
    assert_eq!(id.participant, p0);
    let mut buf = [0u8; 64];
    let (req, len) = p.take_request(server, &mut buf).unwrap().unwrap();
    assert_eq!((req, &buf[..len]), (id, &b"2+3"[..]));
    p.reply(server, req, b"5", now).unwrap();
    let (rel, len) = p.take_reply(client, &mut buf).unwrap().unwrap();
    assert_eq!((rel, &buf[..len]), (id, &b"5"[..]));
    assert_eq!(p.take_reply(other, &mut buf).unwrap(), None);

    // A remote client of the same server, at the same time as a local call.
    let remote = sim.nodes[1]
        .p
        .create_client("/add", "Add", None, q, leak(1 << 16), leak(1 << 16))
        .unwrap();
    assert!(sim.run_until(Duration::from_secs(5), |s| {
        s.nodes[1].p.writer_matches(remote.writer) == 1
            && s.nodes[1].p.reader_matches(remote.reader) == 1
            && s.nodes[0].p.writer_matches(server.writer) == 3
    }));
    let now = sim.now;
    let rid = sim.nodes[1].p.call(remote, b"1+1", now).unwrap();
    let lid = sim.nodes[0].p.call(other, b"4+4", now).unwrap();
    let mut answered: Vec<SampleId> = Vec::new();
    let mut replies: Vec<(usize, SampleId, Vec<u8>)> = Vec::new();
    let ok = sim.run_until(Duration::from_secs(5), |s| {
        let now = s.now;
        let p = &mut s.nodes[0].p;
        while let Some((req, len)) = p.take_request(server, &mut buf).unwrap() {
            let sum: u8 = buf[..len].split(|b| *b == b'+').map(|d| d[0] - b'0').sum();
            p.reply(server, req, &[b'0' + sum], now).unwrap();
            answered.push(req);
        }
        for (i, c) in [(0, other), (0, client), (1, remote)] {
            while let Some((rel, len)) = s.nodes[i].p.take_reply(c, &mut buf).unwrap() {
                replies.push((i, rel, buf[..len].to_vec()));
            }
        }
        replies.len() >= 2
    });
    assert!(ok, "replies: {replies:?}");
    sort_replies(&mut replies);
    let mut want = vec![(0, lid, b"8".to_vec()), (1, rid, b"2".to_vec())];
    sort_replies(&mut want);
    assert_eq!(replies, want);
    assert!(answered.iter().any(|r| r.participant == p1));
    assert!(answered.iter().any(|r| r.participant == p0));
    // The first client saw no reply of the others.
    assert_eq!(sim.nodes[0].p.take_reply(client, &mut buf).unwrap(), None);
}

fn sort_replies(v: &mut [(usize, SampleId, Vec<u8>)]) {
    v.sort_by_key(|(i, id, _)| (*i, id.participant, id.entity, id.seq));
}
