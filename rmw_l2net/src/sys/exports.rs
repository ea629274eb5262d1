//! The exported rmw C API (the part that needs no protocol engine).
//!
//! Every function here sits behind `boundary`: a Rust panic never unwinds into C; it
//! becomes `RMW_RET_ERROR` (or a null / false result) with the error state set. Every pointer
//! argument is checked before use, and objects handed in are checked to belong to this
//! implementation (`RMW_RET_INCORRECT_RMW_IMPLEMENTATION`), as the rmw API documents.
//!
//! The list of exported `rmw_*` symbols is kept in `exported_symbols.txt` at the crate root.

use core::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::*;
use crate::cdr::CdrError;
use crate::guard::GuardCondition;
use crate::{IDENTIFIER, SERIALIZATION_FORMAT, qos};

use super::error_state::set_error;
use super::introspection;

/// Sets the rmw error state with the caller's file and line.
macro_rules! error {
    ($($arg:tt)*) => {
        set_error(&format!($($arg)*), file!(), line!())
    };
}

/// Returns `RMW_RET_INVALID_ARGUMENT` (or `$ret`) with the error set when `$p` is null.
macro_rules! check_null {
    ($p:expr, $ret:expr) => {
        if $p.is_null() {
            error!(concat!(stringify!($p), " argument is null"));
            return $ret;
        }
    };
    ($p:expr) => {
        check_null!($p, RMW_RET_INVALID_ARGUMENT)
    };
}

/// Runs `f`, turning a panic into `on_panic` with the error state set.
fn boundary<T>(name: &str, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            set_error(&format!("{name}: internal error: {what}"), file!(), line!());
            on_panic
        }
    }
}

/// Whether an implementation identifier is ours (by address, else by content).
///
/// # Safety
/// `id` is null or a NUL-terminated string.
unsafe fn is_ours(id: *const c_char) -> bool {
    if id.is_null() {
        return false;
    }
    if core::ptr::eq(id, IDENTIFIER.as_ptr()) {
        return true;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    unsafe { CStr::from_ptr(id) == IDENTIFIER }
}

/// Returns `RMW_RET_INCORRECT_RMW_IMPLEMENTATION` (or `$ret`) when `$id` is not ours.
macro_rules! check_ours {
    ($what:expr, $id:expr, $ret:expr) => {
        // SAFETY: identifiers in rmw structs are null or NUL-terminated static strings.
        if !unsafe { is_ours($id) } {
            error!(
                "{} implementation identifier does not match rmw_l2net_cpp",
                $what
            );
            return $ret;
        }
    };
    ($what:expr, $id:expr) => {
        check_ours!($what, $id, RMW_RET_INCORRECT_RMW_IMPLEMENTATION)
    };
}

fn cdr_ret(e: CdrError) -> rmw_ret_t {
    match e {
        CdrError::BadAlloc => RMW_RET_BAD_ALLOC,
        _ => RMW_RET_ERROR,
    }
}

// ---------------------------------------------------------------------------------------------
// Identification.

#[unsafe(no_mangle)]
pub extern "C" fn rmw_get_implementation_identifier() -> *const c_char {
    IDENTIFIER.as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn rmw_get_serialization_format() -> *const c_char {
    SERIALIZATION_FORMAT.as_ptr()
}

// ---------------------------------------------------------------------------------------------
// Serialization.

/// # Safety
/// rmw API contract: `ros_message` is an initialised message of `type_support`'s type;
/// `serialized_message` is an initialised `rmw_serialized_message_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_serialize(
    ros_message: *const c_void,
    type_support: *const rosidl_message_type_support_t,
    serialized_message: *mut rmw_serialized_message_t,
) -> rmw_ret_t {
    boundary("rmw_serialize", RMW_RET_ERROR, || {
        check_null!(ros_message);
        check_null!(type_support);
        check_null!(serialized_message);
        // SAFETY: checked non-null; the caller guarantees validity.
        let sm = unsafe { &mut *serialized_message };
        // SAFETY: the caller guarantees a valid type support.
        let tables = match unsafe { introspection::resolve(type_support) } {
            Ok(t) => t,
            Err(e) => {
                error!("rmw_serialize: {e}");
                return RMW_RET_ERROR;
            }
        };
        // SAFETY: the message matches the tables (caller's contract).
        let size = match unsafe { introspection::serialized_size(tables, ros_message) } {
            Ok(s) => s,
            Err(e) => {
                error!("rmw_serialize: {e}");
                return cdr_ret(e);
            }
        };
        if sm.buffer_capacity < size || sm.buffer.is_null() {
            let Some(realloc) = sm.allocator.reallocate else {
                error!("rmw_serialize: serialized message has no valid allocator");
                return RMW_RET_INVALID_ARGUMENT;
            };
            // SAFETY: the buffer belongs to this array's allocator (rcutils_uint8_array_t).
            let new = unsafe { realloc(sm.buffer.cast(), size, sm.allocator.state) };
            if new.is_null() {
                error!("rmw_serialize: failed to allocate {size} bytes");
                return RMW_RET_BAD_ALLOC;
            }
            sm.buffer = new.cast();
            sm.buffer_capacity = size;
        }
        // SAFETY: the buffer holds at least `size` bytes (capacity checked or just grown).
        let buf = unsafe { core::slice::from_raw_parts_mut(sm.buffer, size) };
        // SAFETY: as for serialized_size.
        match unsafe { introspection::serialize_into(tables, ros_message, buf) } {
            Ok(n) => {
                sm.buffer_length = n;
                RMW_RET_OK
            }
            Err(e) => {
                sm.buffer_length = 0;
                error!("rmw_serialize: {e}");
                cdr_ret(e)
            }
        }
    })
}

/// # Safety
/// rmw API contract: `serialized_message` holds `buffer_length` readable bytes; `ros_message`
/// is an initialised message of `type_support`'s type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_deserialize(
    serialized_message: *const rmw_serialized_message_t,
    type_support: *const rosidl_message_type_support_t,
    ros_message: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_deserialize", RMW_RET_ERROR, || {
        check_null!(serialized_message);
        check_null!(type_support);
        check_null!(ros_message);
        // SAFETY: checked non-null; the caller guarantees validity.
        let sm = unsafe { &*serialized_message };
        let bytes: &[u8] = if sm.buffer_length == 0 {
            &[]
        } else if sm.buffer.is_null() {
            error!("rmw_deserialize: serialized message has a length but no buffer");
            return RMW_RET_INVALID_ARGUMENT;
        } else {
            // SAFETY: the caller guarantees `buffer_length` readable bytes.
            unsafe { core::slice::from_raw_parts(sm.buffer, sm.buffer_length) }
        };
        // SAFETY: the caller guarantees a valid type support.
        let tables = match unsafe { introspection::resolve(type_support) } {
            Ok(t) => t,
            Err(e) => {
                error!("rmw_deserialize: {e}");
                return RMW_RET_ERROR;
            }
        };
        // SAFETY: the message matches the tables (caller's contract).
        match unsafe { introspection::deserialize(tables, bytes, ros_message) } {
            Ok(()) => RMW_RET_OK,
            Err(e) => {
                error!("rmw_deserialize: {e}");
                cdr_ret(e)
            }
        }
    })
}

/// Not supported: an upper bound of the serialized size is not computed (as in
/// rmw_cyclonedds_cpp and rmw_fastrtps_cpp).
#[unsafe(no_mangle)]
pub extern "C" fn rmw_get_serialized_message_size(
    _type_support: *const rosidl_message_type_support_t,
    _message_bounds: *const c_void,
    _size: *mut usize,
) -> rmw_ret_t {
    boundary("rmw_get_serialized_message_size", RMW_RET_ERROR, || {
        error!("rmw_get_serialized_message_size: unimplemented");
        RMW_RET_UNSUPPORTED
    })
}

/// Dynamic type support is not supported.
#[unsafe(no_mangle)]
pub extern "C" fn rmw_serialization_support_init(
    _serialization_lib_name: *const c_char,
    _allocator: *mut rcutils_allocator_t,
    _serialization_support: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_serialization_support_init", RMW_RET_ERROR, || {
        error!("rmw_serialization_support_init: dynamic type support is not supported");
        RMW_RET_UNSUPPORTED
    })
}

// ---------------------------------------------------------------------------------------------
// Pre-allocation hooks: not supported (the same answer as the DDS-based middlewares give).

macro_rules! unsupported_allocation {
    ($name:ident, $($arg:ident: $ty:ty),*) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> rmw_ret_t {
            boundary(stringify!($name), RMW_RET_ERROR, || {
                $(let _ = $arg;)*
                error!(concat!(stringify!($name), ": unimplemented"));
                RMW_RET_UNSUPPORTED
            })
        }
    };
}

unsupported_allocation!(rmw_init_publisher_allocation,
    type_support: *const rosidl_message_type_support_t, message_bounds: *const c_void,
    allocation: *mut c_void);
unsupported_allocation!(rmw_fini_publisher_allocation, allocation: *mut c_void);
unsupported_allocation!(rmw_init_subscription_allocation,
    type_support: *const rosidl_message_type_support_t, message_bounds: *const c_void,
    allocation: *mut c_void);
unsupported_allocation!(rmw_fini_subscription_allocation, allocation: *mut c_void);

// ---------------------------------------------------------------------------------------------
// Init options.

fn zero_init_options() -> rmw_init_options_t {
    rmw_init_options_t {
        instance_id: 0,
        implementation_identifier: core::ptr::null(),
        domain_id: 0,
        security_options: rmw_security_options_t {
            enforce_security: 0,
            security_root_path: core::ptr::null_mut(),
        },
        localhost_only: 0,
        discovery_options: zero_discovery_options(),
        enclave: core::ptr::null_mut(),
        allocator: rcutils_allocator_t::ZERO,
        impl_: core::ptr::null_mut(),
    }
}

fn zero_discovery_options() -> rmw_discovery_options_t {
    rmw_discovery_options_t {
        automatic_discovery_range: 0,
        static_peers: core::ptr::null_mut(),
        static_peers_count: 0,
        allocator: rcutils_allocator_t::ZERO,
    }
}

/// Copies a C string with `allocator` (rcutils_strdup); null stays null.
///
/// # Safety
/// `s` is null or NUL-terminated; `allocator` is valid.
unsafe fn strdup(s: *const c_char, allocator: &rcutils_allocator_t) -> Result<*mut c_char, ()> {
    if s.is_null() {
        return Ok(core::ptr::null_mut());
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let src = unsafe { CStr::from_ptr(s) }.to_bytes_with_nul();
    let alloc = allocator.allocate.ok_or(())?;
    // SAFETY: a valid allocator's allocate.
    let dst = unsafe { alloc(src.len(), allocator.state) }.cast::<u8>();
    if dst.is_null() {
        return Err(());
    }
    // SAFETY: `dst` has room for the string and its NUL.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    Ok(dst.cast())
}

/// Frees `p` with `allocator` if both are set.
///
/// # Safety
/// `p` is null or was allocated with `allocator`.
unsafe fn dealloc(p: *mut c_void, allocator: &rcutils_allocator_t) {
    if let (false, Some(free)) = (p.is_null(), allocator.deallocate) {
        // SAFETY: `p` came from this allocator.
        unsafe { free(p, allocator.state) };
    }
}

/// # Safety
/// rmw API contract: `init_options` is zero-initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_init_options_init(
    init_options: *mut rmw_init_options_t,
    allocator: rcutils_allocator_t,
) -> rmw_ret_t {
    boundary("rmw_init_options_init", RMW_RET_ERROR, || {
        check_null!(init_options);
        if !allocator.is_valid() {
            error!("rmw_init_options_init: invalid allocator");
            return RMW_RET_INVALID_ARGUMENT;
        }
        // SAFETY: checked non-null; the caller guarantees validity.
        let o = unsafe { &mut *init_options };
        if !o.implementation_identifier.is_null() {
            error!("rmw_init_options_init: expected zero-initialized init_options");
            return RMW_RET_INVALID_ARGUMENT;
        }
        *o = rmw_init_options_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            domain_id: RMW_DEFAULT_DOMAIN_ID,
            allocator,
            ..zero_init_options()
        };
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: `src` is initialised, `dst` zero-initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_init_options_copy(
    src: *const rmw_init_options_t,
    dst: *mut rmw_init_options_t,
) -> rmw_ret_t {
    boundary("rmw_init_options_copy", RMW_RET_ERROR, || {
        check_null!(src);
        check_null!(dst);
        if core::ptr::eq(src, dst) {
            error!("rmw_init_options_copy: src and dst must be different");
            return RMW_RET_INVALID_ARGUMENT;
        }
        // SAFETY: checked non-null; the caller guarantees validity; distinct objects.
        let (s, d) = unsafe { (&*src, &mut *dst) };
        if s.implementation_identifier.is_null() {
            error!("rmw_init_options_copy: expected initialized src");
            return RMW_RET_INVALID_ARGUMENT;
        }
        check_ours!("src init options", s.implementation_identifier);
        if !d.implementation_identifier.is_null() {
            error!("rmw_init_options_copy: expected zero-initialized dst");
            return RMW_RET_INVALID_ARGUMENT;
        }
        let a = s.allocator;
        if !a.is_valid() {
            error!("rmw_init_options_copy: src has an invalid allocator");
            return RMW_RET_INVALID_ARGUMENT;
        }
        let mut t = rmw_init_options_t {
            enclave: core::ptr::null_mut(),
            security_options: rmw_security_options_t {
                enforce_security: s.security_options.enforce_security,
                security_root_path: core::ptr::null_mut(),
            },
            discovery_options: rmw_discovery_options_t {
                automatic_discovery_range: s.discovery_options.automatic_discovery_range,
                ..zero_discovery_options()
            },
            ..*s
        };
        let copied = (|| -> Result<(), ()> {
            // SAFETY: strings in initialised options are null or NUL-terminated; `a` is valid.
            t.enclave = unsafe { strdup(s.enclave, &a) }?;
            // SAFETY: as above.
            t.security_options.security_root_path =
                unsafe { strdup(s.security_options.security_root_path, &a) }?;
            let n = s.discovery_options.static_peers_count;
            if n == 0 {
                return Ok(());
            }
            let src_peers = s.discovery_options.static_peers;
            let zalloc = a.zero_allocate.ok_or(())?;
            if src_peers.is_null() {
                return Err(());
            }
            // SAFETY: a valid allocator's zero_allocate.
            let peers = unsafe { zalloc(n, size_of::<rmw_peer_address_t>(), a.state) }
                .cast::<rmw_peer_address_t>();
            if peers.is_null() {
                return Err(());
            }
            for i in 0..n {
                // SAFETY: both arrays hold `n` peers.
                unsafe {
                    let mut p = *src_peers.add(i);
                    p.peer_address[RMW_DISCOVERY_OPTIONS_STATIC_PEERS_MAX_LENGTH - 1] = 0;
                    peers.add(i).write(p);
                }
            }
            t.discovery_options.static_peers = peers;
            t.discovery_options.static_peers_count = n;
            t.discovery_options.allocator = a;
            Ok(())
        })();
        if copied.is_err() {
            // SAFETY: whatever was copied so far came from `a`.
            unsafe {
                dealloc(t.enclave.cast(), &a);
                dealloc(t.security_options.security_root_path.cast(), &a);
            }
            error!("rmw_init_options_copy: failed to allocate memory");
            return RMW_RET_BAD_ALLOC;
        }
        *d = t;
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: `init_options` was initialised by this implementation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_init_options_fini(init_options: *mut rmw_init_options_t) -> rmw_ret_t {
    boundary("rmw_init_options_fini", RMW_RET_ERROR, || {
        check_null!(init_options);
        // SAFETY: checked non-null; the caller guarantees validity.
        let o = unsafe { &mut *init_options };
        if o.implementation_identifier.is_null() {
            error!("rmw_init_options_fini: expected initialized init_options");
            return RMW_RET_INVALID_ARGUMENT;
        }
        check_ours!("init options", o.implementation_identifier);
        let a = o.allocator;
        if !a.is_valid() {
            error!("rmw_init_options_fini: invalid allocator");
            return RMW_RET_INVALID_ARGUMENT;
        }
        // SAFETY: the enclave and security root path were allocated with the options'
        // allocator (by rcl or by rmw_init_options_copy); the static peers with the discovery
        // options' allocator (rmw_discovery_options_init).
        unsafe {
            dealloc(o.enclave.cast(), &a);
            dealloc(o.security_options.security_root_path.cast(), &a);
            if o.discovery_options.static_peers_count > 0 {
                dealloc(
                    o.discovery_options.static_peers.cast(),
                    &o.discovery_options.allocator,
                );
            }
        }
        *o = zero_init_options();
        RMW_RET_OK
    })
}

// ---------------------------------------------------------------------------------------------
// QoS, GIDs, features, logging.

/// The request / offer rules of rmw/qos_profiles.h with the reasons of rmw_dds_common (see
/// [`qos::check_compatible`]); a policy set to "unknown" is `RMW_RET_INVALID_ARGUMENT` and
/// leaves `compatibility` and `reason` untouched, as the header says.
///
/// # Safety
/// `compatibility` is null or writable; `reason` is null or holds `reason_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_qos_profile_check_compatible(
    publisher_profile: rmw_qos_profile_t,
    subscription_profile: rmw_qos_profile_t,
    compatibility: *mut rmw_qos_compatibility_type_t,
    reason: *mut c_char,
    reason_size: usize,
) -> rmw_ret_t {
    boundary("rmw_qos_profile_check_compatible", RMW_RET_ERROR, || {
        check_null!(compatibility);
        if reason.is_null() && reason_size != 0 {
            error!("reason parameter is null, but reason_size parameter is not zero");
            return RMW_RET_INVALID_ARGUMENT;
        }
        let (c, why) = match qos::check_compatible(&publisher_profile, &subscription_profile) {
            Ok(v) => v,
            Err(e) => {
                // As the header says: `compatibility` and `reason` are not set.
                error!("rmw_qos_profile_check_compatible: {e}");
                return RMW_RET_INVALID_ARGUMENT;
            }
        };
        // SAFETY: checked non-null; the caller guarantees it is writable.
        unsafe { compatibility.write(c.to_rmw()) };
        if !reason.is_null() && reason_size > 0 {
            // SAFETY: the caller guarantees `reason_size` writable bytes.
            let out = unsafe { core::slice::from_raw_parts_mut(reason.cast::<u8>(), reason_size) };
            qos::write_reason(&why, out);
        }
        RMW_RET_OK
    })
}

/// # Safety
/// Arguments are null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_compare_gids_equal(
    gid1: *const rmw_gid_t,
    gid2: *const rmw_gid_t,
    result: *mut bool,
) -> rmw_ret_t {
    boundary("rmw_compare_gids_equal", RMW_RET_ERROR, || {
        check_null!(gid1);
        check_null!(gid2);
        check_null!(result);
        // SAFETY: checked non-null; the caller guarantees validity.
        let (a, b) = unsafe { (&*gid1, &*gid2) };
        check_ours!("gid1", a.implementation_identifier);
        check_ours!("gid2", b.implementation_identifier);
        // SAFETY: checked non-null; writable by contract.
        unsafe { result.write(a.data == b.data) };
        RMW_RET_OK
    })
}

/// `RMW_FEATURE_MESSAGE_INFO_PUBLICATION_SEQUENCE_NUMBER` (the writer's sequence number) and
/// `RMW_FEATURE_MESSAGE_INFO_RECEPTION_SEQUENCE_NUMBER` (counted per subscription) are filled
/// in by the take functions; nothing else is claimed.
#[unsafe(no_mangle)]
pub extern "C" fn rmw_feature_supported(feature: rmw_feature_t) -> bool {
    boundary("rmw_feature_supported", false, || {
        matches!(feature, 0 | 1) && cfg!(target_os = "linux")
    })
}

/// The event types `rmw_publisher_event_init` / `rmw_subscription_event_init` accept: every
/// type of rmw/event.h (each on its side), none beyond.
#[unsafe(no_mangle)]
pub extern "C" fn rmw_event_type_is_supported(event_type: rmw_event_type_t) -> bool {
    boundary("rmw_event_type_is_supported", false, || {
        cfg!(target_os = "linux") && event_type_supported(event_type)
    })
}

#[cfg(target_os = "linux")]
fn event_type_supported(event_type: rmw_event_type_t) -> bool {
    runtime::endpoint_event_supported(event_type, true)
        || runtime::endpoint_event_supported(event_type, false)
}

#[cfg(not(target_os = "linux"))]
fn event_type_supported(_: rmw_event_type_t) -> bool {
    false
}

static LOG_SEVERITY: std::sync::atomic::AtomicI32 =
    std::sync::atomic::AtomicI32::new(RMW_LOG_SEVERITY_INFO);

/// The severity last set with `rmw_set_log_severity`.
pub fn log_severity() -> rmw_log_severity_t {
    LOG_SEVERITY.load(std::sync::atomic::Ordering::Relaxed)
}

#[unsafe(no_mangle)]
pub extern "C" fn rmw_set_log_severity(severity: rmw_log_severity_t) -> rmw_ret_t {
    boundary("rmw_set_log_severity", RMW_RET_ERROR, || match severity {
        RMW_LOG_SEVERITY_DEBUG
        | RMW_LOG_SEVERITY_INFO
        | RMW_LOG_SEVERITY_WARN
        | RMW_LOG_SEVERITY_ERROR
        | RMW_LOG_SEVERITY_FATAL => {
            LOG_SEVERITY.store(severity, std::sync::atomic::Ordering::Relaxed);
            RMW_RET_OK
        }
        _ => {
            error!("rmw_set_log_severity: invalid log severity {severity}");
            RMW_RET_INVALID_ARGUMENT
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Guard conditions.

/// # Safety
/// `context` is null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_guard_condition(
    context: *mut rmw_context_t,
) -> *mut rmw_guard_condition_t {
    boundary("rmw_create_guard_condition", core::ptr::null_mut(), || {
        check_null!(context, core::ptr::null_mut());
        // SAFETY: checked non-null; valid by contract.
        let id = unsafe { (*context).implementation_identifier };
        check_ours!("context", id, core::ptr::null_mut());
        let state = Box::into_raw(Box::new(GuardCondition::new()));
        Box::into_raw(Box::new(rmw_guard_condition_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            data: state.cast(),
            context,
        }))
    })
}

/// # Safety
/// `guard_condition` is null or was returned by `rmw_create_guard_condition` and not yet
/// destroyed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_guard_condition(
    guard_condition: *mut rmw_guard_condition_t,
) -> rmw_ret_t {
    boundary("rmw_destroy_guard_condition", RMW_RET_ERROR, || {
        check_null!(guard_condition);
        // SAFETY: checked non-null; valid by contract.
        let id = unsafe { (*guard_condition).implementation_identifier };
        check_ours!("guard condition", id);
        // SAFETY: both boxes were made by rmw_create_guard_condition.
        unsafe {
            let gc = Box::from_raw(guard_condition);
            if !gc.data.is_null() {
                drop(Box::from_raw(gc.data.cast::<GuardCondition>()));
            }
        }
        RMW_RET_OK
    })
}

/// # Safety
/// `guard_condition` is null or a live guard condition.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_trigger_guard_condition(
    guard_condition: *const rmw_guard_condition_t,
) -> rmw_ret_t {
    boundary("rmw_trigger_guard_condition", RMW_RET_ERROR, || {
        check_null!(guard_condition);
        // SAFETY: checked non-null; valid by contract.
        let gc = unsafe { &*guard_condition };
        check_ours!("guard condition", gc.implementation_identifier);
        // SAFETY: data of our guard conditions is a GuardCondition.
        match unsafe { gc.data.cast::<GuardCondition>().as_ref() } {
            Some(state) => {
                state.trigger();
                RMW_RET_OK
            }
            None => {
                error!("rmw_trigger_guard_condition: guard condition has no state");
                RMW_RET_ERROR
            }
        }
    })
}

/// The state of one of our guard conditions (for the wait set and tests).
///
/// # Safety
/// `guard_condition` is a live guard condition created by this library.
pub unsafe fn guard_condition_state<'a>(
    guard_condition: *const rmw_guard_condition_t,
) -> Option<&'a GuardCondition> {
    // SAFETY: the caller guarantees a live guard condition of ours.
    unsafe {
        guard_condition
            .as_ref()?
            .data
            .cast::<GuardCondition>()
            .as_ref()
    }
}

#[cfg(target_os = "linux")]
pub mod runtime;
#[cfg(target_os = "linux")]
pub use runtime::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::error_state::last_error;

    #[test]
    fn a_panic_becomes_an_error_return() {
        let ret = boundary("rmw_test", RMW_RET_ERROR, || -> rmw_ret_t {
            panic!("boom {}", 42)
        });
        assert_eq!(ret, RMW_RET_ERROR);
        let msg = last_error().unwrap();
        assert!(msg.contains("rmw_test") && msg.contains("boom 42"), "{msg}");
        let p = boundary("rmw_test", core::ptr::null_mut::<u8>(), || panic!("static"));
        assert!(p.is_null());
        assert!(last_error().unwrap().contains("static"));
    }
}
