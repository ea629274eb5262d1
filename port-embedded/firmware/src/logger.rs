//! `log` messages of the firmware and of l2net-embedded (feature `log`) as text over
//! semihosting: readable in QEMU's output without a decoder.

use cortex_m_semihosting::hprintln;
use log::{LevelFilter, Metadata, Record};

struct SemihostingLogger;

impl log::Log for SemihostingLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            hprintln!("[{}] {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: SemihostingLogger = SemihostingLogger;

/// Install the logger (once; later calls change nothing).
pub fn init(level: LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
