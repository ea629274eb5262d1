//! Acknowledgements carried with data (docs/PROTOCOL.md sections 2 and 10): a reliable reader's
//! participant puts its ACKNACK after its own DATA in the same frame, so a reliable ping-pong
//! needs no stand-alone HEARTBEAT/ACKNACK exchange in steady state. Loss still recovers, the
//! ROOM flow control still holds, a participant that does not understand following messages
//! still interoperates, and one that is not the addressed writer ignores them. Simulated time:
//! frames are counted by kind at the receiving NICs, nothing is timed. (Without the
//! `ack-with-data` feature nothing is sent this way: the other simulations cover that build.)

#![cfg(feature = "ack-with-data")]

mod sim_util;

use std::time::Duration;

use l2net_core::engine::{Config, Qos, ReaderHandle, Stats, WriterHandle};
use sim_util::{Faults, NicStats, Sim, check_payload, leak, payload};

const HEARTBEAT: u8 = 0x20;
const ACKNACK: u8 = 0x21;
const DATA: u8 = 0x10;

/// Node 0 pings, node 1 pongs (each a reliable keep-last(10) writer and reader, the ROS 2
/// default); node 2, if there is one, only listens to the pongs.
struct PingPong {
    sim: Sim,
    ping_w: WriterHandle,
    ping_r: ReaderHandle,
    pong_w: WriterHandle,
    pong_r: ReaderHandle,
    listener: Option<ReaderHandle>,
    buf: Vec<u8>,
    /// Pongs node 2 took.
    heard: Vec<u64>,
}

impl PingPong {
    fn new(seed: u64, nodes: usize) -> PingPong {
        let mut sim = Sim::new(nodes, seed, |_| Config::new(3, "pingpong"));
        let arena = || leak(1 << 16);
        let q = Qos::reliable(10);
        let n = &mut sim.nodes;
        let ping_w = n[0].p.create_writer("ping", "T", None, q, arena()).unwrap();
        let pong_r = n[0].p.create_reader("pong", "T", None, q, arena()).unwrap();
        let ping_r = n[1].p.create_reader("ping", "T", None, q, arena()).unwrap();
        let pong_w = n[1].p.create_writer("pong", "T", None, q, arena()).unwrap();
        let listener =
            (nodes > 2).then(|| n[2].p.create_reader("pong", "T", None, q, arena()).unwrap());
        let want_pong_readers = if nodes > 2 { 2 } else { 1 };
        assert!(
            sim.run_until(Duration::from_secs(10), |s| {
                s.nodes[0].p.writer_matches(ping_w) == 1
                    && s.nodes[1].p.writer_matches(pong_w) == want_pong_readers
            }),
            "never matched"
        );
        PingPong {
            sim,
            ping_w,
            ping_r,
            pong_w,
            pong_r,
            listener,
            buf: vec![0u8; 1 << 16],
            heard: Vec::new(),
        }
    }

    /// Node `node`'s reader `r` takes one sample; its sequence number.
    fn take(&mut self, node: usize, r: ReaderHandle) -> Option<u64> {
        let info = self.sim.nodes[node].p.take(r, &mut self.buf).unwrap()?;
        let seq = check_payload(&self.buf[..info.len]).expect("damaged sample delivered");
        assert_eq!(seq, info.seq);
        Some(seq)
    }

    /// Step until node `node`'s reader `r` has a sample (at most 5 s); its sequence number.
    fn step_until_taken(&mut self, node: usize, r: ReaderHandle) -> u64 {
        let end = self.sim.now + Duration::from_secs(5);
        while self.sim.now < end {
            self.sim.step();
            if let Some(l) = self.listener {
                while let Some(s) = self.take(2, l) {
                    self.heard.push(s);
                }
            }
            if let Some(seq) = self.take(node, r) {
                return seq;
            }
        }
        panic!(
            "node {node} got nothing: {:?} / {:?}",
            self.sim.nodes[0].p.stats(),
            self.sim.nodes[1].p.stats()
        );
    }

    /// Round trips `first..=last`: ping `i` out, pong `i` back, each checked in order.
    fn round_trips(&mut self, first: u64, last: u64) {
        for i in first..=last {
            let now = self.sim.now;
            assert_eq!(
                self.sim.nodes[0].p.write(self.ping_w, &payload(i, 64), now),
                Ok(i)
            );
            assert_eq!(self.step_until_taken(1, self.ping_r), i, "ping order");
            let now = self.sim.now;
            assert_eq!(
                self.sim.nodes[1].p.write(self.pong_w, &payload(i, 64), now),
                Ok(i)
            );
            assert_eq!(self.step_until_taken(0, self.pong_r), i, "pong order");
        }
    }

    fn nic(&self, node: usize) -> NicStats {
        self.sim.nodes[node].link.stats
    }
    fn stats(&self, node: usize) -> Stats {
        *self.sim.nodes[node].p.stats()
    }
}

/// Frames of `kind` (first message) received by NIC `node` between two snapshots.
fn frames(after: &NicStats, before: &NicStats, kind: u8) -> u64 {
    after.frames(kind) - before.frames(kind)
}

#[test]
fn steady_ping_pong_sends_no_heartbeat_or_acknack() {
    for seed in 1..=3 {
        let mut pp = PingPong::new(seed, 2);
        pp.round_trips(1, 20);
        let (nic0, nic1) = (pp.nic(0), pp.nic(1));
        let (st0, st1) = (pp.stats(0), pp.stats(1));
        let n = 500;
        pp.round_trips(21, 20 + n);
        // Node 0 hears node 1's frames and the other way round.
        for (node, before) in [(0, nic0), (1, nic1)] {
            let after = pp.nic(node);
            assert_eq!(
                frames(&after, &before, HEARTBEAT),
                0,
                "node {node} heard HEARTBEATs"
            );
            assert_eq!(
                frames(&after, &before, ACKNACK),
                0,
                "node {node} heard ACKNACKs"
            );
            assert_eq!(
                frames(&after, &before, DATA),
                n,
                "node {node}: one DATA per trip"
            );
            // Every DATA carried the acknowledgement of the sample before it.
            let acks = after.following(ACKNACK) - before.following(ACKNACK);
            assert_eq!(acks, n, "node {node}: acknowledgements with data");
        }
        assert_eq!(pp.stats(0).tx_acks_with_data - st0.tx_acks_with_data, n);
        assert_eq!(pp.stats(1).tx_acks_with_data - st1.tx_acks_with_data, n);
        // Both writers' windows are free: every ping and pong was acknowledged.
        for (node, w) in [(0, pp.ping_w), (1, pp.pong_w)] {
            let now = pp.sim.now;
            let h = pp.sim.nodes[node].p.write(w, &payload(9999, 8), now);
            assert!(h.is_ok(), "node {node}: {h:?}");
        }
    }
}

#[test]
fn other_receivers_of_the_data_ignore_the_acknowledgement() {
    // Node 2 reads the pongs too: it gets each pong with node 1's acknowledgement for node 0
    // after it, which it counts as unmatched (never malformed) and does not act on. (Node 2
    // sends no data, so node 1's pong writer still heartbeats to get node 2's ACKNACKs.)
    let mut pp = PingPong::new(4, 3);
    let n = 300;
    pp.round_trips(1, n);
    assert_eq!(pp.heard, (1..=n).collect::<Vec<_>>());
    let s2 = pp.stats(2);
    assert_eq!(
        (s2.rx_malformed, s2.rx_forged_control, s2.rx_stale_control),
        (0, 0, 0)
    );
    assert!(s2.rx_unmatched >= n - 1, "{s2:?}");
    assert!(pp.nic(2).following(ACKNACK) >= n - 1);
    assert!(pp.stats(1).tx_acks_with_data >= n - 1);
}

#[test]
fn ping_pong_with_loss_recovers() {
    for seed in 10..=12 {
        let mut pp = PingPong::new(seed, 2);
        pp.sim.set_faults(Faults::lossy(0.2));
        pp.round_trips(1, 200);
        let (s0, s1) = (pp.stats(0), pp.stats(1));
        assert!(s0.tx_resent + s1.tx_resent > 0, "no loss was repaired");
        assert!(s0.tx_acks_with_data > 0 && s1.tx_acks_with_data > 0);
    }
}

#[test]
fn peer_that_predates_following_messages_still_interoperates() {
    // Node 0 does not see following messages (they are padding to it), node 1 does; then
    // neither does. Node 0's ping writer gets no acknowledgement with data and heartbeats as
    // before; every round trip still completes in order.
    for both_old in [false, true] {
        let mut pp = PingPong::new(20, 2);
        pp.sim.nodes[0].link.strip_following = true;
        pp.sim.nodes[1].link.strip_following = both_old;
        pp.round_trips(1, 20);
        let nic1 = pp.nic(1);
        pp.round_trips(21, 300);
        // Node 1 hears node 0's HEARTBEATs: its ping writer still asks for acknowledgements.
        assert!(frames(&pp.nic(1), &nic1, HEARTBEAT) > 0);
        assert_eq!(pp.stats(0).rx_malformed + pp.stats(1).rx_malformed, 0);
    }
}

#[test]
fn room_flow_control_holds_with_acknowledgements_in_data() {
    // Node 0 writes pings as fast as its window allows; node 1's reader (queue of 4) takes one
    // every 5 ticks while node 1 writes a pong every tick, so its acknowledgements (and their
    // ROOM) ride with the pongs. The writer must send nothing the reader has no room for: no
    // sample is refused or sent twice.
    let mut pp = PingPong::new(30, 2);
    let count = 200u64;
    let mut next = 1u64;
    let mut pong = 1u64;
    let mut got = Vec::new();
    let mut tick = 0u32;
    let end = pp.sim.now + Duration::from_secs(60);
    while (got.len() as u64) < count && pp.sim.now < end {
        let w = pp.ping_w;
        pp.sim.write_while_room(0, w, &mut next, count, |_| 64);
        let now = pp.sim.now;
        if pp.sim.nodes[1]
            .p
            .write(pp.pong_w, &payload(pong, 64), now)
            .is_ok()
        {
            pong += 1;
        }
        pp.sim.step();
        while pp.take(0, pp.pong_r).is_some() {}
        if tick.is_multiple_of(5)
            && let Some(seq) = pp.take(1, pp.ping_r)
        {
            got.push(seq);
        }
        tick += 1;
    }
    assert_eq!(got, (1..=count).collect::<Vec<_>>());
    let (s0, s1) = (pp.stats(0), pp.stats(1));
    assert!(s1.tx_acks_with_data > 0, "{s1:?}");
    assert_eq!(s0.tx_resent, 0, "writer {s0:?}");
    assert_eq!(s1.rx_duplicate, 0, "reader {s1:?}");
}
