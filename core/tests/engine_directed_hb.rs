//! HEARTBEATs naming one reader: a reader that asked for repairs gets, once they are out, a
//! HEARTBEAT addressed to it (unicast, with the reader field) instead of every reader being
//! made to answer a multicast one; a HEARTBEAT naming another reader of the same participant
//! changes nothing for a reader.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use l2net_core::engine::{Config, LinkOp, Participant, Qos, ReaderHandle};
use l2net_core::wire::msg::{HeartbeatRepr, MessageRepr};
use l2net_core::wire::{EntityId, HeaderRepr, MsgKind};
use l2net_core::{Instant, MacAddr, RxMeta};

type Part = Participant<'static, 4, 16, 2, 2, 64, 4, 4>;

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

fn mac(i: usize) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, i as u8 + 1])
}

/// Decides whether the frame from node `.0` to node `.1` is lost.
type DropRule = Box<dyn FnMut(usize, usize, &[u8]) -> bool>;

struct Bus {
    nodes: Vec<Part>,
    groups: Vec<BTreeSet<MacAddr>>,
    now: Instant,
    /// Every frame sent: (sender index, bytes).
    log: Vec<(usize, Vec<u8>)>,
    /// Drop frames from `.0` to `.1` while this returns true for the frame.
    drop: Option<DropRule>,
}

impl Bus {
    fn new(n: usize) -> Bus {
        let nodes = (0..n)
            .map(|i| {
                let mut c = Config::new(4, "hb");
                c.heartbeat_period = Duration::from_millis(20);
                Part::new(c, 0x100 + i as u64, mac(i), leak(1 << 20), Instant::ZERO).unwrap()
            })
            .collect();
        Bus {
            nodes,
            groups: vec![BTreeSet::new(); n],
            now: Instant::ZERO,
            log: Vec::new(),
            drop: None,
        }
    }

    fn step(&mut self) {
        for (i, p) in self.nodes.iter_mut().enumerate() {
            while let Some(op) = p.poll_link_op() {
                match op {
                    LinkOp::Join(m) => self.groups[i].insert(m),
                    LinkOp::Leave(m) => self.groups[i].remove(&m),
                };
            }
        }
        let mut q = VecDeque::new();
        for i in 0..self.nodes.len() {
            while let Some(len) = self.nodes[i].poll_transmit(self.now) {
                let mut b = vec![0u8; len];
                self.nodes[i].write_transmit(&mut b).unwrap();
                q.push_back((i, b));
            }
        }
        for (from, b) in q {
            let dst = MacAddr(b[..6].try_into().unwrap());
            for to in 0..self.nodes.len() {
                let wanted = if dst.is_multicast() {
                    to != from && self.groups[to].contains(&dst)
                } else {
                    dst == mac(to)
                };
                if !wanted {
                    continue;
                }
                if let Some(d) = self.drop.as_mut()
                    && d(from, to, &b)
                {
                    continue;
                }
                self.nodes[to].handle_frame(&b, RxMeta::new(b.len()), self.now);
            }
            self.log.push((from, b));
        }
        for p in &mut self.nodes {
            while p.poll_event().is_some() {}
        }
        self.now += Duration::from_millis(1);
    }
}

fn kind(b: &[u8]) -> MsgKind {
    HeaderRepr::parse_bytes(&b[14..]).unwrap().kind
}

fn heartbeat(b: &[u8]) -> Option<HeartbeatRepr> {
    let h = HeaderRepr::parse_bytes(&b[14..]).ok()?;
    let body = &b[14 + 16..14 + 16 + usize::from(h.length)];
    match MessageRepr::parse(h.kind, h.flags, body).ok()? {
        MessageRepr::Heartbeat(hb) => Some(hb),
        _ => None,
    }
}

fn drain(p: &mut Part, r: ReaderHandle) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Some(i) = p.take(r, &mut buf).unwrap() {
        got.push(buf[..i.len][0]);
    }
    got
}

#[test]
fn the_reader_that_asked_for_repairs_gets_a_heartbeat_naming_it() {
    let mut bus = Bus::new(3);
    let w = bus.nodes[0]
        .create_writer("t", "T", None, Qos::reliable(32), leak(1 << 16))
        .unwrap();
    let r1 = bus.nodes[1]
        .create_reader("t", "T", None, Qos::reliable(32), leak(1 << 16))
        .unwrap();
    let r2 = bus.nodes[2]
        .create_reader("t", "T", None, Qos::reliable(32), leak(1 << 16))
        .unwrap();
    for _ in 0..2_000 {
        bus.step();
        if bus.nodes[0].writer_matches(w) == 2 && bus.nodes[0].is_acknowledged(w) {
            break;
        }
    }
    assert_eq!(bus.nodes[0].writer_matches(w), 2);
    // Let the start-up synchronisation settle.
    for _ in 0..200 {
        bus.step();
    }
    // Node 1 loses the first data frame of the next burst; node 2 gets everything.
    let mut dropped = false;
    bus.drop = Some(Box::new(move |from, to, b| {
        let hit = !dropped && from == 0 && to == 1 && kind(b) == MsgKind::Data;
        dropped |= hit;
        hit
    }));
    bus.log.clear();
    let now = bus.now;
    for i in 0..3u8 {
        bus.nodes[0].write(w, &[i; 8], now).unwrap();
        bus.step();
    }
    for _ in 0..500 {
        bus.step();
    }
    assert_eq!(drain(&mut bus.nodes[1], r1), [0, 1, 2], "repaired in order");
    assert_eq!(drain(&mut bus.nodes[2], r2), [0, 1, 2]);
    assert!(bus.nodes[0].stats().tx_resent >= 1);
    let directed: Vec<_> = bus
        .log
        .iter()
        .filter(|(from, _)| *from == 0)
        .filter_map(|(_, b)| heartbeat(b).map(|hb| (MacAddr(b[..6].try_into().unwrap()), hb)))
        .filter(|(_, hb)| hb.reader.is_some())
        .collect();
    assert!(
        directed
            .iter()
            .any(|(dst, hb)| *dst == mac(1) && hb.reader == Some(EntityId(r1.entity()))),
        "{directed:?}"
    );
    assert!(
        directed.iter().all(|(dst, _)| *dst == mac(1)),
        "only the reader that asked: {directed:?}"
    );
}

#[test]
fn a_heartbeat_naming_another_reader_is_ignored() {
    // Two readers of one participant; a HEARTBEAT naming the first one claims the writer no
    // longer holds samples 1..=5. The first one skips them (samples lost), the second does not.
    let mut bus = Bus::new(2);
    let w = bus.nodes[0]
        .create_writer("t", "T", None, Qos::reliable(32), leak(1 << 16))
        .unwrap();
    let ra = bus.nodes[1]
        .create_reader("t", "T", None, Qos::reliable(32), leak(1 << 16))
        .unwrap();
    let rb = bus.nodes[1]
        .create_reader("t", "T", None, Qos::reliable(32), leak(1 << 16))
        .unwrap();
    for _ in 0..2_000 {
        bus.step();
        if bus.nodes[0].writer_matches(w) == 2 && bus.nodes[0].is_acknowledged(w) {
            break;
        }
    }
    for _ in 0..200 {
        bus.step();
    }
    // Forge the writer's next HEARTBEAT: first_seq 6, naming reader `ra`.
    let template = bus
        .log
        .iter()
        .rev()
        .find(|(from, b)| *from == 0 && heartbeat(b).is_some())
        .map(|(_, b)| b.clone());
    let hb_frame = match template {
        Some(b) => b,
        None => {
            // No HEARTBEAT seen yet: provoke one with a sample.
            let now = bus.now;
            bus.nodes[0].write(w, b"x", now).unwrap();
            for _ in 0..100 {
                bus.step();
            }
            bus.log
                .iter()
                .rev()
                .find(|(from, b)| *from == 0 && heartbeat(b).is_some())
                .map(|(_, b)| b.clone())
                .expect("a HEARTBEAT")
        }
    };
    drain(&mut bus.nodes[1], ra);
    drain(&mut bus.nodes[1], rb);
    let old = heartbeat(&hb_frame).unwrap();
    let forged = |reader: u32| {
        let hb = HeartbeatRepr {
            first_seq: old.last_seq + 6,
            last_seq: old.last_seq + 5,
            count: old.count + 1000 + reader,
            reader: Some(EntityId(reader)),
            is_final: true,
            ..old
        };
        let msg = MessageRepr::Heartbeat(hb);
        let mut h = HeaderRepr::parse_bytes(&hb_frame[14..]).unwrap();
        h.length = msg.buffer_len() as u16;
        h.flags = msg.flags();
        let mut b = vec![0u8; 14 + 16 + msg.buffer_len()];
        b[..6].copy_from_slice(&mac(1).0);
        b[6..14].copy_from_slice(&hb_frame[6..14]);
        h.emit(&mut b[14..30]).unwrap();
        msg.emit(&mut b[30..]).unwrap();
        b
    };
    let lost_before = bus.nodes[1].stats().samples_lost;
    let f = forged(ra.entity());
    bus.nodes[1].handle_frame(&f, RxMeta::new(f.len()), bus.now);
    assert_eq!(
        bus.nodes[1].stats().samples_lost,
        lost_before + 5,
        "ra skipped"
    );
    // The same for a reader entity that is not ours: nobody moves.
    let f = forged(0x7777);
    bus.nodes[1].handle_frame(&f, RxMeta::new(f.len()), bus.now);
    assert_eq!(
        bus.nodes[1].stats().samples_lost,
        lost_before + 5,
        "rb untouched"
    );
}
