//! Endpoints of one context (one l2net participant) talk to each other, as with the DDS
//! middlewares: a publisher and a subscription exchange messages and report each other in
//! their matched events, `ignore_local_publications` filters them, and a client calls a
//! service of the same context. One context on `lo` in a network namespace of the test's own
//! (root needed; skipped otherwise unless L2NET_REQUIRE_PRIVILEGED=1).

#![cfg(target_os = "linux")]

mod support;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::time::Duration;

use l2net::node::{Node, NodeConfig};
use l2net_linux::link::{LinkConfig, LinuxLink};
use l2net_linux::netns::require_privileges;
use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::last_error;
use rmw_l2net_cpp::sys::exports::*;
use support::rmw::*;
use support::{Flavor, Msg, load_vectors, same_value};

#[test]
fn endpoints_of_one_context_talk() {
    if !require_privileges("endpoints_of_one_context_talk") {
        return;
    }
    let (_ns, ctx) = lo_context("rmwlocal", 31);
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
        let publ = rmw_create_publisher(node, ts, topic.as_ptr(), &default_qos(), &popts);
        assert!(!publ.is_null(), "{:?}", last_error());
        let sub = rmw_create_subscription(node, ts, topic.as_ptr(), &default_qos(), &sopts);
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
        let quiet = rmw_create_subscription(node, ts, topic.as_ptr(), &default_qos(), &ignoring);
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
        let sts = service_type_support("std_msgs/msg/String");
        let srv = rmw_create_service(node, &sts, c"/local/echo".as_ptr(), &default_qos());
        let cli = rmw_create_client(node, &sts, c"/local/echo".as_ptr(), &default_qos());
        assert!(!srv.is_null() && !cli.is_null(), "{:?}", last_error());
        wait_for_service(node, cli);
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

/// One wait set spans two contexts (two participants on the same `lo`): a sample for either
/// context's subscription, and a guard condition, each end the wait with the right entry
/// ready; a context shut down during a wait leaves the wait on the other one.
#[test]
fn one_wait_set_spans_two_contexts() {
    if !require_privileges("one_wait_set_spans_two_contexts") {
        return;
    }
    let ns = lo_netns("rmwlocal");
    let ca = Ctx::on_lo(&ns, 32);
    let cb = Ctx::on_lo(&ns, 32);
    let ty = "std_msgs/msg/String";
    let ts = support::type_support(Flavor::C, ty);
    let vectors = load_vectors();
    let strings = vectors.iter().find(|v| v.ty == ty).unwrap();
    let case = &strings.cases[0];
    // SAFETY: the rmw call sequence of rcl, on live objects; the threads only publish and
    // trigger on handles that outlive them.
    unsafe {
        let na = rmw_create_node(ca.0, c"a".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"b".as_ptr(), c"/".as_ptr());
        assert!(!na.is_null() && !nb.is_null(), "{:?}", last_error());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let q = default_qos();
        // x: from context b to context a; y: from a to b.
        let sub_a = rmw_create_subscription(na, ts, c"/x".as_ptr(), &q, &sopts);
        let sub_b = rmw_create_subscription(nb, ts, c"/y".as_ptr(), &q, &sopts);
        let pub_x = rmw_create_publisher(nb, ts, c"/x".as_ptr(), &q, &popts);
        let pub_y = rmw_create_publisher(na, ts, c"/y".as_ptr(), &q, &popts);
        assert!(
            ![
                sub_a.cast::<c_void>(),
                sub_b.cast(),
                pub_x.cast(),
                pub_y.cast()
            ]
            .iter()
            .any(|p| p.is_null()),
            "{:?}",
            last_error()
        );
        for p in [pub_x, pub_y] {
            wait_until("the match across contexts", || {
                let mut n = 0usize;
                assert_eq!(
                    rmw_publisher_count_matched_subscriptions(p, &mut n),
                    RMW_RET_OK
                );
                n == 1
            });
        }
        let g = rmw_create_guard_condition(ca.0);
        let ws = rmw_create_wait_set(ca.0, 0);
        let mut msg = Msg::new(Flavor::C, ty);
        msg.fill(&case.value);
        let (msg_addr, g_addr) = (msg.ptr as usize, g as usize);
        let subs = [(*sub_a).data, (*sub_b).data];
        let guards = [(*g).data];
        let all = Entries {
            subs: &subs,
            guards: &guards,
            ..Entries::default()
        };
        let later = |f: Box<dyn FnOnce() -> rmw_ret_t + Send>| {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                f()
            })
        };
        let got = Msg::new(Flavor::C, ty);
        let mut taken = false;
        for (publ, ready, sub) in [
            (pub_y as usize, [false, true, false], sub_b),
            (pub_x as usize, [true, false, false], sub_a),
        ] {
            let h = later(Box::new(move || {
                rmw_publish(
                    publ as *const rmw_publisher_t,
                    msg_addr as *const c_void,
                    null_mut(),
                )
            }));
            let (r, flags) = wait_on(ws, all, Some(LONG));
            assert_eq!(r, RMW_RET_OK, "{:?}", last_error());
            assert_eq!(flags, ready);
            assert_eq!(h.join().unwrap(), RMW_RET_OK);
            assert_eq!(
                rmw_take(sub, got.ptr.cast(), &mut taken, null_mut()),
                RMW_RET_OK
            );
            assert!(taken);
            assert!(same_value(&got.read(), &case.value));
        }
        // A guard condition of context a wakes a wait on context b's subscription alone.
        let h = later(Box::new(move || {
            rmw_trigger_guard_condition(g_addr as *const rmw_guard_condition_t)
        }));
        let (r, flags) = wait_on(
            ws,
            Entries {
                subs: &subs[1..],
                guards: &guards,
                ..Entries::default()
            },
            Some(LONG),
        );
        assert_eq!(r, RMW_RET_OK, "{:?}", last_error());
        assert_eq!(flags, [false, true]);
        assert_eq!(h.join().unwrap(), RMW_RET_OK);

        // Context b shuts down during the wait; the wait goes on and ends with the guard.
        let cb_addr = cb.0 as usize;
        let h = later(Box::new(move || {
            let r = rmw_shutdown(cb_addr as *mut rmw_context_t);
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(
                rmw_trigger_guard_condition(g_addr as *const rmw_guard_condition_t),
                RMW_RET_OK
            );
            r
        }));
        let (r, flags) = wait_on(ws, all, Some(LONG));
        assert_eq!(r, RMW_RET_OK, "{:?}", last_error());
        assert_eq!(flags, [false, false, true]);
        assert_eq!(h.join().unwrap(), RMW_RET_OK);

        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_guard_condition(g), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(nb, pub_x), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, pub_y), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(na, sub_a), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(nb, sub_b), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop((ca, cb));
}

/// Two threads hand a turn back and forth 500 times through two guard conditions of a live
/// context, each waiting in `rmw_wait` (on the context's node) for the other's trigger: a lost
/// wake-up would show as a timeout after 2 s (no timer of the idle node is due that soon).
#[test]
fn guard_conditions_wake_waits_on_a_live_context() {
    if !require_privileges("guard_conditions_wake_waits_on_a_live_context") {
        return;
    }
    let (_ns, ctx) = lo_context("rmwlocal", 34);
    let patience = Some(rmw_time_t { sec: 2, nsec: 0 });
    // SAFETY: the rmw call sequence on live objects; the other thread only waits on and
    // triggers handles that outlive it (joined before they are destroyed).
    unsafe {
        let (ga, gb) = (
            rmw_create_guard_condition(ctx.0),
            rmw_create_guard_condition(ctx.0),
        );
        let (wa, wb) = (rmw_create_wait_set(ctx.0, 0), rmw_create_wait_set(ctx.0, 0));
        let (ga_a, gb_a, wb_a) = (ga as usize, gb as usize, wb as usize);
        let other = std::thread::spawn(move || {
            let (ga, gb, wb) = (
                ga_a as *mut rmw_guard_condition_t,
                gb_a as *mut rmw_guard_condition_t,
                wb_a as *mut rmw_wait_set_t,
            );
            for i in 0..500 {
                let (r, ready) = wait_on(
                    wb,
                    Entries {
                        guards: &[(*ga).data],
                        ..Entries::default()
                    },
                    patience,
                );
                assert_eq!((r, ready[0]), (RMW_RET_OK, true), "B at turn {i}");
                assert_eq!(rmw_trigger_guard_condition(gb), RMW_RET_OK);
            }
        });
        for i in 0..500 {
            assert_eq!(rmw_trigger_guard_condition(ga), RMW_RET_OK);
            let (r, ready) = wait_on(
                wa,
                Entries {
                    guards: &[(*gb).data],
                    ..Entries::default()
                },
                patience,
            );
            assert_eq!((r, ready[0]), (RMW_RET_OK, true), "A at turn {i}");
        }
        other.join().unwrap();
        assert_eq!(rmw_destroy_wait_set(wa), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(wb), RMW_RET_OK);
        assert_eq!(rmw_destroy_guard_condition(ga), RMW_RET_OK);
        assert_eq!(rmw_destroy_guard_condition(gb), RMW_RET_OK);
    }
    drop(ctx);
}

/// A sample published to a subscription of the same context arrives without a frame: it wakes
/// a thread blocked in `rmw_wait` on that subscription all the same (the subscription's queue
/// asks the node for no `DataAvailable` events). Two threads play ping-pong on two topics of
/// one context; every wait must end ready, long before its patience runs out.
#[test]
fn local_samples_wake_blocked_waits() {
    if !require_privileges("local_samples_wake_blocked_waits") {
        return;
    }
    // On a veth end (unlike `lo`, the link's own frames never come back to it): nothing but
    // the local delivery itself can wake the waiting thread.
    let (_a, _b, veth, ctx, other_end) = veth_contexts(("rmwlocwk", "rmwlocwk"), 36);
    let ty = "std_msgs/msg/String";
    let ts = support::type_support(Flavor::C, ty) as usize;
    let vectors = load_vectors();
    let strings = vectors.iter().find(|v| v.ty == ty).unwrap();
    let value = strings.cases[0].value.clone();
    let patience = Some(rmw_time_t { sec: 5, nsec: 0 });
    // SAFETY: the rmw call sequence on live objects; the other thread only uses handles that
    // outlive it (joined before they are destroyed).
    unsafe {
        let node = rmw_create_node(ctx.0, c"both".as_ptr(), c"/".as_ptr());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let mut ends = Vec::new();
        for topic in [c"/local/ping", c"/local/pong"] {
            let tsp = ts as *const rosidl_message_type_support_t;
            let p = rmw_create_publisher(node, tsp, topic.as_ptr(), &default_qos(), &popts);
            let s = rmw_create_subscription(node, tsp, topic.as_ptr(), &default_qos(), &sopts);
            assert!(!p.is_null() && !s.is_null(), "{:?}", last_error());
            ends.push((p as usize, s as usize));
        }
        let (wa, wb) = (rmw_create_wait_set(ctx.0, 0), rmw_create_wait_set(ctx.0, 0));
        const TURNS: usize = 200;
        // One side: publish on `out` (first, if `serve` is false), wait for and take from `inp`.
        let play =
            move |out: usize, inp: usize, ws: usize, serve: bool, value: &serde_json::Value| {
                let (out, inp, ws) = (
                    out as *mut rmw_publisher_t,
                    inp as *mut rmw_subscription_t,
                    ws as *mut rmw_wait_set_t,
                );
                let mut msg = Msg::new(Flavor::C, ty);
                msg.fill(value);
                let got = Msg::new(Flavor::C, ty);
                for i in 0..TURNS {
                    if !serve {
                        assert_eq!(rmw_publish(out, msg.ptr.cast(), null_mut()), RMW_RET_OK);
                    }
                    let (r, ready) = wait_on(
                        ws,
                        Entries {
                            subs: &[(*inp).data],
                            ..Entries::default()
                        },
                        patience,
                    );
                    assert_eq!((r, ready[0]), (RMW_RET_OK, true), "serve {serve} turn {i}");
                    let mut taken = false;
                    assert_eq!(
                        rmw_take(inp, got.ptr.cast(), &mut taken, null_mut()),
                        RMW_RET_OK
                    );
                    assert!(taken, "serve {serve} turn {i}");
                    if serve {
                        assert_eq!(rmw_publish(out, msg.ptr.cast(), null_mut()), RMW_RET_OK);
                    }
                }
            };
        let ((ping_p, ping_s), (pong_p, pong_s)) = (ends[0], ends[1]);
        let (wb_a, v) = (wb as usize, value.clone());
        let other = std::thread::spawn(move || play(pong_p, ping_s, wb_a, true, &v));
        play(ping_p, pong_s, wa as usize, false, &value);
        other.join().unwrap();
        assert_eq!(rmw_destroy_wait_set(wa), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(wb), RMW_RET_OK);
        for (p, s) in ends {
            assert_eq!(
                rmw_destroy_subscription(node, s as *mut rmw_subscription_t),
                RMW_RET_OK
            );
            assert_eq!(
                rmw_destroy_publisher(node, p as *mut rmw_publisher_t),
                RMW_RET_OK
            );
        }
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
    drop(ctx);
    drop(other_end);
    drop(veth);
}

/// RMW_L2NET_BUSY_POLL=1: `rmw_wait` spins on the node instead of sleeping, and still delivers
/// what arrives over the link, times out, and ends on a guard condition.
#[test]
fn a_busy_polling_context_waits_receives_and_times_out() {
    if !require_privileges("a_busy_polling_context_waits_receives_and_times_out") {
        return;
    }
    let ns = lo_netns("rmwbusy");
    let busy = Ctx::init_with(&ns, "lo", 37, &[("RMW_L2NET_BUSY_POLL", "1")]);
    let plain = Ctx::on_lo(&ns, 37);
    let ty = "std_msgs/msg/String";
    let ts = support::type_support(Flavor::C, ty);
    let vectors = load_vectors();
    let strings = vectors.iter().find(|v| v.ty == ty).unwrap();
    let case = &strings.cases[0];
    let topic = c"/busy/chatter";
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let bnode = rmw_create_node(busy.0, c"spinner".as_ptr(), c"/".as_ptr());
        let pnode = rmw_create_node(plain.0, c"talker".as_ptr(), c"/".as_ptr());
        assert!(!bnode.is_null() && !pnode.is_null(), "{:?}", last_error());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let publ = rmw_create_publisher(pnode, ts, topic.as_ptr(), &default_qos(), &popts);
        let sub = rmw_create_subscription(bnode, ts, topic.as_ptr(), &default_qos(), &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        wait_until("the match", || {
            let mut n = 0usize;
            assert_eq!(
                rmw_subscription_count_matched_publishers(sub, &mut n),
                RMW_RET_OK
            );
            n == 1
        });
        let ws = rmw_create_wait_set(busy.0, 0);
        assert!(!ws.is_null(), "{:?}", last_error());
        let short = rmw_time_t {
            sec: 0,
            nsec: 30_000_000,
        };
        assert!(!wait_sub(ws, sub, Some(short)), "nothing sent yet");
        // A zero timeout looks once and times out (the spin reads the clock for its deadline
        // after its first look, then once per yield).
        let zero = rmw_time_t { sec: 0, nsec: 0 };
        assert!(!wait_sub(ws, sub, Some(zero)), "nothing sent yet");

        let mut out = Msg::new(Flavor::C, ty);
        out.fill(&case.value);
        let got = Msg::new(Flavor::C, ty);
        for _ in 0..3 {
            assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
            assert!(wait_sub(ws, sub, Some(LONG)));
            let mut taken = false;
            assert_eq!(
                rmw_take(sub, got.ptr.cast(), &mut taken, null_mut()),
                RMW_RET_OK
            );
            assert!(taken);
            assert!(same_value(&got.read(), &case.value));
        }

        // A spinning rmw_wait that looked and found nothing sees what arrives afterwards
        // (it looks again only when the node changed): a sample over the link, then one of a
        // publisher of its own context (delivered inside the node, no frame).
        let local = rmw_create_publisher(bnode, ts, topic.as_ptr(), &default_qos(), &popts);
        assert!(!local.is_null(), "{:?}", last_error());
        for publisher in [publ, local] {
            let waiter = spawn_wait(ws, &[(*sub).data], &[], Some(LONG));
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(
                rmw_publish(publisher, out.ptr.cast(), null_mut()),
                RMW_RET_OK
            );
            assert_eq!(waiter.join().unwrap(), (RMW_RET_OK, vec![true]));
            let mut taken = false;
            assert_eq!(
                rmw_take(sub, got.ptr.cast(), &mut taken, null_mut()),
                RMW_RET_OK
            );
            assert!(taken);
        }
        assert_eq!(rmw_destroy_publisher(bnode, local), RMW_RET_OK);

        // A thread spinning in rmw_wait without a timeout ends on a guard condition.
        let gc = rmw_create_guard_condition(busy.0);
        assert!(!gc.is_null(), "{:?}", last_error());
        // Destroyed after the join.
        let waiter = spawn_wait(ws, &[(*sub).data], &[(*gc).data], None);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(rmw_trigger_guard_condition(gc), RMW_RET_OK);
        assert_eq!(waiter.join().unwrap(), (RMW_RET_OK, vec![false, true]));

        assert_eq!(rmw_destroy_guard_condition(gc), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(bnode, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(pnode, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(bnode), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(pnode), RMW_RET_OK);
    }
}

/// With no thread in `rmw_wait` on a context and no listener, its background thread still
/// routes its events as they come: a participant that appears triggers the context's graph
/// guard condition, which wakes a thread waiting on *another* context (whose `rmw_wait` routes
/// only that context's events). The newcomer is a bare l2net node, not a context of this
/// process, so that nothing of the middleware wakes the background thread but the node's event.
#[test]
fn an_unwatched_context_routes_its_graph_changes() {
    if !require_privileges("an_unwatched_context_routes_its_graph_changes") {
        return;
    }
    let ns = lo_netns("rmwunwatched");
    let a = Ctx::on_lo(&ns, 38);
    let b = Ctx::on_lo(&ns, 39);
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(a.0, c"watched".as_ptr(), c"/".as_ptr());
        assert!(!na.is_null(), "{:?}", last_error());
        let graph = rmw_node_get_graph_guard_condition(na);
        assert!(!graph.is_null(), "{:?}", last_error());
        let ws = rmw_create_wait_set(b.0, 1);
        assert!(!ws.is_null(), "{:?}", last_error());
        // Take what the node's own creation triggered.
        std::thread::sleep(Duration::from_millis(200));
        let guards = [(*graph).data];
        let e = Entries {
            guards: &guards,
            ..Entries::default()
        };
        let _ = wait_on(ws, e, Some(ZERO));

        // Destroyed after the join.
        let waiter = spawn_wait(ws, &[], &[(*graph).data], Some(LONG));
        std::thread::sleep(Duration::from_millis(50));
        let link = ns
            .run(|| LinuxLink::open(&LinkConfig::new("lo")))
            .unwrap()
            .unwrap()
            .0;
        let newcomer = Node::new(link, NodeConfig::new(38, "newcomer")).unwrap();
        assert_eq!(
            waiter.join().unwrap(),
            (RMW_RET_OK, vec![true]),
            "the newcomer triggers the graph guard condition of context a"
        );

        newcomer.close();
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
    }
}
