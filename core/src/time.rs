//! Time as the engine sees it: a monotonic instant passed in by the caller.
//!
//! The core never reads a clock. Ports and the std facade turn their clock (CLOCK_MONOTONIC,
//! `embassy_time::Instant`, a simulator's counter) into an [`Instant`] and pass it to every call that
//! depends on time. Durations are `core::time::Duration`.

use core::fmt;
#[cfg(any(target_pointer_width = "32", test))]
use core::num::NonZeroU32;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point on a monotonic clock, in nanoseconds since an arbitrary epoch chosen by the caller.
///
/// Arithmetic saturates instead of wrapping or panicking, so a clock that starts at zero or a
/// far-future deadline never causes an overflow panic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant(u64);

impl Instant {
    /// The epoch of the caller's clock.
    pub const ZERO: Instant = Instant(0);
    /// The largest representable instant; useful as "never".
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }
    /// An instant `micros` microseconds after the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros.saturating_mul(1_000))
    }
    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }
    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
    /// `self + d`, saturating at [`Instant::MAX`].
    // One copy on 32-bit targets: inlined, its 128-bit arithmetic (`as_nanos`) is about 150 B at
    // each of the engine's many `now + period` (1.2 KB of the firmware node).
    #[cfg_attr(target_pointer_width = "32", inline(never))]
    pub fn saturating_add(self, d: Duration) -> Instant {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }
}

/// `d / n` (panics if `n` is 0, as `Duration`'s division does), with the same result.
///
/// On 32-bit targets `Duration / u32` divides the `u64` seconds and the carried nanoseconds in 64
/// bits, which pulls compiler-builtins' `u64_div_rem` (864 B) into an image; this one divides
/// with the 32-bit divide instruction only, and mirrors `Duration`'s steps so that the result is
/// the same to the nanosecond. It does not panic: `n` = 0 gives `Duration::MAX` (the engine
/// divides by constants and by its non-zero reliable window only), so an image carries no
/// panic message that `core::fmt` would have to display.
#[cfg(target_pointer_width = "32")]
#[inline(never)]
pub(crate) fn div_duration(d: Duration, n: u32) -> Duration {
    div_duration_32(d, n)
}

/// [`div_duration`] of 32-bit targets (tested on every target).
#[cfg(any(target_pointer_width = "32", test))]
fn div_duration_32(d: Duration, n: u32) -> Duration {
    let Some(n) = NonZeroU32::new(n) else {
        return Duration::MAX;
    };
    let (secs, carry) = div_rem_u64(d.as_secs(), n);
    let nanos = d.subsec_nanos();
    let carried = u64::from(carry) * 1_000_000_000 + u64::from(nanos % n);
    let (extra_nanos, _) = div_rem_u64(carried, n);
    // `carry < n`, so `extra_nanos < 10^9`, and the sum is below 2 * 10^9.
    duration_32(secs, nanos / n + extra_nanos as u32)
}

#[cfg(any(target_pointer_width = "32", test))]
const BILLION: NonZeroU32 = NonZeroU32::new(1_000_000_000).unwrap();

/// `secs` seconds and `nanos` (below 2 * 10^9) nanoseconds, as `Duration::new` adds them,
/// `Duration::MAX` where that overflows (and panics).
#[cfg(any(target_pointer_width = "32", test))]
fn duration_32(secs: u64, nanos: u32) -> Duration {
    // Not `Duration::new`: out of line, its overflow `expect` is a panic message to display.
    Duration::from_secs(secs).saturating_add(Duration::from_nanos(u64::from(nanos)))
}

/// `d / n` (panics if `n` is 0).
#[cfg(not(target_pointer_width = "32"))]
#[inline]
pub(crate) fn div_duration(d: Duration, n: u32) -> Duration {
    d / n
}

/// `d * mul / div` (panics on overflow or if `div` is 0, as `Duration`'s operators do), with the
/// same result; on 32-bit targets without 64-bit divisions (`Duration * u32` splits the product
/// of the nanoseconds into seconds with one), see [`div_duration`], and without panics
/// (`Duration::MAX` instead; the engine multiplies by at most its divisor).
#[cfg(target_pointer_width = "32")]
#[inline(never)]
pub(crate) fn mul_div_duration(d: Duration, mul: u32, div: u32) -> Duration {
    div_duration_32(mul_duration_32(d, mul), div)
}

/// `d * mul / div` (panics on overflow or if `div` is 0).
#[cfg(not(target_pointer_width = "32"))]
#[inline]
pub(crate) fn mul_div_duration(d: Duration, mul: u32, div: u32) -> Duration {
    d * mul / div
}

/// `d * m` with 32-bit divisions, the steps of `Duration`'s multiplication.
#[cfg(any(target_pointer_width = "32", test))]
fn mul_duration_32(d: Duration, m: u32) -> Duration {
    let total_nanos = u64::from(d.subsec_nanos()) * u64::from(m);
    let (extra_secs, nanos) = div_rem_u64(total_nanos, BILLION);
    match d
        .as_secs()
        .checked_mul(u64::from(m))
        .and_then(|s| s.checked_add(extra_secs))
    {
        // `nanos` is a remainder of a division by 10^9.
        Some(secs) => duration_32(secs, nanos),
        None => Duration::MAX,
    }
}

/// Quotient and remainder of `a / n` (`n` > 0) with 32-bit divisions: a divisor below 2^16 goes
/// through `a` in 16-bit digits (each step divides less than 2^32), a larger one bit by bit.
#[cfg(any(target_pointer_width = "32", test))]
fn div_rem_u64(a: u64, n: NonZeroU32) -> (u64, u32) {
    if let Ok(a) = u32::try_from(a) {
        return (u64::from(a / n), a % n);
    }
    let mut q = 0u64;
    let mut r = 0u32;
    if n.get() <= 0xFFFF {
        for shift in [48, 32, 16, 0] {
            // r < n <= 0xFFFF, so this fits in 32 bits.
            let cur = (r << 16) | ((a >> shift) as u32 & 0xFFFF);
            q |= u64::from(cur / n) << shift;
            r = cur % n;
        }
    } else {
        let n = u64::from(n.get());
        let mut rem = 0u64;
        for bit in (0..u64::BITS - a.leading_zeros()).rev() {
            rem = (rem << 1) | ((a >> bit) & 1);
            if rem >= n {
                rem -= n;
                q |= 1 << bit;
            }
        }
        r = rem as u32;
    }
    (q, r)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Instant::from_millis(5), Duration::ZERO);
        assert_eq!(
            Instant::from_millis(5) - Instant::from_millis(2),
            Duration::from_millis(3)
        );
        assert_eq!(Instant::from_micros(1500).as_millis(), 1);
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
    }

    #[test]
    fn div_duration_is_duration_division() {
        let ds = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(100),
            Duration::new(1, 999_999_999),
            Duration::new(99, 123_456_789),
            Duration::new(u64::from(u32::MAX) + 7, 5),
            Duration::new(u64::MAX, 999_999_999),
        ];
        for d in ds {
            for n in [1, 3, 8, 100, 0xFFFF, 0x1_0000, 1_000_003, u32::MAX] {
                assert_eq!(div_duration(d, n), d / n, "{d:?} / {n}");
                assert_eq!(div_duration_32(d, n), d / n, "{d:?} / {n}");
            }
        }
    }

    #[test]
    fn mul_div_duration_is_duration_arithmetic() {
        let ds = [
            Duration::ZERO,
            Duration::from_nanos(999_999_999),
            Duration::from_millis(1),
            Duration::new(7, 500_000_001),
            Duration::new(u64::from(u32::MAX), 999_999_999),
        ];
        for d in ds {
            for (m, n) in [
                (1, 1),
                (2, 2),
                (3, 64),
                (4, 7),
                (1000, 3),
                (u32::MAX, 1_000_003),
            ] {
                assert_eq!(mul_div_duration(d, m, n), d * m / n, "{d:?} * {m} / {n}");
                assert_eq!(mul_duration_32(d, m), d * m, "{d:?} * {m}");
            }
        }
    }

    #[test]
    fn div_rem_u64_matches_u64_division() {
        for a in [
            0,
            1,
            u64::from(u32::MAX),
            1 << 32,
            99 * 1_000_000_000,
            u64::MAX,
        ] {
            for n in [1, 7, 100, 0xFFFF, 0x1_0000, u32::MAX] {
                assert_eq!(
                    div_rem_u64(a, NonZeroU32::new(n).unwrap()),
                    (a / u64::from(n), (a % u64::from(n)) as u32)
                );
            }
        }
    }

    #[test]
    fn duration_32_saturates_where_duration_panics() {
        assert_eq!(div_duration_32(Duration::from_secs(3), 0), Duration::MAX);
        assert_eq!(mul_duration_32(Duration::MAX, 2), Duration::MAX);
        assert_eq!(
            mul_duration_32(Duration::new(u64::MAX, 600_000_000), 1),
            Duration::new(u64::MAX, 600_000_000)
        );
        assert_eq!(duration_32(u64::MAX, 1_500_000_000), Duration::MAX);
        assert_eq!(duration_32(1, 1_500_000_000), Duration::new(2, 500_000_000));
    }
}
