//! Latency samples, percentiles and CPU accounting shared by the peers.

use std::time::Duration;

/// Round-trip samples in nanoseconds, preallocated so recording never allocates.
pub struct Latencies {
    samples: Vec<u64>,
}

impl Latencies {
    pub fn with_capacity(n: usize) -> Self {
        Latencies {
            samples: Vec::with_capacity(n),
        }
    }

    /// Record one sample; returns false when the preallocated capacity is used up.
    pub fn record(&mut self, d: Duration) -> bool {
        if self.samples.len() == self.samples.capacity() {
            return false;
        }
        self.samples.push(d.as_nanos() as u64);
        true
    }

    pub fn summary(mut self) -> Summary {
        self.samples.sort_unstable();
        let n = self.samples.len();
        let pct = |p: f64| -> f64 {
            if n == 0 {
                return f64::NAN;
            }
            let idx = ((p / 100.0) * (n as f64 - 1.0)).round() as usize;
            self.samples[idx.min(n - 1)] as f64 / 1000.0
        };
        Summary {
            count: n as u64,
            p50_us: pct(50.0),
            p90_us: pct(90.0),
            p99_us: pct(99.0),
            p999_us: pct(99.9),
            max_us: self.samples.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
        }
    }
}

/// Percentiles of a latency run, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl Summary {
    pub fn to_json(self) -> String {
        format!(
            "{{\"count\":{},\"p50_us\":{:.3},\"p90_us\":{:.3},\"p99_us\":{:.3},\"p999_us\":{:.3},\"max_us\":{:.3}}}",
            self.count, self.p50_us, self.p90_us, self.p99_us, self.p999_us, self.max_us
        )
    }
}

/// User plus system CPU time this process has used so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Extract a number field from a flat JSON object line written by a peer.
pub fn json_field(line: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}
