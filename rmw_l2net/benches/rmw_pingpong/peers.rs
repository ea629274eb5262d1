//! The measuring processes, one per namespace, started by the orchestrator. Each prints one
//! JSON line of results (the ping and the sink sides) or runs until it is killed (pong).
//!
//! ```text
//! peer rmw-ping LIB SIZE SECS QOS      peer node-ping IFACE SIZE SECS QOS
//! peer rmw-pong LIB QOS                peer node-pong IFACE QOS
//! peer rmw-pub LIB SIZE SECS QOS       peer node-pub IFACE SIZE SECS QOS
//! peer rmw-sub LIB SECS QOS            peer node-sub IFACE SECS QOS
//! ```
//!
//! A node peer's IFACE may name a port-linux backend: `veth0@mmsg`; RMW_L2NET_BUSY_POLL=1 in
//! its environment turns its busy polling on, as it does the rmw's.
//!
//! QOS is `reliable` (ROS's default profile: reliable, volatile, keep last 10) or `best-effort`
//! (the same with best-effort delivery). The rmw peers find their interface in
//! RMW_L2NET_INTERFACE, as any ROS process using the middleware would.

use std::time::{Duration, Instant};

use l2net::node::{HistoryKind, HostLink, Node, NodeConfig, Qos, Reliability};
use l2net_linux::link::{Backend, LinkConfig, LinuxLink};

use crate::harness::{arg, num};
use crate::stats::{Latencies, cpu_time};
use crate::sys::{self, Session};

type Res<T> = Result<T, String>;

/// ROS domain / l2net domain of every peer.
pub const DOMAIN: u16 = 42;
pub const PING_TOPIC: &str = "/l2net_bench/ping";
pub const PONG_TOPIC: &str = "/l2net_bench/pong";
pub const DATA_TOPIC: &str = "/l2net_bench/data";
/// The type both APIs announce (the rmw takes it from the introspection tables).
pub const TYPE_NAME: &str = "l2net_bench/msg/Bytes";
/// A ping waits this long for its pong before counting it lost.
const REPLY_TIMEOUT: Duration = Duration::from_millis(200);
/// Discovery and matching must finish within this.
const MATCH_TIMEOUT: Duration = Duration::from_secs(15);
/// Round trips before the measurement starts (caches, page faults, the first retransmission).
const WARMUP_ROUND_TRIPS: u32 = 200;
/// Every sample carries a sequence number in its first 8 bytes.
const MIN_PAYLOAD: usize = 8;

fn reliable(args: &[String], i: usize) -> Res<bool> {
    match arg(args, i, "QOS")? {
        "reliable" => Ok(true),
        "best-effort" => Ok(false),
        other => Err(format!(
            "QOS must be reliable or best-effort, not {other:?}"
        )),
    }
}

pub fn run(args: &[String]) -> Res<()> {
    let mode = arg(args, 0, "peer mode")?;
    let a = &args[1..];
    match mode {
        "rmw-ping" => rmw_ping(
            arg(a, 0, "LIB")?,
            num(a, 1, "SIZE")?,
            num(a, 2, "SECS")?,
            reliable(a, 3)?,
        ),
        "rmw-pong" => rmw_pong(arg(a, 0, "LIB")?, reliable(a, 1)?),
        "rmw-pub" => rmw_pub(
            arg(a, 0, "LIB")?,
            num(a, 1, "SIZE")?,
            num(a, 2, "SECS")?,
            reliable(a, 3)?,
        ),
        "rmw-sub" => rmw_sub(arg(a, 0, "LIB")?, num(a, 1, "SECS")?, reliable(a, 2)?),
        "node-ping" => node_ping(
            arg(a, 0, "IFACE")?,
            num(a, 1, "SIZE")?,
            num(a, 2, "SECS")?,
            reliable(a, 3)?,
        ),
        "node-pong" => node_pong(arg(a, 0, "IFACE")?, reliable(a, 1)?),
        "node-pub" => node_pub(
            arg(a, 0, "IFACE")?,
            num(a, 1, "SIZE")?,
            num(a, 2, "SECS")?,
            reliable(a, 3)?,
        ),
        "node-sub" => node_sub(arg(a, 0, "IFACE")?, num(a, 1, "SECS")?, reliable(a, 2)?),
        other => Err(format!("unknown peer mode {other:?}")),
    }
}

/// Poll `matched` until it says yes or [`MATCH_TIMEOUT`] passes.
fn until_matched(what: &str, mut matched: impl FnMut() -> Res<bool>) -> Res<()> {
    let end = Instant::now() + MATCH_TIMEOUT;
    while !matched()? {
        if Instant::now() > end {
            return Err(format!("{what}: no match within {MATCH_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The ping loop shared by both APIs: `round_trip(seq)` sends sample `seq` and waits for its
/// echo, returning false when it did not come within [`REPLY_TIMEOUT`].
fn ping_loop(secs: f64, mut round_trip: impl FnMut(u64) -> Res<bool>) -> Res<()> {
    let mut seq = 0u64;
    // Warm up: the first replies also prove the pong side matched both topics.
    let mut ok = 0;
    let end = Instant::now() + MATCH_TIMEOUT;
    while ok < WARMUP_ROUND_TRIPS {
        if Instant::now() > end {
            return Err("no pongs during warm-up".into());
        }
        seq += 1;
        if round_trip(seq)? {
            ok += 1;
        }
    }
    let mut lat = Latencies::with_capacity(4_000_000);
    let mut lost = 0u64;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let cpu0 = cpu_time();
    while Instant::now() < end {
        seq += 1;
        let t0 = Instant::now();
        if round_trip(seq)? {
            lat.record(t0.elapsed());
        } else {
            lost += 1;
        }
    }
    let cpu = cpu_time() - cpu0;
    let sum = lat.summary();
    println!(
        "{{\"kind\":\"latency\",\"lost\":{lost},\"cpu_ns_per_rt\":{:.0},\"lat\":{}}}",
        cpu.as_nanos() as f64 / sum.count.max(1) as f64,
        sum.to_json()
    );
    Ok(())
}

/// Counts delivered samples for `secs` after the first (or until 2 s pass without one).
fn sink_loop(secs: f64, mut recv_some: impl FnMut() -> Res<u64>) -> Res<()> {
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut count = 0u64;
    loop {
        let now = Instant::now();
        match first {
            None if now - start > MATCH_TIMEOUT => break,
            Some(f) if now - f > Duration::from_secs_f64(secs) => break,
            Some(_) if now - last > Duration::from_secs(2) => break,
            _ => {}
        }
        let n = recv_some()?;
        if n > 0 {
            last = Instant::now();
            first.get_or_insert(last);
            count += n;
        }
    }
    let span = first.map_or(0.0, |f| (last - f).as_secs_f64());
    println!(
        "{{\"kind\":\"sink\",\"delivered\":{count},\"per_sec\":{:.0}}}",
        if span > 0.0 { count as f64 / span } else { 0.0 }
    );
    Ok(())
}

fn flood_loop(secs: f64, mut send: impl FnMut(u64) -> Res<bool>) -> Res<()> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let (mut seq, mut sent) = (0u64, 0u64);
    while Instant::now() < end {
        for _ in 0..16 {
            seq += 1;
            if send(seq)? {
                sent += 1;
            }
        }
    }
    println!("{{\"kind\":\"flood\",\"sent\":{sent}}}");
    Ok(())
}

fn payload(size: usize) -> Vec<u8> {
    vec![0xA5; size.max(MIN_PAYLOAD)]
}

fn seq_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

// ---- Through the rmw C API.

fn rmw_ping(lib: &str, size: usize, secs: f64, reliable: bool) -> Res<()> {
    let mut s = Session::open(
        lib,
        DOMAIN.into(),
        "ping",
        Some(PING_TOPIC),
        Some(PONG_TOPIC),
        sys::qos(reliable),
    )?;
    until_matched("rmw ping", || {
        let (p, q) = s.matched()?;
        Ok(p > 0 && q > 0)
    })?;
    s.set_payload(&payload(size));
    ping_loop(secs, |seq| {
        s.payload_mut()[..8].copy_from_slice(&seq.to_le_bytes());
        if !s.publish()? {
            return Ok(false);
        }
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if !s.wait(Some(left))? {
                continue;
            }
            while let Some(bytes) = s.take()? {
                if seq_of(bytes) == Some(seq) {
                    return Ok(true);
                }
            }
        }
    })
}

fn rmw_pong(lib: &str, reliable: bool) -> Res<()> {
    let mut s = Session::open(
        lib,
        DOMAIN.into(),
        "pong",
        Some(PONG_TOPIC),
        Some(PING_TOPIC),
        sys::qos(reliable),
    )?;
    loop {
        if !s.wait(None)? {
            continue;
        }
        while s.take()?.is_some() {
            s.publish_taken()?;
        }
    }
}

fn rmw_pub(lib: &str, size: usize, secs: f64, reliable: bool) -> Res<()> {
    let mut s = Session::open(
        lib,
        DOMAIN.into(),
        "source",
        Some(DATA_TOPIC),
        None,
        sys::qos(reliable),
    )?;
    until_matched("rmw pub", || Ok(s.matched()?.0 > 0))?;
    s.set_payload(&payload(size));
    flood_loop(secs, |seq| {
        s.payload_mut()[..8].copy_from_slice(&seq.to_le_bytes());
        s.publish()
    })
}

fn rmw_sub(lib: &str, secs: f64, reliable: bool) -> Res<()> {
    let mut s = Session::open(
        lib,
        DOMAIN.into(),
        "sink",
        None,
        Some(DATA_TOPIC),
        sys::qos(reliable),
    )?;
    sink_loop(secs, || {
        let mut n = 0;
        if s.wait(Some(Duration::from_millis(100)))? {
            while s.take()?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    })
}

// ---- Through the l2net Node API.

fn node_qos(reliable: bool) -> Qos {
    if reliable {
        Qos::reliable(10)
    } else {
        Qos {
            reliability: Reliability::BestEffort,
            history: HistoryKind::KeepLast(10),
            ..Qos::BEST_EFFORT
        }
    }
}

/// `IFACE` is an interface name, opened with `Node::open` (the link's default backend, as the
/// middleware opens it), or `NAME@BACKEND` (e.g. `eth0@mmsg`) for another port-linux backend.
///
/// With RMW_L2NET_BUSY_POLL=1 in the environment (what turns the rmw's busy polling on) the
/// node busy-polls too (`NodeConfig::busy_poll`).
fn open_node(iface: &str, name: &str) -> Res<Node<HostLink>> {
    let mut config = NodeConfig::new(DOMAIN, name);
    config.busy_poll =
        std::env::var_os(rmw_l2net_cpp::config::ENV_BUSY_POLL).is_some_and(|v| v == "1");
    let Some((ifname, backend)) = iface.split_once('@') else {
        return Node::open(iface, config).map_err(|e| format!("Node::open({iface}): {e}"));
    };
    let mut cfg = LinkConfig::new(ifname);
    cfg.backend = backend
        .parse::<Backend>()
        .map_err(|e| format!("backend {backend:?}: {e}"))?;
    let (link, _) = LinuxLink::open(&cfg).map_err(|e| format!("open {iface}: {e}"))?;
    Node::new(link, config).map_err(|e| format!("Node::new({iface}): {e}"))
}

fn node_ping(iface: &str, size: usize, secs: f64, reliable: bool) -> Res<()> {
    let node = open_node(iface, "ping")?;
    let q = node_qos(reliable);
    let publ = node
        .publisher(PING_TOPIC, TYPE_NAME, q)
        .map_err(|e| e.to_string())?;
    let sub = node
        .subscriber(PONG_TOPIC, TYPE_NAME, q)
        .map_err(|e| e.to_string())?;
    until_matched("node ping", || Ok(publ.matched() > 0 && sub.matched() > 0))?;
    let mut msg = payload(size);
    let mut buf = vec![0u8; 65536];
    ping_loop(secs, |seq| {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        publ.publish(&msg).map_err(|e| format!("publish: {e}"))?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            match sub.recv_timeout(&mut buf, Some(left)) {
                Ok(info) if seq_of(&buf[..info.len.min(buf.len())]) == Some(seq) => {
                    return Ok(true);
                }
                Ok(_) => {}
                Err(l2net::node::NodeError::Timeout) => return Ok(false),
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
    })
}

fn node_pong(iface: &str, reliable: bool) -> Res<()> {
    let node = open_node(iface, "pong")?;
    let q = node_qos(reliable);
    let publ = node
        .publisher(PONG_TOPIC, TYPE_NAME, q)
        .map_err(|e| e.to_string())?;
    let sub = node
        .subscriber(PING_TOPIC, TYPE_NAME, q)
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65536];
    loop {
        match sub.recv_timeout(&mut buf, Some(Duration::from_millis(100))) {
            Ok(info) => {
                publ.publish(&buf[..info.len.min(buf.len())])
                    .map_err(|e| format!("publish: {e}"))?;
            }
            Err(l2net::node::NodeError::Timeout) => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
}

fn node_pub(iface: &str, size: usize, secs: f64, reliable: bool) -> Res<()> {
    let node = open_node(iface, "source")?;
    let publ = node
        .publisher(DATA_TOPIC, TYPE_NAME, node_qos(reliable))
        .map_err(|e| e.to_string())?;
    until_matched("node pub", || Ok(publ.matched() > 0))?;
    let mut msg = payload(size);
    flood_loop(secs, |seq| {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        publ.publish(&msg)
            .map(|_| true)
            .map_err(|e| format!("publish: {e}"))
    })
}

fn node_sub(iface: &str, secs: f64, reliable: bool) -> Res<()> {
    let node = open_node(iface, "sink")?;
    let sub = node
        .subscriber(DATA_TOPIC, TYPE_NAME, node_qos(reliable))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65536];
    sink_loop(secs, || {
        match sub.recv_timeout(&mut buf, Some(Duration::from_millis(100))) {
            Ok(_) => Ok(1),
            Err(l2net::node::NodeError::Timeout) => Ok(0),
            Err(e) => Err(format!("recv: {e}")),
        }
    })
}
