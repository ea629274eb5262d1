//! The listener callbacks of the EventsExecutor (`rmw_*_set_on_new_*_callback`,
//! `rmw_event_set_callback`): a [`Listener`] holds one callback and its user data, and calls
//! it once per batch of new items with their number. Items reported while no callback is set
//! are counted by the caller and handed over when one is set, as rmw's headers ask.

#![forbid(unsafe_code)]

use std::ffi::c_void;
use std::sync::Mutex;

/// `rmw_event_callback_t`: `void (*)(const void * user_data, size_t number_of_events)`.
pub type Callback = extern "C" fn(*const c_void, usize);

/// A callback and its user data (kept as an address: the library never reads it).
#[derive(Clone, Copy, Debug)]
pub struct Registered {
    pub callback: Callback,
    pub user_data: usize,
}

/// One endpoint's listener slot.
#[derive(Debug, Default)]
pub struct Listener {
    slot: Mutex<Option<Registered>>,
}

impl Listener {
    /// Sets (`Some`) or clears (`None`) the callback. When one is set and `unread` items are
    /// already waiting, it is called with their number at once. The slot stays locked while a
    /// callback runs, so once this returns the previous callback is not running and is never
    /// called again. Returns whether a callback was set before.
    pub fn set(&self, r: Option<Registered>, unread: usize) -> bool {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let before = std::mem::replace(&mut *slot, r).is_some();
        if let Some(r) = *slot
            && unread > 0
        {
            (r.callback)(r.user_data as *const c_void, unread);
        }
        before
    }

    /// Whether a callback is set.
    pub fn is_set(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// `n` new items: calls the callback with `n` and returns true, or returns false when no
    /// callback is set (or `n` is 0).
    pub fn notify(&self, n: usize) -> bool {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match *slot {
            Some(r) if n > 0 => {
                (r.callback)(r.user_data as *const c_void, n);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static ITEMS: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn count(user_data: *const c_void, n: usize) {
        assert_eq!(user_data as usize, 0x1234);
        CALLS.fetch_add(1, Ordering::SeqCst);
        ITEMS.fetch_add(n, Ordering::SeqCst);
    }

    #[test]
    fn set_reports_unread_then_one_call_per_notify_until_cleared() {
        let l = Listener::default();
        assert!(!l.notify(1), "nothing set");
        let r = Registered {
            callback: count,
            user_data: 0x1234,
        };
        assert!(!l.set(Some(r), 3));
        assert_eq!(
            (CALLS.load(Ordering::SeqCst), ITEMS.load(Ordering::SeqCst)),
            (1, 3)
        );
        assert!(l.is_set());
        assert!(l.notify(1));
        assert!(!l.notify(0));
        assert_eq!(
            (CALLS.load(Ordering::SeqCst), ITEMS.load(Ordering::SeqCst)),
            (2, 4)
        );
        assert!(l.set(None, 5));
        assert!(!l.is_set());
        assert!(!l.notify(1));
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }
}
