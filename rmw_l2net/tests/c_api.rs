//! The exported functions that need no engine, called through their C ABI: argument checks,
//! implementation checks, error state, init options ownership, QoS, GIDs, guard conditions.

mod support;

use std::ffi::{CStr, c_char};

use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::{last_error, reset_error};
use rmw_l2net_cpp::sys::exports::*;

fn zero_options() -> rmw_init_options_t {
    // SAFETY: all-zero is the zero-initialised rmw_init_options_t (null pointers, no functions).
    unsafe { std::mem::zeroed() }
}

fn error_contains(s: &str) -> bool {
    last_error().is_some_and(|e| e.contains(s))
}

#[test]
fn identification() {
    // SAFETY: static NUL-terminated strings.
    unsafe {
        assert_eq!(
            CStr::from_ptr(rmw_get_implementation_identifier()),
            c"rmw_l2net_cpp"
        );
        assert_eq!(CStr::from_ptr(rmw_get_serialization_format()), c"cdr");
    }
    assert_eq!(
        rmw_get_implementation_identifier(),
        rmw_get_implementation_identifier(),
        "a stable address"
    );
}

fn c_string(s: &str) -> *mut c_char {
    let c = std::ffi::CString::new(s).unwrap();
    // SAFETY: strdup of a NUL-terminated string; freed by the allocator (free) later.
    unsafe { libc::strdup(c.as_ptr()) }
}

#[test]
fn init_options_lifecycle() {
    let a = support::allocator();
    let mut o = zero_options();
    // SAFETY: valid pointers to local options throughout.
    unsafe {
        assert_eq!(
            rmw_init_options_init(std::ptr::null_mut(), a),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_init_options_init(&mut o, rcutils_allocator_t::ZERO),
            RMW_RET_INVALID_ARGUMENT
        );
        assert!(error_contains("allocator"));
        assert_eq!(rmw_init_options_init(&mut o, a), RMW_RET_OK);
        assert_eq!(
            o.implementation_identifier,
            rmw_get_implementation_identifier()
        );
        assert_eq!(o.domain_id, usize::MAX);
        assert!(o.enclave.is_null() && o.impl_.is_null());
        assert_eq!(
            rmw_init_options_init(&mut o, a),
            RMW_RET_INVALID_ARGUMENT,
            "not zero"
        );

        // What rcl adds: an enclave, a security root and static peers.
        o.enclave = c_string("/my/enclave");
        o.security_options.security_root_path = c_string("/keys");
        let peers = libc::calloc(2, size_of::<rmw_peer_address_t>()).cast::<rmw_peer_address_t>();
        for (i, name) in ["host-a", "10.0.0.2"].iter().enumerate() {
            for (j, b) in name.bytes().enumerate() {
                (*peers.add(i)).peer_address[j] = b as c_char;
            }
        }
        o.discovery_options = rmw_discovery_options_t {
            automatic_discovery_range: 2,
            static_peers: peers,
            static_peers_count: 2,
            allocator: a,
        };

        let mut copy = zero_options();
        assert_eq!(rmw_init_options_copy(&o, &mut copy), RMW_RET_OK);
        assert_eq!(CStr::from_ptr(copy.enclave), c"/my/enclave");
        assert_ne!(copy.enclave, o.enclave);
        assert_eq!(
            CStr::from_ptr(copy.security_options.security_root_path),
            c"/keys"
        );
        assert_eq!(copy.discovery_options.automatic_discovery_range, 2);
        assert_eq!(copy.discovery_options.static_peers_count, 2);
        assert_ne!(copy.discovery_options.static_peers, peers);
        let p1 = (*copy.discovery_options.static_peers.add(1)).peer_address;
        assert_eq!(CStr::from_ptr(p1.as_ptr()), c"10.0.0.2");
        assert_eq!(
            rmw_init_options_copy(&o, &mut copy),
            RMW_RET_INVALID_ARGUMENT,
            "dst not zero"
        );
        assert_eq!(rmw_init_options_copy(&o, &mut o), RMW_RET_INVALID_ARGUMENT);

        let mut foreign = zero_options();
        foreign.implementation_identifier = c"rmw_other_cpp".as_ptr();
        let mut dst = zero_options();
        assert_eq!(
            rmw_init_options_copy(&foreign, &mut dst),
            RMW_RET_INCORRECT_RMW_IMPLEMENTATION
        );
        assert_eq!(
            rmw_init_options_fini(&mut foreign),
            RMW_RET_INCORRECT_RMW_IMPLEMENTATION
        );

        assert_eq!(rmw_init_options_fini(&mut copy), RMW_RET_OK);
        assert!(copy.implementation_identifier.is_null() && copy.enclave.is_null());
        assert_eq!(rmw_init_options_fini(&mut o), RMW_RET_OK);
        assert_eq!(
            rmw_init_options_fini(&mut o),
            RMW_RET_INVALID_ARGUMENT,
            "already fini"
        );
        assert_eq!(
            rmw_init_options_fini(std::ptr::null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
    }
}

fn profile(reliability: i32, durability: i32) -> rmw_qos_profile_t {
    rmw_qos_profile_t {
        history: 1,
        depth: 10,
        reliability,
        durability,
        deadline: rmw_time_t { sec: 0, nsec: 0 },
        lifespan: rmw_time_t { sec: 0, nsec: 0 },
        liveliness: RMW_QOS_POLICY_LIVELINESS_AUTOMATIC,
        liveliness_lease_duration: rmw_time_t { sec: 0, nsec: 0 },
        avoid_ros_namespace_conventions: false,
    }
}

#[test]
fn qos_compatibility() {
    let ok = profile(
        RMW_QOS_POLICY_RELIABILITY_RELIABLE,
        RMW_QOS_POLICY_DURABILITY_VOLATILE,
    );
    let bad_pub = profile(
        RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT,
        RMW_QOS_POLICY_DURABILITY_VOLATILE,
    );
    let mut c = -1;
    let mut reason = [0x55 as c_char; 64];
    // SAFETY: valid out-pointers and a reason buffer of the given size.
    unsafe {
        assert_eq!(
            rmw_qos_profile_check_compatible(ok, ok, &mut c, reason.as_mut_ptr(), reason.len()),
            RMW_RET_OK
        );
        assert_eq!(c, RMW_QOS_COMPATIBILITY_OK);
        assert_eq!(reason[0], 0);
        assert_eq!(
            rmw_qos_profile_check_compatible(
                bad_pub,
                ok,
                &mut c,
                reason.as_mut_ptr(),
                reason.len()
            ),
            RMW_RET_OK
        );
        assert_eq!(c, RMW_QOS_COMPATIBILITY_ERROR);
        let why = CStr::from_ptr(reason.as_ptr()).to_str().unwrap();
        assert!(why.starts_with("ERROR: Best effort"), "{why}");
        assert_eq!(
            rmw_qos_profile_check_compatible(bad_pub, ok, &mut c, std::ptr::null_mut(), 0),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_qos_profile_check_compatible(ok, ok, std::ptr::null_mut(), std::ptr::null_mut(), 0),
            RMW_RET_INVALID_ARGUMENT
        );
        // A deadline requested but not offered.
        let mut wants_deadline = ok;
        wants_deadline.deadline = rmw_time_t { sec: 1, nsec: 0 };
        assert_eq!(
            rmw_qos_profile_check_compatible(
                ok,
                wants_deadline,
                &mut c,
                reason.as_mut_ptr(),
                reason.len()
            ),
            RMW_RET_OK
        );
        assert_eq!(c, RMW_QOS_COMPATIBILITY_ERROR);
        let why = CStr::from_ptr(reason.as_ptr()).to_str().unwrap();
        assert_eq!(
            why,
            "ERROR: Subscription has a deadline, but publisher does not;"
        );
        // "Unknown" policies are refused; the outputs stay as they were.
        let mut unknown = ok;
        unknown.liveliness = RMW_QOS_POLICY_LIVELINESS_UNKNOWN;
        c = 77;
        reason[0] = b'x' as c_char;
        assert_eq!(
            rmw_qos_profile_check_compatible(
                ok,
                unknown,
                &mut c,
                reason.as_mut_ptr(),
                reason.len()
            ),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!((c, reason[0]), (77, b'x' as c_char));
        assert!(error_contains("UNKNOWN"), "{:?}", last_error());
        assert_eq!(
            rmw_qos_profile_check_compatible(ok, ok, &mut c, std::ptr::null_mut(), 8),
            RMW_RET_INVALID_ARGUMENT
        );
    }
}

#[test]
fn gids() {
    let g = |id: *const c_char, b: u8| rmw_gid_t {
        implementation_identifier: id,
        data: [b; RMW_GID_STORAGE_SIZE],
    };
    let ours = rmw_get_implementation_identifier();
    let mut same = false;
    // SAFETY: pointers to locals.
    unsafe {
        assert_eq!(
            rmw_compare_gids_equal(&g(ours, 1), &g(ours, 1), &mut same),
            RMW_RET_OK
        );
        assert!(same);
        // Same content, another address of the identifier string.
        assert_eq!(
            rmw_compare_gids_equal(&g(ours, 1), &g(c"rmw_l2net_cpp".as_ptr(), 2), &mut same),
            RMW_RET_OK
        );
        assert!(!same);
        assert_eq!(
            rmw_compare_gids_equal(&g(ours, 1), &g(c"rmw_fastrtps_cpp".as_ptr(), 1), &mut same),
            RMW_RET_INCORRECT_RMW_IMPLEMENTATION
        );
        assert_eq!(
            rmw_compare_gids_equal(&g(ours, 1), std::ptr::null(), &mut same),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_compare_gids_equal(&g(ours, 1), &g(ours, 1), std::ptr::null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
    }
}

#[test]
fn guard_conditions() {
    // SAFETY: all-zero context, then stamped with our identifier (what rmw_init will do).
    let mut ctx: rmw_context_t = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to locals and to guard conditions made here.
    unsafe {
        reset_error();
        assert!(rmw_create_guard_condition(std::ptr::null_mut()).is_null());
        assert!(error_contains("null"));
        assert!(
            rmw_create_guard_condition(&mut ctx).is_null(),
            "foreign (zero) context"
        );
        ctx.implementation_identifier = rmw_get_implementation_identifier();
        let gc = rmw_create_guard_condition(&mut ctx);
        assert!(!gc.is_null());
        assert_eq!(
            (*gc).implementation_identifier,
            rmw_get_implementation_identifier()
        );
        assert_eq!((*gc).context, &raw mut ctx);
        let state = guard_condition_state(gc).unwrap();
        assert!(!state.is_triggered());
        assert_eq!(rmw_trigger_guard_condition(gc), RMW_RET_OK);
        assert!(state.take());
        assert!(!state.take());
        assert_eq!(
            rmw_trigger_guard_condition(std::ptr::null()),
            RMW_RET_INVALID_ARGUMENT
        );
        let mut foreign = rmw_guard_condition_t {
            implementation_identifier: c"rmw_other".as_ptr(),
            data: std::ptr::null_mut(),
            context: std::ptr::null_mut(),
        };
        assert_eq!(
            rmw_trigger_guard_condition(&foreign),
            RMW_RET_INCORRECT_RMW_IMPLEMENTATION
        );
        assert_eq!(
            rmw_destroy_guard_condition(&mut foreign),
            RMW_RET_INCORRECT_RMW_IMPLEMENTATION
        );
        assert_eq!(rmw_destroy_guard_condition(gc), RMW_RET_OK);
        assert_eq!(
            rmw_destroy_guard_condition(std::ptr::null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
    }
}

#[test]
fn severity_features_and_unsupported_calls() {
    assert_eq!(rmw_set_log_severity(RMW_LOG_SEVERITY_WARN), RMW_RET_OK);
    assert_eq!(log_severity(), RMW_LOG_SEVERITY_WARN);
    assert_eq!(rmw_set_log_severity(12), RMW_RET_INVALID_ARGUMENT);
    assert!(error_contains("severity"));
    assert_eq!(log_severity(), RMW_LOG_SEVERITY_WARN);
    assert_eq!(rmw_set_log_severity(RMW_LOG_SEVERITY_INFO), RMW_RET_OK);

    // Publication and reception sequence numbers.
    assert!(rmw_feature_supported(0));
    assert!(rmw_feature_supported(1));
    for f in 2..4 {
        assert!(!rmw_feature_supported(f));
    }
    // Every event type rmw/event.h declares; nothing else.
    for e in -1..=RMW_EVENT_INVALID + 1 {
        assert_eq!(
            rmw_event_type_is_supported(e),
            (0..RMW_EVENT_INVALID).contains(&e),
            "{e}"
        );
    }
    let mut size = 0usize;
    assert_eq!(
        rmw_get_serialized_message_size(std::ptr::null(), std::ptr::null(), &mut size),
        RMW_RET_UNSUPPORTED
    );
    assert_eq!(
        rmw_serialization_support_init(
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null_mut()
        ),
        RMW_RET_UNSUPPORTED
    );
    let null = std::ptr::null_mut();
    assert_eq!(
        rmw_init_publisher_allocation(std::ptr::null(), std::ptr::null(), null),
        RMW_RET_UNSUPPORTED
    );
    assert_eq!(rmw_fini_publisher_allocation(null), RMW_RET_UNSUPPORTED);
    assert_eq!(
        rmw_init_subscription_allocation(std::ptr::null(), std::ptr::null(), null),
        RMW_RET_UNSUPPORTED
    );
    assert_eq!(rmw_fini_subscription_allocation(null), RMW_RET_UNSUPPORTED);
}

#[test]
fn without_rcutils_the_fallback_holds_the_message() {
    assert!(!rmw_l2net_cpp::sys::error_state::has_rcutils());
    reset_error();
    assert!(last_error().is_none());
    assert_eq!(rmw_set_log_severity(-1), RMW_RET_INVALID_ARGUMENT);
    assert!(error_contains("invalid log severity -1"));
    reset_error();
    assert!(last_error().is_none());
}

#[test]
fn events_refuse_bad_arguments() {
    let ours = rmw_get_implementation_identifier();
    let mut status = rmw_liveliness_lost_status_t::default();
    let info: *mut std::ffi::c_void = (&mut status as *mut rmw_liveliness_lost_status_t).cast();
    let mut taken = true;
    // SAFETY: null pointers and events without an endpoint are refused before any use.
    unsafe {
        assert_eq!(
            rmw_take_event(std::ptr::null(), info, &mut taken),
            RMW_RET_INVALID_ARGUMENT
        );
        let mut ev = rmw_event_t {
            implementation_identifier: ours,
            data: std::ptr::null_mut(),
            event_type: RMW_EVENT_LIVELINESS_LOST,
        };
        assert_eq!(
            rmw_take_event(&ev, std::ptr::null_mut(), &mut taken),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_take_event(&ev, info, std::ptr::null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
        // Initialised by nobody: no endpoint behind it.
        assert_eq!(
            rmw_take_event(&ev, info, &mut taken),
            RMW_RET_INVALID_ARGUMENT
        );
        assert!(!taken);
        assert!(error_contains("not initialized"), "{:?}", last_error());
        ev.event_type = RMW_EVENT_INVALID;
        assert_eq!(
            rmw_take_event(&ev, info, &mut taken),
            RMW_RET_INVALID_ARGUMENT
        );
        ev.implementation_identifier = c"rmw_cyclonedds_cpp".as_ptr();
        assert_eq!(
            rmw_take_event(&ev, info, &mut taken),
            RMW_RET_INCORRECT_RMW_IMPLEMENTATION
        );
        assert_eq!(status, rmw_liveliness_lost_status_t::default(), "untouched");

        // Initialising needs an event and a live endpoint of ours.
        assert_eq!(
            rmw_publisher_event_init(
                std::ptr::null_mut(),
                std::ptr::null(),
                RMW_EVENT_LIVELINESS_LOST
            ),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_publisher_event_init(&mut ev, std::ptr::null(), RMW_EVENT_LIVELINESS_LOST),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_subscription_event_init(&mut ev, std::ptr::null(), RMW_EVENT_MESSAGE_LOST),
            RMW_RET_INVALID_ARGUMENT
        );
    }
}
