//! With rcutils' error functions in the process (here a stand-in loaded RTLD_GLOBAL before the
//! library's first error), errors go to rcutils, with the Rust source file and line, and the
//! thread-local fallback still holds them. Its own test binary: the lookup happens once.

use std::ffi::{CStr, CString, c_char};

use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::{has_rcutils, last_error, reset_error};
use rmw_l2net_cpp::sys::exports::{rmw_compare_gids_equal, rmw_set_log_severity};

type Last = unsafe extern "C" fn(*mut *const c_char, *mut usize, *mut i32) -> *const c_char;

#[test]
fn errors_reach_rcutils_when_it_is_loaded() {
    let path = CString::new(concat!(env!("OUT_DIR"), "/libfake_rcutils.so")).unwrap();
    // SAFETY: dlopen/dlsym of the fixture library built by build.rs.
    let last: Last = unsafe {
        let h = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        assert!(!h.is_null());
        std::mem::transmute(libc::dlsym(h, c"fake_rcutils_last".as_ptr()))
    };
    let read = || {
        let (mut file, mut line, mut count) = (std::ptr::null(), 0usize, 0i32);
        // SAFETY: the fixture returns pointers to its static buffers.
        unsafe {
            let msg = last(&mut file, &mut line, &mut count);
            (
                CStr::from_ptr(msg).to_string_lossy().into_owned(),
                CStr::from_ptr(file).to_string_lossy().into_owned(),
                line,
                count,
            )
        }
    };

    assert_eq!(rmw_set_log_severity(99), RMW_RET_INVALID_ARGUMENT);
    assert!(has_rcutils());
    let (msg, file, line, count) = read();
    assert_eq!(count, 1);
    assert!(msg.contains("invalid log severity 99"), "{msg}");
    assert!(file.ends_with("exports.rs") && line > 0, "{file}:{line}");
    assert_eq!(last_error().as_deref(), Some(msg.as_str()));

    let mut same = false;
    // SAFETY: null arguments are checked before any use.
    let ret = unsafe { rmw_compare_gids_equal(std::ptr::null(), std::ptr::null(), &mut same) };
    assert_eq!(ret, RMW_RET_INVALID_ARGUMENT);
    assert!(read().0.contains("gid1 argument is null"), "{}", read().0);

    reset_error();
    assert_eq!(read().0, "");
    assert!(last_error().is_none());
}
