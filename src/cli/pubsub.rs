//! `l2net pub` and `l2net echo`: publish samples, print samples.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, ValueEnum};
use l2net::node::{NodeError, Qos};

use super::CliError;
use super::common::NetArgs;

#[derive(ClapArgs, Debug)]
pub struct PubArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Topic name.
    topic: String,
    /// The sample's text; without it, `--size` bytes of a counter pattern.
    #[arg(long)]
    data: Option<String>,
    /// Type name announced with the topic.
    #[arg(long = "type", default_value = "l2net/Bytes")]
    type_name: String,
    /// Samples per second (0: as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Sample size in bytes when no --data is given.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Reliable delivery.
    #[arg(long)]
    reliable: bool,
    /// Stop after this many samples.
    #[arg(long)]
    count: Option<u64>,
    /// Wait for this many subscribers before publishing.
    #[arg(long, default_value_t = 0)]
    wait_subscribers: usize,
    /// Print one JSON line per sample sent.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// UTF-8 text (invalid bytes replaced).
    Text,
    /// Hex dump.
    Hex,
    /// The bytes as they are, nothing else, to stdout.
    Raw,
}

#[derive(ClapArgs, Debug)]
pub struct EchoArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Topic name.
    topic: String,
    /// Type name to match.
    #[arg(long = "type", default_value = "l2net/Bytes")]
    type_name: String,
    /// Reliable delivery.
    #[arg(long)]
    reliable: bool,
    /// How to print each sample.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit after this many samples.
    #[arg(long)]
    count: Option<u64>,
    /// Exit when nothing arrives for this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Print one JSON object per sample.
    #[arg(long)]
    json: bool,
}

fn qos(reliable: bool) -> Qos {
    if reliable {
        Qos::reliable(64)
    } else {
        Qos::BEST_EFFORT
    }
}

pub fn publish(a: PubArgs) -> Result<(), CliError> {
    if !a.rate.is_finite() || a.rate < 0.0 {
        return Err(CliError(
            "--rate must be 0 (as fast as possible) or a positive number".into(),
        ));
    }
    let node = a.net.open("l2net-pub", false)?;
    let publ = node.publisher(&a.topic, &a.type_name, qos(a.reliable))?;
    if a.wait_subscribers > 0 {
        publ.wait_for_subscribers(a.wait_subscribers, Duration::from_secs(30))
            .map_err(|_| CliError("not enough subscribers within 30 s".into()))?;
    }
    let period = (a.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / a.rate));
    let mut next = Instant::now();
    let mut buf = vec![0u8; a.size];
    let mut n = 0u64;
    while a.count.is_none_or(|c| n < c) {
        let data: &[u8] = match &a.data {
            Some(d) => d.as_bytes(),
            None => {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = (n as usize + i) as u8;
                }
                &buf
            }
        };
        let seq = publ.publish(data)?;
        n += 1;
        if a.json {
            println!(
                "{}",
                serde_json::json!({"seq": seq, "len": data.len(), "topic": a.topic})
            );
        } else if period.is_some() {
            eprintln!("published #{seq} ({} B) on {}", data.len(), a.topic);
        }
        if let Some(p) = period {
            next += p;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
    if a.reliable {
        publ.wait_for_acks(Duration::from_secs(5)).map_err(|_| {
            CliError("subscribers did not acknowledge everything within 5 s".into())
        })?;
    }
    Ok(())
}

pub fn echo(a: EchoArgs) -> Result<(), CliError> {
    let node = a.net.open("l2net-echo", false)?;
    let sub = node.subscriber(&a.topic, &a.type_name, qos(a.reliable))?;
    let mut buf = vec![0u8; 8 << 20];
    let timeout = a.timeout.map(Duration::from_secs_f64);
    let stdout = std::io::stdout();
    let mut n = 0u64;
    while a.count.is_none_or(|c| n < c) {
        let info = match sub.recv_timeout(&mut buf, timeout) {
            Ok(i) => i,
            Err(NodeError::Timeout) => break,
            Err(e) => return Err(e.into()),
        };
        n += 1;
        let data = &buf[..info.len];
        let mut out = stdout.lock();
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"seq": info.seq, "len": info.len,
                    "writer": format!("{:016x}:{}", info.writer.participant, info.writer.entity),
                    "text": String::from_utf8_lossy(data)})
            )?;
            continue;
        }
        match a.format {
            Format::Raw => out.write_all(data)?,
            Format::Text => {
                writeln!(out, "{}", String::from_utf8_lossy(data))?;
            }
            Format::Hex => {
                writeln!(
                    out,
                    "#{} from {:016x} ({} B)",
                    info.seq, info.writer.participant, info.len
                )?;
                for (i, chunk) in data.chunks(16).enumerate() {
                    let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                    writeln!(out, "  {:06x}  {}", i * 16, hex.join(" "))?;
                }
            }
        }
        out.flush()?;
    }
    Ok(())
}
