//! A reliable reader slower than its writer (docs/PROTOCOL.md section 10, Reader): it asks only
//! for what it can take in, so the writer does not resend samples the reader would drop again,
//! and it tells the writer as soon as room appears, so the stream goes on. Simulated time, no
//! timing assertions: the counts of retransmissions and refusals are what is checked.

mod sim_util;

use std::time::Duration;

use l2net_core::engine::{Config, Qos, ReaderHandle, Stats, WriterHandle};
use sim_util::{Faults, Sim, check_payload, leak};

struct Run {
    got: Vec<u64>,
    writer: Stats,
    reader: Stats,
    /// Simulated time from the first write until the last sample was taken.
    took: Duration,
}

/// Write `count` samples of `size` bytes as fast as the writer's window allows; the reader (queue
/// of `depth` samples) takes at most `takes(tick)` samples after tick `tick`.
fn slow_run(
    seed: u64,
    faults: Faults,
    heartbeat: Duration,
    count: u64,
    size: usize,
    depth: u16,
    takes: impl Fn(u32) -> usize,
) -> Run {
    let mut sim = Sim::new(2, seed, |_| {
        let mut c = Config::new(5, "slow");
        c.heartbeat_period = heartbeat;
        c
    });
    let w: WriterHandle = sim.nodes[0]
        .p
        .create_writer("slow", "Msg", None, Qos::reliable(256), leak(1 << 20))
        .unwrap();
    let r: ReaderHandle = sim.nodes[1]
        .p
        .create_reader("slow", "Msg", None, Qos::reliable(depth), leak(1 << 20))
        .unwrap();
    assert!(
        sim.run_until(Duration::from_secs(30), |s| s.nodes[0].p.writer_matches(w)
            == 1),
        "never matched"
    );
    sim.set_faults(faults);
    let mut got = Vec::new();
    let mut next = 1u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut tick = 0u32;
    let start = sim.now;
    let end = sim.now + Duration::from_secs(600);
    while sim.now < end && (got.len() as u64) < count {
        sim.write_while_room(0, w, &mut next, count, |_| size);
        sim.step();
        for _ in 0..takes(tick) {
            let Some(info) = sim.nodes[1].p.take(r, &mut buf).unwrap() else {
                break;
            };
            let seq = check_payload(&buf[..info.len]).expect("damaged sample delivered");
            assert_eq!(seq, info.seq);
            got.push(seq);
        }
        tick += 1;
    }
    Run {
        got,
        writer: *sim.nodes[0].p.stats(),
        reader: *sim.nodes[1].p.stats(),
        took: sim.now - start,
    }
}

/// Every sample exactly once, in order.
fn check_in_order(run: &Run, count: u64) {
    let expect: Vec<u64> = (1..=count).collect();
    assert_eq!(
        run.got, expect,
        "reader {:?} writer {:?}",
        run.reader, run.writer
    );
}

const HB: Duration = Duration::from_millis(20);

#[test]
fn slow_reader_without_loss_is_not_flooded_with_resends() {
    // The writer's window (128) is far larger than the reader's queue (8) plus its hold slots
    // (16); the reader takes one sample per tick, the writer sends up to its window per tick.
    let count = 3000;
    let run = slow_run(11, Faults::NONE, HB, count, 1024, 8, |_| 1);
    check_in_order(&run, count);
    // Without loss a sample is only resent because the reader had to drop it when it was new
    // (no room); a resend is asked for only when there is room for it, so it is not dropped
    // again. Before the reader bounded its requests, this run resent 135801 samples (45 per
    // sample); now about 0.7 per sample.
    assert!(
        run.writer.tx_resent < count,
        "{} resends for {count} samples: {:?}",
        run.writer.tx_resent,
        run.reader
    );
}

#[test]
fn slow_reader_under_loss_and_reordering() {
    let count = 1500;
    for seed in [1, 2, 3] {
        let run = slow_run(seed, Faults::lossy(0.1), HB, count, 1024, 8, |t| {
            usize::from(t % 2 == 0)
        });
        check_in_order(&run, count);
        assert!(
            run.writer.tx_resent < 3 * count,
            "seed {seed}: {} resends for {count} samples: {:?}",
            run.writer.tx_resent,
            run.reader
        );
    }
}

#[test]
fn room_after_a_pause_is_asked_for_without_waiting_for_a_heartbeat() {
    // The application takes nothing for 200 ticks (the queue and the hold slots fill, the
    // reader's ACKNACKs ask for nothing more), then everything. With a 10 s heartbeat period
    // the stream can only go on that soon because the reader tells the writer it has room
    // when the application takes samples (simulated time: no wall-clock timing).
    let count = 600;
    let run = slow_run(
        7,
        Faults::NONE,
        Duration::from_secs(10),
        count,
        1024,
        16,
        |t| if t < 200 { 0 } else { usize::MAX },
    );
    check_in_order(&run, count);
    assert!(
        run.took < Duration::from_secs(5),
        "took {:?} of simulated time: {:?} {:?}",
        run.took,
        run.reader,
        run.writer
    );
}
