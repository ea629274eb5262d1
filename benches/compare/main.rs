//! The comparison benchmark: l2net against the raw AF_PACKET floor, UDP and Cyclone DDS, in one
//! run, on one veth pair between two network namespaces that this program creates and removes.
//!
//! Run it (as root) with `cargo bench --bench compare` (options after `--`, see `--help`). It
//! prints one table of measurements and one of ratios (l2net / each alternative), in Markdown, ready
//! for docs/BENCHMARKS.md.
//!
//! Each measurement runs two peer processes, one per namespace: the orchestrator starts copies of
//! its own executable (`peer ...` mode, see [`peer`]) or `ddsperf`, or the `l2net` command, with
//! `ip netns exec`, and reads one JSON line of results from the measuring side. Separate processes
//! keep the sides' CPU accounting apart, as on two real machines.

#[cfg(target_os = "linux")]
mod dds;
#[cfg(target_os = "linux")]
mod harness;
#[cfg(target_os = "linux")]
mod orchestrate;
#[cfg(target_os = "linux")]
mod peer;
#[cfg(target_os = "linux")]
mod pin;
#[cfg(target_os = "linux")]
mod stats;

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let result = if args.first().map(String::as_str) == Some("peer") {
        peer::run(&args[1..])
    } else {
        orchestrate::run(&args)
    };
    if let Err(e) = result {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("compare: this benchmark needs Linux network namespaces");
}
