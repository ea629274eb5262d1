//! A reliable reader slower than its writer (docs/PROTOCOL.md section 10, Reader and flow
//! control): it asks only for what it can take in and says where its room ends, the writer
//! sends nothing past that end (to the slowest of its reliable readers), so no sample is sent
//! only to be dropped, and the reader tells the writer as soon as room appears, so the stream
//! goes on; lost ACKNACKs cost time, not a stall. Simulated time, no wall-clock timing: the
//! counts of retransmissions and the simulated durations are what is checked.

mod sim_util;

use std::time::Duration;

use l2net_core::engine::{Config, HistoryKind, Qos, ReaderHandle, Stats, WriterHandle};
use sim_util::{Faults, Sim, check_payload, leak};

struct Run {
    got: Vec<u64>,
    writer: Stats,
    reader: Stats,
    /// Simulated time from the first write until the last sample was taken.
    took: Duration,
}

/// One reader of a [`flow_run`], on a node of its own.
#[derive(Clone, Copy)]
struct ReaderSpec {
    reliable: bool,
    depth: u16,
    /// Samples the application takes after tick `t`: `takes(t)`.
    takes: fn(u32) -> usize,
}

impl ReaderSpec {
    /// A reliable reader of queue depth `depth` that takes `takes(t)` samples after tick `t`.
    const fn reliable(depth: u16, takes: fn(u32) -> usize) -> ReaderSpec {
        ReaderSpec {
            reliable: true,
            depth,
            takes,
        }
    }
}

/// What the writer's NIC does to the ACKNACKs it receives.
#[derive(Clone, Copy)]
struct WriterNic {
    /// `acknack_loss(tick)`: the probability that an ACKNACK reaching the writer in that tick
    /// is lost (on top of the run's faults).
    acknack_loss: fn(u32) -> f64,
    /// False: the ROOM flag is cleared, as from readers that predate it.
    room_flag: bool,
}

const PLAIN_NIC: WriterNic = WriterNic {
    acknack_loss: |_| 0.0,
    room_flag: true,
};

/// Per reader: the samples taken, its node's statistics, the simulated time until it had
/// all `count` (or the limit).
struct FlowRun {
    got: Vec<Vec<u64>>,
    writer: Stats,
    readers: Vec<Stats>,
    took: Vec<Duration>,
    acknacks_dropped: u64,
}

/// Write `count` samples of `size` bytes as fast as the writer's window allows, to readers on
/// nodes 1.. (one each); the loop ends when every reliable reader has all of them (or after
/// 600 s of simulated time).
fn flow_run(
    seed: u64,
    faults: Faults,
    heartbeat: Duration,
    count: u64,
    size: usize,
    readers: &[ReaderSpec],
    nic: WriterNic,
) -> FlowRun {
    let WriterNic {
        acknack_loss,
        room_flag,
    } = nic;
    let mut sim = Sim::new(1 + readers.len(), seed, |_| {
        let mut c = Config::new(5, "slow");
        c.heartbeat_period = heartbeat;
        c
    });
    let w: WriterHandle = sim.nodes[0]
        .p
        .create_writer("slow", "Msg", None, Qos::reliable(256), leak(1 << 20))
        .unwrap();
    let rs: Vec<ReaderHandle> = readers
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let qos = if spec.reliable {
                Qos::reliable(spec.depth)
            } else {
                Qos {
                    history: HistoryKind::KeepLast(spec.depth),
                    ..Qos::BEST_EFFORT
                }
            };
            sim.nodes[1 + i]
                .p
                .create_reader("slow", "Msg", None, qos, leak(1 << 20))
                .unwrap()
        })
        .collect();
    assert!(
        sim.run_until(Duration::from_secs(30), |s| s.nodes[0].p.writer_matches(w)
            == readers.len()),
        "never matched"
    );
    sim.set_faults(faults);
    if !room_flag {
        // The writer gets ACKNACKs without the ROOM flag, as from readers that predate it (and
        // handles the readers' long bitmaps as a writer that predates it would).
        sim.nodes[0].link.clear_flags = Some((0x21, 0x02));
    }
    let mut got = vec![Vec::new(); readers.len()];
    let mut took = vec![Duration::ZERO; readers.len()];
    let mut next = 1u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut tick = 0u32;
    let start = sim.now;
    let end = sim.now + Duration::from_secs(600);
    let done = |got: &[Vec<u64>]| {
        readers
            .iter()
            .zip(got)
            .all(|(spec, g)| !spec.reliable || g.len() as u64 >= count)
    };
    while sim.now < end && !done(&got) {
        // ACKNACKs are lost at the writer's NIC, which receives nothing else from the readers
        // but HELLOs (the match is made).
        sim.nodes[0].link.kind_loss = Some((0x21, acknack_loss(tick)));
        sim.write_while_room(0, w, &mut next, count, |_| size);
        sim.step();
        for (i, spec) in readers.iter().enumerate() {
            for _ in 0..(spec.takes)(tick) {
                let Some(info) = sim.nodes[1 + i].p.take(rs[i], &mut buf).unwrap() else {
                    break;
                };
                let seq = check_payload(&buf[..info.len]).expect("damaged sample delivered");
                assert_eq!(seq, info.seq);
                got[i].push(seq);
                if got[i].len() as u64 == count {
                    took[i] = sim.now - start;
                }
            }
        }
        tick += 1;
    }
    FlowRun {
        got,
        writer: *sim.nodes[0].p.stats(),
        readers: sim.nodes[1..].iter().map(|n| *n.p.stats()).collect(),
        took,
        acknacks_dropped: sim.nodes[0].link.stats.kind_dropped,
    }
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
    takes: fn(u32) -> usize,
) -> Run {
    let spec = ReaderSpec::reliable(depth, takes);
    let mut r = flow_run(seed, faults, heartbeat, count, size, &[spec], PLAIN_NIC);
    let run = Run {
        got: r.got.remove(0),
        writer: r.writer,
        reader: r.readers[0],
        took: r.took[0],
    };
    eprintln!(
        "seed {seed}: {} resends, took {:?}, queue refusals {}, duplicates {}",
        run.writer.tx_resent, run.took, run.reader.rx_queue_full, run.reader.rx_duplicate
    );
    run
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
    // Without loss a sample is only resent because the reader had to drop it (no room). The
    // reader asks only for what it can take in, and the writer sends nothing past the end of
    // the reader's room: before the reader bounded its requests this run resent 135801 samples
    // (45 per sample); with bounded requests but a writer that sent past the room, 2207 (0.7
    // per sample); now none, in the same 3 s of simulated time.
    assert!(
        run.writer.tx_resent < count / 100,
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
        // Resends now repair the wire's losses only (about 300 here; 1450-1530 before the
        // writer respected the reader's room).
        assert!(
            run.writer.tx_resent < count / 2,
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
    // when the application takes samples (simulated time: no wall-clock timing). It sees the
    // writer at the end of its room by the samples that arrive, without a HEARTBEAT: the 400
    // samples after the pause take about 40 ms (800 ms when it waited for the writer's
    // after-burst HEARTBEATs, 100 ms apart here).
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
        run.took < Duration::from_millis(500),
        "took {:?} of simulated time: {:?} {:?}",
        run.took,
        run.reader,
        run.writer
    );
}

fn all_in_order(run: &FlowRun, count: u64, readers: &[ReaderSpec]) {
    let expect: Vec<u64> = (1..=count).collect();
    for (i, spec) in readers.iter().enumerate() {
        if spec.reliable {
            assert_eq!(
                run.got[i], expect,
                "reader {i}: {:?} writer {:?}",
                run.readers[i], run.writer
            );
        }
    }
}

#[test]
fn two_readers_of_different_speeds_and_a_best_effort_one() {
    // The writer's reliable sends follow the slower reliable reader's room (it takes one
    // sample per tick into a queue of 8); the fast one (takes everything, queue 64) gets every
    // sample too, and the best-effort reader that never takes (queue 1) limits nobody.
    let count = 2000;
    let readers = [
        ReaderSpec::reliable(64, |_| usize::MAX),
        ReaderSpec::reliable(8, |_| 1),
        ReaderSpec {
            reliable: false,
            depth: 1,
            takes: |_| 0,
        },
    ];
    let run = flow_run(5, Faults::NONE, HB, count, 1024, &readers, PLAIN_NIC);
    eprintln!(
        "{} resends, took {:?}, queue refusals {:?}",
        run.writer.tx_resent,
        run.took,
        run.readers
            .iter()
            .map(|r| r.rx_queue_full)
            .collect::<Vec<_>>()
    );
    all_in_order(&run, count, &readers);
    // Without flow control by the slowest reader's room the fast reader's ACKNACKs would keep
    // the writer's window open and the slow one would drop and ask again (0.7 per sample for a
    // single slow reader before the writer respected its room).
    assert!(
        run.writer.tx_resent < count / 100,
        "{} resends for {count} samples: {:?}",
        run.writer.tx_resent,
        run.readers
    );
    // The slow reader takes one sample per tick: about `count` ticks, not much more.
    assert!(run.took[1] < Duration::from_millis(count * 3 / 2));
}

#[test]
fn lost_acknacks_do_not_stall_a_flow_controlled_stream() {
    // 30 % of the ACKNACKs are lost, and for one second (ticks 300..1300) all of them: the
    // writer, held back by the reader's room, keeps sending HEARTBEATs, whose answers say
    // again where the room ends, so the stream finishes, every sample once and in order.
    let count = 2000;
    let readers = [ReaderSpec::reliable(8, |t| usize::from(t % 2 == 0))];
    for seed in [21, 22] {
        let run = flow_run(
            seed,
            Faults::NONE,
            HB,
            count,
            1024,
            &readers,
            WriterNic {
                acknack_loss: |t| if (300..1300).contains(&t) { 1.0 } else { 0.3 },
                room_flag: true,
            },
        );
        eprintln!(
            "seed {seed}: {} resends, took {:?}, {} ACKNACKs lost, queue refusals {}",
            run.writer.tx_resent, run.took, run.acknacks_dropped, run.readers[0].rx_queue_full
        );
        all_in_order(&run, count, &readers);
        assert!(run.acknacks_dropped > 100, "{}", run.acknacks_dropped);
        // A lost ACKNACK costs time, not resends: the reader never asks for more than it can
        // take in, and the writer never sends past what the last ACKNACK it got allowed.
        assert!(
            run.writer.tx_resent < count / 100,
            "seed {seed}: {} resends: {:?}",
            run.writer.tx_resent,
            run.readers[0]
        );
    }
}

#[test]
fn readers_and_writers_that_predate_the_room_flag_still_interoperate() {
    // The writer's NIC clears the ROOM flag of every ACKNACK: the writer sees readers that
    // predate flow control (no end: it sends up to its window, the slow reader drops what it
    // cannot take and asks again), and handles the new readers' bitmaps, which reach past the
    // newest sample, as a writer that predates the flag does (it ignores those bits). Every
    // sample still arrives once and in order, at the old cost in resends.
    let count = 1500;
    let readers = [ReaderSpec::reliable(8, |_| 1)];
    let run = flow_run(
        9,
        Faults::NONE,
        HB,
        count,
        1024,
        &readers,
        WriterNic {
            room_flag: false,
            ..PLAIN_NIC
        },
    );
    eprintln!("{} resends, took {:?}", run.writer.tx_resent, run.took);
    all_in_order(&run, count, &readers);
    assert!(
        run.writer.tx_resent > 0,
        "the writer was limited without the flag"
    );
    assert!(run.took[0] < Duration::from_millis(count * 3 / 2));
}
