//! Bad input to the deserializer is an error, never a panic or an out-of-bounds access;
//! bounds, booleans, terminators, wide characters and headers are checked; big-endian input
//! is read; type supports are dispatched by identifier.

mod support;

use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicPtr, Ordering};

use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::exports::{rmw_deserialize, rmw_serialize};
use support::*;

/// Cut points to try: all of them for small messages, a spread for large ones.
fn sample(len: usize, limit: usize) -> Vec<usize> {
    if len <= limit {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..64).collect();
    v.extend((64..len).step_by(len / limit + 1));
    v.extend(len.saturating_sub(16)..len);
    v.sort_unstable();
    v.dedup();
    v
}

fn case<'a>(files: &'a [VectorFile], ty: &str, name: &str) -> &'a Case {
    files
        .iter()
        .find(|f| f.ty == ty)
        .unwrap()
        .cases
        .iter()
        .find(|c| c.name == name)
        .unwrap()
}

#[test]
fn every_truncation_is_an_error() {
    let files = load_vectors();
    for flavor in FLAVORS {
        for f in &files {
            for c in &f.cases {
                for cut in sample(c.cdr.len(), 400) {
                    let mut m = Msg::new(flavor, &f.ty);
                    let r = deserialize(&c.cdr[..cut], &mut m);
                    assert!(
                        matches!(r, Err((RMW_RET_ERROR, _))),
                        "{flavor:?} {} / {} cut at {cut}: {r:?}",
                        f.ty,
                        c.name
                    );
                }
            }
        }
    }
}

#[test]
fn corrupted_words_never_crash() {
    let files = load_vectors();
    for flavor in FLAVORS {
        for f in &files {
            for c in &f.cases {
                let words = (c.cdr.len().saturating_sub(4)) / 4;
                for w in sample(words, 150) {
                    for pattern in [
                        [0xff; 4],
                        [0xff, 0xff, 0xff, 0x7f],
                        [0x00, 0x00, 0x01, 0x00],
                    ] {
                        let mut bytes = c.cdr.clone();
                        let at = 4 + w * 4;
                        let end = (at + 4).min(bytes.len());
                        bytes[at..end].copy_from_slice(&pattern[..end - at]);
                        // Success or error are both fine; the message must stay valid to drop.
                        let mut m = Msg::new(flavor, &f.ty);
                        let _ = deserialize(&bytes, &mut m);
                    }
                }
            }
        }
    }
}

#[test]
fn bounded_sequence_over_its_bound_is_rejected_both_ways() {
    let files = load_vectors();
    let c = case(&files, "test_msgs/msg/BoundedSequences", "default");
    for flavor in FLAVORS {
        // bool_values[<=3] is the first member: its count is the first payload word.
        let mut bytes = c.cdr.clone();
        bytes[4..8].copy_from_slice(&4u32.to_le_bytes());
        bytes.splice(8..8, [1u8, 1, 1, 1]);
        let mut m = Msg::new(flavor, "test_msgs/msg/BoundedSequences");
        let (ret, msg) = deserialize(&bytes, &mut m).unwrap_err();
        assert_eq!(ret, RMW_RET_ERROR);
        assert!(msg.contains("bound"), "{msg}");

        let mut over = c.value.clone();
        over["int32_values"] = serde_json::json!([1, 2, 3, 4]);
        let mut m = Msg::new(flavor, "test_msgs/msg/BoundedSequences");
        m.fill(&over);
        let (ret, msg) = serialize(&m).unwrap_err();
        assert_eq!(ret, RMW_RET_ERROR);
        assert!(msg.contains("bound"), "{msg}");
    }
}

#[test]
fn invalid_bytes_are_rejected() {
    let files = load_vectors();
    for flavor in FLAVORS {
        // A boolean other than 0/1 (BasicTypes.bool_value is the first payload byte).
        let mut b = case(&files, "test_msgs/msg/BasicTypes", "default")
            .cdr
            .clone();
        b[4] = 2;
        let mut m = Msg::new(flavor, "test_msgs/msg/BasicTypes");
        assert!(deserialize(&b, &mut m).unwrap_err().1.contains("boolean"));

        // The same inside a bool sequence (std::vector<bool> in C++: assign_function path).
        let c = case(&files, "test_msgs/msg/UnboundedSequences", "max");
        let mut b = c.cdr.clone();
        assert_ne!(b[4], 0, "bool_values has elements");
        b[8] = 7;
        let mut m = Msg::new(flavor, "test_msgs/msg/UnboundedSequences");
        assert!(deserialize(&b, &mut m).unwrap_err().1.contains("boolean"));

        // A string whose last byte is not NUL.
        let c = case(&files, "std_msgs/msg/String", "hello");
        let mut b = c.cdr.clone();
        *b.last_mut().unwrap() = b'x';
        let mut m = Msg::new(flavor, "std_msgs/msg/String");
        assert!(deserialize(&b, &mut m).unwrap_err().1.contains("NUL"));

        // A wide character beyond one UTF-16 unit.
        let c = case(&files, "test_msgs/msg/WStrings", "max");
        let mut b = c.cdr.clone();
        assert_ne!(b[4..8], [0, 0, 0, 0], "wstring_value is not empty");
        b[10] = 1;
        let mut m = Msg::new(flavor, "test_msgs/msg/WStrings");
        assert!(
            deserialize(&b, &mut m)
                .unwrap_err()
                .1
                .contains("wide character")
        );

        // Headers.
        let mut m = Msg::new(flavor, "test_msgs/msg/Empty");
        assert!(deserialize(&[], &mut m).is_err());
        assert!(deserialize(&[0, 1, 0], &mut m).is_err());
        assert!(
            deserialize(&[0, 7, 0, 0, 0], &mut m)
                .unwrap_err()
                .1
                .contains("encapsulation")
        );
        assert!(deserialize(&[0, 1, 0, 0], &mut m).is_err());
        assert!(deserialize(&[0, 1, 0, 0, 0], &mut m).is_ok());
    }
}

#[test]
fn big_endian_input_is_read() {
    let files = load_vectors();
    let c = case(&files, "test_msgs/msg/BasicTypes", "distinct");
    // (payload offset, size) of each BasicTypes member in plain CDR.
    let fields = [
        (0, 1),
        (1, 1),
        (2, 1),
        (4, 4),
        (8, 8),
        (16, 1),
        (17, 1),
        (18, 2),
        (20, 2),
        (24, 4),
        (28, 4),
        (32, 8),
        (40, 8),
    ];
    let mut be = c.cdr.clone();
    be[1] = 0;
    for (off, size) in fields {
        be[4 + off..4 + off + size].reverse();
    }
    for flavor in FLAVORS {
        let mut m = Msg::new(flavor, "test_msgs/msg/BasicTypes");
        deserialize(&be, &mut m).unwrap();
        assert!(same_value(&m.read(), &c.value));
        assert_eq!(
            serialize(&m).unwrap(),
            c.cdr,
            "always written little endian"
        );
    }
}

#[test]
fn serialize_reuses_a_large_enough_buffer() {
    let files = load_vectors();
    let c = case(&files, "std_msgs/msg/String", "hello");
    let mut m = Msg::new(Flavor::C, "std_msgs/msg/String");
    m.fill(&c.value);
    let mut out = Serialized::from_bytes(&[0xAA; 64]);
    let before = out.0.buffer;
    // SAFETY: an initialised message of the handle's type.
    let ret = unsafe { rmw_serialize(m.ptr.cast(), m.ts, &mut out.0) };
    assert_eq!(ret, RMW_RET_OK);
    assert_eq!(out.0.buffer, before);
    assert_eq!(out.0.buffer_capacity, 64);
    assert_eq!(out.bytes(), &c.cdr[..]);

    // No room and no allocator: an argument error, not a crash.
    let mut bare = Serialized::empty();
    bare.0.allocator = rcutils_allocator_t::ZERO;
    // SAFETY: as above.
    let ret = unsafe { rmw_serialize(m.ptr.cast(), m.ts, &mut bare.0) };
    assert_eq!(ret, RMW_RET_INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------------------------
// Dispatch from rosidl_typesupport_c / _cpp handles to the introspection ones.

static INTROSPECTION_C_HANDLE: AtomicPtr<rosidl_message_type_support_t> =
    AtomicPtr::new(std::ptr::null_mut());
static INTROSPECTION_CPP_HANDLE: AtomicPtr<rosidl_message_type_support_t> =
    AtomicPtr::new(std::ptr::null_mut());

/// Like rosidl_typesupport_c's handle function: finds the handle of the asked identifier.
unsafe extern "C" fn dispatch(
    _handle: *const rosidl_message_type_support_t,
    id: *const c_char,
) -> *const rosidl_message_type_support_t {
    // SAFETY: the library passes a NUL-terminated identifier.
    match unsafe { CStr::from_ptr(id) }.to_bytes() {
        b"rosidl_typesupport_introspection_c" => INTROSPECTION_C_HANDLE.load(Ordering::SeqCst),
        b"rosidl_typesupport_introspection_cpp" => INTROSPECTION_CPP_HANDLE.load(Ordering::SeqCst),
        _ => std::ptr::null(),
    }
}

fn handle(
    id: &'static CStr,
    func: rosidl_message_typesupport_handle_function,
) -> rosidl_message_type_support_t {
    rosidl_message_type_support_t {
        typesupport_identifier: id.as_ptr(),
        data: std::ptr::null(),
        func,
        get_type_hash_func: None,
        get_type_description_func: std::ptr::null(),
        get_type_description_sources_func: std::ptr::null(),
    }
}

#[test]
fn dispatching_type_supports_are_resolved() {
    let files = load_vectors();
    let c = case(&files, "std_msgs/msg/Header", "typical");
    INTROSPECTION_C_HANDLE.store(
        type_support(Flavor::C, "std_msgs/msg/Header").cast_mut(),
        Ordering::SeqCst,
    );
    INTROSPECTION_CPP_HANDLE.store(
        type_support(Flavor::Cpp, "std_msgs/msg/Header").cast_mut(),
        Ordering::SeqCst,
    );
    for (flavor, id) in [
        (Flavor::C, c"rosidl_typesupport_c"),
        (Flavor::Cpp, c"rosidl_typesupport_cpp"),
    ] {
        let ts = handle(id, Some(dispatch));
        let mut m = Msg::new(flavor, "std_msgs/msg/Header");
        m.fill(&c.value);
        let mut out = Serialized::empty();
        // SAFETY: `ts` resolves to the handle of the message's own type and flavour.
        let ret = unsafe { rmw_serialize(m.ptr.cast(), &ts, &mut out.0) };
        assert_eq!(ret, RMW_RET_OK, "{flavor:?}");
        assert_eq!(out.bytes(), &c.cdr[..]);
        let back = Msg::new(flavor, "std_msgs/msg/Header");
        // SAFETY: as above.
        let ret = unsafe { rmw_deserialize(&out.0, &ts, back.ptr.cast()) };
        assert_eq!(ret, RMW_RET_OK);
        assert!(same_value(&back.read(), &c.value));
    }

    // An identifier nobody knows, with and without a handle function.
    let m = Msg::new(Flavor::C, "std_msgs/msg/Header");
    let mut out = Serialized::empty();
    for ts in [
        handle(c"rosidl_typesupport_fastrtps_c", None),
        handle(c"other", Some(dispatch_none)),
    ] {
        // SAFETY: the library must reject the handle before touching the message.
        let ret = unsafe { rmw_serialize(m.ptr.cast(), &ts, &mut out.0) };
        assert_eq!(ret, RMW_RET_ERROR);
    }
    // Null arguments.
    // SAFETY: null pointers are checked first.
    unsafe {
        assert_eq!(
            rmw_serialize(std::ptr::null(), m.ts, &mut out.0),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_serialize(m.ptr.cast(), std::ptr::null(), &mut out.0),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_serialize(m.ptr.cast(), m.ts, std::ptr::null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_deserialize(std::ptr::null(), m.ts, m.ptr.cast()),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_deserialize(&out.0, m.ts, std::ptr::null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
    }
    assert!(
        rmw_l2net_cpp::sys::error_state::last_error()
            .unwrap()
            .contains("null")
    );
}

unsafe extern "C" fn dispatch_none(
    _handle: *const rosidl_message_type_support_t,
    _id: *const c_char,
) -> *const rosidl_message_type_support_t {
    std::ptr::null()
}
