//! Two participants wired back to back in memory, with the facade's capacities: the engine
//! alone, no link. Shared by the engine bench (`benches/engine`) and the zero-allocation test.
//!
//! Every frame one participant plans is written into one reused buffer and handed straight to
//! the other's `handle_frame`. After set-up nothing here allocates: arenas, frame and take
//! buffers and the payload are made once.

#![allow(dead_code)]

use std::time::Duration;

use l2net_core::engine::{Config, Participant, Qos, ReaderHandle, WriteError, WriterHandle};
use l2net_core::{Instant, MacAddr, RxMeta};

// The facade's capacities (src/node.rs: MAX_PARTICIPANTS, MAX_REMOTE_ENDPOINTS, MAX_WRITERS,
// MAX_READERS, HISTORY_SLOTS, MAX_MATCHES, REASSEMBLY_SLOTS).
pub const P: usize = 64;
pub const E: usize = 512;
pub const W: usize = 32;
pub const R: usize = 32;
pub const H: usize = 256;
pub const M: usize = 32;
pub const F: usize = 16;

/// A participant as the facade instantiates it.
pub type FacadePart = Participant<'static, P, E, W, R, H, M, F>;

/// Samples each writer is offered per round (then the frames are exchanged and taken).
pub const BURST: usize = 32;
/// Simulated time per round.
pub const ROUND: Duration = Duration::from_micros(100);
/// Keep-last depth of the bench endpoints (at least a burst, so best effort overwrites none).
pub const DEPTH: u16 = 64;

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

/// What one scenario measures.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub payload: usize,
    pub reliable: bool,
    /// Active topics: one writer on `a` and one reader on `b` each.
    pub topics: usize,
    /// Keep-last depth of the endpoints (at least `burst`, so best effort overwrites none).
    pub depth: u16,
    /// Samples each writer is offered per round.
    pub burst: usize,
}

impl Scenario {
    /// The throughput scenarios: bursts of [`BURST`] into keep-last [`DEPTH`] endpoints.
    pub fn burst(payload: usize, reliable: bool, topics: usize) -> Scenario {
        Scenario {
            payload,
            reliable,
            topics,
            depth: DEPTH,
            burst: BURST,
        }
    }

    pub fn name(&self) -> String {
        if self.burst == 1 {
            return format!(
                "{}/{}B/keep_last_{}/one_sample",
                if self.reliable {
                    "reliable"
                } else {
                    "best_effort"
                },
                self.payload,
                self.depth
            );
        }
        format!(
            "{}/{}B/{}topics",
            if self.reliable {
                "reliable"
            } else {
                "best_effort"
            },
            self.payload,
            self.topics
        )
    }
}

pub struct Pair {
    pub a: Box<FacadePart>,
    pub b: Box<FacadePart>,
    pub writers: Vec<WriterHandle>,
    pub readers: Vec<ReaderHandle>,
    pub now: Instant,
    frame: Box<[u8]>,
    take: Box<[u8]>,
    payload: Box<[u8]>,
    next_writer: usize,
    burst: usize,
    pub delivered: u64,
    pub would_block: u64,
}

/// Build on a thread with a large stack: a participant of these capacities is several MiB and
/// passes through the stack on its way into the `Box` in unoptimised builds.
fn build(s: Scenario) -> Pair {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || build_inner(s))
        .expect("spawn builder thread")
        .join()
        .expect("builder thread")
}

fn build_inner(s: Scenario) -> Pair {
    let now = Instant::from_millis(1);
    let (mac_a, mac_b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
    let a = Box::new(
        FacadePart::new(
            Config::new(0, "bench-a"),
            0xa11ce,
            mac_a,
            leak(1 << 20),
            now,
        )
        .unwrap(),
    );
    let b = Box::new(
        FacadePart::new(Config::new(0, "bench-b"), 0xb0b, mac_b, leak(1 << 20), now).unwrap(),
    );
    let mut pair = Pair {
        a,
        b,
        writers: Vec::new(),
        readers: Vec::new(),
        now,
        frame: vec![0u8; 1600].into_boxed_slice(),
        take: vec![0u8; 64 << 10].into_boxed_slice(),
        payload: vec![0x5a; s.payload].into_boxed_slice(),
        next_writer: 0,
        burst: s.burst,
        delivered: 0,
        would_block: 0,
    };
    let qos = if s.reliable {
        Qos::reliable(s.depth)
    } else {
        Qos {
            history: l2net_core::engine::HistoryKind::KeepLast(s.depth),
            ..Qos::BEST_EFFORT
        }
    };
    let arena = usize::from(s.depth) * (s.payload + 64);
    for t in 0..s.topics {
        let topic = format!("/bench/{t}");
        let w = pair
            .a
            .create_writer(&topic, "Bytes", None, qos, leak(arena))
            .unwrap();
        let r = pair
            .b
            .create_reader(&topic, "Bytes", None, qos, leak(arena.max(1 << 16)))
            .unwrap();
        pair.writers.push(w);
        pair.readers.push(r);
    }
    // Discovery: HELLOs both ways until every writer has its reader.
    for _ in 0..10_000 {
        pair.exchange();
        pair.now += Duration::from_millis(1);
        if pair.writers.iter().all(|w| pair.a.writer_matches(*w) == 1)
            && pair.readers.iter().all(|r| pair.b.reader_matches(*r) == 1)
        {
            break;
        }
    }
    assert!(
        pair.writers.iter().all(|w| pair.a.writer_matches(*w) == 1),
        "bench pair never matched"
    );
    // Let the start-up announcement rounds finish so that steady state is measured.
    for _ in 0..2_000 {
        pair.exchange();
        pair.now += Duration::from_millis(1);
    }
    pair
}

/// Move every planned frame across, both ways, until both sides plan nothing more (their events
/// are dropped).
fn exchange(a: &mut FacadePart, b: &mut FacadePart, frame: &mut [u8], now: Instant) {
    loop {
        let mut moved = false;
        for dir in 0..2 {
            let (from, to) = if dir == 0 {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            while let Some(len) = from.poll_transmit(now) {
                let buf = &mut frame[..len];
                let n = from.write_transmit(buf).unwrap();
                to.handle_frame(&buf[..n], RxMeta::new(n), now);
                moved = true;
            }
            while from.poll_event().is_some() {}
        }
        if !moved {
            break;
        }
    }
}

impl Pair {
    pub fn new(s: Scenario) -> Pair {
        build(s)
    }

    /// Move every planned frame across, both ways, until both sides are quiet.
    pub fn exchange(&mut self) {
        exchange(&mut self.a, &mut self.b, &mut self.frame, self.now);
        while self.a.poll_event().is_some() {}
        while self.b.poll_event().is_some() {}
    }

    /// One round: offer a burst to the writers (round-robin), exchange frames, take everything
    /// delivered, advance the clock. Returns the samples taken.
    pub fn round(&mut self) -> u64 {
        let now = self.now;
        let k = self.writers.len();
        for _ in 0..self.burst * k {
            let w = self.writers[self.next_writer];
            self.next_writer = (self.next_writer + 1) % k;
            match self.a.write(w, &self.payload, now) {
                Ok(_) => {}
                Err(WriteError::WouldBlock) => self.would_block += 1,
                Err(e) => panic!("write failed: {e:?}"),
            }
        }
        self.exchange();
        let mut got = 0;
        for r in &self.readers {
            while let Some(info) = self.b.take(*r, &mut self.take).unwrap() {
                debug_assert_eq!(info.len, self.payload.len());
                got += 1;
            }
        }
        self.now += ROUND;
        self.delivered += got;
        got
    }
}

/// Simulated time per [`PingPong`] round trip (a veth round trip's order of magnitude).
pub const PING_PONG_ROUND: Duration = Duration::from_micros(15);

/// The Node's reliable ping-pong (rmw_l2net's round trip), driven call by call as `src/node.rs`
/// drives the engine: `a` publishes on `/ping`, `b` takes it and publishes on `/pong`, `a`
/// takes that. Per hop the sender writes, polls `poll_transmit` until `None` (writing every
/// frame) and then `poll_timeout`; the receiver handles the frame, looks at `poll_timeout`,
/// drains its events and takes the sample. Reliable keep-last(10), 16 B samples; each frame
/// carries the sample and, with `ack-with-data`, the acknowledgement of the last one received.
pub struct PingPong {
    pub a: Box<FacadePart>,
    pub b: Box<FacadePart>,
    ping: (WriterHandle, ReaderHandle),
    pong: (WriterHandle, ReaderHandle),
    pub now: Instant,
    frame: Box<[u8]>,
    take: Box<[u8]>,
    payload: Box<[u8]>,
    /// Frames sent, both ways together.
    pub frames: u64,
    /// Samples taken, both ways together.
    pub delivered: u64,
}

impl PingPong {
    pub fn new() -> PingPong {
        PingPong::with_idle(0)
    }

    /// With `idle` more writers and as many readers on each participant, on topics nobody else
    /// uses (a ROS 2 node's own endpoints: rosout, parameter events and services), which every
    /// timer pass, plan and `poll_timeout` of the engine walks.
    pub fn with_idle(idle: usize) -> PingPong {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || PingPong::build(idle))
            .expect("spawn builder thread")
            .join()
            .expect("builder thread")
    }

    fn build(idle: usize) -> PingPong {
        let now = Instant::from_millis(1);
        let (mac_a, mac_b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        let mut a = Box::new(
            FacadePart::new(Config::new(0, "ping"), 0xa11ce, mac_a, leak(1 << 20), now).unwrap(),
        );
        let mut b = Box::new(
            FacadePart::new(Config::new(0, "pong"), 0xb0b, mac_b, leak(1 << 20), now).unwrap(),
        );
        let qos = Qos::reliable(10);
        let ping_w = a
            .create_writer("/ping", "Bytes", None, qos, leak(1 << 12))
            .unwrap();
        let ping_r = b
            .create_reader("/ping", "Bytes", None, qos, leak(1 << 16))
            .unwrap();
        let pong_w = b
            .create_writer("/pong", "Bytes", None, qos, leak(1 << 12))
            .unwrap();
        let pong_r = a
            .create_reader("/pong", "Bytes", None, qos, leak(1 << 16))
            .unwrap();
        for (p, side) in [(&mut a, "a"), (&mut b, "b")] {
            for i in 0..idle {
                let topic = format!("/idle/{side}/{i}");
                p.create_writer(&topic, "Bytes", None, qos, leak(1 << 12))
                    .unwrap();
                p.create_reader(&topic, "Idle", None, qos, leak(1 << 12))
                    .unwrap();
            }
        }
        let mut pp = PingPong {
            a,
            b,
            ping: (ping_w, ping_r),
            pong: (pong_w, pong_r),
            now,
            frame: vec![0u8; 1600].into_boxed_slice(),
            take: vec![0u8; 64 << 10].into_boxed_slice(),
            payload: vec![0x5a; 16].into_boxed_slice(),
            frames: 0,
            delivered: 0,
        };
        // Discovery, then the start-up announcement rounds (as `Pair`).
        for i in 0..12_000 {
            pp.flush_both();
            pp.now += Duration::from_millis(1);
            let matched = pp.a.writer_matches(ping_w) == 1
                && pp.b.writer_matches(pong_w) == 1
                && pp.a.reader_matches(pong_r) == 1
                && pp.b.reader_matches(ping_r) == 1;
            if i > 2_000 && matched {
                break;
            }
        }
        assert_eq!(pp.a.writer_matches(ping_w), 1, "ping pair never matched");
        assert_eq!(pp.b.writer_matches(pong_w), 1, "ping pair never matched");
        pp
    }

    /// Move frames both ways until both sides are quiet (set-up only).
    fn flush_both(&mut self) {
        exchange(&mut self.a, &mut self.b, &mut self.frame, self.now);
    }

    /// One hop: `from` publishes with `w` and sends, `to` receives and takes with `r`.
    /// Returns the samples taken.
    #[allow(clippy::too_many_arguments)]
    fn hop(
        from: &mut FacadePart,
        to: &mut FacadePart,
        w: WriterHandle,
        r: ReaderHandle,
        now: Instant,
        frame: &mut [u8],
        take: &mut [u8],
        payload: &[u8],
        frames: &mut u64,
    ) -> u64 {
        // The publisher: write, then send what that made due (the Node's `after_write`).
        match from.write(w, payload, now) {
            Ok(_) | Err(WriteError::WouldBlock) => {}
            Err(e) => panic!("write failed: {e:?}"),
        }
        let mut sent = 0;
        while let Some(len) = from.poll_transmit(now) {
            let buf = &mut frame[..len];
            let n = from.write_transmit(buf).unwrap();
            // Only this hop's frames are in flight: each reaches the other side at once (the
            // Node's receive handles one frame, then looks at the timers).
            to.handle_frame(&buf[..n], RxMeta::new(n), now);
            sent += 1;
        }
        std::hint::black_box(from.poll_timeout());
        while from.poll_event().is_some() {}
        *frames += sent;
        // The subscriber: after the receive, the Node looks at the timers and sends what is
        // due at once (usually nothing), drains the events, then the application takes.
        if to.poll_timeout().is_some_and(|t| t <= now) {
            while let Some(len) = to.poll_transmit(now) {
                let buf = &mut frame[..len];
                let n = to.write_transmit(buf).unwrap();
                from.handle_frame(&buf[..n], RxMeta::new(n), now);
                *frames += 1;
            }
            std::hint::black_box(to.poll_timeout());
        }
        while to.poll_event().is_some() {}
        let mut got = 0;
        while let Some(info) = to.take(r, take).unwrap() {
            debug_assert_eq!(info.len, payload.len());
            got += 1;
        }
        got
    }

    /// One round trip: a ping and its pong. Returns the samples taken (2 once running).
    pub fn round(&mut self) -> u64 {
        let now = self.now;
        let mut got = Self::hop(
            &mut self.a,
            &mut self.b,
            self.ping.0,
            self.ping.1,
            now,
            &mut self.frame,
            &mut self.take,
            &self.payload,
            &mut self.frames,
        );
        got += Self::hop(
            &mut self.b,
            &mut self.a,
            self.pong.0,
            self.pong.1,
            now,
            &mut self.frame,
            &mut self.take,
            &self.payload,
            &mut self.frames,
        );
        self.now += PING_PONG_ROUND;
        self.delivered += got;
        got
    }
}
