//! Engine alone: two participants with the facade's capacities wired back to back in memory
//! (no link, no system call), measuring samples per second delivered writer -> reader on one
//! core (both participants run on the bench thread), and allocations per sample.
//!
//! Time is the bench thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: samples per
//! CPU-second of one core, and a machine shared with other work (CI, builds) disturbs the result
//! far less. `cargo bench -p l2net-core --bench engine`; results in docs/BENCHMARKS.md, "Engine
//! alone".
//!
//! `L2NET_BENCH_ROUNDS=N` runs N rounds of each scenario whose name contains `L2NET_BENCH_ONLY`
//! (all without it) after the warm-up, prints the CPU time per sample and exits without
//! criterion: for `perf stat -e instructions` (the difference between two round counts is the
//! steady state's share) and `perf record`.

#[path = "../../tests/support/alloc_count.rs"]
mod alloc_count;
#[path = "../../tests/support/pair.rs"]
mod pair;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use pair::{Pair, PingPong, Scenario};

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

/// CPU time consumed by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
    // CLOCK_THREAD_CPUTIME_ID is supported on every Linux and BSD this bench runs on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for reliable in [false, true] {
        for payload in [16, 1024] {
            for topics in [1, 8] {
                v.push(Scenario::burst(payload, reliable, topics));
            }
        }
    }
    // The hot path of one sample: one reliable keep-last(10) sample written, planned, emitted,
    // received, acknowledged and taken per round (the Node's ping-pong case).
    v.push(Scenario {
        payload: 16,
        reliable: true,
        topics: 1,
        depth: 10,
        burst: 1,
    });
    v
}

/// Steady state must not allocate: count over many rounds after warm-up and refuse to report
/// numbers otherwise.
fn check_allocations() {
    for s in scenarios() {
        let mut p = Pair::new(s);
        let samples = steady_allocations(&s.name(), || p.round());
        assert!(samples > 0, "{}: nothing delivered", s.name());
    }
    let mut p = PingPong::new();
    let samples = steady_allocations(PING_PONG, || p.round());
    assert_eq!(samples, 4_000, "{PING_PONG}: a round trip lost its sample");
}

/// Runs 200 warm-up rounds (`round` returns the samples it delivered), then counts the
/// allocations of 2,000 more, prints them and fails unless there were none. Returns the
/// samples delivered in the counted rounds.
fn steady_allocations(name: &str, mut round: impl FnMut() -> u64) -> u64 {
    for _ in 0..200 {
        round();
    }
    let before = alloc_count::allocations();
    let samples: u64 = (0..2_000).map(|_| round()).sum();
    let allocs = alloc_count::allocations() - before;
    println!(
        "allocations {name:<28} {allocs} in {samples} samples ({:.3} per sample)",
        allocs as f64 / samples.max(1) as f64
    );
    assert_eq!(allocs, 0, "{name}: the steady state allocated");
    samples
}

/// The ping-pong scenario's name: one iteration is one round trip (two samples, four frames'
/// worth of engine calls on two participants).
const PING_PONG: &str = "reliable/16B/keep_last_10/ping_pong_round_trip";
/// The same with 12 idle writers and 12 idle readers on each participant (a ROS 2 node's own
/// endpoints).
const PING_PONG_IDLE: &str = "reliable/16B/keep_last_10/12_idle_endpoints/ping_pong_round_trip";

/// The ping-pong scenarios: name and idle endpoints of each kind.
const PING_PONGS: [(&str, usize); 2] = [(PING_PONG, 0), (PING_PONG_IDLE, 12)];

/// `L2NET_BENCH_ROUNDS` mode (see the crate docs).
fn fixed_rounds(rounds: u64, only: &str) {
    for s in scenarios() {
        if !s.name().contains(only) {
            continue;
        }
        let mut p = Pair::new(s);
        for _ in 0..200 {
            p.round();
        }
        let (start, got) = (thread_cpu_time(), p.delivered);
        for _ in 0..rounds {
            black_box(p.round());
        }
        report_rounds(&s.name(), thread_cpu_time() - start, p.delivered - got);
    }
    for (name, idle) in PING_PONGS {
        if !name.contains(only) {
            continue;
        }
        let mut p = PingPong::with_idle(idle);
        for _ in 0..200 {
            p.round();
        }
        let start = thread_cpu_time();
        for _ in 0..rounds {
            black_box(p.round());
        }
        report_rounds(name, thread_cpu_time() - start, rounds);
    }
}

fn report_rounds(name: &str, t: Duration, units: u64) {
    println!(
        "rounds {name:<48} {units} in {:.3} s CPU: {:.1} ns each",
        t.as_secs_f64(),
        t.as_nanos() as f64 / units.max(1) as f64
    );
}

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.sample_size(20);
    for s in scenarios() {
        let mut p = Pair::new(s);
        for _ in 0..200 {
            p.round();
        }
        // One "iteration" is one delivered sample.
        g.bench_function(s.name(), |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu_time();
                let mut got = 0u64;
                while got < iters {
                    got += black_box(p.round());
                }
                let t = thread_cpu_time() - start;
                t.mul_f64(iters as f64 / got as f64)
            })
        });
    }
    for (name, idle) in PING_PONGS {
        let mut p = PingPong::with_idle(idle);
        for _ in 0..200 {
            p.round();
        }
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu_time();
                for _ in 0..iters {
                    black_box(p.round());
                }
                thread_cpu_time() - start
            })
        });
    }
    g.finish();
}

fn main() {
    if let Ok(n) = std::env::var("L2NET_BENCH_ROUNDS") {
        let rounds = n.parse().expect("L2NET_BENCH_ROUNDS: a number of rounds");
        fixed_rounds(
            rounds,
            &std::env::var("L2NET_BENCH_ONLY").unwrap_or_default(),
        );
        return;
    }
    check_allocations();
    let mut c = Criterion::default().configure_from_args();
    engine(&mut c);
    c.final_summary();
}
