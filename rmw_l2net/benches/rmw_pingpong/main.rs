//! RMW-level benchmark: round-trip latency and delivered messages per second of
//! librmw_l2net_cpp.so driven through its C API the way rcl drives it, against the l2net Node
//! API it runs on (the cost of the rmw layer) and against Eclipse Cyclone DDS's `ddsperf`, in
//! one run, on one veth pair between two network namespaces this program makes and removes.
//!
//! Run it as root (after `cargo build`, nothing else is needed):
//!
//! ```text
//! sudo -E cargo bench -p rmw_l2net --bench rmw_pingpong [-- --secs S --sizes 64,1024]
//! ```
//!
//! It prints a Markdown table for docs/BENCHMARKS.md: p50 / p99 / p99.9 round trip and
//! delivered messages per second (best effort and reliable) for each contender and payload,
//! the ratios rmw / Node and rmw / ddsperf, and whether the issue's target (rmw round trip at
//! most 0.6 x Cyclone's) is met.
//!
//! Each measurement runs two processes, one per namespace: copies of this executable in peer
//! mode ([`peers`]) or `ddsperf`, started with `ip netns exec`; the measuring side prints one
//! JSON line. It shares the root crate's compare benchmark's code (benches/compare): the
//! process placement (`--pin`, pin.rs), the common options, peer processes and report cells
//! (harness.rs), the CYCLONEDDS_URI pinning and ddsperf output parsing (dds.rs) and the latency
//! statistics (stats.rs).

#[cfg(target_os = "linux")]
#[path = "../../../benches/compare/dds.rs"]
mod dds;
#[cfg(target_os = "linux")]
#[path = "../../../benches/compare/harness.rs"]
mod harness;
#[cfg(target_os = "linux")]
mod orchestrate;
#[cfg(target_os = "linux")]
mod peers;
#[cfg(target_os = "linux")]
#[path = "../../../benches/compare/pin.rs"]
mod pin;
#[cfg(target_os = "linux")]
#[allow(dead_code)]
#[path = "../../../benches/compare/stats.rs"]
mod stats;
#[cfg(target_os = "linux")]
mod sys;

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let result = if args.first().map(String::as_str) == Some("peer") {
        peers::run(&args[1..])
    } else {
        orchestrate::run(&args)
    };
    if let Err(e) = result {
        eprintln!("rmw_pingpong: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("rmw_pingpong: this benchmark needs Linux network namespaces");
}
