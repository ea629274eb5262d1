//! A monotonic clock from SysTick, read by polling (no interrupt): the 24-bit down-counter runs
//! at the core clock and wraps every 2^24 cycles (0.67 s at MPS2's 25 MHz); every read folds the
//! cycles since the previous read into a 64-bit total, so it must be read more often than that.

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use l2net_core::Instant;

/// MPS2's system clock (QEMU's mps2-an386 uses the same).
pub const CORE_HZ: u64 = 25_000_000;
const RELOAD: u32 = 0x00FF_FFFF;

pub struct Clock {
    /// Owned so that nothing else reprograms the counter.
    _syst: SYST,
    last: u32,
    cycles: u64,
}

impl Clock {
    pub fn new(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_counter();
        Clock {
            _syst: syst,
            last: RELOAD,
            cycles: 0,
        }
    }

    pub fn now(&mut self) -> Instant {
        let cur = SYST::get_current();
        // Down-counter: elapsed = last - cur, modulo the 24-bit range.
        let elapsed = self.last.wrapping_sub(cur) & RELOAD;
        self.last = cur;
        self.cycles += u64::from(elapsed);
        Instant::from_nanos(self.cycles * (1_000_000_000 / CORE_HZ))
    }
}
