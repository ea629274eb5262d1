//! The process-wide wake-up of wait sets, for what no node knows about: a guard condition
//! triggered, a QoS event counted, a graph change. [`Waker::notify`] wakes
//!
//! * every thread that waits on a context's node (`rmw_wait` waits there, in the node's
//!   leader/follower scheme, see `crate::context`), through the [`Wake`] handles registered
//!   with [`Waker::register`] (one per open context); and
//! * threads that wait without a node (every context of their wait set is shut down), on a
//!   generation counter and a condition variable. Such a waiter reads the generation *before*
//!   looking at its entries, so nothing that happens between its look and its sleep is missed.

#![forbid(unsafe_code)]

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// Something that wakes the threads waiting on it (a context's node).
pub trait Wake: Send + Sync {
    /// Wake every thread waiting on it.
    fn wake(&self);
}

/// Generation counter and condition variable, and the registered [`Wake`] handles.
pub struct Waker {
    generation: Mutex<u64>,
    cv: Condvar,
    others: Mutex<Vec<Weak<dyn Wake>>>,
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The one waker of the process.
pub static WAKER: Waker = Waker::new();

impl Waker {
    const fn new() -> Self {
        Waker {
            generation: Mutex::new(0),
            cv: Condvar::new(),
            others: Mutex::new(Vec::new()),
        }
    }

    /// [`Waker::notify`] wakes `w` too, as long as it lives.
    pub fn register(&self, w: &Arc<dyn Wake>) {
        let mut others = self.others.lock().unwrap_or_else(|e| e.into_inner());
        others.retain(|o| o.strong_count() > 0);
        others.push(Arc::downgrade(w));
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current generation; pass it to [`Waker::wait`] after looking at the entries.
    pub fn generation(&self) -> u64 {
        *self.lock()
    }

    /// Something may have become ready: wake every waiter. Must not be called with a node
    /// locked (the registered handles lock theirs).
    pub fn notify(&self) {
        let mut g = self.lock();
        *g = g.wrapping_add(1);
        drop(g);
        self.cv.notify_all();
        let others: Vec<Arc<dyn Wake>> = self
            .others
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for o in others {
            o.wake();
        }
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

    #[test]
    fn notify_wakes_registered_handles_while_they_live() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(&self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let w = Waker::new();
        let c = Arc::new(Count(AtomicUsize::new(0)));
        let d: Arc<dyn Wake> = c.clone();
        w.register(&d);
        w.notify();
        assert_eq!(c.0.load(Ordering::Relaxed), 1);
        drop(d);
        drop(c);
        w.notify();
        w.register(&(Arc::new(Count(AtomicUsize::new(0))) as Arc<dyn Wake>));
        assert_eq!(
            w.others.lock().unwrap().len(),
            1,
            "dead handles are dropped"
        );
    }
}
