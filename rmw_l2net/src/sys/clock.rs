//! A cheap monotonic clock for bookkeeping that needs milliseconds, not nanoseconds.
//!
//! `Instant::now` reads the fine monotonic clock (a TSC read and a conversion in the vDSO,
//! slow on many VMs: the profile of an rmw ping-pong on the benchmark VM spent about 12 % of
//! its user time in `clock_gettime`). `CLOCK_MONOTONIC_COARSE` reads the time of the last
//! timer tick (1-10 ms resolution) from the vDSO's data page, without touching the TSC: what
//! the background thread's stand-back (100 ms) needs.

/// Nanoseconds of `CLOCK_MONOTONIC_COARSE` (0 should the clock be unavailable, which Linux
/// since 2.6.32 never is; the stand-back then simply does not happen).
pub fn coarse_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`, which lives across the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if r != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn coarse_clock_moves_forward() {
        let a = super::coarse_now_ns();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let b = super::coarse_now_ns();
        assert!(a > 0 && b > a, "{a} then {b}");
    }
}
