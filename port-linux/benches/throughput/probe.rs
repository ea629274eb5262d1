//! Readings from `/proc` and `/sys` taken around a measurement window: CPU time of the kernel
//! threads that may do receive work (`ksoftirqd/N`, threaded-NAPI `napi/DEV-N`), the per-CPU
//! backlog drops, and the machine's description.

use std::fs;

/// Nanoseconds the kernel threads whose name starts with one of `prefixes` have run, summed
/// (`/proc/PID/schedstat`, first field).
pub fn kthread_ns(prefixes: &[&str]) -> u64 {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(comm) = fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if !prefixes.iter().any(|p| comm.starts_with(p)) {
            continue;
        }
        if let Ok(s) = fs::read_to_string(format!("/proc/{pid}/schedstat")) {
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// Process ids and names of the kernel threads whose name starts with `prefix`.
pub fn kthreads(prefix: &str) -> Vec<(u32, String)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().into_string().ok()?.parse().ok()?;
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            comm.starts_with(prefix)
                .then(|| (pid, comm.trim().to_owned()))
        })
        .collect()
}

/// The CPU thread `pid` last ran on (`/proc/PID/stat`, field 39).
pub fn last_cpu(pid: u32) -> Option<usize> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(36)?.parse().ok()
}

/// Frames dropped because a CPU's input backlog (`netdev_max_backlog`) was full, summed over
/// CPUs (`/proc/net/softnet_stat`, second column; the counters are global, not per namespace).
pub fn backlog_drops() -> u64 {
    fs::read_to_string("/proc/net/softnet_stat")
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter_map(|v| u64::from_str_radix(v, 16).ok())
                .sum()
        })
        .unwrap_or(0)
}

/// `rx_dropped` and `tx_dropped` of `dev` from `/proc/thread-self/net/dev`, which shows the
/// devices of the calling thread's network namespace.
pub fn dev_drops(dev: &str) -> Option<(u64, u64)> {
    let s = fs::read_to_string("/proc/thread-self/net/dev").ok()?;
    let line = s
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{dev}:")))?;
    let (_, rest) = line.split_once(':')?;
    let v: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop
    Some((*v.get(3)?, *v.get(11)?))
}

/// The CPU model from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The kernel release (`/proc/sys/kernel/osrelease`).
pub fn kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The 1-minute load average: other work on the machine competes for the two cores.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
