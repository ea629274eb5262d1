//! Sets up the wire (two namespaces, one veth pair), runs every contender on it in turn, and
//! prints the tables.
//!
//! ```text
//! cargo bench --bench compare -- [--secs S] [--sizes 0,64,1024,65536] [--l2net PATH]
//!                                [--contenders l2net,raw,udp,dds,rawpoll,ringpoll] [--latency-only]
//!                                [--pin PLACEMENT]
//! ```
//!
//! `rawpoll` is the raw AF_PACKET ping/pong again (blocking only) with the wait shape of a
//! receiver that another thread can wake, as the l2net `Node`'s waiting thread is: `ppoll` on
//! the socket and a wake-up socket pair, then a non-blocking `recv` (see `peer.rs`). The gap
//! between it and `raw` is what that wait costs; the gap between l2net and it is the rest.
//! `ringpoll` is the same ping/pong on the link the `Node` runs on (port-linux's `LinuxLink`,
//! frame-ring backend: frames read from a TPACKET_V2 ring) with the same wait, without the
//! engine and the `Node`: `rawpoll` to it is what the ring and the link code cost, it to l2net
//! what the protocol and the `Node` cost.
//!
//! `--contenders` and `--latency-only` narrow a run (for example to the l2net and raw ping/pong
//! cells while working on latency); the cells left out print as n/a.
//!
//! Placement: on a small VM where a process lands decides a latency cell more than the code
//! does (two processes on different CPUs pay a cross-CPU wake-up per hop; two busy-polling
//! spinners on one CPU take turns by time slice). So the benchmark pins both processes of every
//! measurement, the same way for every contender (see [`Placements`]).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use crate::dds;
use crate::harness::{
    Common, Res, fmt_opt, ip, last_json, measure_dds_rate, measure_rate, ratio, report_rate,
    run_fg, spawn_bg, summary_of, verdict,
};
use crate::pin::{Placements, cpus_for, prepare, taskset};
use crate::stats::Summary;

const ADDR_A: &str = "198.18.0.1"; // RFC 2544 benchmarking range, only inside our namespaces.
const ADDR_B: &str = "198.18.0.2";
const UDP_PORT: u16 = 47000;
/// Largest UDP payload in one datagram; larger sizes are reported as not applicable.
const UDP_MAX: usize = 65507;

struct Options {
    secs: f64,
    sizes: Vec<usize>,
    l2net: Option<PathBuf>,
    /// Which of [`CONTENDERS`] run (by index).
    contenders: [bool; N],
    /// Skip the rate (flood / perf / pub-sub) measurements.
    latency_only: bool,
    /// Where the two processes of each kind of measurement run.
    pin: Placements,
}

const USAGE: &str = "cargo bench --bench compare -- [--secs S] [--sizes 0,64,1024,65536] \
[--l2net PATH] [--contenders l2net,raw,udp,dds,rawpoll,ringpoll] [--latency-only] [--pin PLACEMENT]
";

/// How many contenders there are.
const N: usize = 6;
/// The short names `--contenders` takes, in [`CONTENDERS`] order.
const CONTENDER_KEYS: [&str; N] = ["l2net", "raw", "udp", "dds", "rawpoll", "ringpoll"];

fn parse_options(args: &[String]) -> Res<Options> {
    let mut common = Common::new(&[0, 64, 1024, 65536]);
    let (mut l2net, mut contenders, mut latency_only) = (None, [true; N], false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if common.take(a, &mut it, USAGE)? {
            continue;
        }
        let mut val = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--l2net" => l2net = Some(PathBuf::from(val("--l2net")?)),
            "--contenders" => {
                contenders = [false; N];
                for name in val("--contenders")?.split(',') {
                    let i = CONTENDER_KEYS
                        .iter()
                        .position(|k| *k == name)
                        .ok_or_else(|| {
                            format!(
                                "unknown contender {name:?} (one of {})",
                                CONTENDER_KEYS.join(", ")
                            )
                        })?;
                    contenders[i] = true;
                }
            }
            "--latency-only" => latency_only = true,
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    common.check()?;
    if l2net.is_none() {
        // The l2net command built by the same cargo invocation, next to target/release/deps.
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let candidate = exe
            .parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("l2net"));
        l2net = candidate.filter(|p| p.exists());
    }
    Ok(Options {
        secs: common.secs,
        sizes: common.sizes,
        l2net,
        contenders,
        latency_only,
        pin: common.pin,
    })
}

/// Two network namespaces joined by a veth pair, removed on drop.
struct Wire {
    ns_a: String,
    ns_b: String,
    if_a: String,
    if_b: String,
}

impl Wire {
    fn create() -> Res<Wire> {
        let pid = std::process::id();
        let w = Wire {
            ns_a: format!("l2cmp-a-{pid}"),
            ns_b: format!("l2cmp-b-{pid}"),
            if_a: format!("l2cmpa{pid}"),
            if_b: format!("l2cmpb{pid}"),
        };
        ip(&["netns", "add", &w.ns_a])?;
        ip(&["netns", "add", &w.ns_b])?;
        ip(&[
            "link", "add", &w.if_a, "type", "veth", "peer", "name", &w.if_b,
        ])?;
        for (ns, ifn, addr) in [(&w.ns_a, &w.if_a, ADDR_A), (&w.ns_b, &w.if_b, ADDR_B)] {
            ip(&["link", "set", ifn, "netns", ns])?;
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", ifn])?;
            ip(&["-n", ns, "link", "set", ifn, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(w)
    }

    /// `program` in namespace `ns`, the whole process (every thread it starts) pinned to `cpu`
    /// if given: `taskset` sets the affinity, which `ip netns exec` and the program inherit.
    fn cmd(&self, ns: &str, program: &str, cpu: Option<usize>) -> Command {
        let mut c = taskset("ip", cpu);
        c.args(["netns", "exec", ns, program]);
        c
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        // Deleting the namespaces deletes the veth ends inside them.
        let _ = ip(&["netns", "del", &self.ns_a]);
        let _ = ip(&["netns", "del", &self.ns_b]);
    }
}

fn latency_from(out: &str) -> Res<Summary> {
    Ok(summary_of(&last_json(out)?))
}

/// One contender's measurement at one size; `None` where it does not apply.
#[derive(Default, Clone, Copy)]
struct Row {
    lat_block: Option<Summary>,
    lat_busy: Option<Summary>,
    rate_be: Option<f64>,
    rate_rel: Option<f64>,
}

const CONTENDERS: [&str; N] = [
    "l2net",
    "raw AF_PACKET",
    "UDP",
    "Cyclone DDS",
    "raw AF_PACKET, ppoll wait",
    "l2net's frame-ring link, ppoll wait",
];

pub fn run(args: &[String]) -> Res<()> {
    let o = parse_options(args)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "needs root to create network namespaces: run `sudo -E cargo bench --bench compare`"
                .into(),
        );
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me
        .to_str()
        .ok_or("executable path is not UTF-8")?
        .to_string();
    let have_dds = Command::new("ddsperf").arg("help").output().is_ok();
    if !have_dds {
        eprintln!(
            "compare: ddsperf not found; the Cyclone DDS rows stay n/a \
             (install it with `apt-get install cyclonedds-tools`)"
        );
    }
    if o.contenders[0] && o.l2net.is_none() {
        eprintln!(
            "compare: the l2net command was not found next to the benchmark; the l2net rows \
             stay n/a (build it with `cargo build --release` or pass --l2net PATH)"
        );
    }
    let (cpus, placement) = prepare(&o.pin, "compare")?;
    let lat_cpus = |busy: bool| cpus_for(if busy { o.pin.busy } else { o.pin.block }, &cpus);
    let rate_cpus = cpus_for(o.pin.rate, &cpus);
    let wire = Wire::create()?;
    let secs = format!("{}", o.secs);
    let dir = std::env::temp_dir();
    // Per process: two runs at once (several engineers on one machine) must not bind each
    // other's ddsperf to a veth that the other run already removed.
    let pid = std::process::id();
    let (cfg_a, cfg_b) = (
        dir.join(format!("l2cmp-dds-a-{pid}.xml")),
        dir.join(format!("l2cmp-dds-b-{pid}.xml")),
    );
    std::fs::write(&cfg_a, dds::config(&wire.if_a)).map_err(|e| e.to_string())?;
    std::fs::write(&cfg_b, dds::config(&wire.if_b)).map_err(|e| e.to_string())?;
    let uri = |p: &PathBuf| format!("file://{}", p.display());

    let mut table: Vec<(usize, [Row; N])> = Vec::new();
    for &size in &o.sizes {
        let size_s = size.to_string();
        let mut rows = [Row::default(); N];
        eprintln!("== payload {size} B");

        // l2net, through the l2net command.
        if let Some(l2) = o.l2net.as_ref().and_then(|p| p.to_str())
            && o.contenders[0]
        {
            for busy in [false, true] {
                let (ca, cb) = lat_cpus(busy);
                let mut pong = wire.cmd(&wire.ns_b, l2, cb);
                pong.args(["pong", "-i", &wire.if_b]);
                let mut ping = wire.cmd(&wire.ns_a, l2, ca);
                ping.args([
                    "ping", "-i", &wire.if_a, "--size", &size_s, "--secs", &secs, "--json",
                ]);
                if busy {
                    pong.arg("--busy-poll");
                    ping.arg("--busy-poll");
                }
                let _p = spawn_bg(pong, false)?;
                let r = run_fg(ping).and_then(|o| latency_from(&o));
                report("l2net ping", busy, &r);
                let slot = if busy {
                    &mut rows[0].lat_busy
                } else {
                    &mut rows[0].lat_block
                };
                *slot = r.ok();
            }
            for reliable in [false, true].into_iter().filter(|_| !o.latency_only) {
                let mut recv = wire.cmd(&wire.ns_b, l2, rate_cpus.1);
                recv.args([
                    "perf", "-i", &wire.if_b, "--role", "recv", "--secs", &secs, "--json",
                ]);
                let mut send = wire.cmd(&wire.ns_a, l2, rate_cpus.0);
                send.args([
                    "perf", "-i", &wire.if_a, "--role", "send", "--size", &size_s,
                ]);
                send.args(["--secs", &secs]);
                if reliable {
                    recv.arg("--reliable");
                    send.arg("--reliable");
                }
                let r = measure_rate(recv, send);
                report_rate("l2net perf", delivery(reliable), &r);
                let slot = if reliable {
                    &mut rows[0].rate_rel
                } else {
                    &mut rows[0].rate_be
                };
                *slot = r.ok();
            }
        }

        // The raw AF_PACKET floor: one frame per sample, so only sizes that fit the MTU.
        if size <= 1500 - 14 && o.contenders[1] {
            for busy in [false, true] {
                let (ca, cb) = lat_cpus(busy);
                let mut pong = wire.cmd(&wire.ns_b, &me, cb);
                pong.args(["peer", "raw-pong", &wire.if_b]);
                let mut ping = wire.cmd(&wire.ns_a, &me, ca);
                ping.args(["peer", "raw-ping", &wire.if_a, &size_s, &secs]);
                if busy {
                    pong.arg("busy");
                    ping.arg("busy");
                }
                let _p = spawn_bg(pong, false)?;
                let r = run_fg(ping).and_then(|o| latency_from(&o));
                report("raw ping", busy, &r);
                let slot = if busy {
                    &mut rows[1].lat_busy
                } else {
                    &mut rows[1].lat_block
                };
                *slot = r.ok();
            }
            if !o.latency_only {
                let mut sink = wire.cmd(&wire.ns_b, &me, rate_cpus.1);
                sink.args(["peer", "raw-sink", &wire.if_b, &secs]);
                let mut flood = wire.cmd(&wire.ns_a, &me, rate_cpus.0);
                flood.args(["peer", "raw-flood", &wire.if_a, &size_s, &secs]);
                let r = measure_rate(sink, flood);
                report_rate("raw flood", delivery(false), &r);
                rows[1].rate_be = r.ok();
            }
        }

        // The floors with a wakeable wait (blocking only: a spinning receiver has no wait): the
        // raw socket, then l2net's frame-ring link.
        for (row, wait, what) in [
            (4, "poll", "raw ping, ppoll wait"),
            (5, "ring", "frame-ring link ping, ppoll wait"),
        ] {
            if size > 1500 - 14 || !o.contenders[row] {
                continue;
            }
            let (ca, cb) = lat_cpus(false);
            let mut pong = wire.cmd(&wire.ns_b, &me, cb);
            pong.args(["peer", "raw-pong", &wire.if_b, wait]);
            let mut ping = wire.cmd(&wire.ns_a, &me, ca);
            ping.args(["peer", "raw-ping", &wire.if_a, &size_s, &secs, wait]);
            let _p = spawn_bg(pong, false)?;
            let r = run_fg(ping).and_then(|o| latency_from(&o));
            report(what, false, &r);
            rows[row].lat_block = r.ok();
        }

        // UDP over the same veth.
        if size <= UDP_MAX && o.contenders[2] {
            let a = format!("{ADDR_A}:{UDP_PORT}");
            let b = format!("{ADDR_B}:{UDP_PORT}");
            for busy in [false, true] {
                let (ca, cb) = lat_cpus(busy);
                let mut pong = wire.cmd(&wire.ns_b, &me, cb);
                pong.args(["peer", "udp-pong", &b]);
                let mut ping = wire.cmd(&wire.ns_a, &me, ca);
                ping.args(["peer", "udp-ping", &a, &b, &size_s, &secs]);
                if busy {
                    pong.arg("busy");
                    ping.arg("busy");
                }
                let _p = spawn_bg(pong, false)?;
                let r = run_fg(ping).and_then(|o| latency_from(&o));
                report("udp ping", busy, &r);
                let slot = if busy {
                    &mut rows[2].lat_busy
                } else {
                    &mut rows[2].lat_block
                };
                *slot = r.ok();
            }
            if !o.latency_only {
                let mut sink = wire.cmd(&wire.ns_b, &me, rate_cpus.1);
                sink.args(["peer", "udp-sink", &b, &secs]);
                let mut flood = wire.cmd(&wire.ns_a, &me, rate_cpus.0);
                flood.args(["peer", "udp-flood", &a, &b, &size_s, &secs]);
                let r = measure_rate(sink, flood);
                report_rate("udp flood", delivery(false), &r);
                rows[2].rate_be = r.ok();
            }
        }

        // Cyclone DDS ddsperf (blocking only: it has no busy-poll mode for ping/pong).
        if have_dds && o.contenders[3] {
            let d = format!("{}", o.secs.ceil() as u64 + 1);
            let ds = dds::size_arg(size).to_string();
            let (ca, cb) = lat_cpus(false);
            let mut pong = wire.cmd(&wire.ns_b, "ddsperf", cb);
            pong.env("CYCLONEDDS_URI", uri(&cfg_b)).args([
                "-D",
                &format!("{}", o.secs.ceil() as u64 + 4),
                "pong",
            ]);
            let mut ping = wire.cmd(&wire.ns_a, "ddsperf", ca);
            ping.env("CYCLONEDDS_URI", uri(&cfg_a))
                .args(["-D", &d, "ping", "size", &ds]);
            let _p = spawn_bg(pong, false)?;
            let r = run_fg(ping)
                .and_then(|o| dds::parse_ping(&o).ok_or_else(|| format!("unparsed: {o}")));
            report("ddsperf ping", false, &r);
            rows[3].lat_block = r.ok();
            drop(_p);
            for reliable in [false, true].into_iter().filter(|_| !o.latency_only) {
                let mut sub = wire.cmd(&wire.ns_b, "ddsperf", rate_cpus.1);
                sub.env("CYCLONEDDS_URI", uri(&cfg_b));
                let mut publ = wire.cmd(&wire.ns_a, "ddsperf", rate_cpus.0);
                publ.env("CYCLONEDDS_URI", uri(&cfg_a));
                if !reliable {
                    sub.arg("-u");
                    publ.arg("-u");
                }
                sub.args(["-D", &format!("{}", o.secs.ceil() as u64 + 3), "sub"]);
                publ.args(["-D", &d, "pub", "size", &ds]);
                let r = measure_dds_rate(sub, publ);
                report_rate("ddsperf pub/sub", delivery(reliable), &r);
                let slot = if reliable {
                    &mut rows[3].rate_rel
                } else {
                    &mut rows[3].rate_be
                };
                *slot = r.ok();
            }
        }
        table.push((size, rows));
    }
    drop(wire);
    let _ = (std::fs::remove_file(&cfg_a), std::fs::remove_file(&cfg_b));
    print!("{}", render(&table, o.secs, &placement));
    Ok(())
}

fn report(what: &str, busy: bool, r: &Res<Summary>) {
    match r {
        Ok(s) => eprintln!(
            "  {what} ({}): p50 {:.1} us, p99.9 {:.1} us, {} samples",
            if busy { "busy-poll" } else { "blocking" },
            s.p50_us,
            s.p999_us,
            s.count
        ),
        Err(e) => eprintln!("  {what}: FAILED: {e}"),
    }
}

fn delivery(reliable: bool) -> &'static str {
    if reliable { "reliable" } else { "best effort" }
}

fn render(table: &[(usize, [Row; N])], secs: f64, placement: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### Measurements ({secs} s per measurement, one veth pair)\n\nPlacement: {placement}.\n"
    );
    let _ = writeln!(
        s,
        "| payload | contender | p50 us (block) | p99.9 us (block) | p50 us (busy) | p99.9 us (busy) | delivered/s best effort | delivered/s reliable |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|");
    for (size, rows) in table {
        for (name, r) in CONTENDERS.iter().zip(rows) {
            let _ = writeln!(
                s,
                "| {size} B | {name} | {} | {} | {} | {} | {} | {} |",
                fmt_opt(r.lat_block.map(|l| l.p50_us), 1),
                fmt_opt(r.lat_block.map(|l| l.p999_us), 1),
                fmt_opt(r.lat_busy.map(|l| l.p50_us), 1),
                fmt_opt(r.lat_busy.map(|l| l.p999_us), 1),
                fmt_opt(r.rate_be, 0),
                fmt_opt(r.rate_rel, 0),
            );
        }
    }
    let _ = writeln!(
        s,
        "\n### Ratios: l2net / alternative (latency: lower is better; rate: higher is better)\n"
    );
    let _ = writeln!(
        s,
        "| payload | vs | p50 block | p99.9 block | p50 busy | p99.9 busy | rate best effort | rate reliable | targets |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|---|");
    for (size, rows) in table {
        let l = &rows[0];
        for (i, name) in CONTENDERS.iter().enumerate().skip(1) {
            let o = &rows[i];
            let p50b = ratio(l.lat_block.map(|x| x.p50_us), o.lat_block.map(|x| x.p50_us));
            let p50u = ratio(l.lat_busy.map(|x| x.p50_us), o.lat_busy.map(|x| x.p50_us));
            let rbe = ratio(l.rate_be, o.rate_be);
            let mut targets = Vec::new();
            match i {
                1 => {
                    for (label, r) in [("p50 block", p50b), ("p50 busy", p50u)] {
                        if let Some(r) = r {
                            targets.push(format!("{label} <= 1.15: {}", verdict(r <= 1.15)));
                        }
                    }
                }
                3 => {
                    if let Some(r) = p50b {
                        targets.push(format!("p50 <= 0.6: {}", verdict(r <= 0.6)));
                    }
                    // Both delivery modes count: best effort and reliable.
                    let rrel = ratio(l.rate_rel, o.rate_rel);
                    for (label, r) in [("best effort", rbe), ("reliable", rrel)] {
                        if *size <= 1024
                            && let Some(r) = r
                        {
                            targets.push(format!("rate {label} >= 1.5: {}", verdict(r >= 1.5)));
                        }
                    }
                }
                _ => {}
            }
            let _ = writeln!(
                s,
                "| {size} B | {name} | {} | {} | {} | {} | {} | {} | {} |",
                fmt_opt(p50b, 2),
                fmt_opt(
                    ratio(
                        l.lat_block.map(|x| x.p999_us),
                        o.lat_block.map(|x| x.p999_us)
                    ),
                    2
                ),
                fmt_opt(p50u, 2),
                fmt_opt(
                    ratio(l.lat_busy.map(|x| x.p999_us), o.lat_busy.map(|x| x.p999_us)),
                    2
                ),
                fmt_opt(rbe, 2),
                fmt_opt(ratio(l.rate_rel, o.rate_rel), 2),
                if targets.is_empty() {
                    "-".to_string()
                } else {
                    targets.join("; ")
                },
            );
        }
    }
    s
}
