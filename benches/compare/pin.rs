//! Where the benchmark runs the two processes of each measurement (`--pin`): parsing the
//! option, the allowed CPUs, and the CPUs of each side.

type Res<T> = Result<T, String>;

/// Where the two processes of a measurement run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pin {
    SameCpu,
    Split,
    None,
}

impl Pin {
    pub fn parse(s: &str) -> Res<Pin> {
        match s {
            "same-cpu" => Ok(Pin::SameCpu),
            "split" => Ok(Pin::Split),
            "none" => Ok(Pin::None),
            _ => Err(format!(
                "bad placement {s:?} (one of same-cpu, split, none)"
            )),
        }
    }
}

/// The placement of each kind of measurement: blocking ping/pong, busy-poll ping/pong, rate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Placements {
    pub block: Pin,
    pub busy: Pin,
    pub rate: Pin,
}

impl Placements {
    pub const DEFAULT: Placements = Placements {
        block: Pin::SameCpu,
        busy: Pin::Split,
        rate: Pin::Split,
    };

    pub fn parse(s: &str) -> Res<Placements> {
        if !s.contains('=') {
            let p = Pin::parse(s)?;
            return Ok(Placements {
                block: p,
                busy: p,
                rate: p,
            });
        }
        let mut out = Placements::DEFAULT;
        for item in s.split(',') {
            let (kind, val) = item
                .split_once('=')
                .ok_or_else(|| format!("bad --pin item {item:?} (KIND=PLACEMENT)"))?;
            let p = Pin::parse(val)?;
            match kind {
                "block" => out.block = p,
                "busy" => out.busy = p,
                "rate" => out.rate = p,
                _ => {
                    return Err(format!(
                        "bad --pin kind {kind:?} (one of block, busy, rate)"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The CPUs of the two sides (measuring side, other side) under `pin`, given the allowed CPUs.
pub fn cpus_for(pin: Pin, allowed: &[usize]) -> (Option<usize>, Option<usize>) {
    match (pin, allowed) {
        (Pin::None, _) | (_, [] | [_]) => (None, None),
        (Pin::SameCpu, [a, ..]) => (Some(*a), Some(*a)),
        (Pin::Split, [a, b, ..]) => (Some(*a), Some(*b)),
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status, such as
/// `0-1` or `0,2-3`), in increasing order.
pub fn allowed_cpus() -> Res<Vec<usize>> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .ok_or("no Cpus_allowed_list in /proc/self/status")?;
    parse_cpu_list(list.trim())
}

pub fn parse_cpu_list(list: &str) -> Res<Vec<usize>> {
    let bad = || format!("bad CPU list {list:?}");
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// How the table header describes the placement.
pub fn describe(pl: &Placements, allowed: &[usize]) -> String {
    if allowed.len() < 2 {
        return "not pinned (one CPU allowed)".into();
    }
    let one = |label: &str, pin: Pin, a: &str, b: &str| match cpus_for(pin, allowed) {
        (Some(x), Some(y)) if x == y => format!("{label}: both on CPU {x}"),
        (Some(x), Some(y)) => format!("{label}: {a} on CPU {x}, {b} on CPU {y}"),
        _ => format!("{label}: not pinned"),
    };
    format!(
        "{}; {}; {}",
        one("blocking ping/pong", pl.block, "ping", "pong"),
        one("busy-poll ping/pong", pl.busy, "ping", "pong"),
        one("rate", pl.rate, "sender", "receiver"),
    )
}

/// `program` pinned to `cpu` if given: `taskset -c CPU program`, whose affinity the program
/// and every process and thread it starts inherit; `program` itself otherwise.
pub fn taskset(program: &str, cpu: Option<usize>) -> std::process::Command {
    match cpu {
        Some(cpu) => {
            let mut c = std::process::Command::new("taskset");
            c.args(["-c", &cpu.to_string(), program]);
            c
        }
        None => std::process::Command::new(program),
    }
}

/// Before the first measurement: the allowed CPUs and the placement's description (printed
/// on stderr, prefixed with `tag`); an error if pinning is asked for and `taskset` is missing.
pub fn prepare(pl: &Placements, tag: &str) -> Res<(Vec<usize>, String)> {
    let cpus = allowed_cpus()?;
    let none = Placements {
        block: Pin::None,
        busy: Pin::None,
        rate: Pin::None,
    };
    if cpus.len() < 2 {
        eprintln!("{tag}: one CPU allowed: nothing is pinned");
    } else if *pl != none
        && std::process::Command::new("taskset")
            .arg("-V")
            .output()
            .is_err()
    {
        return Err("pinning needs `taskset` (util-linux), or pass --pin none".into());
    }
    let placement = describe(pl, &cpus);
    eprintln!("{tag}: placement: {placement}");
    Ok((cpus, placement))
}
