//! Eclipse Cyclone DDS `ddsperf` (Debian's `cyclonedds-tools`) as a contender, pinned to the veth
//! interface with a CYCLONEDDS_URI, and the parsing of its per-second report lines.
//!
//! ddsperf reports percentiles per one-second interval (50 %, 90 %, 99 %, max; no 99.9 %) of
//! *half* round trips (its one-way latency estimate): the benchmark reports twice those values,
//! the round trip every other contender reports, as the count-weighted mean of the per-interval
//! values, and says so.

use crate::stats::Summary;

/// The CYCLONEDDS_URI configuration that binds a participant to one interface.
pub fn config(iface: &str) -> String {
    format!(
        "<CycloneDDS><Domain id=\"any\"><General><Interfaces><NetworkInterface name=\"{iface}\"/>\
         </Interfaces></General></Domain></CycloneDDS>"
    )
}

/// ddsperf's payload size argument: its KS topic carries 12 fixed bytes, and "size 0" means the
/// minimum; larger sizes include the fixed part.
pub fn size_arg(payload: usize) -> usize {
    if payload == 0 { 0 } else { payload.max(12) }
}

fn field_us(words: &[&str], key: &str) -> Option<f64> {
    let i = words.iter().position(|w| *w == key)?;
    words.get(i + 1)?.strip_suffix("us")?.parse().ok()
}

/// ddsperf's ping statistics are half round trips: its pong handler records
/// `(tnow - source_timestamp) / 2` (`update_roundtrip` in `src/tools/ddsperf/ddsperf.c`, 0.10 and
/// later), an estimate of the one-way latency. Multiplying by this gives the round trip every
/// other contender reports. (Checked on every run: see [`parse_ping`].)
pub const ROUND_TRIP_PER_REPORTED: f64 = 2.0;

/// Parse the ping side's output: lines such as
/// `[8672] 2.000  vm:8659 size 64 mean 15.703us min 12.002us 50% 14.616us 90% 18.081us 99% 35.372us max 1845.440us cnt 31671`,
/// one per second, into round trips ([`ROUND_TRIP_PER_REPORTED`] times ddsperf's values).
/// The first interval (discovery, warm-up) is skipped when there are more.
///
/// ddsperf sends the next ping as soon as the pong arrives, so the `cnt` round trips of a
/// one-second interval take at most that second: their mean can be no longer than
/// `1 s / cnt`. A warning is printed when the converted mean exceeds that by more than 10 %
/// (a ddsperf that reports whole round trips would exceed it about twofold).
pub fn parse_ping(out: &str) -> Option<Summary> {
    let mut rows = Vec::new();
    let mut over = 0usize;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(ci) = words.iter().position(|w| *w == "cnt") else {
            continue;
        };
        let cnt: f64 = words.get(ci + 1)?.parse().ok()?;
        let rt = |key| field_us(&words, key).map(|v| v * ROUND_TRIP_PER_REPORTED);
        let (p50, p90, p99, max) = (rt("50%")?, rt("90%")?, rt("99%")?, rt("max")?);
        if rt("mean").is_some_and(|mean| cnt > 0.0 && mean > 1.1 * 1e6 / cnt) {
            over += 1;
        }
        rows.push((cnt, p50, p90, p99, max));
    }
    if rows.len() > 1 {
        rows.remove(0);
    }
    let total: f64 = rows.iter().map(|r| r.0).sum();
    if total == 0.0 {
        return None;
    }
    if over > 0 {
        eprintln!(
            "warning: in {over} ddsperf interval(s) the round trip ({ROUND_TRIP_PER_REPORTED} x the \
             reported latency) is longer than the interval's time per round trip: this ddsperf \
             may report whole round trips; its cells would then be doubled"
        );
    }
    let wmean = |f: fn(&(f64, f64, f64, f64, f64)) -> f64| {
        rows.iter().map(|r| r.0 * f(r)).sum::<f64>() / total
    };
    Some(Summary {
        count: total as u64,
        p50_us: wmean(|r| r.1),
        p90_us: wmean(|r| r.2),
        p99_us: wmean(|r| r.3),
        p999_us: f64::NAN,
        max_us: rows.iter().map(|r| r.4).fold(0.0, f64::max),
    })
}

/// Parse the sub side's output: lines such as
/// `[8893] 2.002  size 64 total 578837 lost 385445 delta 445499 lost 160782 rate 445.51 kS/s ...`.
/// Returns delivered samples per second over the full intervals (first and last skipped).
pub fn parse_sub(out: &str) -> Option<f64> {
    let mut rows = Vec::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(di) = words.iter().position(|w| *w == "delta") else {
            continue;
        };
        let delta: f64 = words.get(di + 1)?.parse().ok()?;
        let t: f64 = words.get(1)?.parse().ok()?;
        rows.push((t, delta));
    }
    // Keep the intervals in which data was flowing, then drop the partial first and last ones.
    rows.retain(|r| r.1 > 0.0);
    if rows.len() < 3 {
        return None;
    }
    let inner = &rows[1..rows.len() - 1];
    let span = inner.last()?.0 - rows[0].0;
    let delivered: f64 = inner.iter().map(|r| r.1).sum();
    (span > 0.0).then(|| delivered / span)
}
