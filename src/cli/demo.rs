//! `l2net demo`: two participants discover each other and exchange a reliable and a best-effort
//! topic, a service call and a 4 MiB message, then measure round-trip latency.
//!
//! As root it runs on a real kernel path: two network namespaces joined by a veth pair, created
//! for the demo and removed at the end. Without privileges it runs the same scenario over the
//! in-memory segment and says how to run it on real interfaces.

use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use l2net::node::{Event, HistoryKind, Node, NodeConfig, NodeLink, Qos};
use l2net_core::link::mem::{SegmentConfig, SyncSegment};
use l2net_core::{MacAddr, RawLink};
use l2net_linux::link::{Backend, LinkConfig, LinuxLink};
use l2net_linux::netns::{Netns, VethPair};

use super::CliError;
use super::common::Latencies;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Use the in-memory segment even when running as root.
    #[arg(long)]
    in_memory: bool,
    /// Linux backend for the veth run (frame-ring: lowest latency; see `l2net ping --help`).
    #[arg(long, default_value = "frame-ring")]
    backend: Backend,
    /// Round trips for the latency histogram.
    #[arg(long, default_value_t = 5000)]
    pings: usize,
}

const T: Duration = Duration::from_secs(10);

fn step(title: &str) {
    println!("\n== {title}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn run(a: Args) -> Result<(), CliError> {
    let started = Instant::now();
    if a.in_memory || !is_root() {
        if !a.in_memory {
            println!(
                "Not running as root, so the demo runs over l2net's in-memory Ethernet segment.\n\
                 For the real kernel path run it as root (`sudo -E cargo run --release -- demo`): it\n\
                 creates two network namespaces joined by a veth pair and removes them afterwards.\n\
                 On your own interfaces, try `l2net discover -i eth0`, `l2net pong -i eth0` on one\n\
                 machine and `l2net ping -i eth0` on another (raw sockets need CAP_NET_RAW)."
            );
        }
        in_memory(&a)?;
    } else {
        on_veth(&a)?;
    }
    println!(
        "\ndemo finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn in_memory(a: &Args) -> Result<(), CliError> {
    step("setting up an in-memory Ethernet segment with two links");
    let mut cfg = SegmentConfig::DEFAULT;
    cfg.rx_queue = 256;
    cfg.tx_queue = 256;
    // The segment lives for the rest of this short-lived process.
    let arena: &'static mut [u8] = Box::leak(vec![0u8; 1024 * 1536].into_boxed_slice());
    let seg: &'static SyncSegment<'static, 2, 1024> = Box::leak(Box::new(
        SyncSegment::new(arena, cfg).map_err(|e| CliError(e.to_string()))?,
    ));
    let la = seg
        .link(MacAddr([0x02, 0x4c, 0x32, 0, 0, 0x0a]), 1500)
        .map_err(|e| CliError(e.to_string()))?;
    let lb = seg
        .link(MacAddr([0x02, 0x4c, 0x32, 0, 0, 0x0b]), 1500)
        .map_err(|e| CliError(e.to_string()))?;
    println!("  link A {}  <->  link B {}", la.mac(), lb.mac());
    scenario(la, lb, a)
}

fn on_veth(a: &Args) -> Result<(), CliError> {
    step("creating two network namespaces joined by a veth pair");
    let ns_a = Netns::new("demo")?;
    let ns_b = Netns::new("demo")?;
    let veth = VethPair::new(&ns_a, &ns_b)?;
    println!(
        "  {} in {}  <->  {} in {}",
        veth.a_name(),
        ns_a.name(),
        veth.b_name(),
        ns_b.name()
    );
    let open = |ns: &Netns, ifname: &str| -> Result<LinuxLink, CliError> {
        let cfg = LinkConfig::new(ifname).with_backend(a.backend);
        let (link, sel) = ns.run(move || LinuxLink::open(&cfg))??;
        println!("  {ifname}: backend {sel}");
        Ok(link)
    };
    let la = open(&ns_a, veth.a_name())?;
    let lb = open(&ns_b, veth.b_name())?;
    let r = scenario(la, lb, a);
    step("cleaning up");
    drop(veth);
    let (na, nb) = (ns_a.name().to_string(), ns_b.name().to_string());
    drop(ns_a);
    drop(ns_b);
    println!("  removed {na}, {nb} and their veth pair");
    r
}

fn scenario<L: NodeLink>(la: L, lb: L, a: &Args) -> Result<(), CliError> {
    let node_a = Node::new(la, NodeConfig::new(42, "demo-a"))?;
    let node_b = Node::new(lb, NodeConfig::new(42, "demo-b"))?;

    step("discovery (multicast HELLO on the domain's group address)");
    let t0 = Instant::now();
    loop {
        if let Event::ParticipantDiscovered { participant, mac } = node_b.next_event(Some(T))? {
            println!(
                "  demo-b discovered {participant:016x} at {mac} after {:.1} ms",
                t0.elapsed().as_secs_f64() * 1e3
            );
            break;
        }
    }

    step("reliable topic /demo/counter: 10000 samples, in order, exactly once");
    let publ = node_a.publisher("/demo/counter", "demo/Counter", Qos::reliable(128))?;
    let sub = node_b.subscriber("/demo/counter", "demo/Counter", Qos::reliable(128))?;
    publ.wait_for_subscribers(1, T)?;
    sub.wait_for_publishers(1, T)?;
    let n = 10_000u32;
    let t0 = Instant::now();
    let received = std::thread::scope(|s| -> Result<u32, CliError> {
        let w = s.spawn(|| -> Result<(), CliError> {
            for i in 0..n {
                publ.publish(&i.to_be_bytes())?;
            }
            Ok(publ.wait_for_acks(T)?)
        });
        let mut buf = [0u8; 16];
        for i in 0..n {
            sub.recv_timeout(&mut buf, Some(T))?;
            let got = u32::from_be_bytes(buf[..4].try_into().unwrap_or_default());
            if got != i {
                return Err(CliError(format!("expected sample {i}, got {got}")));
            }
        }
        w.join()
            .map_err(|_| CliError("publisher thread panicked".into()))??;
        Ok(n)
    })?;
    let el = t0.elapsed().as_secs_f64();
    println!(
        "  {received} samples delivered in order in {:.0} ms ({:.0} samples/s)",
        el * 1e3,
        received as f64 / el
    );

    step("best-effort topic /demo/scan: 2000 samples of 512 B");
    let bpub = node_a.publisher("/demo/scan", "demo/Scan", Qos::BEST_EFFORT)?;
    let bsub = node_b.subscriber(
        "/demo/scan",
        "demo/Scan",
        Qos {
            history: HistoryKind::KeepLast(64),
            ..Qos::BEST_EFFORT
        },
    )?;
    bpub.wait_for_subscribers(1, T)?;
    let got = std::thread::scope(|s| {
        let r = s.spawn(|| {
            let mut buf = [0u8; 1024];
            let mut got = 0u32;
            while bsub
                .recv_timeout(&mut buf, Some(Duration::from_millis(300)))
                .is_ok()
            {
                got += 1;
            }
            got
        });
        for i in 0..2000u32 {
            let _ = bpub.publish(&[(i % 251) as u8; 512]);
        }
        r.join().unwrap_or(0)
    });
    println!("  {got} of 2000 delivered (best effort: a slow reader keeps only the newest)");

    step("service /demo/add: a request and its reply");
    let server = node_b.server("/demo/add", "demo/Add")?;
    let mut client = node_a.client("/demo/add", "demo/Add")?;
    client.wait_for_server(T)?;
    let t0 = Instant::now();
    let reply = std::thread::scope(|s| -> Result<u32, CliError> {
        s.spawn(|| -> Result<(), CliError> {
            let mut req = [0u8; 8];
            let (id, _) = server.next_request(&mut req, Some(T))?;
            let x = u32::from_be_bytes(req[..4].try_into().unwrap_or_default());
            let y = u32::from_be_bytes(req[4..8].try_into().unwrap_or_default());
            Ok(server.reply(id, &(x + y).to_be_bytes())?)
        });
        let mut req = [0u8; 8];
        req[..4].copy_from_slice(&40u32.to_be_bytes());
        req[4..].copy_from_slice(&2u32.to_be_bytes());
        let mut out = [0u8; 8];
        client.call(&req, &mut out, T)?;
        Ok(u32::from_be_bytes(out[..4].try_into().unwrap_or_default()))
    })?;
    println!(
        "  add(40, 2) = {reply} in {:.0} us",
        t0.elapsed().as_secs_f64() * 1e6
    );

    step("a 4 MiB message on /demo/map (fragmented, reassembled, reliable)");
    let mpub = node_a.publisher("/demo/map", "demo/Map", Qos::reliable(1))?;
    let msub = node_b.subscriber("/demo/map", "demo/Map", Qos::reliable(1))?;
    mpub.wait_for_subscribers(1, T)?;
    let big: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let mut buf = vec![0u8; 8 << 20];
    let t0 = Instant::now();
    mpub.publish(&big)?;
    let info = msub.recv_timeout(&mut buf, Some(T))?;
    let el = t0.elapsed().as_secs_f64();
    if buf[..info.len] != big[..] {
        return Err(CliError("the 4 MiB message arrived corrupted".into()));
    }
    println!(
        "  {} bytes intact in {:.1} ms ({:.0} MB/s)",
        info.len,
        el * 1e3,
        info.len as f64 / el / 1e6
    );

    step(&format!(
        "latency: {} round trips of 64 B (blocking receive)",
        a.pings
    ));
    let ping = node_a.publisher("/demo/ping", "demo/Ping", Qos::BEST_EFFORT)?;
    let ping_sub = node_b.subscriber("/demo/ping", "demo/Ping", Qos::BEST_EFFORT)?;
    let pong = node_b.publisher("/demo/pong", "demo/Ping", Qos::BEST_EFFORT)?;
    let pong_sub = node_a.subscriber("/demo/pong", "demo/Ping", Qos::BEST_EFFORT)?;
    ping.wait_for_subscribers(1, T)?;
    pong.wait_for_subscribers(1, T)?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut lat = Latencies::with_capacity(a.pings);
    std::thread::scope(|s| -> Result<(), CliError> {
        s.spawn(|| {
            let mut b = [0u8; 256];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(i) = ping_sub.recv_timeout(&mut b, Some(Duration::from_millis(100))) {
                    let _ = pong.publish(&b[..i.len]);
                }
            }
        });
        let mut msg = [0u8; 64];
        let mut b = [0u8; 256];
        for seq in 0..a.pings as u64 {
            msg[..8].copy_from_slice(&seq.to_be_bytes());
            let t = Instant::now();
            ping.publish(&msg)?;
            while let Ok(i) = pong_sub.recv_timeout(&mut b, Some(Duration::from_millis(200))) {
                if i.len >= 8 && b[..8] == seq.to_be_bytes() {
                    lat.record(t.elapsed());
                    break;
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    })?;
    let count = lat.len();
    let [p50, p90, p99, p999, max] = lat.percentiles();
    println!(
        "  {count} round trips: p50 {p50:.1} us, p90 {p90:.1}, p99 {p99:.1}, p99.9 {p999:.1}, max {max:.1}"
    );
    print!("{}", lat.histogram());

    step("goodbye");
    let id_a = node_a.id();
    node_a.close();
    let t0 = Instant::now();
    loop {
        match node_b.next_event(Some(Duration::from_secs(5))) {
            Ok(Event::ParticipantLost {
                participant,
                reason,
            }) if participant == id_a => {
                println!(
                    "  demo-b saw demo-a leave ({reason:?}) after {:.1} ms",
                    t0.elapsed().as_secs_f64() * 1e3
                );
                break;
            }
            Ok(_) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
