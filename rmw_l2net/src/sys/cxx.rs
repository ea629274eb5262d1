//! Bindings to the C++ shim (`csrc/cxx_string_shim.cpp`) that reads and writes the
//! `std::string` and `std::u16string` members of rosidl C++ messages.

use core::ffi::c_char;

unsafe extern "C" {
    fn l2net_rmw_cxx_string_view(s: *const u8, len: *mut usize) -> *const c_char;
    fn l2net_rmw_cxx_string_assign(s: *mut u8, data: *const c_char, len: usize) -> i32;
    fn l2net_rmw_cxx_u16string_view(s: *const u8, len: *mut usize) -> *const u16;
    fn l2net_rmw_cxx_u16string_assign(s: *mut u8, data: *const u16, len: usize) -> i32;
    fn l2net_rmw_cxx_string_size_of() -> usize;
    fn l2net_rmw_cxx_u16string_size_of() -> usize;
}

/// `sizeof(std::string)` of the C++ library the shim was built with.
pub fn string_size_of() -> usize {
    // SAFETY: a pure function of the C++ standard library, no arguments.
    unsafe { l2net_rmw_cxx_string_size_of() }
}

/// `sizeof(std::u16string)`.
pub fn u16string_size_of() -> usize {
    // SAFETY: as above.
    unsafe { l2net_rmw_cxx_u16string_size_of() }
}

/// The bytes of the `std::string` at `s`.
///
/// # Safety
/// `s` points to a live `std::string` that is not mutated while the slice is in use.
pub unsafe fn string_bytes<'a>(s: *const u8) -> &'a [u8] {
    let mut len = 0usize;
    // SAFETY: the caller guarantees `s` is a std::string; the shim only reads it.
    let data = unsafe { l2net_rmw_cxx_string_view(s, &mut len) };
    if len == 0 {
        return &[];
    }
    // SAFETY: std::string::data() points to `size()` initialised chars that live as long as the
    // string is not mutated, which the caller guarantees.
    unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) }
}

/// Replaces the contents of the `std::string` at `s`; false if the allocation failed.
///
/// # Safety
/// `s` points to a live `std::string` not otherwise borrowed.
pub unsafe fn string_assign(s: *mut u8, bytes: &[u8]) -> bool {
    // SAFETY: the caller guarantees `s`; `bytes` is a valid slice; the shim catches exceptions.
    unsafe { l2net_rmw_cxx_string_assign(s, bytes.as_ptr().cast(), bytes.len()) == 0 }
}

/// The UTF-16 units of the `std::u16string` at `s`.
///
/// # Safety
/// As [`string_bytes`], for a `std::u16string`.
pub unsafe fn u16string_units<'a>(s: *const u8) -> &'a [u16] {
    let mut len = 0usize;
    // SAFETY: the caller guarantees `s` is a std::u16string; the shim only reads it.
    let data = unsafe { l2net_rmw_cxx_u16string_view(s, &mut len) };
    if len == 0 {
        return &[];
    }
    // SAFETY: data() points to `size()` initialised, aligned char16_t units.
    unsafe { core::slice::from_raw_parts(data, len) }
}

/// Replaces the contents of the `std::u16string` at `s`; false if the allocation failed.
///
/// # Safety
/// As [`string_assign`], for a `std::u16string`.
pub unsafe fn u16string_assign(s: *mut u8, units: &[u16]) -> bool {
    // SAFETY: as string_assign.
    unsafe { l2net_rmw_cxx_u16string_assign(s, units.as_ptr(), units.len()) == 0 }
}
