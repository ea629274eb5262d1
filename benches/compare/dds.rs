//! Eclipse Cyclone DDS `ddsperf` (Debian's `cyclonedds-tools`) as a contender, pinned to the veth
//! interface with a CYCLONEDDS_URI, and the parsing of its per-second report lines.
//!
//! ddsperf reports percentiles per one-second interval (50 %, 90 %, 99 %, max; no 99.9 %): the
//! benchmark reports the count-weighted mean of the per-interval values, and says so.

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

/// Parse the ping side's output: lines such as
/// `[8672] 2.000  vm:8659 size 64 mean 15.703us min 12.002us 50% 14.616us 90% 18.081us 99% 35.372us max 1845.440us cnt 31671`.
/// The first interval (discovery, warm-up) is skipped when there are more.
pub fn parse_ping(out: &str) -> Option<Summary> {
    let mut rows = Vec::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(ci) = words.iter().position(|w| *w == "cnt") else {
            continue;
        };
        let cnt: f64 = words.get(ci + 1)?.parse().ok()?;
        let p50 = field_us(&words, "50%")?;
        let p90 = field_us(&words, "90%")?;
        let p99 = field_us(&words, "99%")?;
        let max = field_us(&words, "max")?;
        rows.push((cnt, p50, p90, p99, max));
    }
    if rows.len() > 1 {
        rows.remove(0);
    }
    let total: f64 = rows.iter().map(|r| r.0).sum();
    if total == 0.0 {
        return None;
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
