//! The engine-backed exports through their C ABI, as rcl calls them: init and shutdown of a
//! context, nodes, publishers and subscriptions, wait sets, take with info, serialized
//! publish / take, sequences. The network tests run two contexts in two network namespaces
//! joined by a veth pair (root needed; skipped otherwise unless L2NET_REQUIRE_PRIVILEGED=1).

#![cfg(target_os = "linux")]

mod support;

use std::ffi::{CStr, CString, c_void};
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use l2net_linux::netns::{Netns, VethPair, require_privileges, without_capabilities};
use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::last_error;
use rmw_l2net_cpp::sys::exports::*;
use support::rmw::*;
use support::{Flavor, Msg, Serialized, allocator, load_vectors, same_value};

fn error_contains(s: &str) -> bool {
    last_error().is_some_and(|e| e.contains(s))
}

#[test]
fn init_without_an_interface_is_a_clear_error() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    set_env("RMW_L2NET_INTERFACE", None);
    set_env("RMW_L2NET_CONFIG", None);
    let o = options(RMW_DEFAULT_DOMAIN_ID);
    let mut c = zero_context();
    // SAFETY: initialised options, zero-initialised context.
    assert_eq!(unsafe { rmw_init(&o, &mut *c) }, RMW_RET_ERROR);
    assert!(error_contains("RMW_L2NET_INTERFACE"), "{:?}", last_error());
    assert!(c.impl_.is_null() && c.implementation_identifier.is_null());

    set_env("RMW_L2NET_INTERFACE", Some("l2net-no-such-if0"));
    // SAFETY: as above.
    assert_eq!(unsafe { rmw_init(&o, &mut *c) }, RMW_RET_ERROR);
    assert!(error_contains("l2net-no-such-if0"), "{:?}", last_error());

    set_env("RMW_L2NET_INTERFACE", None);
    let path = std::env::temp_dir().join(format!("rmw_l2net_test_{}.conf", std::process::id()));
    std::fs::write(&path, "interfaces = eth0\n").unwrap();
    set_env("RMW_L2NET_CONFIG", path.to_str());
    // SAFETY: as above.
    assert_eq!(unsafe { rmw_init(&o, &mut *c) }, RMW_RET_ERROR);
    assert!(error_contains("unknown key"), "{:?}", last_error());
    std::fs::remove_file(&path).unwrap();
    set_env("RMW_L2NET_CONFIG", None);

    // Bad arguments.
    // SAFETY: null pointers are refused before use.
    unsafe {
        assert_eq!(
            rmw_init(std::ptr::null(), &mut *c),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(rmw_init(&o, null_mut()), RMW_RET_INVALID_ARGUMENT);
        assert_eq!(rmw_shutdown(null_mut()), RMW_RET_INVALID_ARGUMENT);
        assert_eq!(rmw_context_fini(&mut *c), RMW_RET_INVALID_ARGUMENT);
    }
    fini_options(o);
}

#[test]
fn init_without_raw_socket_rights_is_a_clear_error() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    set_env("RMW_L2NET_INTERFACE", Some("lo"));
    let (ret, msg) = without_capabilities(|| {
        let o = options(RMW_DEFAULT_DOMAIN_ID);
        let mut c = zero_context();
        // SAFETY: initialised options, zero-initialised context.
        let r = unsafe { rmw_init(&o, &mut *c) };
        fini_options(o);
        (r, last_error())
    })
    .unwrap();
    set_env("RMW_L2NET_INTERFACE", None);
    assert_eq!(ret, RMW_RET_ERROR);
    let msg = msg.unwrap();
    assert!(
        msg.contains("\"lo\"") && msg.contains("CAP_NET_RAW"),
        "{msg}"
    );
}

#[test]
fn wait_on_guard_conditions() {
    let mut c = bare_context();
    // SAFETY: the whole test follows the rmw call sequence on live objects.
    unsafe {
        let ws = rmw_create_wait_set(&mut *c, 0);
        assert!(!ws.is_null());
        let g1 = rmw_create_guard_condition(&mut *c);
        let g2 = rmw_create_guard_condition(&mut *c);
        let mut arr = [(*g1).data, (*g2).data];
        let wait = |arr: &mut [*mut c_void; 2], timeout: Option<rmw_time_t>| {
            let mut gcs = rmw_guard_conditions_t {
                guard_condition_count: 2,
                guard_conditions: arr.as_mut_ptr(),
            };
            let t = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            rmw_wait(
                null_mut(),
                &mut gcs,
                null_mut(),
                null_mut(),
                null_mut(),
                ws,
                t,
            )
        };
        let zero = rmw_time_t { sec: 0, nsec: 0 };
        assert_eq!(wait(&mut arr, Some(zero)), RMW_RET_TIMEOUT);
        assert!(
            arr.iter().all(|p| p.is_null()),
            "not ready entries are nulled"
        );

        arr = [(*g1).data, (*g2).data];
        let t0 = Instant::now();
        assert_eq!(
            wait(
                &mut arr,
                Some(rmw_time_t {
                    sec: 0,
                    nsec: 30_000_000
                })
            ),
            RMW_RET_TIMEOUT
        );
        assert!(t0.elapsed() >= Duration::from_millis(30));

        assert_eq!(rmw_trigger_guard_condition(g2), RMW_RET_OK);
        arr = [(*g1).data, (*g2).data];
        assert_eq!(wait(&mut arr, None), RMW_RET_OK);
        assert!(arr[0].is_null());
        assert_eq!(arr[1], (*g2).data);
        // The trigger was consumed.
        arr = [(*g1).data, (*g2).data];
        assert_eq!(wait(&mut arr, Some(zero)), RMW_RET_TIMEOUT);

        // A trigger from another thread ends a wait without timeout.
        let g1_addr = g1 as usize;
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            rmw_trigger_guard_condition(g1_addr as *const rmw_guard_condition_t)
        });
        arr = [(*g1).data, (*g2).data];
        assert_eq!(wait(&mut arr, None), RMW_RET_OK);
        assert_eq!(arr[0], (*g1).data);
        assert!(arr[1].is_null());
        assert_eq!(h.join().unwrap(), RMW_RET_OK);

        assert_eq!(
            rmw_wait(
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                std::ptr::null()
            ),
            RMW_RET_INVALID_ARGUMENT
        );
        assert_eq!(rmw_destroy_guard_condition(g1), RMW_RET_OK);
        assert_eq!(rmw_destroy_guard_condition(g2), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
    }
}

/// Frees a string array filled by the library (malloc-based allocator).
///
/// # Safety
/// Filled by a graph query.
unsafe fn take_strings(a: &mut rcutils_string_array_t) -> Vec<String> {
    // SAFETY: `data` holds `size` NUL-terminated strings from malloc.
    unsafe {
        let v = (0..a.size)
            .map(|i| {
                let p = *a.data.add(i);
                let s = CStr::from_ptr(p).to_string_lossy().into_owned();
                libc::free(p.cast());
                s
            })
            .collect();
        libc::free(a.data.cast());
        a.data = null_mut();
        a.size = 0;
        v
    }
}

/// Graph queries from both sides once the talker and listener know each other.
///
/// # Safety
/// Live nodes and publisher.
unsafe fn check_graph(
    na: *mut rmw_node_t,
    nb: *mut rmw_node_t,
    publ: *mut rmw_publisher_t,
    topic: &CStr,
) {
    // SAFETY: the rmw call sequence on live objects.
    unsafe {
        for node in [na, nb] {
            wait_until("both nodes in the graph", || {
                let mut names: rcutils_string_array_t = std::mem::zeroed();
                let mut nss: rcutils_string_array_t = std::mem::zeroed();
                let mut encl: rcutils_string_array_t = std::mem::zeroed();
                assert_eq!(
                    rmw_get_node_names_with_enclaves(node, &mut names, &mut nss, &mut encl),
                    RMW_RET_OK
                );
                let names = take_strings(&mut names);
                let nss = take_strings(&mut nss);
                assert_eq!(take_strings(&mut encl).len(), names.len());
                names.contains(&"talker".to_string())
                    && names.contains(&"listener".to_string())
                    && nss.contains(&"/ns".to_string())
            });
            // Descriptions arrive one change at a time: the endpoints may follow the nodes.
            wait_until("both endpoints in the graph", || {
                let (mut np, mut ns) = (0usize, 0usize);
                assert_eq!(
                    rmw_count_publishers(node, topic.as_ptr(), &mut np),
                    RMW_RET_OK
                );
                assert_eq!(
                    rmw_count_subscribers(node, topic.as_ptr(), &mut ns),
                    RMW_RET_OK
                );
                assert!(np <= 1 && ns <= 1);
                (np, ns) == (1, 1)
            });
        }
        let mut alloc = allocator();
        let mut nt: rmw_names_and_types_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_topic_names_and_types(nb, &mut alloc, false, &mut nt),
            RMW_RET_OK
        );
        let names = take_strings(&mut nt.names);
        let i = names
            .iter()
            .position(|n| n.as_str() == topic.to_str().unwrap())
            .expect("the topic is listed");
        assert_eq!(
            take_strings(&mut *nt.types.add(i)),
            ["test_msgs/msg/BasicTypes"]
        );
        for j in (0..names.len()).filter(|&j| j != i) {
            take_strings(&mut *nt.types.add(j));
        }
        libc::free(nt.types.cast());

        let mut nt: rmw_names_and_types_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_publisher_names_and_types_by_node(
                nb,
                &mut alloc,
                c"talker".as_ptr(),
                c"/".as_ptr(),
                false,
                &mut nt
            ),
            RMW_RET_OK
        );
        assert_eq!(take_strings(&mut nt.names), [topic.to_str().unwrap()]);
        take_strings(&mut *nt.types);
        libc::free(nt.types.cast());
        let mut nt: rmw_names_and_types_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_subscriber_names_and_types_by_node(
                na,
                &mut alloc,
                c"nobody".as_ptr(),
                c"/".as_ptr(),
                false,
                &mut nt
            ),
            RMW_RET_NODE_NAME_NON_EXISTENT
        );

        let mut infos: rmw_topic_endpoint_info_array_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_publishers_info_by_topic(nb, &mut alloc, topic.as_ptr(), false, &mut infos),
            RMW_RET_OK
        );
        assert_eq!(infos.size, 1);
        let info = &*infos.info_array;
        assert_eq!(CStr::from_ptr(info.node_name), c"talker");
        assert_eq!(CStr::from_ptr(info.topic_type), c"test_msgs/msg/BasicTypes");
        assert_eq!(info.endpoint_type, RMW_ENDPOINT_PUBLISHER);
        assert_eq!(
            info.qos_profile.reliability,
            RMW_QOS_POLICY_RELIABILITY_RELIABLE
        );
        let mut pgid: rmw_gid_t = std::mem::zeroed();
        assert_eq!(rmw_get_gid_for_publisher(publ, &mut pgid), RMW_RET_OK);
        assert_eq!(info.endpoint_gid, pgid.data);
        libc::free(info.node_name.cast_mut().cast());
        libc::free(info.node_namespace.cast_mut().cast());
        libc::free(info.topic_type.cast_mut().cast());
        libc::free(infos.info_array.cast());
        let mut infos: rmw_topic_endpoint_info_array_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_subscriptions_info_by_topic(na, &mut alloc, topic.as_ptr(), false, &mut infos),
            RMW_RET_OK
        );
        assert_eq!(infos.size, 1);
        let info = &*infos.info_array;
        assert_eq!(CStr::from_ptr(info.node_namespace), c"/ns");
        libc::free(info.node_name.cast_mut().cast());
        libc::free(info.node_namespace.cast_mut().cast());
        libc::free(info.topic_type.cast_mut().cast());
        libc::free(infos.info_array.cast());
    }
}

#[test]
fn publish_wait_take_across_namespaces() {
    if !require_privileges("publish_wait_take_across_namespaces") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmw", "rmw"), 17);
    // SAFETY: initialised contexts.
    unsafe {
        assert_eq!((*ca.0).actual_domain_id, 17);
    }
    let vectors = load_vectors();
    let basic = vectors
        .iter()
        .find(|v| v.ty == "test_msgs/msg/BasicTypes")
        .expect("BasicTypes vectors");
    let ty = "test_msgs/msg/BasicTypes";
    let ts = support::type_support(Flavor::C, ty);
    let topic = CString::new("/rmw_l2net/basic").unwrap();

    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"talker".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"listener".as_ptr(), c"/ns".as_ptr());
        assert!(!na.is_null() && !nb.is_null(), "{:?}", last_error());
        assert_eq!(CStr::from_ptr((*nb).namespace_), c"/ns");
        let graph = rmw_node_get_graph_guard_condition(nb);
        assert!(!graph.is_null());

        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let qos = default_qos();
        let publ = rmw_create_publisher(na, ts, topic.as_ptr(), &qos, &popts);
        assert!(!publ.is_null(), "{:?}", last_error());
        let sub = rmw_create_subscription(nb, ts, topic.as_ptr(), &qos, &sopts);
        assert!(!sub.is_null(), "{:?}", last_error());
        assert_eq!(CStr::from_ptr((*sub).topic_name), topic.as_c_str());

        // Bad QoS is refused with a reason.
        let mut bad = qos;
        bad.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_NODE;
        assert!(rmw_create_publisher(na, ts, topic.as_ptr(), &bad, &popts).is_null());
        assert!(error_contains("MANUAL_BY_NODE is deprecated"));

        let mut actual: rmw_qos_profile_t = std::mem::zeroed();
        assert_eq!(rmw_publisher_get_actual_qos(publ, &mut actual), RMW_RET_OK);
        assert_eq!(actual.reliability, RMW_QOS_POLICY_RELIABILITY_RELIABLE);
        assert_eq!(actual.depth, 10);
        assert_eq!(actual.liveliness, RMW_QOS_POLICY_LIVELINESS_AUTOMATIC);
        assert_eq!(
            rmw_subscription_get_actual_qos(sub, &mut actual),
            RMW_RET_OK
        );
        assert_eq!(actual.durability, RMW_QOS_POLICY_DURABILITY_VOLATILE);

        wait_matched(publ, sub);
        // Discovery triggered the graph guard condition.
        assert!(
            rmw_l2net_cpp::sys::exports::guard_condition_state(graph)
                .unwrap()
                .is_triggered()
        );

        check_graph(na, nb, publ, &topic);

        // Matched events: ready once after the match, then quiet.
        let mut pev: rmw_event_t = std::mem::zeroed();
        let mut sev: rmw_event_t = std::mem::zeroed();
        let mut other: rmw_event_t = std::mem::zeroed();
        assert_eq!(
            rmw_publisher_event_init(&mut pev, publ, RMW_EVENT_PUBLICATION_MATCHED),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_subscription_event_init(&mut sev, sub, RMW_EVENT_SUBSCRIPTION_MATCHED),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_publisher_event_init(&mut other, publ, RMW_EVENT_MESSAGE_LOST),
            RMW_RET_UNSUPPORTED,
            "a subscription event on a publisher"
        );
        assert_eq!(
            rmw_subscription_event_init(&mut other, sub, RMW_EVENT_INVALID),
            RMW_RET_UNSUPPORTED
        );
        let ws_ev = rmw_create_wait_set(ca.0, 0);
        assert_eq!(
            wait_events(
                ws_ev,
                &mut [&mut pev, &mut sev],
                Some(rmw_time_t { sec: 0, nsec: 0 })
            ),
            [true, true]
        );
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
        assert_eq!(
            wait_events(
                ws_ev,
                &mut [&mut pev, &mut sev],
                Some(rmw_time_t { sec: 0, nsec: 0 })
            ),
            [false, false]
        );

        let ws = rmw_create_wait_set(cb.0, 0);
        assert!(!ws.is_null());
        let zero = rmw_time_t { sec: 0, nsec: 0 };
        assert!(!wait_sub(ws, sub, Some(zero)), "nothing published yet");

        // Typed publish, wait, take with info.
        let case = &basic.cases[basic.cases.len() - 1];
        let mut out = Msg::new(Flavor::C, ty);
        out.fill(&case.value);
        let before_ns = wall_ns();
        assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
        assert!(wait_sub(ws, sub, Some(rmw_time_t { sec: 10, nsec: 0 })));
        let got = Msg::new(Flavor::C, ty);
        let mut taken = false;
        let mut info: rmw_message_info_t = std::mem::zeroed();
        assert_eq!(
            rmw_take_with_info(sub, got.ptr.cast(), &mut taken, &mut info, null_mut()),
            RMW_RET_OK
        );
        assert!(taken);
        assert!(same_value(&got.read(), &case.value), "{}", case.name);
        assert_eq!(info.publication_sequence_number, 1);
        assert_eq!(info.reception_sequence_number, 1);
        // System time of the reception: after the publish, not after the take (1 ms of slack
        // for the offset between the monotonic and the wall clock the rmw measured).
        let after_ns = wall_ns();
        assert!(
            info.received_timestamp >= before_ns - 1_000_000
                && info.received_timestamp <= after_ns + 1_000_000,
            "received at {} ns, published at {before_ns}, taken by {after_ns}",
            info.received_timestamp
        );
        let mut pgid: rmw_gid_t = std::mem::zeroed();
        assert_eq!(rmw_get_gid_for_publisher(publ, &mut pgid), RMW_RET_OK);
        assert_eq!(
            info.publisher_gid.data, pgid.data,
            "the message names the publisher by its own GID"
        );
        let mut same = false;
        assert_eq!(
            rmw_compare_gids_equal(&info.publisher_gid, &pgid, &mut same),
            RMW_RET_OK
        );
        assert!(same);
        assert!(!wait_sub(ws, sub, Some(zero)), "taken");
        assert_eq!(
            rmw_take(sub, got.ptr.cast(), &mut taken, null_mut()),
            RMW_RET_OK
        );
        assert!(!taken);

        // Serialized publish and take: the reference bytes go through unchanged.
        let ser = Serialized::from_bytes(&case.cdr);
        assert_eq!(
            rmw_publish_serialized_message(publ, &ser.0, null_mut()),
            RMW_RET_OK
        );
        assert!(wait_sub(ws, sub, None));
        let mut back = Serialized::empty();
        assert_eq!(
            rmw_take_serialized_message_with_info(
                sub,
                &mut back.0,
                &mut taken,
                &mut info,
                null_mut()
            ),
            RMW_RET_OK
        );
        assert!(taken);
        assert_eq!(back.bytes(), &case.cdr[..]);
        assert_eq!(info.publication_sequence_number, 2);

        // A typed publish taken as bytes equals the reference serialization.
        assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
        assert!(wait_sub(ws, sub, None));
        assert_eq!(
            rmw_take_serialized_message(sub, &mut back.0, &mut taken, null_mut()),
            RMW_RET_OK
        );
        assert!(taken);
        assert_eq!(back.bytes(), &case.cdr[..]);

        // Sequences: every case, in order.
        let n = basic.cases.len();
        let msgs: Vec<Msg> = (0..n).map(|_| Msg::new(Flavor::C, ty)).collect();
        for c in &basic.cases {
            let mut m = Msg::new(Flavor::C, ty);
            m.fill(&c.value);
            assert_eq!(rmw_publish(publ, m.ptr.cast(), null_mut()), RMW_RET_OK);
        }
        assert_eq!(
            rmw_publisher_wait_for_all_acked(publ, rmw_time_t { sec: 10, nsec: 0 }),
            RMW_RET_OK
        );
        let mut got_n = 0;
        let mut infos: Vec<rmw_message_info_t> = vec![std::mem::zeroed(); n];
        while got_n < n {
            assert!(wait_sub(ws, sub, Some(rmw_time_t { sec: 10, nsec: 0 })));
            let mut ptrs: Vec<*mut c_void> = msgs[got_n..].iter().map(|m| m.ptr.cast()).collect();
            let mut seq = rmw_message_sequence_t {
                data: ptrs.as_mut_ptr(),
                size: 0,
                capacity: ptrs.len(),
                allocator: null_mut(),
            };
            let mut iseq = rmw_message_info_sequence_t {
                data: infos[got_n..].as_mut_ptr(),
                size: 0,
                capacity: n - got_n,
                allocator: null_mut(),
            };
            let mut k = 0usize;
            assert_eq!(
                rmw_take_sequence(sub, n - got_n, &mut seq, &mut iseq, &mut k, null_mut()),
                RMW_RET_OK,
                "{:?}",
                last_error()
            );
            assert_eq!((seq.size, iseq.size), (k, k));
            got_n += k;
        }
        for (i, c) in basic.cases.iter().enumerate() {
            assert!(same_value(&msgs[i].read(), &c.value), "{}", c.name);
            assert_eq!(infos[i].publication_sequence_number, 4 + i as u64);
        }

        // Loans are refused.
        let mut loan = null_mut();
        assert_eq!(
            rmw_borrow_loaned_message(publ, ts, &mut loan),
            RMW_RET_UNSUPPORTED
        );
        assert_eq!(rmw_publisher_assert_liveliness(publ), RMW_RET_OK);

        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
        // The publisher's matched event reports the subscription leaving.
        assert_eq!(
            wait_events(
                ws_ev,
                &mut [&mut pev],
                Some(rmw_time_t { sec: 10, nsec: 0 })
            ),
            [true]
        );
        let mut st: rmw_matched_status_t = std::mem::zeroed();
        let mut taken = false;
        assert_eq!(
            rmw_take_event(
                &pev,
                (&mut st as *mut rmw_matched_status_t).cast(),
                &mut taken
            ),
            RMW_RET_OK
        );
        assert_eq!((st.current_count, st.current_count_change), (0, -1));
        assert_eq!(st.total_count, 1);
        assert_eq!(rmw_destroy_wait_set(ws_ev), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

#[test]
fn cpp_publisher_reaches_c_subscription() {
    if !require_privileges("cpp_publisher_reaches_c_subscription") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmwcpp", "rmwc"), 20);
    let ty = "test_msgs/msg/BasicTypes";
    let vectors = load_vectors();
    let basic = vectors.iter().find(|v| v.ty == ty).unwrap();
    let case = &basic.cases[basic.cases.len() - 1];
    let qos = default_qos();
    let topic = c"/cross";
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"cpp".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"c".as_ptr(), c"/".as_ptr());
        let (publ, sub) = matched_pair(
            (na, support::type_support(Flavor::Cpp, ty)),
            (nb, support::type_support(Flavor::C, ty)),
            topic,
            &qos,
        );
        let mut out = Msg::new(Flavor::Cpp, ty);
        out.fill(&case.value);
        assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
        let ws = rmw_create_wait_set(cb.0, 0);
        assert!(wait_sub(ws, sub, Some(rmw_time_t { sec: 10, nsec: 0 })));
        let got = Msg::new(Flavor::C, ty);
        let mut taken = false;
        assert_eq!(
            rmw_take(sub, got.ptr.cast(), &mut taken, null_mut()),
            RMW_RET_OK
        );
        assert!(taken);
        assert!(same_value(&got.read(), &case.value));
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

/// Large messages are serialized straight into the publisher's history (from the second one
/// of a publisher on: the size of its last message picks the way): every case of types with
/// long sequences, strings and nested arrays, C and C++ type supports, published twice each,
/// arrives with exactly the reference bytes.
#[test]
fn large_messages_serialize_in_place() {
    if !require_privileges("large_messages_serialize_in_place") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmwbig", "rmwbig"), 37);
    let vectors = load_vectors();
    let qos = default_qos();
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"big".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"sink".as_ptr(), c"/".as_ptr());
        let ws = rmw_create_wait_set(cb.0, 0);
        let mut large = 0;
        for (i, ty) in [
            "test_msgs/msg/MultiNested",
            "test_msgs/msg/UnboundedSequences",
            "test_msgs/msg/Arrays",
        ]
        .into_iter()
        .enumerate()
        {
            let v = vectors.iter().find(|v| v.ty == ty).unwrap();
            for flavor in [Flavor::C, Flavor::Cpp] {
                let topic = CString::new(format!("/big{i}{flavor:?}")).unwrap();
                let (publ, sub) = matched_pair(
                    (na, support::type_support(flavor, ty)),
                    (nb, support::type_support(Flavor::C, ty)),
                    &topic,
                    &qos,
                );
                for case in v.cases.iter().chain(&v.cases) {
                    large += usize::from(case.cdr.len() >= 1024);
                    let mut out = Msg::new(flavor, ty);
                    out.fill(&case.value);
                    assert_eq!(rmw_publish(publ, out.ptr.cast(), null_mut()), RMW_RET_OK);
                    assert!(wait_sub(ws, sub, Some(rmw_time_t { sec: 10, nsec: 0 })));
                    let mut back = Serialized::empty();
                    let mut taken = false;
                    assert_eq!(
                        rmw_take_serialized_message(sub, &mut back.0, &mut taken, null_mut()),
                        RMW_RET_OK
                    );
                    assert!(taken);
                    assert_eq!(back.bytes(), &case.cdr[..], "{ty} {}", case.name);
                }
                assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
                assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
            }
        }
        assert!(large >= 8, "the vectors hold large messages ({large})");
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

static HASH_A: rosidl_type_hash_t = rosidl_type_hash_t {
    version: 1,
    value: [0xaa; 32],
};
static HASH_B: rosidl_type_hash_t = rosidl_type_hash_t {
    version: 1,
    value: [0xbb; 32],
};
unsafe extern "C" fn hash_a(_: *const rosidl_message_type_support_t) -> *const rosidl_type_hash_t {
    &HASH_A
}
unsafe extern "C" fn hash_b(_: *const rosidl_message_type_support_t) -> *const rosidl_type_hash_t {
    &HASH_B
}

/// The fixture's String type support with a type hash getter.
fn with_hash(
    f: unsafe extern "C" fn(*const rosidl_message_type_support_t) -> *const rosidl_type_hash_t,
) -> rosidl_message_type_support_t {
    let base = support::type_support(Flavor::C, "std_msgs/msg/String");
    // SAFETY: a valid fixture handle.
    let b = unsafe { &*base };
    rosidl_message_type_support_t {
        typesupport_identifier: b.typesupport_identifier,
        data: b.data,
        func: b.func,
        get_type_hash_func: Some(f),
        get_type_description_func: std::ptr::null(),
        get_type_description_sources_func: std::ptr::null(),
    }
}

#[test]
fn type_hashes_decide_matching_and_reach_the_graph() {
    if !require_privileges("type_hashes_decide_matching_and_reach_the_graph") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmwha", "rmwhb"), 19);
    let (ts_a, ts_b) = (with_hash(hash_a), with_hash(hash_b));
    let qos = default_qos();
    let topic = c"/hashed";
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"talker".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"listener".as_ptr(), c"/".as_ptr());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let wrong = rmw_create_subscription(nb, &ts_b, topic.as_ptr(), &qos, &sopts);
        let right = rmw_create_subscription(nb, &ts_a, topic.as_ptr(), &qos, &sopts);
        let publ = rmw_create_publisher(na, &ts_a, topic.as_ptr(), &qos, &popts);
        assert!(!wrong.is_null() && !right.is_null() && !publ.is_null());
        wait_until("the matching hash to match", || {
            let mut n = 0usize;
            assert_eq!(
                rmw_subscription_count_matched_publishers(right, &mut n),
                RMW_RET_OK
            );
            n == 1
        });
        let (mut nw, mut np) = (0usize, 0usize);
        assert_eq!(
            rmw_subscription_count_matched_publishers(wrong, &mut nw),
            RMW_RET_OK
        );
        assert_eq!(
            rmw_publisher_count_matched_subscriptions(publ, &mut np),
            RMW_RET_OK
        );
        assert_eq!((nw, np), (0, 1), "a different type hash does not match");

        // The mismatch is an incompatible type on both sides, once; the matching pair has none.
        let mut wrong_ev = event_of(Err(wrong), RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE);
        let right_ev = event_of(Err(right), RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE);
        let mut publ_ev = event_of(Ok(publ), RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE);
        let long = Some(rmw_time_t { sec: 10, nsec: 0 });
        let zero = Some(rmw_time_t { sec: 0, nsec: 0 });
        let (ws_a, ws_b) = (rmw_create_wait_set(ca.0, 0), rmw_create_wait_set(cb.0, 0));
        assert_eq!(wait_events(ws_b, &mut [&mut wrong_ev], long), [true]);
        assert_eq!(wait_events(ws_a, &mut [&mut publ_ev], long), [true]);
        for ev in [&wrong_ev, &publ_ev] {
            let st: rmw_incompatible_type_status_t = take_status(ev);
            assert_eq!((st.total_count, st.total_count_change), (1, 1));
            let st: rmw_incompatible_type_status_t = take_status(ev);
            assert_eq!((st.total_count, st.total_count_change), (1, 0));
        }
        assert_eq!(wait_events(ws_b, &mut [&mut wrong_ev], zero), [false]);
        let st: rmw_incompatible_type_status_t = take_status(&right_ev);
        assert_eq!((st.total_count, st.total_count_change), (0, 0));
        // A second local subscription of the other type in the publisher's context counts
        // at once, on both.
        let local_wrong = rmw_create_subscription(na, &ts_b, topic.as_ptr(), &qos, &sopts);
        assert!(!local_wrong.is_null(), "{:?}", last_error());
        let local_ev = event_of(Err(local_wrong), RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE);
        let st: rmw_incompatible_type_status_t = take_status(&local_ev);
        assert_eq!((st.total_count, st.total_count_change), (1, 1));
        let st: rmw_incompatible_type_status_t = take_status(&publ_ev);
        assert_eq!((st.total_count, st.total_count_change), (2, 1));
        assert_eq!(rmw_destroy_subscription(na, local_wrong), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws_a), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws_b), RMW_RET_OK);

        let mut alloc = allocator();
        wait_until("the publisher in the graph", || {
            let mut n = 0usize;
            assert_eq!(rmw_count_publishers(nb, topic.as_ptr(), &mut n), RMW_RET_OK);
            n == 1
        });
        let mut infos: rmw_topic_endpoint_info_array_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_publishers_info_by_topic(nb, &mut alloc, topic.as_ptr(), false, &mut infos),
            RMW_RET_OK
        );
        assert_eq!(infos.size, 1);
        let info = &*infos.info_array;
        assert_eq!(info.topic_type_hash.version, 1);
        assert_eq!(info.topic_type_hash.value, [0xaa; 32]);
        libc::free(info.node_name.cast_mut().cast());
        libc::free(info.node_namespace.cast_mut().cast());
        libc::free(info.topic_type.cast_mut().cast());
        libc::free(infos.info_array.cast());

        assert_eq!(rmw_destroy_subscription(nb, wrong), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(nb, right), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

#[test]
fn service_call_across_namespaces() {
    if !require_privileges("service_call_across_namespaces") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmwsrv", "rmwcli"), 18);
    let ts = service_type_support("test_msgs/msg/BasicTypes");
    let vectors = load_vectors();
    let basic = vectors
        .iter()
        .find(|v| v.ty == "test_msgs/msg/BasicTypes")
        .unwrap();
    let strings = vectors
        .iter()
        .find(|v| v.ty == "std_msgs/msg/String")
        .unwrap();
    let qos = default_qos();
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"server".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"client".as_ptr(), c"/".as_ptr());
        let srv = rmw_create_service(na, &ts, c"/add".as_ptr(), &qos);
        assert!(!srv.is_null(), "{:?}", last_error());
        let cli = rmw_create_client(nb, &ts, c"/add".as_ptr(), &qos);
        let other = rmw_create_client(nb, &ts, c"/add".as_ptr(), &qos);
        assert!(!cli.is_null() && !other.is_null(), "{:?}", last_error());
        assert_eq!(CStr::from_ptr((*srv).service_name), c"/add");
        let mut actual: rmw_qos_profile_t = std::mem::zeroed();
        assert_eq!(
            rmw_client_request_publisher_get_actual_qos(cli, &mut actual),
            RMW_RET_OK
        );
        assert_eq!(actual.reliability, RMW_QOS_POLICY_RELIABILITY_RELIABLE);
        wait_until("the server", || {
            let mut up = false;
            assert_eq!(
                rmw_service_server_is_available(nb, cli, &mut up),
                RMW_RET_OK
            );
            let mut up2 = false;
            assert_eq!(
                rmw_service_server_is_available(nb, other, &mut up2),
                RMW_RET_OK
            );
            up && up2
        });

        wait_until("the service in the graph", || {
            let (mut s, mut c) = (0usize, 0usize);
            assert_eq!(rmw_count_services(nb, c"/add".as_ptr(), &mut s), RMW_RET_OK);
            assert_eq!(rmw_count_clients(na, c"/add".as_ptr(), &mut c), RMW_RET_OK);
            s == 1 && c == 2
        });
        let mut alloc = allocator();
        let mut nt: rmw_names_and_types_t = std::mem::zeroed();
        assert_eq!(
            rmw_get_service_names_and_types(nb, &mut alloc, &mut nt),
            RMW_RET_OK
        );
        let names = take_strings(&mut nt.names);
        assert!(names.contains(&"/add".to_string()), "{names:?}");
        for j in 0..names.len() {
            take_strings(&mut *nt.types.add(j));
        }
        libc::free(nt.types.cast());

        let ws_a = rmw_create_wait_set(ca.0, 0);
        let ws_b = rmw_create_wait_set(cb.0, 0);
        let zero = rmw_time_t { sec: 0, nsec: 0 };
        let ten = rmw_time_t { sec: 10, nsec: 0 };
        let (s, _) = wait_services(ws_a, &[(*srv).data], &[], Some(zero));
        assert_eq!(s, [false]);

        let mut request = Msg::new(Flavor::C, "std_msgs/msg/String");
        let rcase = &strings.cases[strings.cases.len() - 1];
        request.fill(&rcase.value);
        let mut seq = 0i64;
        assert_eq!(
            rmw_send_request(cli, request.ptr.cast(), &mut seq),
            RMW_RET_OK
        );
        assert_eq!(seq, 1);

        let (s, _) = wait_services(ws_a, &[(*srv).data], &[], Some(ten));
        assert_eq!(s, [true]);
        let got = Msg::new(Flavor::C, "std_msgs/msg/String");
        let mut info: rmw_service_info_t = std::mem::zeroed();
        let mut taken = false;
        assert_eq!(
            rmw_take_request(srv, &mut info, got.ptr.cast(), &mut taken),
            RMW_RET_OK
        );
        assert!(taken);
        assert!(same_value(&got.read(), &rcase.value));
        assert_eq!(info.request_id.sequence_number, 1);
        let mut cgid: rmw_gid_t = std::mem::zeroed();
        assert_eq!(rmw_get_gid_for_client(cli, &mut cgid), RMW_RET_OK);
        assert!(
            info.request_id
                .writer_guid
                .iter()
                .zip(cgid.data)
                .all(|(a, b)| *a as u8 == b)
        );

        let mut response = Msg::new(Flavor::C, "test_msgs/msg/BasicTypes");
        let case = &basic.cases[basic.cases.len() - 1];
        response.fill(&case.value);
        let mut id = info.request_id;
        assert_eq!(
            rmw_send_response(srv, &mut id, response.ptr.cast()),
            RMW_RET_OK
        );
        let (_, c) = wait_services(ws_b, &[], &[(*cli).data, (*other).data], Some(ten));
        assert_eq!(c, [true, false], "only the caller sees the reply");
        let back = Msg::new(Flavor::C, "test_msgs/msg/BasicTypes");
        assert_eq!(
            rmw_take_response(cli, &mut info, back.ptr.cast(), &mut taken),
            RMW_RET_OK
        );
        assert!(taken);
        assert_eq!(info.request_id.sequence_number, 1);
        assert!(same_value(&back.read(), &case.value));
        // The other client never gets it.
        let (_, c) = wait_services(
            ws_b,
            &[],
            &[(*other).data],
            Some(rmw_time_t {
                sec: 0,
                nsec: 50_000_000,
            }),
        );
        assert_eq!(c, [false]);

        assert_eq!(rmw_destroy_wait_set(ws_a), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws_b), RMW_RET_OK);
        assert_eq!(rmw_destroy_client(nb, cli), RMW_RET_OK);
        assert_eq!(rmw_destroy_client(nb, other), RMW_RET_OK);
        assert_eq!(rmw_destroy_service(na, srv), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

/// Takes an event's status, which must be taken.
///
/// # Safety
/// A live event of ours whose status type is `S`.
unsafe fn take_status<S>(ev: &rmw_event_t) -> S {
    // SAFETY: all-zero is a valid status (plain integers); the caller guarantees `S` is the
    // event's status type.
    unsafe {
        let mut st: S = std::mem::zeroed();
        let mut taken = false;
        assert_eq!(
            rmw_take_event(ev, (&mut st as *mut S).cast(), &mut taken),
            RMW_RET_OK,
            "{:?}",
            last_error()
        );
        assert!(taken, "a status is always taken");
        st
    }
}

/// An initialised event of a publisher or subscription.
///
/// # Safety
/// A live publisher (`Ok`) or subscription (`Err`).
unsafe fn event_of(
    endpoint: Result<*mut rmw_publisher_t, *mut rmw_subscription_t>,
    ty: rmw_event_type_t,
) -> rmw_event_t {
    // SAFETY: forwarded from the caller; all-zero is the zero-initialised event.
    unsafe {
        let mut ev: rmw_event_t = std::mem::zeroed();
        let r = match endpoint {
            Ok(p) => rmw_publisher_event_init(&mut ev, p, ty),
            Err(s) => rmw_subscription_event_init(&mut ev, s, ty),
        };
        assert_eq!(r, RMW_RET_OK, "event type {ty}: {:?}", last_error());
        ev
    }
}

#[test]
fn qos_events_across_namespaces() {
    if !require_privileges("qos_events_across_namespaces") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmwea", "rmweb"), 23);
    let ts = support::type_support(Flavor::C, "std_msgs/msg/String");
    let zero = Some(rmw_time_t { sec: 0, nsec: 0 });
    let long = Some(rmw_time_t { sec: 10, nsec: 0 });
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"talker".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"listener".as_ptr(), c"/".as_ptr());
        assert!(!na.is_null() && !nb.is_null(), "{:?}", last_error());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let (ws_a, ws_b) = (rmw_create_wait_set(ca.0, 0), rmw_create_wait_set(cb.0, 0));

        // Incompatible QoS: a best-effort publisher and a reliable subscription. Both sides
        // report it once, with the reliability policy; nothing matches.
        let topic = c"/events/incompatible";
        let mut be = default_qos();
        be.reliability = RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT;
        let publ = rmw_create_publisher(na, ts, topic.as_ptr(), &be, &popts);
        assert!(!publ.is_null(), "{:?}", last_error());
        let mut pev = event_of(Ok(publ), RMW_EVENT_OFFERED_QOS_INCOMPATIBLE);
        let mut pmatched = event_of(Ok(publ), RMW_EVENT_PUBLICATION_MATCHED);
        let sub = rmw_create_subscription(nb, ts, topic.as_ptr(), &default_qos(), &sopts);
        assert!(!sub.is_null(), "{:?}", last_error());
        let mut sev = event_of(Err(sub), RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE);
        assert_eq!(wait_events(ws_a, &mut [&mut pev], long), [true]);
        assert_eq!(wait_events(ws_b, &mut [&mut sev], long), [true]);
        for ev in [&pev, &sev] {
            let st: rmw_qos_incompatible_event_status_t = take_status(ev);
            assert_eq!(
                st,
                rmw_qos_incompatible_event_status_t {
                    total_count: 1,
                    total_count_change: 1,
                    last_policy_kind: RMW_QOS_POLICY_RELIABILITY
                }
            );
        }
        // Taken: quiet in the wait set, and the change is reset.
        assert_eq!(
            wait_events(ws_a, &mut [&mut pev, &mut pmatched], zero),
            [false, false]
        );
        assert_eq!(wait_events(ws_b, &mut [&mut sev], zero), [false]);
        for ev in [&pev, &sev] {
            let st: rmw_qos_incompatible_event_status_t = take_status(ev);
            assert_eq!((st.total_count, st.total_count_change), (1, 0));
            assert_eq!(st.last_policy_kind, RMW_QOS_POLICY_RELIABILITY);
        }
        let m: rmw_matched_status_t = take_status(&pmatched);
        assert_eq!((m.total_count, m.current_count), (0, 0), "nothing matched");
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);

        // Deadlines: the publisher promises a sample every 50 ms, the subscription asks for
        // one every 100 ms (compatible). Publishing nothing misses both, again and again.
        let topic = c"/events/deadline";
        let (mut pq, mut sq) = (default_qos(), default_qos());
        pq.deadline = rmw_time_t {
            sec: 0,
            nsec: 50_000_000,
        };
        sq.deadline = rmw_time_t {
            sec: 0,
            nsec: 100_000_000,
        };
        let publ = rmw_create_publisher(na, ts, topic.as_ptr(), &pq, &popts);
        let sub = rmw_create_subscription(nb, ts, topic.as_ptr(), &sq, &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        let mut actual: rmw_qos_profile_t = std::mem::zeroed();
        assert_eq!(rmw_publisher_get_actual_qos(publ, &mut actual), RMW_RET_OK);
        assert_eq!(actual.deadline, pq.deadline);
        let mut pev = event_of(Ok(publ), RMW_EVENT_OFFERED_DEADLINE_MISSED);
        let mut sev = event_of(Err(sub), RMW_EVENT_REQUESTED_DEADLINE_MISSED);
        let mut smatched = event_of(Err(sub), RMW_EVENT_SUBSCRIPTION_MATCHED);
        let mut pmatched = event_of(Ok(publ), RMW_EVENT_PUBLICATION_MATCHED);
        assert_eq!(wait_events(ws_b, &mut [&mut smatched], long), [true]);
        assert_eq!(wait_events(ws_a, &mut [&mut pmatched], long), [true]);
        for ev in [&smatched, &pmatched] {
            let m: rmw_matched_status_t = take_status(ev);
            assert_eq!((m.total_count, m.current_count), (1, 1));
        }
        // A sample arrives; then the stream stops.
        let hello =
            Serialized::from_bytes(&[0, 1, 0, 0, 6, 0, 0, 0, b'h', b'e', b'l', b'l', b'o', 0]);
        assert_eq!(
            rmw_publish_serialized_message(publ, &hello.0, null_mut()),
            RMW_RET_OK
        );
        assert!(wait_sub(ws_b, sub, long));
        for (ws, ev) in [(ws_a, &mut pev), (ws_b, &mut sev)] {
            assert_eq!(wait_events(ws, &mut [ev], long), [true]);
            let first: rmw_requested_deadline_missed_status_t = take_status(ev);
            assert!(first.total_count >= 1);
            assert_eq!(first.total_count_change, first.total_count);
            // Still nothing published: more deadlines pass; each take reports what passed
            // since the previous one.
            std::thread::sleep(Duration::from_millis(350));
            let second: rmw_offered_deadline_missed_status_t = take_status(ev);
            assert!(
                second.total_count > first.total_count,
                "{first:?} {second:?}"
            );
            assert_eq!(
                second.total_count_change,
                second.total_count - first.total_count
            );
        }
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);

        // A match that began and ended between two looks still counts in total_count.
        let topic = c"/events/flap";
        let sub = rmw_create_subscription(nb, ts, topic.as_ptr(), &default_qos(), &sopts);
        assert!(!sub.is_null(), "{:?}", last_error());
        let mut smatched = event_of(Err(sub), RMW_EVENT_SUBSCRIPTION_MATCHED);
        let m: rmw_matched_status_t = take_status(&smatched);
        assert_eq!((m.total_count, m.current_count), (0, 0));
        let publ = rmw_create_publisher(na, ts, topic.as_ptr(), &default_qos(), &popts);
        assert!(!publ.is_null(), "{:?}", last_error());
        let matched = || {
            let mut n = 0usize;
            assert_eq!(
                rmw_subscription_count_matched_publishers(sub, &mut n),
                RMW_RET_OK
            );
            n
        };
        wait_until("the match", || matched() == 1);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
        wait_until("the unmatch", || matched() == 0);
        assert_eq!(wait_events(ws_b, &mut [&mut smatched], long), [true]);
        let m: rmw_matched_status_t = take_status(&smatched);
        assert_eq!(
            m,
            rmw_matched_status_t {
                total_count: 1,
                total_count_change: 1,
                current_count: 0,
                current_count_change: 0
            }
        );
        assert_eq!(wait_events(ws_b, &mut [&mut smatched], zero), [false]);
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);

        assert_eq!(rmw_destroy_wait_set(ws_a), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws_b), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

#[test]
fn message_lost_across_namespaces() {
    if !require_privileges("message_lost_across_namespaces") {
        return;
    }
    let (a, _b, veth, ca, cb) = veth_contexts(("rmwla", "rmwlb"), 29);
    let ts = support::type_support(Flavor::C, "std_msgs/msg/String");
    let long = Some(rmw_time_t { sec: 10, nsec: 0 });
    let zero = Some(rmw_time_t { sec: 0, nsec: 0 });
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"talker".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"listener".as_ptr(), c"/".as_ptr());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let topic = c"/events/lost";
        // A reliable publisher whose samples expire after 20 ms.
        let mut pq = default_qos();
        pq.lifespan = rmw_time_t {
            sec: 0,
            nsec: 20_000_000,
        };
        let publ = rmw_create_publisher(na, ts, topic.as_ptr(), &pq, &popts);
        let sub = rmw_create_subscription(nb, ts, topic.as_ptr(), &default_qos(), &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        let mut lost = event_of(Err(sub), RMW_EVENT_MESSAGE_LOST);
        wait_matched(publ, sub);
        let ws_b = rmw_create_wait_set(cb.0, 0);
        assert_eq!(wait_events(ws_b, &mut [&mut lost], zero), [false]);
        let st: rmw_message_lost_status_t = take_status(&lost);
        assert_eq!((st.total_count, st.total_count_change), (0, 0));

        // The publisher's link refuses every frame for a while: what it publishes meanwhile
        // expires before it can be sent (the link keeps only a few frames queued), and the
        // subscription learns from the next HEARTBEAT that those samples are gone.
        a.set_pfifo_qdisc(veth.a_name(), 0).unwrap();
        let msg = Serialized::from_bytes(&[0, 1, 0, 0, 5, 0, 0, 0, b'l', b'o', b's', b't', 0]);
        for _ in 0..600 {
            let r = rmw_publish_serialized_message(publ, &msg.0, null_mut());
            assert!(
                r == RMW_RET_OK || r == RMW_RET_TIMEOUT,
                "{r}: {:?}",
                last_error()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(100));
        a.delete_root_qdisc(veth.a_name()).unwrap();
        assert_eq!(
            rmw_publish_serialized_message(publ, &msg.0, null_mut()),
            RMW_RET_OK
        );
        assert_eq!(wait_events(ws_b, &mut [&mut lost], long), [true]);
        let st: rmw_message_lost_status_t = take_status(&lost);
        assert!(st.total_count > 0, "{st:?}");
        assert_eq!(st.total_count_change, st.total_count);
        eprintln!(
            "message_lost_across_namespaces: {} samples lost",
            st.total_count
        );

        assert_eq!(rmw_destroy_wait_set(ws_b), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

#[test]
fn liveliness_across_namespaces() {
    if !require_privileges("liveliness_across_namespaces") {
        return;
    }
    let (_a, _b, veth, ca, cb) = veth_contexts(("rmwva", "rmwvb"), 31);
    let ts = support::type_support(Flavor::C, "std_msgs/msg/String");
    let long = Some(rmw_time_t { sec: 10, nsec: 0 });
    let zero = Some(rmw_time_t { sec: 0, nsec: 0 });
    let changed = |st: rmw_liveliness_changed_status_t| {
        (
            st.alive_count,
            st.not_alive_count,
            st.alive_count_change,
            st.not_alive_count_change,
        )
    };
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let na = rmw_create_node(ca.0, c"talker".as_ptr(), c"/".as_ptr());
        let nb = rmw_create_node(cb.0, c"listener".as_ptr(), c"/".as_ptr());
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let (ws_a, ws_b) = (rmw_create_wait_set(ca.0, 0), rmw_create_wait_set(cb.0, 0));

        // A manual-by-topic publisher with a 400 ms lease; a subscription that accepts up to
        // 1 s. (Leases well above the 50 ms assertion period, so that a loaded machine does
        // not miss one.)
        let topic = c"/events/liveliness";
        let (mut pq, mut sq) = (default_qos(), default_qos());
        pq.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        pq.liveliness_lease_duration = rmw_time_t {
            sec: 0,
            nsec: 400_000_000,
        };
        sq.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        sq.liveliness_lease_duration = rmw_time_t { sec: 1, nsec: 0 };
        let publ = rmw_create_publisher(na, ts, topic.as_ptr(), &pq, &popts);
        let sub = rmw_create_subscription(nb, ts, topic.as_ptr(), &sq, &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        let mut actual: rmw_qos_profile_t = std::mem::zeroed();
        assert_eq!(rmw_publisher_get_actual_qos(publ, &mut actual), RMW_RET_OK);
        assert_eq!(actual.liveliness, RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC);
        assert_eq!(
            actual.liveliness_lease_duration,
            pq.liveliness_lease_duration
        );
        assert_eq!(
            rmw_subscription_get_actual_qos(sub, &mut actual),
            RMW_RET_OK
        );
        assert_eq!(actual.liveliness, RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC);
        assert_eq!(
            actual.liveliness_lease_duration,
            sq.liveliness_lease_duration
        );
        let mut lost = event_of(Ok(publ), RMW_EVENT_LIVELINESS_LOST);
        let mut live = event_of(Err(sub), RMW_EVENT_LIVELINESS_CHANGED);

        // The match makes the writer alive.
        assert_eq!(wait_events(ws_b, &mut [&mut live], long), [true]);
        assert_eq!(changed(take_status(&live)), (1, 0, 1, 0));
        // Asserting every 50 ms keeps it alive: nothing changes on either side.
        let until = Instant::now() + Duration::from_millis(700);
        while Instant::now() < until {
            assert_eq!(rmw_publisher_assert_liveliness(publ), RMW_RET_OK);
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(wait_events(ws_b, &mut [&mut live], zero), [false]);
        assert_eq!(changed(take_status(&live)), (1, 0, 0, 0));
        let st: rmw_liveliness_lost_status_t = take_status(&lost);
        assert_eq!((st.total_count, st.total_count_change), (0, 0));

        // It stops asserting: the publisher has lost its liveliness (once per lapse), the
        // subscription sees the writer not alive.
        assert_eq!(wait_events(ws_a, &mut [&mut lost], long), [true]);
        let st: rmw_liveliness_lost_status_t = take_status(&lost);
        assert_eq!((st.total_count, st.total_count_change), (1, 1));
        assert_eq!(wait_events(ws_b, &mut [&mut live], long), [true]);
        assert_eq!(changed(take_status(&live)), (0, 1, -1, 1));
        std::thread::sleep(Duration::from_millis(600));
        let st: rmw_liveliness_lost_status_t = take_status(&lost);
        assert_eq!(
            (st.total_count, st.total_count_change),
            (1, 0),
            "once per lapse"
        );

        // One assertion brings it back.
        assert_eq!(rmw_publisher_assert_liveliness(publ), RMW_RET_OK);
        assert_eq!(wait_events(ws_b, &mut [&mut live], long), [true]);
        assert_eq!(changed(take_status(&live)), (1, 0, 1, -1));
        // Publishing asserts it too, and an alive writer that goes away leaves the count.
        let msg = Serialized::from_bytes(&[0, 1, 0, 0, 3, 0, 0, 0, b'h', b'i', 0]);
        assert_eq!(
            rmw_publish_serialized_message(publ, &msg.0, null_mut()),
            RMW_RET_OK
        );
        assert_eq!(rmw_destroy_publisher(na, publ), RMW_RET_OK);
        assert_eq!(wait_events(ws_b, &mut [&mut live], long), [true]);
        wait_until("the writer to leave the counts", || {
            let st: rmw_liveliness_changed_status_t = take_status(&live);
            (st.alive_count, st.not_alive_count) == (0, 0)
        });

        // An automatic publisher does not satisfy a manual-by-topic subscription.
        let auto = rmw_create_publisher(na, ts, topic.as_ptr(), &default_qos(), &popts);
        assert!(!auto.is_null(), "{:?}", last_error());
        let mut incompatible = event_of(Err(sub), RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE);
        assert_eq!(wait_events(ws_b, &mut [&mut incompatible], long), [true]);
        let st: rmw_qos_incompatible_event_status_t = take_status(&incompatible);
        assert_eq!(st.last_policy_kind, RMW_QOS_POLICY_LIVELINESS);
        assert_eq!((st.total_count, st.total_count_change), (1, 1));

        assert_eq!(rmw_destroy_publisher(na, auto), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(nb, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws_a), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws_b), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(na), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(nb), RMW_RET_OK);
    }
    drop(cb);
    drop(ca);
    drop(veth);
}

/// The interface of a context disappears: `rmw_wait` goes on waiting (a guard condition still
/// ends it) instead of failing every call, and creating endpoints reports the failed link.
#[test]
fn a_failed_link_leaves_wait_sets_working() {
    if !require_privileges("a_failed_link_leaves_wait_sets_working") {
        return;
    }
    let a = Netns::new("rmw").unwrap();
    let b = Netns::new("rmw").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let ca = Ctx::init(&a, veth.a_name(), 18);
    let ts = support::type_support(Flavor::C, "std_msgs/msg/String");
    // SAFETY: the rmw call sequence of rcl, on live objects; the thread triggers a guard
    // condition that outlives it.
    unsafe {
        let node = rmw_create_node(ca.0, c"n".as_ptr(), c"/".as_ptr());
        assert!(!node.is_null(), "{:?}", last_error());
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let sub = rmw_create_subscription(node, ts, c"/f".as_ptr(), &default_qos(), &sopts);
        assert!(!sub.is_null(), "{:?}", last_error());
        let g = rmw_create_guard_condition(ca.0);
        let ws = rmw_create_wait_set(ca.0, 0);
        a.delete_link(veth.a_name()).unwrap();
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        wait_until("the failure noticed", || {
            let p = rmw_create_publisher(node, ts, c"/f".as_ptr(), &default_qos(), &popts);
            if p.is_null() {
                return true;
            }
            assert_eq!(rmw_destroy_publisher(node, p), RMW_RET_OK);
            false
        });
        assert!(
            last_error().is_some_and(|e| e.contains("link failed")),
            "{:?}",
            last_error()
        );
        let g_addr = g as usize;
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            rmw_trigger_guard_condition(g_addr as *const rmw_guard_condition_t)
        });
        let subs = [(*sub).data];
        let guards = [(*g).data];
        let (r, ready) = wait_on(
            ws,
            Entries {
                subs: &subs,
                guards: &guards,
                ..Entries::default()
            },
            Some(LONG),
        );
        assert_eq!(r, RMW_RET_OK, "{:?}", last_error());
        assert_eq!(ready, [false, true]);
        assert_eq!(h.join().unwrap(), RMW_RET_OK);
        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_guard_condition(g), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(node, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
    drop(ca);
    drop(veth);
}

/// Wall-clock ns since the Unix epoch (what `received_timestamp` reports).
fn wall_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the wall clock is after 1970");
    i64::try_from(d.as_nanos()).expect("before 2262")
}
