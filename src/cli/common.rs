//! What the subcommands share: opening a node on an interface, latency statistics, CPU time.

use std::time::Duration;

use clap::Args as ClapArgs;
use l2net::node::{Node, NodeConfig};
use l2net_linux::link::{Backend, LinkConfig, LinuxLink};

use super::CliError;

/// Options every subcommand that talks on an interface takes.
#[derive(ClapArgs, Debug, Clone)]
pub struct NetArgs {
    /// The Ethernet interface to use.
    #[arg(short, long)]
    pub interface: String,
    /// The l2net domain (systems on one wire with different domains ignore each other).
    #[arg(long, default_value_t = 0)]
    pub domain: u16,
    /// The Linux backend. Default frame-ring (a TPACKET_V2 receive ring: every frame handed
    /// over at once and found without a system call, sent with sendmmsg; the lowest latency),
    /// except `perf`, which uses mmsg for reliable samples and for a sender of samples of 1 KiB
    /// and more, and the TPACKET_V3 ring for the rest (what `auto` picks, best for throughput).
    /// The V3 ring hands frames over only when a ring block retires, which adds up to its block
    /// timeout to every sample's latency (and to every acknowledgement of reliable samples).
    /// Names: auto, ring, frame-ring, uring, mmsg, plain.
    #[arg(long)]
    pub backend: Option<Backend>,
    /// How long (microseconds) a small best-effort sample may wait for others to share its
    /// frame. 0 sends each at once; batches still form when the link is slower than the
    /// publisher.
    #[arg(long, default_value_t = 0)]
    pub batch_us: u64,
    /// Heartbeat period of reliable writers in milliseconds (default: the node's, 50 ms; `perf`
    /// picks its own). A writer that just sent a burst heartbeats after a hundredth of it
    /// when a quarter of its window is unacknowledged, so it paces fast reliable streams.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub heartbeat_ms: Option<u64>,
    /// Reliable window: samples a reliable writer may have unacknowledged per reader (default:
    /// the node's, 128; `perf` picks its own).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub window: Option<u16>,
    /// Socket receive buffer in bytes (SO_RCVBUF; the kernel's default unless named, 4 MiB
    /// for `perf`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(4096..=(1 << 30)))]
    pub rcvbuf: Option<u64>,
    /// Send straight to the driver, bypassing the interface's qdisc (`PACKET_QDISC_BYPASS`):
    /// less work per frame, but no queueing discipline and no drop accounting by it.
    #[arg(long)]
    pub qdisc_bypass: bool,
}

impl NetArgs {
    pub fn open(&self, name: &str, busy_poll: bool) -> Result<Node<LinuxLink>, CliError> {
        self.open_with(name, busy_poll, Backend::FrameRing, None)
    }

    /// Like [`NetArgs::open`], with `backend` and `rcvbuf` unless the command line names them.
    pub fn open_with(
        &self,
        name: &str,
        busy_poll: bool,
        backend: Backend,
        rcvbuf: Option<u64>,
    ) -> Result<Node<LinuxLink>, CliError> {
        let mut cfg =
            LinkConfig::new(&self.interface).with_backend(self.backend.unwrap_or(backend));
        cfg.rcvbuf = self.rcvbuf.or(rcvbuf).map(|n| n as usize);
        cfg.qdisc_bypass = self.qdisc_bypass;
        let (link, _sel) = LinuxLink::open(&cfg)?;
        let mut nc = NodeConfig::new(self.domain, name);
        nc.busy_poll = busy_poll;
        nc.batch_delay = Duration::from_micros(self.batch_us);
        if let Some(ms) = self.heartbeat_ms {
            nc.heartbeat_period = Duration::from_millis(ms);
        }
        if let Some(w) = self.window {
            nc.reliable_window = w;
        }
        Ok(Node::new(link, nc)?)
    }
}

/// Round-trip samples in nanoseconds, preallocated so recording never allocates.
pub struct Latencies(Vec<u64>);

impl Latencies {
    pub fn with_capacity(n: usize) -> Self {
        Latencies(Vec::with_capacity(n))
    }
    pub fn record(&mut self, d: Duration) {
        if self.0.len() < self.0.capacity() {
            self.0.push(d.as_nanos() as u64);
        }
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// (p50, p90, p99, p99.9, max) in microseconds.
    pub fn percentiles(&mut self) -> [f64; 5] {
        self.0.sort_unstable();
        let n = self.0.len();
        if n == 0 {
            return [f64::NAN; 5];
        }
        let p = |q: f64| self.0[(((n - 1) as f64) * q).round() as usize] as f64 / 1000.0;
        [
            p(0.5),
            p(0.9),
            p(0.99),
            p(0.999),
            self.0[n - 1] as f64 / 1000.0,
        ]
    }
    /// A log2 histogram of the samples, one line per bucket (microseconds).
    pub fn histogram(&self) -> String {
        let mut buckets = [0u64; 32];
        for &ns in &self.0 {
            let us = (ns / 1000).max(1);
            buckets[(63 - us.leading_zeros()) as usize] += 1;
        }
        let max = buckets.iter().copied().max().unwrap_or(0).max(1);
        let mut out = String::new();
        let (lo, hi) = (
            buckets.iter().position(|&b| b > 0).unwrap_or(0),
            buckets.iter().rposition(|&b| b > 0).unwrap_or(0),
        );
        for (i, &b) in buckets.iter().enumerate().take(hi + 1).skip(lo) {
            let bar = "#".repeat(((b * 50) / max) as usize);
            out.push_str(&format!(
                "  {:>7} - {:<7} us {:>9}  {bar}\n",
                1u64 << i,
                (1u64 << (i + 1)) - 1,
                b
            ));
        }
        out
    }
}

/// CPU time (user + system) this process used so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we pass; RUSAGE_SELF is always valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
