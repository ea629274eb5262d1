//! The rcutils error state, reached at run time.
//!
//! librmw_l2net_cpp.so is loaded into processes that already have librcutils (through
//! librmw / librcl); the library does not link it (ROS need not be installed to build or test
//! it). `rcutils_set_error_state` and `rcutils_reset_error` are looked up once with
//! `dlsym(RTLD_DEFAULT, ...)`. The message is always also kept in a thread-local fallback, which
//! is what tests (and processes without rcutils) can read with [`last_error`].

use core::ffi::{CStr, c_char};
use std::cell::RefCell;
use std::ffi::CString;
use std::sync::OnceLock;

type SetErrorState = unsafe extern "C" fn(*const c_char, *const c_char, usize);
type ResetError = unsafe extern "C" fn();

struct Rcutils {
    set: Option<SetErrorState>,
    reset: Option<ResetError>,
}

static RCUTILS: OnceLock<Rcutils> = OnceLock::new();

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn lookup(name: &CStr) -> *mut libc::c_void {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only searches loaded objects.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

fn rcutils() -> &'static Rcutils {
    RCUTILS.get_or_init(|| {
        let set = lookup(c"rcutils_set_error_state");
        let reset = lookup(c"rcutils_reset_error");
        Rcutils {
            // SAFETY: when present, these symbols are rcutils' functions with exactly these
            // signatures (rcutils/error_handling.h); a null pointer maps to None.
            set: unsafe { core::mem::transmute::<*mut libc::c_void, Option<SetErrorState>>(set) },
            // SAFETY: as above.
            reset: unsafe { core::mem::transmute::<*mut libc::c_void, Option<ResetError>>(reset) },
        }
    })
}

/// Sets the error state (RMW_SET_ERROR_MSG): rcutils' when it is loaded, and the fallback.
pub fn set_error(msg: &str, file: &'static str, line: u32) {
    if let Some(set) = rcutils().set {
        let m = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        let f = CString::new(file).unwrap_or_default();
        // SAFETY: both strings are NUL-terminated and outlive the call; rcutils copies them.
        unsafe { set(m.as_ptr(), f.as_ptr(), line as usize) };
    }
    LAST.with(|l| *l.borrow_mut() = Some(msg.to_owned()));
}

/// Clears the error state, rcutils' and the fallback.
pub fn reset_error() {
    if let Some(reset) = rcutils().reset {
        // SAFETY: rcutils_reset_error takes no arguments and only touches its thread-local.
        unsafe { reset() };
    }
    LAST.with(|l| *l.borrow_mut() = None);
}

/// The last message set on this thread (fallback copy), if any.
pub fn last_error() -> Option<String> {
    LAST.with(|l| l.borrow().clone())
}

/// True when rcutils' error functions were found in the process.
pub fn has_rcutils() -> bool {
    rcutils().set.is_some()
}
