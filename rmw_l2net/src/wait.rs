//! The process-wide wake-up of wait sets: every event that may make a wait set entry ready
//! (a guard condition triggered, an engine event of any context) bumps a generation counter
//! and wakes the threads blocked in `rmw_wait`, which look at their entries again. A waiter
//! reads the generation *before* looking, so nothing that happens between its look and its
//! sleep is missed.

#![forbid(unsafe_code)]

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Generation counter and condition variable.
#[derive(Debug)]
pub struct Waker {
    generation: Mutex<u64>,
    cv: Condvar,
}

/// The one waker of the process.
pub static WAKER: Waker = Waker::new();

impl Waker {
    const fn new() -> Self {
        Waker {
            generation: Mutex::new(0),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current generation; pass it to [`Waker::wait`] after looking at the entries.
    pub fn generation(&self) -> u64 {
        *self.lock()
    }

    /// Something may have become ready: wake every waiter.
    pub fn notify(&self) {
        let mut g = self.lock();
        *g = g.wrapping_add(1);
        drop(g);
        self.cv.notify_all();
    }

    /// Sleeps until the generation differs from `seen` or `deadline` passes (`None`: no
    /// deadline). Returns at once if the generation already moved on.
    pub fn wait(&self, seen: u64, deadline: Option<Instant>) {
        let mut g = self.lock();
        while *g == seen {
            match deadline {
                None => g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    g = self
                        .cv
                        .wait_timeout(g, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn notify_wakes_a_waiter_and_deadline_ends_a_wait() {
        let w = Waker::new();
        let seen = w.generation();
        w.wait(seen, Some(Instant::now() + Duration::from_millis(5)));
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                w.notify();
            });
            w.wait(seen, None);
        });
        assert_ne!(w.generation(), seen);
        // Already moved on: returns at once.
        w.wait(seen, None);
    }
}
