//! Guard condition state. A guard condition is a flag that any thread may raise and that a
//! wait set consumes (`rmw_wait` lowers it when it reports it ready).

use std::sync::atomic::{AtomicBool, Ordering};

/// The state behind an `rmw_guard_condition_t`.
#[derive(Debug, Default)]
pub struct GuardCondition {
    triggered: AtomicBool,
}

impl GuardCondition {
    /// A guard condition that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises the flag and wakes the wait sets.
    pub fn trigger(&self) {
        self.triggered.store(true, Ordering::Release);
        crate::wait::WAKER.notify();
    }

    /// Whether the flag is up, without lowering it.
    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::Acquire)
    }

    /// Lowers the flag; returns whether it was up (a wait set consumes it this way).
    pub fn take(&self) -> bool {
        self.triggered.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_then_take_once() {
        let g = GuardCondition::new();
        assert!(!g.take());
        g.trigger();
        g.trigger();
        assert!(g.is_triggered());
        assert!(g.take());
        assert!(!g.take());
    }
}
