//! `l2net discover`: a live table of the participants on a wire.

use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use l2net::node::{PeerView, Reliability};
use l2net_core::engine::{Durability, HistoryKind};

use super::CliError;
use super::common::NetArgs;

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    net: NetArgs,
    /// Exit after this many seconds (default: keep updating until interrupted).
    #[arg(long)]
    secs: Option<f64>,
    /// Seconds between table updates.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Print one JSON array at the end instead of a live table.
    #[arg(long)]
    json: bool,
}

fn qos_text(q: &l2net::node::Qos) -> String {
    let r = match q.reliability {
        Reliability::Reliable => "reliable",
        Reliability::BestEffort => "best-effort",
    };
    let d = match q.durability {
        Durability::Volatile => "volatile",
        Durability::TransientLocal => "transient-local",
    };
    let h = match q.history {
        HistoryKind::KeepLast(n) => format!("keep-last({n})"),
        HistoryKind::KeepAll => "keep-all".into(),
    };
    format!("{r}, {d}, {h}")
}

fn render(peers: &[PeerView]) -> String {
    let mut s = format!("{} participant(s)\n", peers.len());
    for p in peers {
        s.push_str(&format!(
            "{:016x}  {:<20} {}  lease {:.1} s, {:.1} s left\n",
            p.id,
            p.name,
            p.mac,
            p.lease.as_secs_f64(),
            p.lease_left.as_secs_f64()
        ));
        for e in &p.endpoints {
            s.push_str(&format!(
                "    {:<15?} {:<24} {:<24} {}\n",
                e.kind,
                e.topic.as_str(),
                e.type_name.as_str(),
                qos_text(&e.qos)
            ));
        }
    }
    s
}

pub fn run(a: Args) -> Result<(), CliError> {
    if !a.interval.is_finite() || a.interval <= 0.0 {
        return Err(CliError("--interval must be a positive number".into()));
    }
    let node = a.net.open("l2net-discover", false)?;
    let end = a.secs.map(|s| Instant::now() + Duration::from_secs_f64(s));
    loop {
        std::thread::sleep(Duration::from_secs_f64(a.interval));
        let peers = node.peers();
        let done = end.is_some_and(|e| Instant::now() >= e);
        if a.json {
            if done {
                let v: Vec<_> = peers
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "id": format!("{:016x}", p.id), "name": p.name, "mac": p.mac.to_string(),
                            "lease_s": p.lease.as_secs_f64(), "lease_left_s": p.lease_left.as_secs_f64(),
                            "endpoints": p.endpoints.iter().map(|e| serde_json::json!({
                                "kind": format!("{:?}", e.kind), "topic": e.topic.as_str(),
                                "type": e.type_name.as_str(), "qos": qos_text(&e.qos)})).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            }
        } else {
            // Clear the screen and redraw: a live table.
            print!("\x1b[2J\x1b[H{}", render(&peers));
        }
        if done {
            return Ok(());
        }
    }
}
