//! What the two process-pair benchmarks share besides their statistics (`stats.rs`), ddsperf
//! (`dds.rs`) and placement (`pin.rs`): the common command-line options, running the peer
//! processes and reading their JSON result lines, and the cells and progress lines of the
//! report. Used by `compare` and by rmw_l2net's `rmw_pingpong` (through `#[path]`).

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::pin::Placements;
use crate::stats::{Summary, json_field};

pub type Res<T> = Result<T, String>;

// ---- Options.

/// The options both benchmarks take: `--secs S`, `--sizes A,B,..`, `--pin PLACEMENT`.
pub struct Common {
    pub secs: f64,
    pub sizes: Vec<usize>,
    pub pin: Placements,
}

impl Common {
    pub fn new(sizes: &[usize]) -> Common {
        Common {
            secs: 3.0,
            sizes: sizes.to_vec(),
            pin: Placements::DEFAULT,
        }
    }

    /// Takes option `flag` (its value from `rest`) if it is a common one or `--help` (which
    /// prints `usage`, then [`PIN_USAGE`], and exits); `Ok(false)` for any other option.
    pub fn take<'a>(
        &mut self,
        flag: &str,
        rest: &mut impl Iterator<Item = &'a String>,
        usage: &str,
    ) -> Res<bool> {
        let mut val = |name: &str| rest.next().cloned().ok_or(format!("{name} needs a value"));
        match flag {
            "--secs" => {
                self.secs = val("--secs")?
                    .parse()
                    .map_err(|_| "bad --secs".to_string())?
            }
            "--sizes" => {
                self.sizes = val("--sizes")?
                    .split(',')
                    .map(|s| s.parse().map_err(|_| format!("bad size {s:?}")))
                    .collect::<Res<_>>()?
            }
            "--pin" => self.pin = Placements::parse(&val("--pin")?)?,
            "--help" | "-h" => {
                println!("{usage}\n{PIN_USAGE}");
                std::process::exit(0);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The checks that need every option: a positive `--secs`.
    pub fn check(&self) -> Res<()> {
        if !self.secs.is_finite() || self.secs <= 0.0 {
            return Err("--secs must be a positive number".into());
        }
        Ok(())
    }
}

/// The help text of `--pin`, the same in both benchmarks.
pub const PIN_USAGE: &str =
    "  --pin PLACEMENT  where the two processes of each measurement run (whole processes, every
                   thread, with `taskset`; the same for every contender):
                     same-cpu  both on the first allowed CPU
                     split     the measuring side (ping, sender) on the first allowed CPU,
                               the other (pong, receiver) on the second
                     none      wherever the scheduler puts them
                   One value applies to every kind of measurement; `block=P,busy=P,rate=P`
                   sets kinds one by one. Default: block=same-cpu,busy=split,rate=split
                   (blocking ping/pong on one CPU: no cross-CPU wake-up per hop; spinners
                   and flood sender/receiver one CPU each). With one allowed CPU nothing is
                   pinned.";

/// Argument `i` of a peer's command line.
pub fn arg<'a>(args: &'a [String], i: usize, what: &str) -> Res<&'a str> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument: {what}"))
}

/// Argument `i` of a peer's command line, parsed.
pub fn num<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Res<T> {
    let s = arg(args, i, what)?;
    s.parse().map_err(|_| format!("bad {what}: {s:?}"))
}

// ---- Processes.

/// Runs `ip` (iproute2) with `args`.
pub fn ip(args: &[&str]) -> Res<()> {
    let st = Command::new("ip")
        .args(args)
        .status()
        .map_err(|e| format!("running ip (iproute2): {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("ip {} failed", args.join(" ")))
    }
}

/// A background peer process, killed on drop unless [`Bg::finish`] waited for it.
pub struct Bg(Option<Child>);

impl Bg {
    /// Wait for the peer to end by itself and collect its output.
    pub fn finish(mut self) -> Res<Output> {
        let child = self.0.take().ok_or("peer already collected")?;
        child.wait_with_output().map_err(|e| e.to_string())
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts a peer that answers (pong) with its output discarded (its stderr shown if
/// `show_stderr`) and gives it 300 ms to come up.
pub fn spawn_bg(mut c: Command, show_stderr: bool) -> Res<Bg> {
    c.stdout(Stdio::null()).stderr(if show_stderr {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    let child = c.spawn().map_err(|e| format!("spawn: {e}"))?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(Bg(Some(child)))
}

/// Runs the measuring peer to completion and returns its standard output.
pub fn run_fg(mut c: Command) -> Res<String> {
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    if !out.status.success() {
        return Err(format!("peer exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last JSON object line of a peer's output.
pub fn last_json(out: &str) -> Res<String> {
    out.lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .map(str::to_string)
        .ok_or_else(|| format!("no result line in peer output: {out:?}"))
}

/// The latency summary in a result line (missing fields are NaN).
pub fn summary_of(line: &str) -> Summary {
    let f = |k: &str| json_field(line, k).unwrap_or(f64::NAN);
    Summary {
        count: f("count") as u64,
        p50_us: f("p50_us"),
        p90_us: f("p90_us"),
        p99_us: f("p99_us"),
        p999_us: f("p999_us"),
        max_us: f("max_us"),
    }
}

/// Start the receiver, run the sender to completion, then collect the receiver's `per_sec`.
pub fn measure_rate(mut recv: Command, send: Command) -> Res<f64> {
    let child = Bg(Some(
        recv.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?,
    ));
    std::thread::sleep(Duration::from_millis(300));
    let sent = run_fg(send);
    let out = child.finish()?;
    sent?;
    let line = last_json(&String::from_utf8_lossy(&out.stdout))?;
    json_field(&line, "per_sec").ok_or_else(|| format!("no per_sec in {line}"))
}

/// [`measure_rate`] for ddsperf `sub` / `pub`: the rate is parsed from the sub's report.
pub fn measure_dds_rate(mut sub: Command, publ: Command) -> Res<f64> {
    let child = Bg(Some(
        sub.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?,
    ));
    std::thread::sleep(Duration::from_millis(300));
    run_fg(publ)?;
    let out = child.finish()?;
    let text = String::from_utf8_lossy(&out.stdout);
    crate::dds::parse_sub(&text).ok_or_else(|| format!("unparsed ddsperf sub output: {text}"))
}

// ---- Report.

/// Progress line of a rate measurement (`q`: the delivery mode).
pub fn report_rate(what: &str, q: &str, r: &Res<f64>) {
    match r {
        Ok(v) => eprintln!("  {what} ({q}): {v:.0} delivered/s"),
        Err(e) => eprintln!("  {what}: FAILED: {e}"),
    }
}

/// A table cell: `v` with `digits` decimals, or n/a.
pub fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "n/a".into(),
    }
}

/// `a / b` where both are measured.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// `met` or `MISSED`.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
