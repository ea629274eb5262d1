//! Throughput of the Linux backends (plain, mmsg, ring, frame-ring, uring) over a veth pair.
//!
//! Run as root: `cargo bench -p l2net-linux --bench throughput` (options after `--`, see
//! `--help`). It makes two network namespaces joined by a veth pair (and removes them at the
//! end), then for every frame size (64, 1514 and 9014 bytes; MTU 9000 for the jumbo frames)
//! and every backend opens a sender link in one namespace and a receiver link of the same
//! backend in the other, runs them concurrently on one thread each, pinned to CPU 0 (sender)
//! and CPU 1 (receiver), and measures over one window:
//!
//! * frames per second the sender's kernel accepted and frames per second the receiving
//!   application got;
//! * CPU time per frame of each thread (`getrusage(RUSAGE_THREAD)`, user + system, which
//!   includes the softirq work the kernel does inside the thread's system calls), and of the
//!   kernel threads that may take receive work (`ksoftirqd/N`, `napi/DEV-N`);
//! * drops: the receiver socket's `PACKET_STATISTICS` drops, the CPUs' backlog drops
//!   (`/proc/net/softnet_stat`), the veth drop counters, and the sender's backpressure (flushes
//!   that left frames queued, transmit calls refused for lack of a slot).
//!
//! Then it repeats everything with threaded NAPI on the receiving veth (GRO on, which gives
//! veth a NAPI instance, and `threaded` = 1) and TSO off on the sender, so that the receive
//! work runs in a kernel thread instead of in the sender's `send` call; that thread is pinned to
//! the receiver's CPU (the scheduler otherwise wakes it on the sender's).
//!
//! Output: Markdown tables on stdout (progress on stderr), with ratios against the plain
//! backend measured in the same run. Nothing here asserts a speed.

#[cfg(target_os = "linux")]
mod probe;
#[cfg(target_os = "linux")]
mod sys;

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let opts = match bench::Opts::parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => return,
        Err(e) => {
            eprintln!("throughput: {e}\n\n{}", bench::USAGE);
            std::process::exit(2);
        }
    };
    if !l2net_linux::netns::require_privileges("throughput benchmark") {
        eprintln!(
            "throughput: this benchmark needs root (it creates network namespaces and a veth \
             pair and opens raw packet sockets). Run it as root, for example:\n  \
             sudo -E cargo bench -p l2net-linux --bench throughput"
        );
        std::process::exit(1);
    }
    if let Err(e) = bench::run(&opts) {
        eprintln!("throughput: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("throughput: this benchmark measures the Linux backends and needs Linux");
}

#[cfg(target_os = "linux")]
mod bench {
    use std::fmt::Write as _;
    use std::io;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::time::{Duration, Instant as StdInstant};

    use l2net_core::{Instant, LinkError, RawLink, RxFrame, TxToken};
    use l2net_linux::netns::{Netns, VethPair};
    use l2net_linux::{
        FrameRingLink, LinkConfig, LinkStats, MmsgLink, OpenError, PlainLink, RingLink, UringLink,
    };

    use crate::probe;
    use crate::sys::{self, CpuTime};

    pub const USAGE: &str = "\
usage: cargo bench -p l2net-linux --bench throughput [-- OPTIONS]

  --secs S          measurement window per cell in seconds (default 2)
  --warmup S        warm-up before each window in seconds (default 0.5)
  --backends LIST   comma-separated subset of plain,mmsg,ring,frame-ring,uring (default all)
  --sizes LIST      comma-separated frame sizes in bytes, 60..=9014 (default 64,1514,9014)
  --modes LIST      softirq,threaded (default both)
  --batch N         frames queued per flush (default 64)
  --rx-room BYTES   receive room per link: rcvbuf, half of the ring's ring_memory, the frame
                    ring's ring_memory
                    (default 4194304)
  --rounds N        measure every cell N times, report the round with the median
                    delivered/s (default 3; damps other load on the machine)
  -h, --help        this text

Needs root. Prints Markdown tables on stdout.";

    /// Where the receive work runs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// veth defaults: the sender's `send` delivers the frame to the receiver's socket in
        /// softirq context on the sender's core.
        Softirq,
        /// Threaded NAPI on the receiving veth and TSO off on the sender.
        Threaded,
    }

    impl Mode {
        fn name(self) -> &'static str {
            match self {
                Mode::Softirq => "softirq",
                Mode::Threaded => "threaded",
            }
        }
        fn title(self) -> &'static str {
            match self {
                Mode::Softirq => {
                    "veth defaults (receive work in softirq inside the sender's send, on CPU 0)"
                }
                Mode::Threaded => {
                    "threaded NAPI on the receiving veth (GRO on), its thread pinned to the \
                     receiver's CPU 1, TSO off on the sender"
                }
            }
        }
    }

    /// The backends measured.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        Plain,
        Mmsg,
        Ring,
        FrameRing,
        Uring,
    }

    impl Kind {
        const ALL: [Kind; 5] = [
            Kind::Plain,
            Kind::Mmsg,
            Kind::Ring,
            Kind::FrameRing,
            Kind::Uring,
        ];
        fn name(self) -> &'static str {
            match self {
                Kind::Plain => "plain",
                Kind::Mmsg => "mmsg",
                Kind::Ring => "ring",
                Kind::FrameRing => "frame-ring",
                Kind::Uring => "uring",
            }
        }
    }

    /// Command-line options.
    #[derive(Debug, Clone)]
    pub struct Opts {
        secs: f64,
        warmup: f64,
        backends: Vec<Kind>,
        sizes: Vec<usize>,
        modes: Vec<Mode>,
        batch: usize,
        rounds: usize,
        rx_room: usize,
    }

    fn list<T>(v: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
        v.split(',')
            .map(|s| f(s.trim()).ok_or_else(|| format!("bad list item {s:?}")))
            .collect()
    }

    impl Opts {
        /// Parse the arguments (after the program name, without cargo's `--bench`). Hand
        /// written: six flags do not justify a dependency for the whole crate's dev builds.
        pub fn parse(args: &[String]) -> Result<Option<Opts>, String> {
            let mut o = Opts {
                secs: 2.0,
                warmup: 0.5,
                backends: Kind::ALL.to_vec(),
                sizes: vec![64, 1514, 9014],
                modes: vec![Mode::Softirq, Mode::Threaded],
                batch: 64,
                rounds: 3,
                rx_room: 4 << 20,
            };
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "-h" || a == "--help" {
                    println!("{USAGE}");
                    return Ok(None);
                }
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                match a.as_str() {
                    "--secs" | "--warmup" => {
                        let x: f64 = v.parse().map_err(|_| format!("bad number {v:?}"))?;
                        if !(0.0..=600.0).contains(&x) || (a == "--secs" && x < 0.1) {
                            return Err(format!("{a} out of range"));
                        }
                        if a == "--secs" {
                            o.secs = x;
                        } else {
                            o.warmup = x;
                        }
                    }
                    "--backends" => {
                        o.backends = list(v, |s| Kind::ALL.into_iter().find(|k| k.name() == s))?
                    }
                    "--sizes" => {
                        o.sizes = list(v, |s| s.parse().ok().filter(|n| (60..=9014).contains(n)))?
                    }
                    "--modes" => {
                        o.modes = list(v, |s| {
                            [Mode::Softirq, Mode::Threaded]
                                .into_iter()
                                .find(|m| m.name() == s)
                        })?
                    }
                    "--batch" => {
                        o.batch = v
                            .parse()
                            .ok()
                            .filter(|n| (1..=1024).contains(n))
                            .ok_or("--batch must be 1 to 1024")?
                    }
                    "--rx-room" => {
                        o.rx_room = v
                            .parse()
                            .ok()
                            .filter(|n| (64 << 10..=256 << 20).contains(n))
                            .ok_or("--rx-room must be 64 KiB to 256 MiB")?
                    }
                    "--rounds" => {
                        o.rounds = v
                            .parse()
                            .ok()
                            .filter(|n| (1..=99).contains(n))
                            .ok_or("--rounds must be 1 to 99")?
                    }
                    _ => return Err(format!("unknown option {a}")),
                }
            }
            if !o.backends.contains(&Kind::Plain) {
                eprintln!("throughput: plain is not measured, so no ratios will be printed");
            }
            Ok(Some(o))
        }
    }

    /// A backend the benchmark can drive.
    trait BenchLink: RawLink + Send + Sized {
        fn open_link(cfg: &LinkConfig) -> Result<Self, OpenError>;
        fn wait_rx(&self, timeout: Duration) -> io::Result<bool>;
        fn link_stats(&mut self) -> Result<LinkStats, LinkError>;
    }

    macro_rules! bench_link {
        ($t:ty) => {
            impl BenchLink for $t {
                fn open_link(cfg: &LinkConfig) -> Result<Self, OpenError> {
                    <$t>::open(cfg)
                }
                fn wait_rx(&self, timeout: Duration) -> io::Result<bool> {
                    self.wait_readable(Some(timeout))
                }
                fn link_stats(&mut self) -> Result<LinkStats, LinkError> {
                    self.stats()
                }
            }
        };
    }
    bench_link!(PlainLink);
    bench_link!(MmsgLink);
    bench_link!(RingLink);
    bench_link!(FrameRingLink);
    bench_link!(UringLink);

    const WARMUP: u8 = 0;
    const MEASURE: u8 = 1;
    const STOP: u8 = 2;
    const DONE: u8 = 3;

    /// A side's position at a window edge.
    #[derive(Debug, Clone, Copy)]
    struct Snap {
        at: StdInstant,
        cpu: CpuTime,
        frames: u64,
    }

    fn snap(frames: u64) -> Result<Snap, String> {
        Ok(Snap {
            at: StdInstant::now(),
            cpu: sys::thread_cpu().map_err(|e| format!("getrusage: {e}"))?,
            frames,
        })
    }

    #[derive(Debug)]
    struct TxReport {
        start: Snap,
        end: Snap,
        sent_total: u64,
        /// Flushes that left frames queued (the kernel pushed back), in the window.
        pushback: u64,
        /// Transmit calls refused for lack of a free slot, in the window.
        full: u64,
        /// Frames still queued when the sender gave up at the end.
        unsent: u64,
    }

    #[derive(Debug)]
    struct RxReport {
        start: Snap,
        end: Snap,
        received_total: u64,
        drops_window: u64,
        /// Frames that were not the benchmark's (should be 0).
        foreign: u64,
        /// Frames that arrived with a sequence number below one already seen.
        reordered: u64,
    }

    const L2NET: [u8; 2] = 0x88B5u16.to_be_bytes();
    const RX_BURST: usize = 256;

    fn fill(buf: &mut [u8], dst: [u8; 6], src: [u8; 6], seq: u64) {
        buf[..6].copy_from_slice(&dst);
        buf[6..12].copy_from_slice(&src);
        buf[12..14].copy_from_slice(&L2NET);
        buf[14..22].copy_from_slice(&seq.to_le_bytes());
        buf[22..].fill(0x5a);
    }

    fn link_err(op: &'static str) -> impl Fn(LinkError) -> String {
        move |e| format!("{op}: {e}")
    }

    fn sender<L: BenchLink>(
        link: &mut L,
        phase: &AtomicU8,
        cpu: Option<usize>,
        len: usize,
        dst: [u8; 6],
        batch: usize,
    ) -> Result<TxReport, String> {
        if let Some(c) = cpu {
            sys::pin_to_cpu(c).map_err(|e| format!("pin sender to CPU {c}: {e}"))?;
        }
        let now = Instant::from_micros(0);
        let src = link.mac().octets();
        let (mut seq, mut sent, mut pushback, mut full) = (0u64, 0u64, 0u64, 0u64);
        let mut start: Option<(Snap, u64, u64)> = None;
        let end = loop {
            let p = phase.load(Ordering::Acquire);
            if p >= MEASURE && start.is_none() {
                start = Some((snap(sent)?, pushback, full));
            }
            if p >= STOP {
                break snap(sent)?;
            }
            for _ in 0..batch {
                match link.transmit(now, len).map_err(link_err("transmit"))? {
                    Some(tok) => {
                        tok.consume(|b| fill(b, dst, src, seq));
                        seq += 1;
                    }
                    None => {
                        full += 1;
                        break;
                    }
                }
            }
            let st = link.flush(now).map_err(link_err("flush"))?;
            sent += st.sent as u64;
            pushback += u64::from(st.pending > 0);
        };
        let (start, pb0, full0) = start.ok_or("window never started")?;
        let (pushback, full) = (pushback - pb0, full - full0);
        // Let what is still queued go, so that the loss count is complete.
        let deadline = StdInstant::now() + Duration::from_millis(500);
        let unsent = loop {
            let st = link.flush(now).map_err(link_err("flush"))?;
            sent += st.sent as u64;
            if st.is_complete() || StdInstant::now() > deadline {
                break st.pending as u64;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        Ok(TxReport {
            start,
            end,
            sent_total: sent,
            pushback,
            full,
            unsent,
        })
    }

    fn receiver<L: BenchLink>(
        link: &mut L,
        phase: &AtomicU8,
        cpu: Option<usize>,
    ) -> Result<RxReport, String> {
        if let Some(c) = cpu {
            sys::pin_to_cpu(c).map_err(|e| format!("pin receiver to CPU {c}: {e}"))?;
        }
        let now = Instant::from_micros(0);
        let (mut got, mut foreign, mut reordered, mut next) = (0u64, 0u64, 0u64, 0u64);
        let mut start: Option<(Snap, u64)> = None;
        let mut end: Option<(Snap, u64)> = None;
        let mut idle_since: Option<StdInstant> = None;
        loop {
            let p = phase.load(Ordering::Acquire);
            if p >= MEASURE && start.is_none() {
                let drops = link.link_stats().map_err(link_err("stats"))?.kernel_drops;
                start = Some((snap(got)?, drops));
            }
            if p >= STOP && end.is_none() {
                let e = snap(got)?;
                let drops = link.link_stats().map_err(link_err("stats"))?.kernel_drops;
                end = Some((e, drops));
            }
            let mut burst = 0;
            while burst < RX_BURST {
                let Some(rx) = link.receive(now).map_err(link_err("receive"))? else {
                    break;
                };
                burst += 1;
                let d = rx.data();
                if d.len() >= 22 && d[12..14] == L2NET {
                    let mut s = [0u8; 8];
                    s.copy_from_slice(&d[14..22]);
                    let s = u64::from_le_bytes(s);
                    if s < next {
                        reordered += 1;
                    } else {
                        next = s + 1;
                    }
                    got += 1;
                } else {
                    foreign += 1;
                }
            }
            if burst > 0 {
                idle_since = None;
                continue;
            }
            if p == DONE {
                let since = *idle_since.get_or_insert_with(StdInstant::now);
                if since.elapsed() > Duration::from_millis(200) {
                    break;
                }
            }
            link.wait_rx(Duration::from_millis(5))
                .map_err(|e| format!("poll: {e}"))?;
        }
        let (start, d0) = start.ok_or("window never started")?;
        let (end, d1) = end.ok_or("window never ended")?;
        Ok(RxReport {
            start,
            end,
            received_total: got,
            drops_window: d1 - d0,
            foreign,
            reordered,
        })
    }

    /// The two namespaces and the veth pair between them.
    struct Env {
        veth: VethPair,
        a: Netns,
        b: Netns,
        mtu: u32,
    }

    impl Env {
        fn new() -> Result<Env, String> {
            let a = Netns::new("bench-tx").map_err(|e| format!("namespace: {e}"))?;
            let b = Netns::new("bench-rx").map_err(|e| format!("namespace: {e}"))?;
            let veth = VethPair::new(&a, &b).map_err(|e| format!("veth pair: {e}"))?;
            Ok(Env {
                veth,
                a,
                b,
                mtu: 1500,
            })
        }

        fn set_mtu(&mut self, mtu: u32) -> Result<(), String> {
            if self.mtu != mtu {
                self.veth
                    .set_mtu(mtu)
                    .map_err(|e| format!("set MTU {mtu}: {e}"))?;
                self.mtu = mtu;
            }
            Ok(())
        }

        /// `(TSO on the sender, GRO on the receiver, threaded NAPI on the receiver)` now.
        fn features(&self) -> Result<(bool, bool, String), String> {
            let tso = ethtool(&self.a, self.veth.a_name(), sys::ETHTOOL_GTSO, None)?;
            let gro = ethtool(&self.b, self.veth.b_name(), sys::ETHTOOL_GGRO, None)?;
            let threaded = threaded(&self.b, self.veth.b_name(), None)?;
            Ok((tso != 0, gro != 0, threaded))
        }

        /// Switch the veth pair's offloads for `mode`.
        fn apply(&self, mode: Mode) -> Result<(), String> {
            let on = mode == Mode::Threaded;
            ethtool(&self.a, self.veth.a_name(), sys::ETHTOOL_STSO, Some(!on))?;
            ethtool(&self.b, self.veth.b_name(), sys::ETHTOOL_SGRO, Some(on))?;
            // Writing the current value can fail (0 on a veth without NAPI), so only change.
            if (threaded(&self.b, self.veth.b_name(), None)? == "1") != on {
                threaded(&self.b, self.veth.b_name(), Some(on))?;
            }
            let (tso, gro, thr) = self.features()?;
            if tso == on || gro != on || (thr == "1") != on {
                return Err(format!(
                    "{} mode not in force: TSO {tso}, GRO {gro}, threaded {thr}",
                    mode.name()
                ));
            }
            Ok(())
        }
    }

    fn ethtool(ns: &Netns, dev: &str, cmd: u32, set: Option<bool>) -> Result<u32, String> {
        ns.run(|| -> io::Result<u32> {
            let s = UdpSocket::bind("0.0.0.0:0")?;
            sys::ethtool_value(s.as_fd(), dev, cmd, set.map_or(0, u32::from))
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("SIOCETHTOOL {cmd:#x} on {dev}: {e}"))
    }

    /// Read (and with `set`, first write) `/sys/class/net/DEV/threaded` in `ns`.
    fn threaded(ns: &Netns, dev: &str, set: Option<bool>) -> Result<String, String> {
        let path = format!("/sys/class/net/{dev}/threaded");
        ns.run(|| -> io::Result<String> {
            sys::private_sysfs()?;
            if let Some(on) = set {
                std::fs::write(&path, if on { "1" } else { "0" })
                    .map_err(|e| io::Error::new(e.kind(), format!("write {path}: {e}")))?;
            }
            Ok(std::fs::read_to_string(&path)?.trim().to_owned())
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("threaded NAPI on {dev}: {e}"))
    }

    fn veth_drops(env: &Env) -> u64 {
        let tx = env
            .a
            .run(|| probe::dev_drops(env.veth.a_name()))
            .ok()
            .flatten();
        let rx = env
            .b
            .run(|| probe::dev_drops(env.veth.b_name()))
            .ok()
            .flatten();
        tx.map_or(0, |(r, t)| r + t) + rx.map_or(0, |(r, t)| r + t)
    }

    /// One measured cell.
    #[derive(Debug, Clone)]
    struct Cell {
        mode: Mode,
        size: usize,
        kind: Kind,
        sent_fps: f64,
        delivered_fps: f64,
        /// Share of the window the sender thread was on its CPU.
        tx_busy: f64,
        tx_cpu: CpuTime,
        rx_cpu: CpuTime,
        sent: u64,
        delivered: u64,
        kthread_ns: u64,
        rx_drops: u64,
        backlog_drops: u64,
        veth_drops: u64,
        pushback: u64,
        full: u64,
        lost: i64,
        unsent: u64,
        foreign: u64,
        reordered: u64,
    }

    impl Cell {
        fn per(ns: u64, frames: u64) -> f64 {
            if frames == 0 {
                f64::NAN
            } else {
                ns as f64 / frames as f64
            }
        }
        fn tx_ns(&self) -> f64 {
            Self::per(self.tx_cpu.total(), self.sent)
        }
        fn rx_ns(&self) -> f64 {
            Self::per(self.rx_cpu.total(), self.delivered)
        }
        /// CPU of both threads per delivered frame.
        fn both_ns(&self) -> f64 {
            Self::per(self.tx_cpu.total() + self.rx_cpu.total(), self.delivered)
        }
        fn kthread_per(&self) -> f64 {
            Self::per(self.kthread_ns, self.delivered)
        }
        /// CPU of both threads and of the kernel threads that took receive work, per
        /// delivered frame: what the ratios compare.
        fn all_ns(&self) -> f64 {
            Self::per(
                self.tx_cpu.total() + self.rx_cpu.total() + self.kthread_ns,
                self.delivered,
            )
        }
    }

    fn link_config(dev: &str, opts: &Opts, kind: Kind) -> LinkConfig {
        let mut c = LinkConfig::new(dev);
        // The same receive room for every backend (the ring's RX ring is half of its
        // ring_memory; the frame ring has no TX ring, all of it receives).
        c.rcvbuf = Some(opts.rx_room);
        c.ring_memory = if kind == Kind::FrameRing {
            opts.rx_room
        } else {
            2 * opts.rx_room
        };
        c.sndbuf = Some(4 << 20);
        c.tx_slots = opts.batch;
        c
    }

    fn run_cell<L: BenchLink>(
        env: &Env,
        mode: Mode,
        size: usize,
        kind: Kind,
        opts: &Opts,
        cpus: (Option<usize>, Option<usize>),
    ) -> Result<Cell, String> {
        let rx_cfg = link_config(env.veth.b_name(), opts, kind);
        let tx_cfg = link_config(env.veth.a_name(), opts, kind);
        let open = |ns: &Netns, cfg: &LinkConfig| {
            ns.run(|| L::open_link(cfg))
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("open {} on {}: {e}", kind.name(), cfg.interface))
        };
        let mut rx = open(&env.b, &rx_cfg)?;
        let mut tx = open(&env.a, &tx_cfg)?;
        let dst = rx.mac().octets();
        let phase = AtomicU8::new(WARMUP);
        let mut napi = format!("napi/{}", env.veth.b_name());
        napi.truncate(15); // TASK_COMM_LEN - 1
        let kprefixes = ["ksoftirqd/", napi.as_str()];
        let (tx_r, rx_r, k, backlog, veth) = std::thread::scope(|s| {
            let phase = &phase;
            let rx_link = &mut rx;
            let tx_link = &mut tx;
            let rx_h = s.spawn(move || receiver(rx_link, phase, cpus.1));
            let tx_h = s.spawn(move || sender(tx_link, phase, cpus.0, size, dst, opts.batch));
            std::thread::sleep(Duration::from_secs_f64(opts.warmup));
            let (k0, b0, v0) = (
                probe::kthread_ns(&kprefixes),
                probe::backlog_drops(),
                veth_drops(env),
            );
            phase.store(MEASURE, Ordering::Release);
            std::thread::sleep(Duration::from_secs_f64(opts.secs));
            phase.store(STOP, Ordering::Release);
            let (k1, b1, v1) = (
                probe::kthread_ns(&kprefixes),
                probe::backlog_drops(),
                veth_drops(env),
            );
            let tx_r = tx_h.join();
            phase.store(DONE, Ordering::Release);
            let rx_r = rx_h.join();
            (
                tx_r,
                rx_r,
                k1.saturating_sub(k0),
                b1.saturating_sub(b0),
                v1.saturating_sub(v0),
            )
        });
        let tx_r = tx_r.map_err(|_| "sender thread panicked")??;
        let rx_r = rx_r.map_err(|_| "receiver thread panicked")??;
        let tx_secs = tx_r.end.at.duration_since(tx_r.start.at).as_secs_f64();
        let rx_secs = rx_r.end.at.duration_since(rx_r.start.at).as_secs_f64();
        let sent = tx_r.end.frames - tx_r.start.frames;
        let delivered = rx_r.end.frames - rx_r.start.frames;
        Ok(Cell {
            mode,
            size,
            kind,
            sent_fps: sent as f64 / tx_secs,
            delivered_fps: delivered as f64 / rx_secs,
            tx_busy: tx_r.end.cpu.since(tx_r.start.cpu).total() as f64 / 1e9 / tx_secs,
            tx_cpu: tx_r.end.cpu.since(tx_r.start.cpu),
            rx_cpu: rx_r.end.cpu.since(rx_r.start.cpu),
            sent,
            delivered,
            kthread_ns: k,
            rx_drops: rx_r.drops_window,
            backlog_drops: backlog,
            veth_drops: veth,
            pushback: tx_r.pushback,
            full: tx_r.full,
            lost: tx_r.sent_total as i64 - rx_r.received_total as i64,
            unsent: tx_r.unsent,
            foreign: rx_r.foreign,
            reordered: rx_r.reordered,
        })
    }

    fn measure(
        env: &Env,
        mode: Mode,
        size: usize,
        kind: Kind,
        opts: &Opts,
        cpus: (Option<usize>, Option<usize>),
    ) -> Result<Cell, String> {
        match kind {
            Kind::Plain => run_cell::<PlainLink>(env, mode, size, kind, opts, cpus),
            Kind::Mmsg => run_cell::<MmsgLink>(env, mode, size, kind, opts, cpus),
            Kind::Ring => run_cell::<RingLink>(env, mode, size, kind, opts, cpus),
            Kind::FrameRing => run_cell::<FrameRingLink>(env, mode, size, kind, opts, cpus),
            Kind::Uring => run_cell::<UringLink>(env, mode, size, kind, opts, cpus),
        }
    }

    fn kfps(fps: f64) -> String {
        if fps.is_finite() {
            format!("{:.0} k", fps / 1000.0)
        } else {
            "-".into()
        }
    }

    fn ns(v: f64) -> String {
        if v.is_finite() {
            format!("{v:.0}")
        } else {
            "-".into()
        }
    }

    fn ratio(v: f64, base: Option<f64>) -> String {
        match base {
            Some(b) if b > 0.0 && v.is_finite() && b.is_finite() => format!("{:.2}x", v / b),
            _ => "-".into(),
        }
    }

    fn table(cells: &[Cell], mode: Mode, out: &mut String) {
        let _ = writeln!(out, "\n### {}\n", mode.title());
        let _ = writeln!(
            out,
            "| frame | backend | sent/s | delivered/s | delivered vs plain | TX busy | TX CPU ns/frame \
             | RX CPU ns/frame | TX+RX CPU ns/delivered | kthreads ns/frame | all CPU ns/delivered | vs plain \
             | RX socket drops | backlog drops | veth drops | TX pushback | TX slot full | lost |"
        );
        let _ = writeln!(
            out,
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for c in cells.iter().filter(|c| c.mode == mode) {
            let plain = cells
                .iter()
                .find(|p| p.mode == mode && p.size == c.size && p.kind == Kind::Plain);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.0}% | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.size,
                c.kind.name(),
                kfps(c.sent_fps),
                kfps(c.delivered_fps),
                ratio(c.delivered_fps, plain.map(|p| p.delivered_fps)),
                c.tx_busy * 100.0,
                ns(c.tx_ns()),
                ns(c.rx_ns()),
                ns(c.both_ns()),
                ns(c.kthread_per()),
                ns(c.all_ns()),
                ratio(c.all_ns(), plain.map(Cell::all_ns)),
                c.rx_drops,
                c.backlog_drops,
                c.veth_drops,
                c.pushback,
                c.full,
                c.lost,
            );
        }
    }

    fn detail(cells: &[Cell], out: &mut String) {
        let _ = writeln!(
            out,
            "\n### CPU split (ns per frame: user / system)\n\n\
             | mode | frame | backend | TX user | TX sys | RX user | RX sys | unsent | foreign | reordered |\n\
             |---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for c in cells {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.mode.name(),
                c.size,
                c.kind.name(),
                ns(Cell::per(c.tx_cpu.user_ns, c.sent)),
                ns(Cell::per(c.tx_cpu.sys_ns, c.sent)),
                ns(Cell::per(c.rx_cpu.user_ns, c.delivered)),
                ns(Cell::per(c.rx_cpu.sys_ns, c.delivered)),
                c.unsent,
                c.foreign,
                c.reordered,
            );
        }
    }

    fn summary(cells: &[Cell], opts: &Opts, out: &mut String) {
        let _ = writeln!(
            out,
            "\n### Summary against plain (same run)\n\n\
             | mode | frame | best backend (delivered/s) | its delivered vs plain \
             | ring CPU per delivered frame vs plain (all CPU) |\n|---|---:|---|---:|---:|"
        );
        for &mode in &opts.modes {
            for &size in &opts.sizes {
                let row: Vec<&Cell> = cells
                    .iter()
                    .filter(|c| c.mode == mode && c.size == size)
                    .collect();
                let plain = row.iter().find(|c| c.kind == Kind::Plain);
                let ring = row.iter().find(|c| c.kind == Kind::Ring);
                let Some(best) = row
                    .iter()
                    .max_by(|a, b| a.delivered_fps.total_cmp(&b.delivered_fps))
                else {
                    continue;
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    mode.name(),
                    size,
                    best.kind.name(),
                    ratio(best.delivered_fps, plain.map(|p| p.delivered_fps)),
                    ring.map_or("-".into(), |r| ratio(r.all_ns(), plain.map(|p| p.all_ns()))),
                );
            }
        }
    }

    pub fn run(opts: &Opts) -> Result<(), String> {
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpus = if ncpu >= 2 {
            (Some(0), Some(1))
        } else {
            eprintln!("throughput: one CPU only: sender and receiver share it (not pinned)");
            (None, None)
        };
        let load_before = probe::loadavg();
        let mut env = Env::new()?;
        let (tso, gro, thr) = env.features()?;
        eprintln!(
            "throughput: veth {} -> {}; defaults: TSO {tso}, GRO {gro}, threaded NAPI {thr}",
            env.veth.a_name(),
            env.veth.b_name()
        );
        let mut cells = Vec::new();
        let mut notes = Vec::new();
        let mut napi_threads: Vec<u32> = Vec::new();
        for &mode in &opts.modes {
            for &size in &opts.sizes {
                let mtu = if size > 1514 { 9000 } else { 1500 };
                env.set_mtu(mtu)?;
                if let Err(e) = env.apply(mode) {
                    if mode == Mode::Softirq {
                        return Err(e);
                    }
                    notes.push(format!("threaded mode skipped: {e}"));
                    break;
                }
                if mode == Mode::Threaded {
                    // Put the receive work on the receiver's core: left alone, the scheduler
                    // wakes the NAPI thread where the sender runs (observed: CPU 0).
                    let mut napi = format!("napi/{}", env.veth.b_name());
                    napi.truncate(15);
                    let threads = probe::kthreads(&napi);
                    if threads.is_empty() {
                        notes.push(format!("threaded mode: no {napi}* kernel thread found"));
                    }
                    for (pid, name) in &threads {
                        match cpus.1 {
                            Some(cpu) => match sys::pin_pid_to_cpu(*pid, cpu) {
                                Ok(()) => eprintln!("throughput: {name} pinned to CPU {cpu}"),
                                Err(e) => {
                                    notes.push(format!("could not pin {name} to CPU {cpu}: {e}"))
                                }
                            },
                            None => eprintln!("throughput: NAPI thread {name} (not pinned)"),
                        }
                    }
                    napi_threads = threads.into_iter().map(|(pid, _)| pid).collect();
                }
                for &kind in &opts.backends {
                    eprint!("throughput: {} {size} B {} ... ", mode.name(), kind.name());
                    let mut rounds = Vec::with_capacity(opts.rounds);
                    let mut failed = None;
                    for _ in 0..opts.rounds {
                        match measure(&env, mode, size, kind, opts, cpus) {
                            Ok(c) => rounds.push(c),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    rounds.sort_by(|a, b| a.delivered_fps.total_cmp(&b.delivered_fps));
                    let median = match failed {
                        Some(e) => Err(e),
                        None => Ok(rounds.swap_remove(rounds.len() / 2)),
                    };
                    match median {
                        Ok(c) => {
                            for pid in &napi_threads {
                                if let Some(cpu) = probe::last_cpu(*pid) {
                                    eprint!("(NAPI thread last on CPU {cpu}) ");
                                }
                            }
                            eprintln!(
                                "{} sent/s, {} delivered/s, {} ns CPU/frame",
                                kfps(c.sent_fps),
                                kfps(c.delivered_fps),
                                ns(c.all_ns())
                            );
                            cells.push(c);
                        }
                        Err(e) => {
                            eprintln!("failed: {e}");
                            notes.push(format!("{} {size} B {}: {e}", mode.name(), kind.name()));
                        }
                    }
                }
            }
        }
        // Back to the defaults before the pair goes (not needed, but leaves nothing odd if
        // someone inspects the namespaces while the program is paused).
        drop(env);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Machine: {ncpu} CPUs ({}), kernel {}; load average {load_before} before the run, \
             {} after. Window {} s per cell after {} s warm-up, median of {} rounds by delivered/s, \
             {} frames per flush, {} KiB receive room per link, sender pinned to CPU 0 and receiver to CPU 1, same backend \
             on both ends. CPU user/system split is tick-sampled (250 Hz); their sum is exact.",
            probe::cpu_model(),
            probe::kernel(),
            probe::loadavg(),
            opts.secs,
            opts.warmup,
            opts.rounds,
            opts.batch,
            opts.rx_room >> 10
        );
        for &mode in &opts.modes {
            table(&cells, mode, &mut out);
        }
        summary(&cells, opts, &mut out);
        detail(&cells, &mut out);
        for n in &notes {
            let _ = writeln!(out, "\nNote: {n}");
        }
        print!("{out}");
        Ok(())
    }
}
