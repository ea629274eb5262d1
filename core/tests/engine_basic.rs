//! Participants talking over a perfect, hand-rolled bus (no link): discovery, best effort,
//! reliable, fragmentation, services, goodbye and lease expiry.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use l2net_core::engine::{
    Config, Event, LinkOp, LostReason, Participant, Qos, ReaderHandle, WriteError,
};
use l2net_core::{Instant, MacAddr, RxMeta};

type Part<'a> = Participant<'a, 8, 32, 4, 4, 64, 8, 8>;

struct Node<'a> {
    p: Part<'a>,
    groups: BTreeSet<MacAddr>,
    inbox: VecDeque<Vec<u8>>,
    events: Vec<Event>,
    up: bool,
}

struct Bus<'a> {
    nodes: Vec<Node<'a>>,
    now: Instant,
}

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

fn mac(i: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, i + 1])
}

impl Bus<'static> {
    fn new(n: usize, cfg: impl Fn(usize) -> Config<'static>) -> Self {
        let nodes = (0..n)
            .map(|i| Node {
                p: Part::new(
                    cfg(i),
                    0x1000 + i as u64,
                    mac(i as u8),
                    leak(8 << 20),
                    Instant::ZERO,
                )
                .unwrap(),
                groups: BTreeSet::new(),
                inbox: VecDeque::new(),
                events: Vec::new(),
                up: true,
            })
            .collect();
        Bus {
            nodes,
            now: Instant::ZERO,
        }
    }

    /// One step: every node sends what it has, frames are delivered, time advances by `dt`.
    fn step(&mut self, dt: Duration) {
        for i in 0..self.nodes.len() {
            while let Some(op) = self.nodes[i].p.poll_link_op() {
                match op {
                    LinkOp::Join(m) => self.nodes[i].groups.insert(m),
                    LinkOp::Leave(m) => self.nodes[i].groups.remove(&m),
                };
            }
        }
        for i in 0..self.nodes.len() {
            let mut out = Vec::new();
            for _ in 0..10_000 {
                let Some(len) = self.nodes[i].p.poll_transmit(self.now) else {
                    break;
                };
                let mut buf = vec![0u8; len];
                self.nodes[i].p.write_transmit(&mut buf).unwrap();
                out.push(buf);
            }
            if !self.nodes[i].up {
                continue;
            }
            for f in out {
                let dst = MacAddr(f[0..6].try_into().unwrap());
                for (j, n) in self.nodes.iter_mut().enumerate() {
                    if j != i && n.up && (n.p.mac() == dst || n.groups.contains(&dst)) {
                        n.inbox.push_back(f.clone());
                    }
                }
            }
        }
        for n in self.nodes.iter_mut() {
            while let Some(f) = n.inbox.pop_front() {
                n.p.handle_frame(&f, RxMeta::new(f.len()), self.now);
            }
            while let Some(e) = n.p.poll_event() {
                n.events.push(e);
            }
        }
        self.now += dt;
        for n in self.nodes.iter_mut() {
            n.p.handle_timeout(self.now);
        }
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.step(Duration::from_millis(10));
        }
    }

    fn take_all(&mut self, i: usize, r: ReaderHandle) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8 << 20];
        while let Some(info) = self.nodes[i].p.take(r, &mut buf).unwrap() {
            out.push(buf[..info.len].to_vec());
        }
        out
    }
}

#[test]
fn discovery_and_goodbye() {
    let mut bus = Bus::new(3, |_| Config::new(7, "node"));
    bus.run(20);
    for n in &bus.nodes {
        assert_eq!(n.p.graph().peers().count(), 2, "{:?}", n.events);
    }
    bus.nodes[2].p.close(bus.now);
    bus.run(5);
    assert!(bus.nodes[2].p.is_closed());
    assert!(
        bus.nodes[2].groups.is_empty(),
        "a closed participant leaves its groups"
    );
    for n in &bus.nodes[..2] {
        assert_eq!(n.p.graph().peers().count(), 1);
        assert!(n.events.iter().any(|e| matches!(
            e,
            Event::ParticipantLost {
                participant: 0x1002,
                reason: LostReason::Goodbye
            }
        )));
    }
}

#[test]
fn lease_expiry() {
    let mut bus = Bus::new(2, |i| {
        let mut c = Config::new(1, "n");
        if i == 1 {
            c.lease = Duration::from_millis(500);
            c.announce_period = Duration::from_millis(150);
        }
        c
    });
    bus.run(10);
    assert_eq!(bus.nodes[0].p.graph().peers().count(), 1);
    bus.nodes[1].up = false;
    bus.run(60);
    assert_eq!(bus.nodes[0].p.graph().peers().count(), 0);
    assert!(bus.nodes[0].events.iter().any(|e| matches!(
        e,
        Event::ParticipantLost {
            reason: LostReason::LeaseExpired,
            ..
        }
    )));
}

#[cfg(feature = "fragmentation")]
#[test]
fn best_effort_and_reliable_and_fragments() {
    let mut bus = Bus::new(2, |_| {
        let mut c = Config::new(0, "n");
        c.max_sample_len = 8 << 20;
        c
    });
    let w_be = bus.nodes[0]
        .p
        .create_writer("be", "T", None, Qos::BEST_EFFORT, leak(4096))
        .unwrap();
    let w_rel = bus.nodes[0]
        .p
        .create_writer("rel", "T", None, Qos::reliable(64), leak(8 << 20))
        .unwrap();
    let r_be = bus.nodes[1]
        .p
        .create_reader("be", "T", None, Qos::BEST_EFFORT.keep_all(), leak(1 << 16))
        .unwrap();
    let r_rel = bus.nodes[1]
        .p
        .create_reader("rel", "T", None, Qos::reliable(64), leak(8 << 20))
        .unwrap();
    bus.run(20);
    assert_eq!(bus.nodes[0].p.writer_matches(w_rel), 1);
    assert_eq!(bus.nodes[1].p.reader_matches(r_rel), 1);
    let now = bus.now;
    bus.nodes[0].p.write(w_be, b"hello", now).unwrap();
    for i in 0..10u8 {
        bus.nodes[0].p.write(w_rel, &[i; 100], now).unwrap();
    }
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i * 7 + i / 1000) as u8)
        .collect();
    bus.nodes[0].p.write(w_rel, &big, now).unwrap();
    bus.run(50);
    assert_eq!(bus.take_all(1, r_be), vec![b"hello".to_vec()]);
    let got = bus.take_all(1, r_rel);
    assert_eq!(got.len(), 11, "{:?}", bus.nodes[1].p.stats());
    for (i, g) in got[..10].iter().enumerate() {
        assert_eq!(g, &vec![i as u8; 100]);
    }
    assert!(got[10] == big);
    assert!(bus.nodes[0].p.is_acknowledged(w_rel));
    let _ = WriteError::WouldBlock;
}

#[cfg(feature = "services")]
#[test]
fn service_call() {
    let mut bus = Bus::new(3, |_| Config::new(0, "n"));
    let server = bus.nodes[0]
        .p
        .create_server(
            "add",
            "Add",
            None,
            Qos::reliable(16),
            leak(4096),
            leak(4096),
        )
        .unwrap();
    let c1 = bus.nodes[1]
        .p
        .create_client(
            "add",
            "Add",
            None,
            Qos::reliable(16),
            leak(4096),
            leak(4096),
        )
        .unwrap();
    let c2 = bus.nodes[2]
        .p
        .create_client(
            "add",
            "Add",
            None,
            Qos::reliable(16),
            leak(4096),
            leak(4096),
        )
        .unwrap();
    bus.run(20);
    let now = bus.now;
    let id1 = bus.nodes[1].p.call(c1, &[1, 2], now).unwrap();
    let id2 = bus.nodes[2].p.call(c2, &[3, 4], now).unwrap();
    bus.run(10);
    let mut buf = [0u8; 64];
    let mut served = 0;
    while let Some((req, len)) = bus.nodes[0].p.take_request(server, &mut buf).unwrap() {
        let sum = buf[..len].iter().sum::<u8>();
        bus.nodes[0].p.reply(server, req, &[sum], bus.now).unwrap();
        served += 1;
    }
    assert_eq!(served, 2);
    bus.run(10);
    let (rel, len) = bus.nodes[1].p.take_reply(c1, &mut buf).unwrap().unwrap();
    assert_eq!((rel, &buf[..len]), (id1, &[3u8][..]));
    let (rel, len) = bus.nodes[2].p.take_reply(c2, &mut buf).unwrap().unwrap();
    assert_eq!((rel, &buf[..len]), (id2, &[7u8][..]));
    assert!(bus.nodes[1].p.take_reply(c1, &mut buf).unwrap().is_none());
}

#[test]
fn blocked_keep_last_writer_heartbeats_at_once() {
    // ROS's default QoS: reliable keep-last(10). The writer blocks every 10 unacknowledged
    // samples; its HEARTBEAT must go out at once then, not after a share of the 50 ms period.
    let mut bus = Bus::new(2, |_| Config::new(0, "n"));
    let w = bus.nodes[0]
        .p
        .create_writer("k10", "T", None, Qos::reliable(10), leak(1 << 16))
        .unwrap();
    let r = bus.nodes[1]
        .p
        .create_reader("k10", "T", None, Qos::reliable(10), leak(1 << 16))
        .unwrap();
    bus.run(20);
    assert_eq!(bus.nodes[0].p.writer_matches(w), 1);
    let (mut written, mut taken) = (0u32, 0usize);
    // 200 steps of 20 us: 4 ms of simulated time.
    for _ in 0..200 {
        loop {
            let now = bus.now;
            match bus.nodes[0].p.write(w, &written.to_be_bytes(), now) {
                Ok(_) => written += 1,
                Err(WriteError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        bus.step(Duration::from_micros(20));
        for s in bus.take_all(1, r) {
            assert_eq!(s[..], (taken as u32).to_be_bytes(), "in order, no gaps");
            taken += 1;
        }
    }
    assert!(
        taken + 10 >= written as usize,
        "{taken} of {written} delivered"
    );
    // Waiting even 500 us (a hundredth of the period) per 10 samples would allow about 80.
    assert!(
        written >= 500,
        "only {written} samples in 4 ms of simulated time"
    );
}
