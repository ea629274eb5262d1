//! `l2net perf`: throughput between two nodes, counted at the receiver.

use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, ValueEnum};
use l2net::node::{HistoryKind, NodeError, Qos};
use l2net_linux::link::Backend;

use super::CliError;
use super::common::{NetArgs, cpu_time};

const TOPIC: &str = "/l2net/perf";
const TYPE: &str = "l2net/Perf";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// Publish as fast as the link takes samples.
    Send,
    /// Count what arrives.
    Recv,
}

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    net: NetArgs,
    /// This side's role.
    #[arg(long)]
    role: Role,
    /// Payload bytes per sample (the sender's; at least 8 carry the sequence number).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// How long to run (the receiver: after the first sample).
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Reliable delivery (both sides must agree). Unless named, perf picks a 2 ms heartbeat
    /// period and a window of 256 samples.
    #[arg(long)]
    reliable: bool,
    /// Samples the sender writes per call (`Publisher::publish_batch`): consecutive small
    /// samples share frames (BATCH) and the frames leave in one `sendmmsg`. 1 publishes and
    /// sends each sample alone (`Publisher::publish`). Default: 64 samples, at most 8 KiB of
    /// payload per call (larger bursts of full frames overflowed the receiver's socket).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    burst: Option<u16>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn qos(reliable: bool) -> Qos {
    if reliable {
        Qos::reliable(256)
    } else {
        // A deep queue: a keep-last(1) writer or reader would count every sample that arrives
        // while the previous one is still queued as lost.
        Qos {
            history: HistoryKind::KeepLast(256),
            ..Qos::BEST_EFFORT
        }
    }
}

/// Samples of at least this many bytes take a frame each (a BATCH cannot hold two): a
/// best-effort sender of them uses mmsg (see [`default_backend`]).
const LARGE_FROM: usize = 1024;

/// The backend when none is named: the ring for best effort (its cheap receive more than
/// doubled the 64 B rate over mmsg on veth), mmsg for reliable samples, whose rate follows how
/// fast acknowledgements come back, which the ring's block timeout slows (64 B: about
/// 120-210k/s with a ring receiver against 1.4-2.1M/s on mmsg; 1 KiB, processes pinned one
/// CPU each: 205-212k/s with a ring receiver against 242-269k/s on mmsg, alternating runs).
/// A best-effort sender of samples of [`LARGE_FROM`] bytes and more (one frame each) uses mmsg
/// too: on veth the ring's zero-copy TX frames are copied again when veth hands them to the
/// receive side (`skb_copy_ubufs`, a page per frame), and the sender's CPU per sample is what
/// limits 1 KiB (1 KiB, pinned, 8 alternating pairs at load 7.8-9.3: 3.2-4.2 us of sender CPU
/// per sample with mmsg against 3.8-4.9 us on the ring, 71k-167k/s against 65k-186k/s, mmsg
/// ahead in 7 of 8 pairs; at 64 B, many samples per frame, no difference). The receiver does
/// not know the sender's size and stays on the ring.
fn default_backend(reliable: bool, role: Role, size: usize) -> Backend {
    match role {
        _ if reliable => Backend::Mmsg,
        Role::Send if size >= LARGE_FROM => Backend::Mmsg,
        _ => Backend::Ring,
    }
}

/// Heartbeat period of a reliable perf run unless `--heartbeat-ms` says otherwise: a writer
/// under window pressure heartbeats a hundredth of it after its last burst (20 us here instead
/// of 500 us), and the acknowledgements that answer pace the stream (0 B reliable went from
/// about 180k to 0.8-1.0M samples/s on veth).
const PERF_HEARTBEAT_MS: u64 = 2;

/// Socket receive buffer of perf unless `--rcvbuf` says otherwise: with the kernel's default
/// (about 200 KiB) an mmsg receiver of reliable 64 KiB samples overflowed, and the repairs
/// that followed filled its reassembly slots (about 500 samples/s instead of thousands).
const PERF_RCVBUF: u64 = 4 << 20;

/// Reliable window of a reliable perf run unless `--window` says otherwise: the engine's
/// largest, 256, for both roles (a reader's window only bounds what it tracks, and must not be
/// smaller than the writer's). One A/B run of the comparison benchmark, load 5.5-6.3: 0 B
/// 1.30-1.42M/s with 128 against 3.97-4.37M/s with 256; 64 B 1.55-1.91M/s against
/// 2.45-3.28M/s. Senders of 1 KiB and more, which take a frame per sample, used 128 while the
/// writer did not respect the reader's room: with 256 the mmsg receiver's queue (256 samples)
/// refused samples taken late and the repairs resent hundreds of thousands it already had.
/// With flow control (the writer sends nothing past the room the reader's ACKNACK announces)
/// 256 is ahead: 1 KiB, pinned, alternating runs, load 3.1-3.3: 183k-214k/s (median 203k)
/// against 138k-192k/s with 128 and 156k-195k/s for the engine before flow control, 0
/// resends; at load 5-6.3: 148k-191k/s against 114k-173k/s and 123k-206k/s.
const PERF_WINDOW: u16 = 256;

pub fn run(mut a: Args) -> Result<(), CliError> {
    if !a.secs.is_finite() || a.secs <= 0.0 {
        return Err(CliError("--secs must be a positive number".into()));
    }
    if a.reliable && a.net.heartbeat_ms.is_none() {
        a.net.heartbeat_ms = Some(PERF_HEARTBEAT_MS);
    }
    if a.reliable && a.net.window.is_none() {
        a.net.window = Some(PERF_WINDOW);
    }
    match a.role {
        Role::Send => send(a),
        Role::Recv => recv(a),
    }
}

fn send(a: Args) -> Result<(), CliError> {
    let node = a.net.open_with(
        "l2net-perf-send",
        false,
        default_backend(a.reliable, Role::Send, a.size),
        Some(PERF_RCVBUF),
    )?;
    let publ = node.publisher(TOPIC, TYPE, qos(a.reliable))?;
    publ.wait_for_subscribers(1, Duration::from_secs(10))
        .map_err(|_| {
            CliError(format!(
                "no `l2net perf --role recv` on {} within 10 s",
                a.net.interface
            ))
        })?;
    let burst = a
        .burst
        .map_or((8192 / a.size.max(1)).clamp(1, 64), usize::from);
    let mut msgs = vec![vec![0u8; a.size]; burst];
    let end = Instant::now() + Duration::from_secs_f64(a.secs);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut sent = 0u64;
    let stalled = || CliError("the receiver stopped acknowledging".into());
    while Instant::now() < end {
        for m in msgs.iter_mut() {
            sent += 1;
            let n = m.len().min(8);
            m[..n].copy_from_slice(&sent.to_be_bytes()[..n]);
        }
        let mut done = 0;
        while done < burst {
            let res = if burst == 1 {
                publ.publish_timeout(&msgs[0], Some(Duration::from_secs(1)))
                    .map(|_| 1)
            } else {
                publ.publish_batch(&msgs[done..], Some(Duration::from_secs(1)))
            };
            match res {
                Ok(k) => done += k,
                Err(NodeError::Timeout) => return Err(stalled()),
                Err(e) => return Err(e.into()),
            }
        }
    }
    if a.reliable {
        let _ = publ.wait_for_acks(Duration::from_secs(5));
    }
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), cpu_time() - cpu0);
    let per_sec = sent as f64 / elapsed;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"kind": "send", "sent": sent, "per_sec": per_sec,
                "cpu_ns_per_sample": cpu.as_nanos() as f64 / sent.max(1) as f64,
                "stats": format!("{:?}", node.stats())})
        );
    } else {
        println!(
            "sent {sent} samples of {} B in {elapsed:.2} s: {per_sec:.0}/s, {:.0} ns CPU per sample",
            a.size,
            cpu.as_nanos() as f64 / sent.max(1) as f64
        );
    }
    Ok(())
}

fn recv(a: Args) -> Result<(), CliError> {
    let node = a.net.open_with(
        "l2net-perf-recv",
        false,
        default_backend(a.reliable, Role::Recv, a.size),
        Some(PERF_RCVBUF),
    )?;
    let sub = node.subscriber(TOPIC, TYPE, qos(a.reliable))?;
    let mut buf = vec![0u8; 8 << 20];
    if !a.json {
        eprintln!(
            "waiting for `l2net perf --role send` on {} ...",
            a.net.interface
        );
    }
    let first = sub
        .recv_timeout(&mut buf, Some(Duration::from_secs(30)))
        .map_err(|e| match e {
            NodeError::Timeout => CliError("no sample arrived within 30 s".into()),
            e => e.into(),
        })?;
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut last_seq = seq_of(&buf[..first.len]);
    let (mut delivered, mut gaps, mut last) = (1u64, 0u64, t0);
    let end = t0 + Duration::from_secs_f64(a.secs);
    let mut next_report = t0 + Duration::from_secs(1);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Everything queued at once, under one lock.
        let took = sub.recv_batch(
            usize::MAX,
            Some((end - now).min(Duration::from_secs(2))),
            |_, data| {
                let s = seq_of(data);
                if let (Some(s), Some(l)) = (s, last_seq) {
                    gaps += s.saturating_sub(l + 1);
                }
                last_seq = s.or(last_seq);
            },
        );
        match took {
            Ok(n) => {
                delivered += n as u64;
                last = Instant::now();
            }
            Err(NodeError::Timeout) => break,
            Err(e) => return Err(e.into()),
        }
        if !a.json && last >= next_report {
            eprint!("\r{delivered} samples ");
            next_report += Duration::from_secs(1);
        }
    }
    let span = (last - t0).as_secs_f64();
    let per_sec = if span > 0.0 {
        (delivered - 1) as f64 / span
    } else {
        0.0
    };
    let cpu = cpu_time() - cpu0;
    let stats = node.stats();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"kind": "sink", "delivered": delivered, "per_sec": per_sec,
                "lost": gaps, "cpu_ns_per_sample": cpu.as_nanos() as f64 / delivered as f64,
                "stats": format!("{stats:?}")})
        );
    } else {
        eprintln!();
        println!(
            "delivered {delivered} samples in {span:.2} s: {per_sec:.0}/s, {gaps} lost, {:.0} ns CPU per sample",
            cpu.as_nanos() as f64 / delivered as f64
        );
    }
    Ok(())
}

/// The sender's sequence number in the first 8 bytes, if the sample has them.
fn seq_of(b: &[u8]) -> Option<u64> {
    b.get(..8)
        .map(|s| u64::from_be_bytes(s.try_into().unwrap_or([0; 8])))
}
