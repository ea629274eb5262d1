//! Sets up the wire (two namespaces and a veth pair, with IPv4 addresses for Cyclone DDS), runs
//! every contender on it in turn and prints the tables.
//!
//! ```text
//! cargo bench -p rmw_l2net --bench rmw_pingpong -- [--secs S] [--sizes 64,1024] [--lib PATH]
//!     [--baseline PATH] [--rt-qos reliable|best-effort] [--pin PLACEMENT] [--rounds N]
//! ```
//!
//! Placement: both processes of every measurement are pinned with `taskset` exactly as the
//! compare benchmark pins them (benches/compare/pin.rs, the same `--pin` option and default):
//! blocking round trips (the rmw, the Node, ddsperf) both on one CPU, busy-polling round trips
//! (the rmw and the Node with busy polling) one CPU each, rates sender and receiver one CPU
//! each. On a small VM the placement decides a latency cell more than the code does.
//!
//! `--baseline PATH` adds another build of the library (an older commit's) as a contender,
//! measured right after the current one each time: an A/B comparison in one run.
//! `--rt-qos best-effort` measures the round trips with best-effort delivery (every contender,
//! ddsperf with `-u`) instead of ROS's default reliable profile.
//!
//! Round trips are measured in `--rounds N` rounds (3 by default), each round every contender
//! in turn, Cyclone DDS included. A cell is the round with the median p50 (the higher middle one
//! for an even count) and the table gives every contender's range of p50s; the verdict against
//! Cyclone also counts the rounds in which the rmw met the target against Cyclone's p50 of the
//! same round. On a shared VM one measurement can land in a burst of someone else's load;
//! interleaved rounds spread such a burst over all contenders instead of one.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use l2net_linux::netns::{Netns, VethPair};
use rmw_l2net_cpp::config::ENV_BUSY_POLL;

use crate::dds;
use crate::harness::{
    Common, Res, fmt_opt, ip, last_json, measure_dds_rate, measure_rate, ratio, report_rate,
    run_fg, spawn_bg, summary_of, verdict,
};
use crate::pin::{Placements, cpus_for, prepare, taskset};
use crate::stats::{Summary, json_field};

const ADDR_A: &str = "198.18.0.1/24"; // RFC 2544 benchmarking range, only inside our namespaces.
const ADDR_B: &str = "198.18.0.2/24";
/// The issue's target: an rmw round trip at most this times Cyclone DDS's.
const TARGET_VS_DDS: f64 = 0.6;

struct Options {
    secs: f64,
    sizes: Vec<usize>,
    lib: PathBuf,
    baseline: Option<PathBuf>,
    /// Round trips with reliable delivery (the default) or best effort.
    rt_reliable: bool,
    /// Where the two processes of each kind of measurement run.
    pin: Placements,
    /// Rounds of round-trip measurements.
    rounds: usize,
}

const USAGE: &str = "sudo -E cargo bench -p rmw_l2net --bench rmw_pingpong -- [--secs S] \
[--sizes 64,1024] [--lib PATH] [--baseline PATH] [--rt-qos reliable|best-effort] [--pin PLACEMENT] \
[--rounds N]
";

/// Payload sizes a peer accepts: its sequence number, up to what one sample of the rmw carries here.
const SIZES: std::ops::RangeInclusive<usize> = 8..=60_000;

fn parse_options(args: &[String]) -> Res<Options> {
    let mut common = Common::new(&[64, 1024]);
    let mut lib = None;
    let mut baseline = None;
    let mut rt_reliable = true;
    let mut rounds = 3;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if common.take(a, &mut it, USAGE)? {
            continue;
        }
        let mut val = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--lib" => lib = Some(PathBuf::from(val("--lib")?)),
            "--baseline" => baseline = Some(PathBuf::from(val("--baseline")?)),
            "--rounds" => {
                rounds = val("--rounds")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=20).contains(n))
                    .ok_or("--rounds must be a whole number from 1 to 20")?
            }
            "--rt-qos" => {
                rt_reliable = match val("--rt-qos")?.as_str() {
                    "reliable" => true,
                    "best-effort" => false,
                    other => {
                        return Err(format!(
                            "--rt-qos must be reliable or best-effort, not {other:?}"
                        ));
                    }
                }
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    common.check()?;
    if common.secs > 600.0 {
        return Err("--secs must be in (0, 600]".into());
    }
    if let Some(s) = common.sizes.iter().find(|s| !SIZES.contains(s)) {
        return Err(format!("bad size {s} (8..=60000 bytes)"));
    }
    let lib = match lib {
        Some(p) => p,
        None => built_library()?,
    };
    for l in std::iter::once(&lib).chain(&baseline) {
        if !l.exists() {
            return Err(format!("{} does not exist", l.display()));
        }
    }
    Ok(Options {
        secs: common.secs,
        sizes: common.sizes,
        lib,
        baseline,
        rt_reliable,
        pin: common.pin,
        rounds,
    })
}

/// The cdylib cargo built with this benchmark (target/<profile>/deps or target/<profile>).
fn built_library() -> Res<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let deps = exe.parent().ok_or("executable has no directory")?;
    [Some(deps), deps.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join("librmw_l2net_cpp.so"))
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "librmw_l2net_cpp.so not found beside {} (use --lib)",
                exe.display()
            )
        })
}

/// Two namespaces joined by a veth pair (removed on drop by port-linux's helpers).
struct Wire {
    veth: VethPair,
}

impl Wire {
    fn create() -> Res<Wire> {
        let a = Netns::new("rmwbench-a").map_err(|e| e.to_string())?;
        let b = Netns::new("rmwbench-b").map_err(|e| e.to_string())?;
        let veth = VethPair::new(&a, &b).map_err(|e| e.to_string())?;
        // Cyclone DDS needs IP addresses; l2net ignores them.
        ip(&["-n", a.name(), "addr", "add", ADDR_A, "dev", veth.a_name()])?;
        ip(&["-n", b.name(), "addr", "add", ADDR_B, "dev", veth.b_name()])?;
        Ok(Wire { veth })
    }

    /// `program` in side a's (`a == true`) or side b's namespace, told its interface, the
    /// whole process pinned to `cpu` if given.
    fn cmd(&self, a: bool, program: &str, cpu: Option<usize>) -> Command {
        let (ns, ifname) = if a {
            (self.veth.a_ns(), self.veth.a_name())
        } else {
            (self.veth.b_ns(), self.veth.b_name())
        };
        let mut c = taskset("ip", cpu);
        c.args(["netns", "exec", ns.name(), program])
            .env("RMW_L2NET_INTERFACE", ifname)
            .env_remove("RMW_L2NET_CONFIG")
            .env_remove("ROS_AUTOMATIC_DISCOVERY_RANGE")
            .env_remove("ROS_LOCALHOST_ONLY");
        c
    }

    fn ifname(&self, a: bool) -> &str {
        if a {
            self.veth.a_name()
        } else {
            self.veth.b_name()
        }
    }
}

fn latency_from(out: &str) -> Res<(Summary, u64)> {
    let line = last_json(out)?;
    let lost = json_field(&line, "lost").unwrap_or(f64::NAN);
    Ok((summary_of(&line), lost as u64))
}

/// One contender at one payload size; `None` where it failed or does not apply.
#[derive(Default, Clone)]
struct Row {
    /// The round with the median p50.
    lat: Option<Summary>,
    /// Every round's p50, in round order (`None`: that round failed).
    p50s: Vec<Option<f64>>,
    /// Lost pings of all rounds.
    lost: Option<u64>,
    rate_be: Option<f64>,
    rate_rel: Option<f64>,
}

/// Who is measured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The rmw library at this path.
    Rmw,
    /// The same with RMW_L2NET_BUSY_POLL=1: waiting threads spin on the link.
    RmwBusy,
    /// The baseline build of the rmw library (`--baseline`).
    Baseline,
    /// The same with RMW_L2NET_BUSY_POLL=1.
    BaselineBusy,
    /// The Node API on the link `Node::open` picks.
    Node,
    /// The same with `NodeConfig::busy_poll`: waiting threads spin on the link.
    NodeBusy,
    /// The Node API on the mmsg backend (what the `l2net` command uses).
    NodeMmsg,
    /// Cyclone DDS's ddsperf.
    Dds,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Rmw => "rmw_l2net_cpp (rmw C API)",
            Who::RmwBusy => "rmw_l2net_cpp, RMW_L2NET_BUSY_POLL=1",
            Who::Baseline => "rmw_l2net_cpp baseline (--baseline)",
            Who::BaselineBusy => "rmw_l2net_cpp baseline, RMW_L2NET_BUSY_POLL=1",
            Who::Node => "l2net Node API",
            Who::NodeBusy => "l2net Node API, busy_poll",
            Who::NodeMmsg => "l2net Node API, mmsg backend",
            Who::Dds => "Cyclone DDS ddsperf",
        }
    }

    /// Whether its waiting threads spin (placed as busy-poll ping/pong).
    fn busy(self) -> bool {
        matches!(self, Who::RmwBusy | Who::BaselineBusy | Who::NodeBusy)
    }

    fn baseline(self) -> bool {
        matches!(self, Who::Baseline | Who::BaselineBusy)
    }
}

/// The interface argument of a node peer on side a or b.
fn node_iface(wire: &Wire, who: Who, a: bool) -> String {
    if who == Who::NodeMmsg {
        format!("{}@mmsg", wire.ifname(a))
    } else {
        wire.ifname(a).to_string()
    }
}

/// The two peer processes of contender `who` (not ddsperf): side a runs mode `modes.0` (ping,
/// pub), side b `modes.1` (pong, sub); `libs`: the library and the baseline's; `cpus`: where
/// sides a and b run.
fn peers(
    wire: &Wire,
    me: &str,
    who: Who,
    modes: (&str, &str),
    libs: (&str, &str),
    cpus: (Option<usize>, Option<usize>),
) -> (Command, Command) {
    let (mut a, mut b) = (wire.cmd(true, me, cpus.0), wire.cmd(false, me, cpus.1));
    if who.busy() {
        // The rmw reads it as any ROS process would; the node peers set NodeConfig::busy_poll.
        a.env(ENV_BUSY_POLL, "1");
        b.env(ENV_BUSY_POLL, "1");
    }
    match who {
        Who::Rmw | Who::RmwBusy | Who::Baseline | Who::BaselineBusy => {
            let l = if who.baseline() { libs.1 } else { libs.0 };
            a.args(["peer", &format!("rmw-{}", modes.0), l]);
            b.args(["peer", &format!("rmw-{}", modes.1), l]);
        }
        _ => {
            a.args([
                "peer",
                &format!("node-{}", modes.0),
                &node_iface(wire, who, true),
            ]);
            b.args([
                "peer",
                &format!("node-{}", modes.1),
                &node_iface(wire, who, false),
            ]);
        }
    }
    (a, b)
}

pub fn run(args: &[String]) -> Res<()> {
    let o = parse_options(args)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(format!(
            "needs root for network namespaces and raw sockets: {USAGE}"
        ));
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me
        .to_str()
        .ok_or("executable path is not UTF-8")?
        .to_string();
    let lib = o
        .lib
        .to_str()
        .ok_or("library path is not UTF-8")?
        .to_string();
    let base = match &o.baseline {
        Some(p) => p.to_str().ok_or("library path is not UTF-8")?.to_string(),
        None => String::new(),
    };
    let who: Vec<Who> = [
        Who::Rmw,
        Who::Baseline,
        Who::RmwBusy,
        Who::BaselineBusy,
        Who::Node,
        Who::NodeBusy,
        Who::NodeMmsg,
        Who::Dds,
    ]
    .into_iter()
    .filter(|w| !w.baseline() || o.baseline.is_some())
    .collect();
    let dds_i = who.len() - 1;
    let have_dds = Command::new("ddsperf").arg("help").output().is_ok();
    if !have_dds {
        eprintln!(
            "rmw_pingpong: ddsperf not found; the Cyclone DDS rows stay n/a \
             (install it with `apt-get install cyclonedds-tools`)"
        );
    }
    let load_before = load_average();
    let (cpus, placement) = prepare(&o.pin, "rmw_pingpong")?;
    let lat_cpus = |w: Who| cpus_for(if w.busy() { o.pin.busy } else { o.pin.block }, &cpus);
    let rate_cpus = cpus_for(o.pin.rate, &cpus);
    let wire = Wire::create()?;
    let secs = format!("{}", o.secs);
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let cfg_a = dir.join(format!("rmwbench-dds-a-{pid}.xml"));
    let cfg_b = dir.join(format!("rmwbench-dds-b-{pid}.xml"));
    std::fs::write(&cfg_a, dds::config(wire.ifname(true))).map_err(|e| e.to_string())?;
    std::fs::write(&cfg_b, dds::config(wire.ifname(false))).map_err(|e| e.to_string())?;
    let uri = |p: &PathBuf| format!("file://{}", p.display());

    let mut table: Vec<(usize, Vec<Row>)> = Vec::new();
    for &size in &o.sizes {
        let size_s = size.to_string();
        let mut rows = vec![Row::default(); who.len()];
        eprintln!("== payload {size} B");

        // Round trips, reliable (ROS's default profile) unless told otherwise, blocking waits
        // on both sides.
        let rt_q = if o.rt_reliable {
            "reliable"
        } else {
            "best-effort"
        };
        let mut rounds: Vec<Vec<Option<(Summary, u64)>>> = vec![Vec::new(); who.len()];
        for round in 1..=o.rounds {
            if o.rounds > 1 {
                eprintln!("  round trips, round {round} of {}", o.rounds);
            }
            for (i, &w) in who.iter().enumerate() {
                let r = if w == Who::Dds {
                    if !have_dds {
                        rounds[i].push(None);
                        continue;
                    }
                    let (ca, cb) = lat_cpus(Who::Dds);
                    let mut pong = wire.cmd(false, "ddsperf", cb);
                    pong.env("CYCLONEDDS_URI", uri(&cfg_b));
                    let mut ping = wire.cmd(true, "ddsperf", ca);
                    ping.env("CYCLONEDDS_URI", uri(&cfg_a));
                    if !o.rt_reliable {
                        pong.arg("-u");
                        ping.arg("-u");
                    }
                    let d = format!("{}", o.secs.ceil() as u64 + 1);
                    pong.args(["-D", &format!("{}", o.secs.ceil() as u64 + 4), "pong"]);
                    ping.args(["-D", &d, "ping", "size", &dds::size_arg(size).to_string()]);
                    let _p = spawn_bg(pong, true)?;
                    run_fg(ping)
                        .and_then(|o| dds::parse_ping(&o).ok_or_else(|| format!("unparsed: {o}")))
                        .map(|s| (s, 0))
                } else {
                    let libs = (lib.as_str(), base.as_str());
                    let (mut ping, mut pong) =
                        peers(&wire, &me, w, ("ping", "pong"), libs, lat_cpus(w));
                    pong.arg(rt_q);
                    ping.args([size_s.as_str(), secs.as_str(), rt_q]);
                    let _p = spawn_bg(pong, true)?;
                    run_fg(ping).and_then(|o| latency_from(&o))
                };
                report(w.name(), &r);
                rounds[i].push(r.ok());
            }
        }
        for ((row, got), &w) in rows.iter_mut().zip(rounds).zip(&who) {
            row.p50s = got.iter().map(|r| r.map(|(s, _)| s.p50_us)).collect();
            let mut ok: Vec<(Summary, u64)> = got.into_iter().flatten().collect();
            // ddsperf does not count lost pings.
            if w != Who::Dds && !ok.is_empty() {
                row.lost = Some(ok.iter().map(|(_, l)| l).sum());
            }
            ok.sort_by(|a, b| a.0.p50_us.total_cmp(&b.0.p50_us));
            row.lat = ok.get(ok.len() / 2).map(|x| x.0);
        }
        // Delivered messages per second, best effort and reliable.
        for reliable in [false, true] {
            let q = if reliable { "reliable" } else { "best-effort" };
            for i in 0..dds_i {
                let libs = (lib.as_str(), base.as_str());
                let (mut publ, mut sub) =
                    peers(&wire, &me, who[i], ("pub", "sub"), libs, rate_cpus);
                sub.args([secs.as_str(), q]);
                publ.args([size_s.as_str(), secs.as_str(), q]);
                let r = measure_rate(sub, publ);
                report_rate(who[i].name(), q, &r);
                let slot = if reliable {
                    &mut rows[i].rate_rel
                } else {
                    &mut rows[i].rate_be
                };
                *slot = r.ok();
            }
        }

        // Cyclone DDS ddsperf: pub/sub (its ping/pong ran with the round trips above).
        if have_dds {
            let d = format!("{}", o.secs.ceil() as u64 + 1);
            let ds = dds::size_arg(size).to_string();
            for reliable in [false, true] {
                let mut sub = wire.cmd(false, "ddsperf", rate_cpus.1);
                sub.env("CYCLONEDDS_URI", uri(&cfg_b));
                let mut publ = wire.cmd(true, "ddsperf", rate_cpus.0);
                publ.env("CYCLONEDDS_URI", uri(&cfg_a));
                if !reliable {
                    sub.arg("-u");
                    publ.arg("-u");
                }
                sub.args(["-D", &format!("{}", o.secs.ceil() as u64 + 3), "sub"]);
                publ.args(["-D", &d, "pub", "size", &ds]);
                let r = measure_dds_rate(sub, publ);
                let q = if reliable { "reliable" } else { "best-effort" };
                report_rate(Who::Dds.name(), q, &r);
                let slot = if reliable {
                    &mut rows[dds_i].rate_rel
                } else {
                    &mut rows[dds_i].rate_be
                };
                *slot = r.ok();
            }
        }
        table.push((size, rows));
    }
    drop(wire);
    let _ = std::fs::remove_file(&cfg_a);
    let _ = std::fs::remove_file(&cfg_b);
    let load = Load {
        before: load_before,
        after: load_average(),
    };
    print!("{}", render(&table, &who, &o, &placement, &load));
    Ok(())
}

fn report(what: &str, r: &Res<(Summary, u64)>) {
    match r {
        Ok((s, lost)) => eprintln!(
            "  {what}: round trip p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, {} samples, {lost} lost",
            s.p50_us, s.p99_us, s.p999_us, s.count
        ),
        Err(e) => eprintln!("  {what} ping: FAILED: {e}"),
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let commit = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        // A copy of the tree outside git (e.g. `git archive`) says which commit it is.
        .or_else(|| std::env::var("L2NET_BENCH_COMMIT").ok())
        .unwrap_or_else(|| "unknown (set L2NET_BENCH_COMMIT)".into());
    format!("{cpus} vCPU ({model}), Linux {kernel}, commit {commit}")
}

/// Whether `r`'s median round trip meets the issue's target against Cyclone's (`dds`), and in
/// how many rounds it met it against Cyclone's p50 of the same round.
fn target_vs_dds(r: &Row, dds: &Row) -> String {
    let paired: Vec<bool> = r
        .p50s
        .iter()
        .zip(&dds.p50s)
        .filter_map(|(a, b)| ratio(*a, *b))
        .map(|v| v <= TARGET_VS_DDS)
        .collect();
    let rounds = if paired.len() > 1 {
        let met = paired.iter().filter(|m| **m).count();
        format!(" (met in {met} of {} rounds)", paired.len())
    } else {
        String::new()
    };
    match ratio(r.lat.map(|x| x.p50_us), dds.lat.map(|x| x.p50_us)) {
        Some(v) => format!(
            "RT p50 <= {TARGET_VS_DDS}x Cyclone: {}{rounds}",
            verdict(v <= TARGET_VS_DDS)
        ),
        None => format!("RT p50 <= {TARGET_VS_DDS}x Cyclone: not measured"),
    }
}

/// The range of a row's per-round p50s, `min-max` (one value for one round).
fn p50_range(r: &Row) -> String {
    let got: Vec<f64> = r.p50s.iter().flatten().copied().collect();
    let min = got.iter().copied().fold(f64::INFINITY, f64::min);
    let max = got.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match got.len() {
        0 => "n/a".into(),
        1 => format!("{min:.1}"),
        _ => format!("{min:.1}-{max:.1}"),
    }
}

/// One row of the ratio table: `r` / `other` (`target`: `-` when `None`).
fn ratio_row(
    s: &mut String,
    size: usize,
    name: &str,
    r: &Row,
    other: &Row,
    target: Option<String>,
) {
    let lat = |f: fn(&Summary) -> f64| ratio(r.lat.as_ref().map(f), other.lat.as_ref().map(f));
    let _ = writeln!(
        s,
        "| {size} B | {name} | {} | {} | {} | {} | {} | {} |",
        fmt_opt(lat(|x| x.p50_us), 2),
        fmt_opt(lat(|x| x.p99_us), 2),
        fmt_opt(lat(|x| x.p999_us), 2),
        fmt_opt(ratio(r.rate_be, other.rate_be), 2),
        fmt_opt(ratio(r.rate_rel, other.rate_rel), 2),
        target.as_deref().unwrap_or("-"),
    );
}

/// The load average (1, 5, 15 minutes) before and after the run.
struct Load {
    before: String,
    after: String,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn render(
    table: &[(usize, Vec<Row>)],
    who: &[Who],
    o: &Options,
    placement: &str,
    load: &Load,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### rmw_l2net: round trip and delivered messages per second\n\n{}; {} s per \
         measurement; round trips {}, {} rounds (each cell the round with the median p50); one veth pair between two namespaces; library {}{}; load \
         average {} before, {} after\n\nPlacement: {placement}.\n",
        machine(),
        o.secs,
        if o.rt_reliable {
            "reliable (keep last 10)"
        } else {
            "best effort (keep last 10)"
        },
        o.rounds,
        o.lib.display(),
        o.baseline
            .as_ref()
            .map_or(String::new(), |b| format!(", baseline {}", b.display())),
        load.before,
        load.after,
    );
    let _ = writeln!(
        s,
        "| payload | contender | RT p50 us | RT p50 range us | RT p99 us | RT p99.9 us | lost pings | delivered/s best effort | delivered/s reliable |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (size, rows) in table {
        for (name, r) in who.iter().map(|w| w.name()).zip(rows) {
            let _ = writeln!(
                s,
                "| {size} B | {name} | {} | {} | {} | {} | {} | {} | {} |",
                fmt_opt(r.lat.map(|l| l.p50_us), 1),
                p50_range(r),
                fmt_opt(r.lat.map(|l| l.p99_us), 1),
                fmt_opt(r.lat.map(|l| l.p999_us), 1),
                r.lost.map_or("n/a".into(), |l| l.to_string()),
                fmt_opt(r.rate_be, 0),
                fmt_opt(r.rate_rel, 0),
            );
        }
    }
    let _ = writeln!(
        s,
        "\n### Ratios: rmw_l2net_cpp / alternative (round trip: lower is better; rate: higher is better)\n"
    );
    let _ = writeln!(
        s,
        "| payload | rmw / alternative | RT p50 | RT p99 | RT p99.9 | rate best effort | rate reliable | target |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---|");
    // The blocking rmw against the blocking contenders, the busy-polling rmw against the
    // busy-polling ones; both against Cyclone DDS (which has no busy-poll mode), with the target.
    let pos = |w: Who| who.iter().position(|x| *x == w);
    let pairs = [
        (Who::Rmw, Who::Baseline),
        (Who::Rmw, Who::Node),
        (Who::Rmw, Who::NodeMmsg),
        (Who::Rmw, Who::Dds),
        (Who::RmwBusy, Who::BaselineBusy),
        (Who::RmwBusy, Who::NodeBusy),
        (Who::RmwBusy, Who::Dds),
    ];
    for (size, rows) in table {
        for (r, other) in pairs {
            let (Some(ri), Some(oi)) = (pos(r), pos(other)) else {
                continue;
            };
            let target = (other == Who::Dds).then(|| target_vs_dds(&rows[ri], &rows[oi]));
            let name = format!(
                "{} / {}",
                if r == Who::Rmw {
                    "blocking"
                } else {
                    "busy-poll"
                },
                other.name()
            );
            ratio_row(&mut s, *size, &name, &rows[ri], &rows[oi], target);
        }
    }
    let _ = writeln!(
        s,
        "\nddsperf reports percentiles of half round trips per second (50 %, 90 %, 99 %, max; no \
         99.9 %): its cells are twice those values (whole round trips, as every other row), p50 \
         and p99 the count-weighted means of the per-second values. Payload: the message's bytes \
         (rmw: a uint8[] of that length, 8 bytes more on the wire for the CDR header and length; \
         ddsperf: its KS sample of that size)."
    );
    s
}
