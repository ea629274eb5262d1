//! Behaviour of the fault-injecting wrapper (`l2net_core::link::fault`), on top of the in-memory
//! segment.

use core::time::Duration;

use l2net_core::link::fault::{
    FaultConfig, FaultError, FaultLink, FaultStats, Faults, Probability, fault_arena_len,
};
use l2net_core::link::mem::{Segment, SegmentConfig, arena_len};
use l2net_core::link::{LinkError, RawLink, RxFrame, RxMeta, TxToken};
use l2net_core::{Instant, MacAddr};

const A: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xa]);
const B: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xb]);
const N: u32 = 10_000;
const BATCH: u32 = 32;

fn frame(seq: u32) -> Vec<u8> {
    let len = 60 + (seq % 40) as usize;
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&B.0);
    f[6..12].copy_from_slice(&A.0);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[18..].iter_mut().enumerate() {
        *b = (seq as usize * 7 + i) as u8;
    }
    f
}

fn seq_of(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[14], f[15], f[16], f[17]])
}

fn put<L: RawLink>(link: &mut L, now: Instant, bytes: &[u8]) {
    let tok = link
        .transmit(now, bytes.len())
        .expect("transmit")
        .expect("room");
    tok.consume(|buf| buf.copy_from_slice(bytes));
}

fn drain<L: RawLink>(link: &mut L, now: Instant, out: &mut Vec<(Vec<u8>, RxMeta, bool)>) {
    while let Some(rx) = link.receive(now).expect("receive") {
        out.push((rx.data().to_vec(), rx.meta(), false));
    }
}

fn seg_config() -> SegmentConfig {
    SegmentConfig {
        rx_queue: 64,
        tx_queue: 64,
        ..SegmentConfig::DEFAULT
    }
}

type Received = Vec<(Vec<u8>, RxMeta, bool)>;

/// Send `n` frames from a plain link to a link wrapped with `rx` faults; everything received.
fn run_rx(cfg: FaultConfig, n: u32) -> (Received, FaultStats) {
    let mut mem = vec![0u8; arena_len(256, 1500)];
    let seg = Segment::<2, 256>::new(&mut mem, seg_config()).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let b = seg.link(B, 1500).unwrap();
    let mut farena = vec![0u8; fault_arena_len(8, 1500)];
    let mut fb = FaultLink::<_, 8>::new(b, &mut farena, cfg).unwrap();
    let mut out = Vec::new();
    let mut now = Instant::from_millis(1);
    let mut seq = 0;
    while seq < n {
        for _ in 0..BATCH.min(n - seq) {
            put(&mut a, now, &frame(seq));
            seq += 1;
        }
        a.flush(now).unwrap();
        while let Some(rx) = fb.receive(now).unwrap() {
            out.push((rx.data().to_vec(), rx.meta(), rx.is_copy()));
        }
        now += Duration::from_millis(1);
    }
    // Let every held frame come due.
    for _ in 0..1000 {
        now += Duration::from_millis(10);
        while let Some(rx) = fb.receive(now).unwrap() {
            out.push((rx.data().to_vec(), rx.meta(), rx.is_copy()));
        }
        if fb.held() == (0, 0) {
            break;
        }
    }
    assert_eq!(fb.held(), (0, 0));
    assert_eq!(fb.inner().stats().rx_dropped, 0, "test harness overran");
    (out, fb.stats())
}

/// Send `n` frames through a link wrapped with `tx` faults to a plain link.
fn run_tx(cfg: FaultConfig, n: u32) -> (Received, FaultStats) {
    let mut mem = vec![0u8; arena_len(256, 1500)];
    let seg = Segment::<2, 256>::new(&mut mem, seg_config()).unwrap();
    let a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let mut farena = vec![0u8; fault_arena_len(8, 1500)];
    let mut fa = FaultLink::<_, 8>::new(a, &mut farena, cfg).unwrap();
    let mut out = Vec::new();
    let mut now = Instant::from_millis(1);
    let mut seq = 0;
    while seq < n {
        for _ in 0..BATCH.min(n - seq) {
            put(&mut fa, now, &frame(seq));
            seq += 1;
        }
        fa.flush(now).unwrap();
        drain(&mut b, now, &mut out);
        now += Duration::from_millis(1);
    }
    for _ in 0..1000 {
        now += Duration::from_millis(10);
        fa.flush(now).unwrap();
        drain(&mut b, now, &mut out);
        if fa.held() == (0, 0) {
            break;
        }
    }
    assert_eq!(fa.held(), (0, 0));
    assert_eq!(b.stats().rx_dropped, 0, "test harness overran");
    (out, fa.stats())
}

fn rate(count: u64, n: u32) -> f64 {
    count as f64 / f64::from(n)
}

fn assert_rate(what: &str, count: u64, n: u32, want: f64) {
    let got = rate(count, n);
    assert!(
        (got - want).abs() < 0.015,
        "{what}: rate {got:.4}, configured {want}"
    );
}

fn seqs(out: &Received) -> Vec<u32> {
    out.iter().map(|(f, _, _)| seq_of(f)).collect()
}

#[test]
fn all_zero_is_transparent() {
    for seed in [0, 1, 0xdead_beef] {
        let (rx_out, rx_stats) = run_rx(FaultConfig::new(seed), 2000);
        let (tx_out, tx_stats) = run_tx(FaultConfig::new(seed), 2000);
        for (out, stats) in [(&rx_out, rx_stats), (&tx_out, tx_stats)] {
            assert_eq!(out.len(), 2000);
            for (i, (f, meta, copy)) in out.iter().enumerate() {
                assert_eq!(f, &frame(i as u32));
                assert_eq!(meta.wire_len, f.len());
                assert!(!copy, "a clean frame must be the inner view, not a copy");
            }
            let mut clean = FaultStats::default();
            clean.rx.frames = stats.rx.frames;
            clean.tx.frames = stats.tx.frames;
            assert_eq!(stats, clean);
        }
        assert_eq!(rx_stats.rx.frames, 2000);
        assert_eq!(tx_stats.tx.frames, 2000);
    }
}

#[test]
fn loss_happens_at_the_configured_rate() {
    let faults = Faults {
        loss: Probability::percent(10),
        ..Faults::NONE
    };
    let (out, stats) = run_rx(
        FaultConfig {
            rx: faults,
            ..FaultConfig::new(7)
        },
        N,
    );
    assert_rate("rx loss", stats.rx.lost, N, 0.10);
    assert_eq!(out.len() as u64 + stats.rx.lost, u64::from(N));
    // Survivors keep their order.
    assert!(seqs(&out).windows(2).all(|w| w[0] < w[1]));

    let (out, stats) = run_tx(
        FaultConfig {
            tx: Faults {
                loss: Probability::percent(25),
                ..Faults::NONE
            },
            ..FaultConfig::new(7)
        },
        N,
    );
    assert_rate("tx loss", stats.tx.lost, N, 0.25);
    assert_eq!(out.len() as u64 + stats.tx.lost, u64::from(N));
}

#[test]
fn duplicates_follow_their_original() {
    let dup = Faults {
        duplicate: Probability::percent(5),
        ..Faults::NONE
    };
    for (out, dups) in [
        {
            let (o, s) = run_rx(
                FaultConfig {
                    rx: dup,
                    ..FaultConfig::new(3)
                },
                N,
            );
            (o, s.rx.duplicated)
        },
        {
            let (o, s) = run_tx(
                FaultConfig {
                    tx: dup,
                    ..FaultConfig::new(3)
                },
                N,
            );
            (o, s.tx.duplicated)
        },
    ] {
        assert_rate("duplication", dups, N, 0.05);
        assert_eq!(out.len() as u64, u64::from(N) + dups);
        let s = seqs(&out);
        let repeats = s.windows(2).filter(|w| w[0] == w[1]).count() as u64;
        assert_eq!(repeats, dups);
        let mut dedup = s.clone();
        dedup.dedup();
        assert_eq!(dedup, (0..N).collect::<Vec<_>>());
        // A duplicate is byte-identical.
        for w in out.windows(2) {
            if seq_of(&w[0].0) == seq_of(&w[1].0) {
                assert_eq!(w[0].0, w[1].0);
            }
        }
    }
}

#[test]
fn corruption_flips_bits_of_one_payload_byte() {
    let faults = Faults {
        corrupt: Probability::percent(10),
        corrupt_payload_only: true,
        ..Faults::NONE
    };
    let check = |out: &Received, corrupted: u64| {
        assert_eq!(out.len() as u32, N);
        let mut bad = 0;
        for (i, (f, _, _)) in out.iter().enumerate() {
            let want = frame(i as u32);
            assert_eq!(f.len(), want.len());
            let diff: Vec<usize> = (0..f.len()).filter(|&j| f[j] != want[j]).collect();
            assert!(diff.len() <= 1, "more than one byte changed");
            if let Some(&j) = diff.first() {
                assert!(j >= 14, "header byte {j} corrupted");
                bad += 1;
            }
        }
        assert_eq!(bad, corrupted);
        assert_rate("corruption", corrupted, N, 0.10);
    };
    let (out, stats) = run_rx(
        FaultConfig {
            rx: faults,
            ..FaultConfig::new(11)
        },
        N,
    );
    check(&out, stats.rx.corrupted);
    assert!(out.iter().filter(|(_, _, copy)| *copy).count() as u64 == stats.rx.corrupted);
    let (out, stats) = run_tx(
        FaultConfig {
            tx: faults,
            ..FaultConfig::new(11)
        },
        N,
    );
    check(&out, stats.tx.corrupted);
}

#[test]
fn corruption_may_hit_the_header_when_allowed() {
    let faults = Faults {
        corrupt: Probability::ALWAYS,
        ..Faults::NONE
    };
    let (out, stats) = run_rx(
        FaultConfig {
            rx: faults,
            ..FaultConfig::new(5)
        },
        3000,
    );
    assert_eq!(stats.rx.corrupted, 3000);
    let header_hits = out
        .iter()
        .enumerate()
        .filter(|(i, (f, _, _))| f[..14] != frame(*i as u32)[..14])
        .count();
    // 14 of 60..100 bytes are header: roughly a sixth of the hits.
    assert!(header_hits > 300 && header_hits < 800, "{header_hits}");
}

#[test]
fn reordered_frames_arrive_k_frames_late() {
    let faults = Faults {
        reorder: Probability::percent(5),
        reorder_after: 3,
        reorder_max_hold: Some(Duration::from_millis(50)),
        ..Faults::NONE
    };
    let check = |out: &Received, reordered: u64| {
        assert_rate("reordering", reordered, N, 0.05);
        let s = seqs(out);
        assert_eq!(s.len() as u32, N);
        let mut sorted = s.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..N).collect::<Vec<_>>(),
            "nothing lost or doubled"
        );
        // A frame that is late by at least one position was held back.
        let late = s
            .iter()
            .enumerate()
            .filter(|&(pos, &q)| s[pos + 1..].iter().any(|&later| later < q) || pos > q as usize)
            .count() as u64;
        assert!(late > 0);
        let displaced: u64 = s
            .iter()
            .enumerate()
            .filter(|&(pos, &q)| pos as u32 >= q + 3)
            .count() as u64;
        assert!(
            displaced <= reordered && displaced * 10 >= reordered * 8,
            "{displaced} of {reordered}"
        );
    };
    let (out, stats) = run_rx(
        FaultConfig {
            rx: faults,
            ..FaultConfig::new(17)
        },
        N,
    );
    check(&out, stats.rx.reordered);
    let (out, stats) = run_tx(
        FaultConfig {
            tx: faults,
            ..FaultConfig::new(17)
        },
        N,
    );
    check(&out, stats.tx.reordered);
}

#[test]
fn delayed_frames_come_due_in_time() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = Segment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let b = seg.link(B, 1500).unwrap();
    let mut farena = vec![0u8; fault_arena_len(8, 1500)];
    let cfg = FaultConfig {
        rx: Faults {
            delay: Probability::ALWAYS,
            delay_min: Duration::from_millis(5),
            delay_max: Duration::from_millis(10),
            ..Faults::NONE
        },
        ..FaultConfig::new(99)
    };
    let mut fb = FaultLink::<_, 8>::new(b, &mut farena, cfg).unwrap();
    let t0 = Instant::from_millis(100);
    for seq in 0..4 {
        put(&mut a, t0, &frame(seq));
    }
    a.flush(t0).unwrap();
    assert!(fb.receive(t0).unwrap().is_none());
    assert_eq!(fb.held(), (4, 0));
    let due = fb.poll_at().unwrap();
    assert!(due >= t0 + Duration::from_millis(5) && due <= t0 + Duration::from_millis(10));
    assert!(
        fb.receive(t0 + Duration::from_micros(4999))
            .unwrap()
            .is_none()
    );
    let mut got = Vec::new();
    let mut now = t0;
    while got.len() < 4 {
        now += Duration::from_micros(100);
        assert!(now <= t0 + Duration::from_millis(10));
        while let Some(rx) = fb.receive(now).unwrap() {
            let ts = rx.meta().timestamp.unwrap().nanos;
            // The stamp moved by the delay, which is within the configured range.
            assert!(ts >= (t0 + Duration::from_millis(5)).as_nanos());
            assert!(ts <= (t0 + Duration::from_millis(10)).as_nanos());
            assert!(ts <= now.as_nanos());
            got.push(seq_of(rx.data()));
        }
    }
    got.sort_unstable();
    assert_eq!(got, vec![0, 1, 2, 3]);
    assert_eq!(fb.stats().rx.delayed, 4);
    assert_eq!(fb.poll_at(), None);
}

#[test]
fn delayed_transmits_leave_on_a_later_flush() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = Segment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let mut farena = vec![0u8; fault_arena_len(4, 1500)];
    let cfg = FaultConfig {
        tx: Faults {
            delay: Probability::ALWAYS,
            delay_min: Duration::from_millis(3),
            delay_max: Duration::from_millis(3),
            ..Faults::NONE
        },
        ..FaultConfig::new(1)
    };
    let mut fa = FaultLink::<_, 4>::new(a, &mut farena, cfg).unwrap();
    let t0 = Instant::from_millis(1);
    let mut tok = fa.transmit(t0, 60).unwrap().unwrap();
    tok.request_timestamp(9).unwrap();
    tok.consume(|buf| buf.copy_from_slice(&frame(0)));
    fa.flush(t0).unwrap();
    assert!(b.receive(t0).unwrap().is_none());
    assert_eq!(fa.poll_at(), Some(t0 + Duration::from_millis(3)));
    fa.flush(t0 + Duration::from_millis(3)).unwrap();
    let rx = b.receive(t0).unwrap().unwrap();
    assert_eq!(seq_of(rx.data()), 0);
    assert_eq!(
        rx.meta().timestamp.unwrap().nanos,
        (t0 + Duration::from_millis(3)).as_nanos()
    );
    drop(rx);
    // The timestamp request travelled with the held frame.
    assert_eq!(fa.poll_tx_timestamp().map(|t| t.id), Some(9));
}

#[test]
fn a_full_hold_buffer_releases_the_oldest_instead_of_growing() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = Segment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let b = seg.link(B, 1500).unwrap();
    let mut farena = vec![0u8; fault_arena_len(4, 1500)];
    let cfg = FaultConfig {
        rx: Faults {
            delay: Probability::ALWAYS,
            delay_min: Duration::from_secs(10),
            delay_max: Duration::from_secs(10),
            ..Faults::NONE
        },
        ..FaultConfig::new(2)
    };
    let mut fb = FaultLink::<_, 4>::new(b, &mut farena, cfg).unwrap();
    let now = Instant::from_millis(1);
    for seq in 0..10 {
        put(&mut a, now, &frame(seq));
    }
    a.flush(now).unwrap();
    let mut got = Vec::new();
    loop {
        assert!(fb.held().0 <= 4);
        let Some(rx) = fb.receive(now).unwrap() else {
            break;
        };
        got.push(seq_of(rx.data()));
    }
    // Six were pushed out early, oldest first; four are still held.
    assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(fb.held(), (4, 0));
    assert_eq!(fb.stats().rx.forced_releases, 6);
    let later = now + Duration::from_secs(10);
    while let Some(rx) = fb.receive(later).unwrap() {
        got.push(seq_of(rx.data()));
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());

    // Transmit side: a full buffer sends the oldest held frame to the inner link.
    let cfg = FaultConfig {
        tx: cfg.rx,
        ..FaultConfig::new(2)
    };
    drop(fb.into_inner());
    let mut farena = vec![0u8; fault_arena_len(4, 1500)];
    let mut fa = FaultLink::<_, 4>::new(a, &mut farena, cfg).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    for seq in 0..10 {
        put(&mut fa, now, &frame(seq));
    }
    fa.flush(now).unwrap();
    assert_eq!(fa.held(), (0, 4));
    assert_eq!(fa.stats().tx.forced_releases, 6);
    let mut out = Vec::new();
    drain(&mut b, now, &mut out);
    assert_eq!(seqs(&out), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn the_same_seed_gives_the_same_faults() {
    let faults = Faults {
        loss: Probability::percent(5),
        duplicate: Probability::percent(5),
        reorder: Probability::percent(5),
        reorder_after: 2,
        reorder_max_hold: Some(Duration::from_millis(20)),
        corrupt: Probability::percent(5),
        corrupt_payload_only: false,
        delay: Probability::percent(5),
        delay_min: Duration::from_micros(100),
        delay_max: Duration::from_millis(3),
    };
    let cfg = |seed| FaultConfig {
        seed,
        rx: faults,
        tx: faults,
    };
    let (a1, s1) = run_rx(cfg(42), 3000);
    let (a2, s2) = run_rx(cfg(42), 3000);
    assert_eq!(a1, a2);
    assert_eq!(s1, s2);
    let (t1, u1) = run_tx(cfg(42), 3000);
    let (t2, u2) = run_tx(cfg(42), 3000);
    assert_eq!(t1, t2);
    assert_eq!(u1, u2);
    let (b1, _) = run_rx(cfg(43), 3000);
    assert_ne!(a1, b1);
    // Every fault kind actually happened.
    for d in [s1.rx, u1.tx] {
        assert!(d.lost > 0 && d.duplicated > 0 && d.reordered > 0);
        assert!(d.corrupted > 0 && d.delayed > 0);
    }
}

#[test]
fn a_partition_drops_everything_until_healed() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = Segment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let a = seg.link(A, 1500).unwrap();
    let b = seg.link(B, 1500).unwrap();
    let mut arena_a = vec![0u8; fault_arena_len(4, 1500)];
    let mut arena_b = vec![0u8; fault_arena_len(4, 1500)];
    let mut fa = FaultLink::<_, 4>::new(a, &mut arena_a, FaultConfig::new(1)).unwrap();
    let mut fb = FaultLink::<_, 4>::new(b, &mut arena_b, FaultConfig::new(2)).unwrap();
    let now = Instant::from_millis(1);

    fa.set_partitioned(true);
    for seq in 0..5 {
        put(&mut fa, now, &frame(seq));
    }
    fa.flush(now).unwrap();
    assert!(fb.receive(now).unwrap().is_none());
    assert_eq!(fa.stats().tx.partitioned, 5);
    assert_eq!(fa.inner().stats().tx_frames, 0);

    // Receive side cut: frames reach b's NIC but not its user.
    fa.set_partitioned(false);
    fb.set_partitioned(true);
    assert!(fb.is_partitioned());
    for seq in 0..5 {
        put(&mut fa, now, &frame(seq));
    }
    fa.flush(now).unwrap();
    assert!(fb.receive(now).unwrap().is_none());
    assert_eq!(fb.stats().rx.partitioned, 5);

    fb.set_partitioned(false);
    put(&mut fa, now, &frame(77));
    fa.flush(now).unwrap();
    let rx = fb.receive(now).unwrap().unwrap();
    assert_eq!(seq_of(rx.data()), 77);
}

#[test]
fn construction_and_length_errors() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = Segment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let a = seg.link(A, 1500).unwrap();
    let mut small = vec![0u8; fault_arena_len(4, 1000)];
    assert!(matches!(
        FaultLink::<_, 4>::new(a, &mut small, FaultConfig::new(0)),
        Err(FaultError::ArenaTooSmall { needed: 1522, .. })
    ));
    let a = seg.link(A, 1500).unwrap();
    let mut arena = vec![0u8; fault_arena_len(4, 1500)];
    let lossy = FaultConfig {
        tx: Faults {
            loss: Probability::ALWAYS,
            ..Faults::NONE
        },
        ..FaultConfig::new(0)
    };
    let mut fa = FaultLink::<_, 4>::new(a, &mut arena, lossy).unwrap();
    assert!(matches!(
        fa.transmit(Instant::ZERO, 1523),
        Err(LinkError::TooLarge { .. })
    ));
    assert!(matches!(
        fa.transmit(Instant::ZERO, 3),
        Err(LinkError::TooShort { .. })
    ));
    assert_eq!(fa.mac(), A);
    assert_eq!(fa.capabilities().mtu, 1500);
    assert_eq!(Probability::from_f64(0.25), Probability::percent(25));
    assert_eq!(Probability::from_f64(f64::NAN), Probability::NEVER);
    assert_eq!(Probability::from_f64(7.0), Probability::ALWAYS);
    assert_eq!(Probability::from_ppm(2_000_000), Probability::ALWAYS);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn faults() -> impl Strategy<Value = Faults> {
        let p = || proptest::sample::select(vec![0u32, 10, 50, 100]).prop_map(Probability::percent);
        (
            (p(), p(), p(), p(), p()),
            0..4u32,
            any::<bool>(),
            any::<bool>(),
            0..5u64,
        )
            .prop_map(
                |((loss, duplicate, reorder, corrupt, delay), after, hold, payload, ms)| Faults {
                    loss,
                    duplicate,
                    reorder,
                    reorder_after: after,
                    reorder_max_hold: hold.then(|| Duration::from_millis(2)),
                    corrupt,
                    corrupt_payload_only: payload,
                    delay,
                    delay_min: Duration::from_millis(ms),
                    delay_max: Duration::from_millis(ms * 2),
                },
            )
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// a sends to b (b receives through its faults).
        ToB(usize),
        /// b sends to a through its faults.
        FromB(usize),
        FlushA,
        FlushB,
        RecvA,
        RecvB,
        Tick(u64),
        Partition(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (14..1530usize).prop_map(Op::ToB),
            (10..1530usize).prop_map(Op::FromB),
            Just(Op::FlushA),
            Just(Op::FlushB),
            Just(Op::RecvA),
            Just(Op::RecvB),
            (0..3000u64).prop_map(Op::Tick),
            any::<bool>().prop_map(Op::Partition),
        ]
    }

    fn run<const H: usize>(
        seed: u64,
        rx: Faults,
        tx: Faults,
        ops: &[Op],
    ) -> Result<(), TestCaseError> {
        let mut mem = vec![0u8; arena_len(64, 1500)];
        let seg = Segment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
        let mut a = seg.link(A, 1500).unwrap();
        let b = seg.link(B, 1500).unwrap();
        let mut arena = vec![0u8; fault_arena_len(H, 1500)];
        let mut fb = FaultLink::<_, H>::new(b, &mut arena, FaultConfig { seed, rx, tx }).unwrap();
        let mut now = Instant::from_millis(1);
        let mut delivered = 0u64;
        for op in ops {
            match *op {
                Op::ToB(len) => {
                    if let Ok(Some(tok)) = a.transmit(now, len) {
                        tok.consume(|buf| buf.copy_from_slice(&frame_of(len)));
                    }
                }
                Op::FromB(len) => match fb.transmit(now, len) {
                    Ok(Some(tok)) => tok.consume(|buf| buf.copy_from_slice(&frame_of(len))),
                    Ok(None) => {}
                    Err(LinkError::TooShort { .. }) => prop_assert!(len < 14),
                    Err(LinkError::TooLarge { .. }) => prop_assert!(len > 1522),
                    Err(e) => prop_assert!(false, "{e:?}"),
                },
                Op::FlushA => {
                    a.flush(now).unwrap();
                }
                Op::FlushB => {
                    fb.flush(now).unwrap();
                }
                Op::RecvA => while a.receive(now).unwrap().is_some() {},
                Op::RecvB => {
                    while let Some(rx) = fb.receive(now).unwrap() {
                        prop_assert!(rx.data().len() >= 14);
                        delivered += 1;
                    }
                }
                Op::Tick(us) => now += Duration::from_micros(us),
                Op::Partition(p) => fb.set_partitioned(p),
            }
            let s = fb.stats();
            let (held_rx, held_tx) = fb.held();
            prop_assert!(held_rx <= H + 1 && held_tx <= H);
            // Every frame that entered is accounted for.
            prop_assert_eq!(
                s.rx.frames + s.rx.duplicated,
                delivered + s.rx.lost + s.rx.partitioned + s.rx.unbuffered + held_rx as u64
            );
            let inner = fb.inner().stats();
            let to_inner = inner.tx_frames + inner.tx_oversize + fb.inner().tx_queued() as u64;
            prop_assert_eq!(
                s.tx.frames + s.tx.duplicated,
                to_inner + s.tx.lost + s.tx.partitioned + s.tx.release_errors + held_tx as u64
            );
        }
        Ok(())
    }

    fn frame_of(len: usize) -> Vec<u8> {
        let mut f = frame(len as u32);
        f.resize(len, 0xab);
        f
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Random faults and traffic never panic and never lose track of a frame.
        #[test]
        fn frames_are_accounted_for(
            seed in any::<u64>(),
            rx in faults(),
            tx in faults(),
            ops in proptest::collection::vec(op(), 1..150),
        ) {
            run::<1>(seed, rx, tx, &ops)?;
            run::<3>(seed, rx, tx, &ops)?;
        }
    }
}
