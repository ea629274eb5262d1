//! The EventsExecutor's listener callbacks: `rmw_subscription_set_on_new_message_callback`,
//! `rmw_service_set_on_new_request_callback`, `rmw_client_set_on_new_response_callback` and
//! `rmw_event_set_callback`. A callback gets the number of items already waiting when it is
//! set, then one call per batch of new items (from the context's background thread), and
//! nothing once cleared with NULL. One context on `lo` in a namespace of the test's own (root
//! needed; skipped otherwise unless L2NET_REQUIRE_PRIVILEGED=1).

#![cfg(target_os = "linux")]

mod support;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use l2net_linux::netns::require_privileges;
use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::last_error;
use rmw_l2net_cpp::sys::exports::*;
use support::rmw::*;
use support::{Flavor, Msg, load_vectors};

/// What one callback saw: calls and the items they reported.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    items: AtomicUsize,
}

impl Seen {
    fn items(&self) -> usize {
        self.items.load(Ordering::SeqCst)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn user_data(&self) -> *const c_void {
        (self as *const Seen).cast()
    }
}

extern "C" fn record(user_data: *const c_void, n: usize) {
    // SAFETY: every registration passes a `Seen` that outlives it.
    let seen = unsafe { &*user_data.cast::<Seen>() };
    assert!(n > 0, "a callback never reports zero items");
    seen.calls.fetch_add(1, Ordering::SeqCst);
    seen.items.fetch_add(n, Ordering::SeqCst);
}

fn cb() -> *const c_void {
    record as extern "C" fn(*const c_void, usize) as *const c_void
}

#[test]
fn listeners_report_new_items() {
    if !require_privileges("listeners_report_new_items") {
        return;
    }
    let (_ns, ctx) = lo_context("rmwlisten", 33);
    let ty = "std_msgs/msg/String";
    let ts = support::type_support(Flavor::C, ty);
    let vectors = load_vectors();
    let strings = vectors.iter().find(|v| v.ty == ty).unwrap();
    let case = &strings.cases[0];
    let q = default_qos();
    // SAFETY: the rmw call sequence of rcl, on live objects; every `Seen` outlives its
    // registration (cleared or its endpoint destroyed before it drops).
    unsafe {
        let node = rmw_create_node(ctx.0, c"listener".as_ptr(), c"/".as_ptr());
        assert!(!node.is_null(), "{:?}", last_error());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let publ = rmw_create_publisher(node, ts, c"/l".as_ptr(), &q, &popts);
        let sub = rmw_create_subscription(node, ts, c"/l".as_ptr(), &q, &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        let mut msg = Msg::new(Flavor::C, ty);
        msg.fill(&case.value);
        let publish = |n: usize| {
            for _ in 0..n {
                assert_eq!(rmw_publish(publ, msg.ptr.cast(), null_mut()), RMW_RET_OK);
            }
        };
        let got = Msg::new(Flavor::C, ty);
        let take_all = || {
            let mut n = 0;
            loop {
                let mut taken = false;
                assert_eq!(
                    rmw_take(sub, got.ptr.cast(), &mut taken, null_mut()),
                    RMW_RET_OK
                );
                if !taken {
                    return n;
                }
                n += 1;
            }
        };

        // Two messages before the callback: reported at once, in one call.
        publish(2);
        let seen = Seen::default();
        assert_eq!(
            rmw_subscription_set_on_new_message_callback(sub, cb(), seen.user_data()),
            RMW_RET_OK
        );
        assert_eq!((seen.calls(), seen.items()), (1, 2));
        // Then every new message, from the background thread.
        publish(3);
        wait_until("three more messages reported", || seen.items() == 5);
        assert_eq!(take_all(), 5);
        publish(1);
        wait_until("one more", || seen.items() == 6);
        assert_eq!(take_all(), 1);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(seen.items(), 6, "taken messages are not reported again");

        // Cleared: nothing more; set again: what waits is reported at once.
        assert_eq!(
            rmw_subscription_set_on_new_message_callback(sub, std::ptr::null(), null_mut()),
            RMW_RET_OK
        );
        publish(2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(seen.items(), 6);
        let again = Seen::default();
        assert_eq!(
            rmw_subscription_set_on_new_message_callback(sub, cb(), again.user_data()),
            RMW_RET_OK
        );
        assert_eq!((again.calls(), again.items()), (1, 2));
        assert_eq!(take_all(), 2);
        assert_eq!(
            rmw_subscription_set_on_new_message_callback(sub, std::ptr::null(), null_mut()),
            RMW_RET_OK
        );

        // Matched event of the publisher: a new subscription matches, its destruction
        // unmatches; each change is reported.
        let mut pev: rmw_event_t = std::mem::zeroed();
        assert_eq!(
            rmw_publisher_event_init(&mut pev, publ, RMW_EVENT_PUBLICATION_MATCHED),
            RMW_RET_OK
        );
        let _ = matched(&pev);
        let ev_seen = Seen::default();
        assert_eq!(
            rmw_event_set_callback(&mut pev, cb(), ev_seen.user_data()),
            RMW_RET_OK
        );
        assert_eq!(ev_seen.items(), 0, "nothing changed since the last take");
        let sub2 = rmw_create_subscription(node, ts, c"/l".as_ptr(), &q, &sopts);
        assert!(!sub2.is_null(), "{:?}", last_error());
        wait_until("the match reported", || ev_seen.items() >= 1);
        assert_eq!(matched(&pev).current_count, 2);
        assert_eq!(rmw_destroy_subscription(node, sub2), RMW_RET_OK);
        wait_until("the unmatch reported", || ev_seen.items() >= 2);
        assert_eq!(matched(&pev).current_count, 1);
        assert_eq!(
            rmw_event_set_callback(&mut pev, std::ptr::null(), null_mut()),
            RMW_RET_OK
        );

        // A service's requests and a client's responses.
        let sts = service_type_support("std_msgs/msg/String");
        let srv = rmw_create_service(node, &sts, c"/l/echo".as_ptr(), &q);
        let cli = rmw_create_client(node, &sts, c"/l/echo".as_ptr(), &q);
        assert!(!srv.is_null() && !cli.is_null(), "{:?}", last_error());
        let (req_seen, resp_seen) = (Seen::default(), Seen::default());
        assert_eq!(
            rmw_service_set_on_new_request_callback(srv, cb(), req_seen.user_data()),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_client_set_on_new_response_callback(cli, cb(), resp_seen.user_data()),
            RMW_RET_OK
        );
        wait_for_service(node, cli);
        let mut seq = 0i64;
        assert_eq!(rmw_send_request(cli, msg.ptr.cast(), &mut seq), RMW_RET_OK);
        wait_until("the request reported", || req_seen.items() == 1);
        let mut sinfo: rmw_service_info_t = std::mem::zeroed();
        let mut taken = false;
        let req = Msg::new(Flavor::C, ty);
        assert_eq!(
            rmw_take_request(srv, &mut sinfo, req.ptr.cast(), &mut taken),
            RMW_RET_OK
        );
        assert!(taken);
        let mut id = sinfo.request_id;
        assert_eq!(rmw_send_response(srv, &mut id, req.ptr.cast()), RMW_RET_OK);
        wait_until("the response reported", || resp_seen.items() == 1);
        assert_eq!(resp_seen.calls(), 1);

        // Bad arguments.
        assert_eq!(
            rmw_subscription_set_on_new_message_callback(null_mut(), cb(), null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(
            rmw_event_set_callback(null_mut(), cb(), null_mut()),
            RMW_RET_INVALID_ARGUMENT
        );

        assert_eq!(rmw_destroy_client(node, cli), RMW_RET_OK);
        assert_eq!(rmw_destroy_service(node, srv), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(node, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(node, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
    drop(ctx);
}

/// Two clients of one service in one context: a response goes to the client that sent the
/// request only (its GID heads the response): the other's listener is not called, its
/// `rmw_wait` does not report it ready, and it takes nothing.
#[test]
fn a_response_counts_for_its_own_client_only() {
    if !require_privileges("a_response_counts_for_its_own_client_only") {
        return;
    }
    let (_ns, ctx) = lo_context("rmwclients", 34);
    let ty = "std_msgs/msg/String";
    let vectors = load_vectors();
    let strings = vectors.iter().find(|v| v.ty == ty).unwrap();
    let q = default_qos();
    // SAFETY: the rmw call sequence of rcl, on live objects; every `Seen` outlives its
    // registration (its endpoint is destroyed before it drops).
    unsafe {
        let node = rmw_create_node(ctx.0, c"clients".as_ptr(), c"/".as_ptr());
        assert!(!node.is_null(), "{:?}", last_error());
        let sts = service_type_support("std_msgs/msg/String");
        let srv = rmw_create_service(node, &sts, c"/two/echo".as_ptr(), &q);
        let asker = rmw_create_client(node, &sts, c"/two/echo".as_ptr(), &q);
        let other = rmw_create_client(node, &sts, c"/two/echo".as_ptr(), &q);
        assert!(
            !srv.is_null() && !asker.is_null() && !other.is_null(),
            "{:?}",
            last_error()
        );
        let (asker_seen, other_seen) = (Seen::default(), Seen::default());
        for (c, seen) in [(asker, &asker_seen), (other, &other_seen)] {
            assert_eq!(
                rmw_client_set_on_new_response_callback(c, cb(), seen.user_data()),
                RMW_RET_OK
            );
            wait_for_service(node, c);
        }
        let ws = rmw_create_wait_set(ctx.0, 0);
        assert!(!ws.is_null(), "{:?}", last_error());
        let mut msg = Msg::new(Flavor::C, ty);
        msg.fill(&strings.cases[0].value);
        let req = Msg::new(Flavor::C, ty);
        let got = Msg::new(Flavor::C, ty);
        for round in 1..=3 {
            let mut seq = 0i64;
            assert_eq!(
                rmw_send_request(asker, msg.ptr.cast(), &mut seq),
                RMW_RET_OK
            );
            assert_eq!(wait(ws, &[], &[(*srv).data], &[], &[], LONG), [true]);
            let mut sinfo: rmw_service_info_t = std::mem::zeroed();
            let mut taken = false;
            assert_eq!(
                rmw_take_request(srv, &mut sinfo, req.ptr.cast(), &mut taken),
                RMW_RET_OK
            );
            assert!(taken);
            let mut id = sinfo.request_id;
            assert_eq!(rmw_send_response(srv, &mut id, req.ptr.cast()), RMW_RET_OK);

            // The asker is told and ready, and takes it.
            wait_until("the response reported", || asker_seen.items() == round);
            assert_eq!(
                wait(ws, &[], &[], &[(*asker).data, (*other).data], &[], LONG),
                [true, false],
                "only the asker is ready"
            );
            let mut rinfo: rmw_service_info_t = std::mem::zeroed();
            assert_eq!(
                rmw_take_response(asker, &mut rinfo, got.ptr.cast(), &mut taken),
                RMW_RET_OK
            );
            assert!(taken);
            assert_eq!(rinfo.request_id.sequence_number, seq);
            // The other client: not ready, nothing to take, never told.
            assert_eq!(wait(ws, &[], &[], &[(*other).data], &[], ZERO), [false]);
            assert_eq!(
                rmw_take_response(other, &mut rinfo, got.ptr.cast(), &mut taken),
                RMW_RET_OK
            );
            assert!(!taken);
            assert_eq!(other_seen.items(), 0, "round {round}");
        }
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_client(node, other), RMW_RET_OK);
        assert_eq!(rmw_destroy_client(node, asker), RMW_RET_OK);
        assert_eq!(rmw_destroy_service(node, srv), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
    drop(ctx);
}

/// A missed deadline reaches an event callback with no thread in `rmw_wait` and no timer in
/// the middleware: the node's I/O thread runs the deadline timer, queues the event and wakes
/// the context's background thread, which routes it to the callback.
#[test]
fn a_missed_deadline_reaches_its_callback_without_rmw_wait() {
    if !require_privileges("a_missed_deadline_reaches_its_callback_without_rmw_wait") {
        return;
    }
    let (_ns, ctx) = lo_context("rmwdeadline", 35);
    let ts = support::type_support(Flavor::C, "std_msgs/msg/String");
    let mut q = default_qos();
    q.deadline = rmw_time_t {
        sec: 0,
        nsec: 50_000_000,
    };
    // SAFETY: the rmw call sequence of rcl, on live objects; `seen` outlives its registration
    // (cleared before it drops).
    unsafe {
        let node = rmw_create_node(ctx.0, c"late".as_ptr(), c"/".as_ptr());
        assert!(!node.is_null(), "{:?}", last_error());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let publ = rmw_create_publisher(node, ts, c"/late".as_ptr(), &q, &popts);
        let sub = rmw_create_subscription(node, ts, c"/late".as_ptr(), &q, &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        let mut ev: rmw_event_t = std::mem::zeroed();
        assert_eq!(
            rmw_subscription_event_init(&mut ev, sub, RMW_EVENT_REQUESTED_DEADLINE_MISSED),
            RMW_RET_OK
        );
        let seen = Seen::default();
        assert_eq!(
            rmw_event_set_callback(&mut ev, cb(), seen.user_data()),
            RMW_RET_OK
        );
        // Nothing is published: deadlines pass, each reported.
        wait_until("a missed deadline reported", || seen.items() >= 2);
        assert_eq!(
            rmw_event_set_callback(&mut ev, std::ptr::null(), null_mut()),
            RMW_RET_OK
        );
        assert_eq!(rmw_destroy_subscription(node, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(node, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
    drop(ctx);
}
