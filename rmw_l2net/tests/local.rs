//! Endpoints of one context (one l2net participant) talk to each other, as with the DDS
//! middlewares: a publisher and a subscription exchange messages and report each other in
//! their matched events, `ignore_local_publications` filters them, and a client calls a
//! service of the same context. One context on `lo` in a network namespace of the test's own
//! (root needed; skipped otherwise unless L2NET_REQUIRE_PRIVILEGED=1).

#![cfg(target_os = "linux")]

mod support;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use l2net_linux::netns::{Netns, require_privileges};
use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::last_error;
use rmw_l2net_cpp::sys::exports::*;
use support::{Flavor, Msg, allocator, load_vectors, same_value};

const T: Duration = Duration::from_secs(10);
const ZERO: rmw_time_t = rmw_time_t { sec: 0, nsec: 0 };
const LONG: rmw_time_t = rmw_time_t { sec: 10, nsec: 0 };

/// A context initialised on `lo` inside `ns`; shut down and finalised on drop.
struct Ctx(*mut rmw_context_t);

impl Ctx {
    fn init(ns: &Netns, domain: usize) -> Ctx {
        let addr = ns
            .run(move || {
                // SAFETY: this test binary has one test that reads or writes the environment,
                // and rmw_init reads it on this thread only.
                unsafe { std::env::set_var("RMW_L2NET_INTERFACE", "lo") };
                // SAFETY: all-zero is the zero-initialised rmw_init_options_t.
                let mut o: rmw_init_options_t = unsafe { std::mem::zeroed() };
                // SAFETY: zero-initialised options and a valid allocator.
                assert_eq!(
                    unsafe { rmw_init_options_init(&mut o, allocator()) },
                    RMW_RET_OK
                );
                // SAFETY: strdup'd string, freed by rmw_init_options_fini (free).
                o.enclave = unsafe { libc::strdup(c"/".as_ptr()) };
                o.domain_id = domain;
                // SAFETY: all-zero is rmw_get_zero_initialized_context().
                let c: *mut rmw_context_t = Box::into_raw(Box::new(unsafe { std::mem::zeroed() }));
                // SAFETY: initialised options, zero-initialised context.
                let r = unsafe { rmw_init(&o, c) };
                // SAFETY: as above.
                unsafe { std::env::remove_var("RMW_L2NET_INTERFACE") };
                assert_eq!(r, RMW_RET_OK, "rmw_init: {:?}", last_error());
                // SAFETY: initialised above.
                assert_eq!(unsafe { rmw_init_options_fini(&mut o) }, RMW_RET_OK);
                c as usize
            })
            .unwrap();
        Ctx(addr as *mut rmw_context_t)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: initialised by rmw_init; finalised once.
        unsafe {
            assert_eq!(rmw_shutdown(self.0), RMW_RET_OK);
            assert_eq!(rmw_context_fini(self.0), RMW_RET_OK);
            drop(Box::from_raw(self.0));
        }
    }
}

fn qos() -> rmw_qos_profile_t {
    rmw_qos_profile_t {
        history: RMW_QOS_POLICY_HISTORY_KEEP_LAST,
        depth: 10,
        reliability: RMW_QOS_POLICY_RELIABILITY_RELIABLE,
        durability: RMW_QOS_POLICY_DURABILITY_VOLATILE,
        deadline: ZERO,
        lifespan: ZERO,
        liveliness: RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT,
        liveliness_lease_duration: ZERO,
        avoid_ros_namespace_conventions: false,
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits on subscriptions, services and clients; returns which entries stayed non-null.
///
/// # Safety
/// Live wait set and entities (their `data` pointers).
unsafe fn wait(
    ws: *mut rmw_wait_set_t,
    subs: &[*mut c_void],
    services: &[*mut c_void],
    clients: &[*mut c_void],
    events: &[*mut c_void],
    timeout: rmw_time_t,
) -> Vec<bool> {
    let (mut s, mut v, mut c, mut e) = (
        subs.to_vec(),
        services.to_vec(),
        clients.to_vec(),
        events.to_vec(),
    );
    let mut sa = rmw_subscriptions_t {
        subscriber_count: s.len(),
        subscribers: s.as_mut_ptr(),
    };
    let mut va = rmw_services_t {
        service_count: v.len(),
        services: v.as_mut_ptr(),
    };
    let mut ca = rmw_clients_t {
        client_count: c.len(),
        clients: c.as_mut_ptr(),
    };
    let mut ea = rmw_events_t {
        event_count: e.len(),
        events: e.as_mut_ptr(),
    };
    // SAFETY: forwarded from the caller.
    let r = unsafe { rmw_wait(&mut sa, null_mut(), &mut va, &mut ca, &mut ea, ws, &timeout) };
    assert!(
        r == RMW_RET_OK || r == RMW_RET_TIMEOUT,
        "{r}: {:?}",
        last_error()
    );
    s.iter()
        .chain(&v)
        .chain(&c)
        .chain(&e)
        .map(|p| !p.is_null())
        .collect()
}

/// Takes a matched status, which must be taken.
///
/// # Safety
/// A live matched event.
unsafe fn matched(ev: &rmw_event_t) -> rmw_matched_status_t {
    // SAFETY: all-zero is a valid status; the event is a matched event.
    unsafe {
        let mut st: rmw_matched_status_t = std::mem::zeroed();
        let mut taken = false;
        assert_eq!(
            rmw_take_event(
                ev,
                (&mut st as *mut rmw_matched_status_t).cast(),
                &mut taken
            ),
            RMW_RET_OK
        );
        assert!(taken);
        st
    }
}

fn service_type_support() -> rosidl_service_type_support_t {
    rosidl_service_type_support_t {
        typesupport_identifier: c"rosidl_typesupport_introspection_c".as_ptr(),
        data: std::ptr::null(),
        func: None,
        request_typesupport: support::type_support(Flavor::C, "std_msgs/msg/String"),
        response_typesupport: support::type_support(Flavor::C, "std_msgs/msg/String"),
        event_typesupport: std::ptr::null(),
        event_message_create_handle_function: std::ptr::null(),
        event_message_destroy_handle_function: std::ptr::null(),
        get_type_hash_func: std::ptr::null(),
        get_type_description_func: std::ptr::null(),
        get_type_description_sources_func: std::ptr::null(),
    }
}

#[test]
fn endpoints_of_one_context_talk() {
    if !require_privileges("endpoints_of_one_context_talk") {
        return;
    }
    let ns = Netns::new("rmwlocal").unwrap();
    ns.set_up("lo").unwrap();
    let ctx = Ctx::init(&ns, 31);
    let ty = "std_msgs/msg/String";
    let ts = support::type_support(Flavor::C, ty);
    let vectors = load_vectors();
    let strings = vectors.iter().find(|v| v.ty == ty).unwrap();
    let case = &strings.cases[strings.cases.len() - 1];
    let topic = c"/local/chatter";
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let node = rmw_create_node(ctx.0, c"both".as_ptr(), c"/".as_ptr());
        assert!(!node.is_null(), "{:?}", last_error());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let mut ignoring: rmw_subscription_options_t = std::mem::zeroed();
        ignoring.ignore_local_publications = true;
        let publ = rmw_create_publisher(node, ts, topic.as_ptr(), &qos(), &popts);
        assert!(!publ.is_null(), "{:?}", last_error());
        let sub = rmw_create_subscription(node, ts, topic.as_ptr(), &qos(), &sopts);
        assert!(!sub.is_null(), "{:?}", last_error());
        let mut pev: rmw_event_t = std::mem::zeroed();
        let mut sev: rmw_event_t = std::mem::zeroed();
        assert_eq!(
            rmw_publisher_event_init(&mut pev, publ, RMW_EVENT_PUBLICATION_MATCHED),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_subscription_event_init(&mut sev, sub, RMW_EVENT_SUBSCRIPTION_MATCHED),
            RMW_RET_OK
        );

        // Matched at once, and the matched events say so.
        let (mut np, mut ns_) = (0usize, 0usize);
        assert_eq!(
            rmw_publisher_count_matched_subscriptions(publ, &mut np),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_subscription_count_matched_publishers(sub, &mut ns_),
            RMW_RET_OK
        );
        assert_eq!((np, ns_), (1, 1));
        let ws = rmw_create_wait_set(ctx.0, 0);
        let events: [*mut c_void; 2] = [
            (&mut pev as *mut rmw_event_t).cast(),
            (&mut sev as *mut rmw_event_t).cast(),
        ];
        wait_until("the matched events", || {
            wait(ws, &[], &[], &[], &events, ZERO) == [true, true]
        });
        for ev in [&pev, &sev] {
            assert_eq!(
                matched(ev),
                rmw_matched_status_t {
                    total_count: 1,
                    total_count_change: 1,
                    current_count: 1,
                    current_count_change: 1
                }
            );
        }

        // A message goes from the publisher to the subscription of the same context.
        let mut out = Msg::new(Flavor::C, ty);
        out.fill(&case.value);
        assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
        assert_eq!(wait(ws, &[(*sub).data], &[], &[], &[], LONG), [true]);
        let got = Msg::new(Flavor::C, ty);
        let mut taken = false;
        let mut info: rmw_message_info_t = std::mem::zeroed();
        assert_eq!(
            rmw_take_with_info(sub, got.ptr.cast(), &mut taken, &mut info, null_mut()),
            RMW_RET_OK
        );
        assert!(taken);
        assert!(same_value(&got.read(), &case.value));
        assert_eq!(info.publication_sequence_number, 1);
        let mut pgid: rmw_gid_t = std::mem::zeroed();
        assert_eq!(rmw_get_gid_for_publisher(publ, &mut pgid), RMW_RET_OK);
        assert_eq!(info.publisher_gid.data, pgid.data);

        // ignore_local_publications: matched like any subscription, but the messages of its
        // own context are filtered.
        let quiet = rmw_create_subscription(node, ts, topic.as_ptr(), &qos(), &ignoring);
        assert!(!quiet.is_null(), "{:?}", last_error());
        let mut nq = 0usize;
        assert_eq!(
            rmw_subscription_count_matched_publishers(quiet, &mut nq),
            RMW_RET_OK
        );
        assert_eq!(nq, 1);
        assert_eq!(
            rmw_publisher_count_matched_subscriptions(publ, &mut np),
            RMW_RET_OK
        );
        assert_eq!(np, 2);
        assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
        assert_eq!(
            wait(ws, &[(*sub).data], &[], &[], &[], LONG),
            [true],
            "the other subscription still gets it"
        );
        assert_eq!(
            rmw_take_with_info(sub, got.ptr.cast(), &mut taken, &mut info, null_mut()),
            RMW_RET_OK
        );
        assert!(taken);
        assert_eq!(info.publication_sequence_number, 2);
        assert_eq!(
            wait(
                ws,
                &[(*quiet).data],
                &[],
                &[],
                &[],
                rmw_time_t {
                    sec: 0,
                    nsec: 200_000_000
                }
            ),
            [false],
            "the ignoring subscription is never ready"
        );
        assert_eq!(
            rmw_take(quiet, got.ptr.cast(), &mut taken, null_mut()),
            RMW_RET_OK
        );
        assert!(!taken);
        assert_eq!(rmw_destroy_subscription(node, quiet), RMW_RET_OK);

        // Destroying the subscription ends the match on the publisher's side.
        assert_eq!(rmw_destroy_subscription(node, sub), RMW_RET_OK);
        let pevents: [*mut c_void; 1] = [(&mut pev as *mut rmw_event_t).cast()];
        wait_until("the unmatch", || {
            wait(ws, &[], &[], &[], &pevents, ZERO) == [true]
        });
        let st = matched(&pev);
        assert_eq!((st.current_count, st.total_count), (0, 2));

        // A client calls a service of the same context.
        let sts = service_type_support();
        let srv = rmw_create_service(node, &sts, c"/local/echo".as_ptr(), &qos());
        let cli = rmw_create_client(node, &sts, c"/local/echo".as_ptr(), &qos());
        assert!(!srv.is_null() && !cli.is_null(), "{:?}", last_error());
        wait_until("the service", || {
            let mut up = false;
            assert_eq!(
                rmw_service_server_is_available(node, cli, &mut up),
                RMW_RET_OK
            );
            up
        });
        let mut seq = 0i64;
        assert_eq!(rmw_send_request(cli, out.ptr.cast(), &mut seq), RMW_RET_OK);
        assert_eq!(wait(ws, &[], &[(*srv).data], &[], &[], LONG), [true]);
        let mut sinfo: rmw_service_info_t = std::mem::zeroed();
        let req = Msg::new(Flavor::C, ty);
        assert_eq!(
            rmw_take_request(srv, &mut sinfo, req.ptr.cast(), &mut taken),
            RMW_RET_OK
        );
        assert!(taken);
        assert!(same_value(&req.read(), &case.value));
        assert_eq!(sinfo.request_id.sequence_number, seq);
        let mut id = sinfo.request_id;
        assert_eq!(rmw_send_response(srv, &mut id, req.ptr.cast()), RMW_RET_OK);
        assert_eq!(wait(ws, &[], &[], &[(*cli).data], &[], LONG), [true]);
        let back = Msg::new(Flavor::C, ty);
        assert_eq!(
            rmw_take_response(cli, &mut sinfo, back.ptr.cast(), &mut taken),
            RMW_RET_OK
        );
        assert!(taken);
        assert_eq!(sinfo.request_id.sequence_number, seq);
        assert!(same_value(&back.read(), &case.value));

        assert_eq!(rmw_destroy_client(node, cli), RMW_RET_OK);
        assert_eq!(rmw_destroy_service(node, srv), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(node, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
    drop(ctx);
}
