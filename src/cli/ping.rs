//! `l2net ping` / `l2net pong`: round-trip latency between two nodes.

use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use l2net::node::{NodeError, Qos};

use super::CliError;
use super::common::{Latencies, NetArgs};

pub const PING_TOPIC: &str = "/l2net/ping";
pub const PONG_TOPIC: &str = "/l2net/pong";
pub const TYPE: &str = "l2net/Ping";

#[derive(ClapArgs, Debug)]
pub struct PingArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Payload bytes per ping (at least 8: the sequence number).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// How long to measure, after 0.3 s of warm-up.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Stop after this many round trips.
    #[arg(long)]
    count: Option<u64>,
    /// Spin on the link instead of sleeping: lowest latency, one core busy.
    #[arg(long)]
    busy_poll: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(ClapArgs, Debug)]
pub struct PongArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Spin on the link instead of sleeping.
    #[arg(long)]
    busy_poll: bool,
    /// Exit after this many seconds (default: run until interrupted).
    #[arg(long)]
    secs: Option<f64>,
}

pub fn ping(a: PingArgs) -> Result<(), CliError> {
    if !a.secs.is_finite() || a.secs <= 0.0 {
        return Err(CliError("--secs must be a positive number".into()));
    }
    let node = a.net.open("l2net-ping", a.busy_poll)?;
    let publ = node.publisher(PING_TOPIC, TYPE, Qos::BEST_EFFORT)?;
    let sub = node.subscriber(PONG_TOPIC, TYPE, Qos::BEST_EFFORT)?;
    if !a.json {
        eprintln!(
            "waiting for `l2net pong` on {} (domain {}) ...",
            a.net.interface, a.net.domain
        );
    }
    publ.wait_for_subscribers(1, Duration::from_secs(10))
        .and_then(|_| sub.wait_for_publishers(1, Duration::from_secs(10)))
        .map_err(|e| match e {
            NodeError::Timeout => CliError(format!(
                "no `l2net pong` answered on {} within 10 s",
                a.net.interface
            )),
            e => e.into(),
        })?;
    let mut msg = vec![0u8; a.size.max(8)];
    let mut buf = vec![0u8; msg.len().max(1 << 16)];
    let mut lat = Latencies::with_capacity(20_000_000);
    let (mut lost, mut seq) = (0u64, 0u64);
    let warm_end = Instant::now() + Duration::from_millis(300);
    let end = warm_end + Duration::from_secs_f64(a.secs);
    let mut next_report = Instant::now() + Duration::from_secs(1);
    let cpu0 = super::common::cpu_time();
    while Instant::now() < end && a.count.is_none_or(|c| (lat.len() as u64) < c) {
        seq += 1;
        msg[..8].copy_from_slice(&seq.to_be_bytes());
        let t0 = Instant::now();
        publ.publish(&msg)?;
        loop {
            match sub.recv_timeout(&mut buf, Some(Duration::from_millis(200))) {
                Ok(info) if info.len >= 8 && buf[..8] == seq.to_be_bytes() => {
                    if t0 >= warm_end {
                        lat.record(t0.elapsed());
                    }
                    break;
                }
                Ok(_) => continue, // a late answer to an earlier ping
                Err(NodeError::Timeout) => {
                    lost += 1;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !a.json && Instant::now() >= next_report {
            eprint!("\r{} round trips, {lost} lost ", lat.len());
            next_report += Duration::from_secs(1);
        }
    }
    let cpu = super::common::cpu_time() - cpu0;
    let n = lat.len();
    let [p50, p90, p99, p999, max] = lat.percentiles();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "kind": "latency", "size": a.size, "busy_poll": a.busy_poll, "lost": lost,
                "cpu_ns_per_rt": cpu.as_nanos() as f64 / n.max(1) as f64,
                "lat": {"count": n, "p50_us": p50, "p90_us": p90, "p99_us": p99,
                        "p999_us": p999, "max_us": max}
            })
        );
    } else {
        eprintln!();
        println!(
            "{n} round trips of {} B ({}), {lost} lost",
            a.size,
            if a.busy_poll { "busy-poll" } else { "blocking" }
        );
        println!(
            "round trip us: p50 {p50:.1}  p90 {p90:.1}  p99 {p99:.1}  p99.9 {p999:.1}  max {max:.1}"
        );
        print!("{}", lat.histogram());
    }
    Ok(())
}

pub fn pong(a: PongArgs) -> Result<(), CliError> {
    let node = a.net.open("l2net-pong", a.busy_poll)?;
    let sub = node.subscriber(PING_TOPIC, TYPE, Qos::BEST_EFFORT)?;
    let publ = node.publisher(PONG_TOPIC, TYPE, Qos::BEST_EFFORT)?;
    eprintln!(
        "answering pings on {} (domain {})",
        a.net.interface, a.net.domain
    );
    let end = a.secs.map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let left = end.map(|e| e.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(());
        }
        match sub.recv_timeout(&mut buf, left) {
            Ok(info) => {
                publ.publish(&buf[..info.len])?;
            }
            Err(NodeError::Timeout) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}
