//! What the rmw C API tests share: init options and contexts in a test's namespace (on its
//! `lo`, or on the two ends of a veth pair between two namespaces), ROS's default QoS profile, polling with a deadline, `rmw_wait` on any mix of entries, matched
//! event statuses, a service type support from the fixture's messages.

use std::ffi::c_void;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use l2net_linux::netns::{Netns, VethPair};
use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::last_error;
use rmw_l2net_cpp::sys::exports::*;

use super::{Flavor, allocator};

/// Tests that change the environment (RMW_L2NET_*) hold this lock.
pub static ENV: Mutex<()> = Mutex::new(());

/// How long a test waits for anything before it fails.
pub const T: Duration = Duration::from_secs(10);
pub const ZERO: rmw_time_t = rmw_time_t { sec: 0, nsec: 0 };
pub const LONG: rmw_time_t = rmw_time_t { sec: 10, nsec: 0 };

pub fn set_env(k: &str, v: Option<&str>) {
    // SAFETY: only tests holding ENV touch these variables, and the library reads them only
    // inside rmw_init, which those tests call while holding the lock.
    unsafe {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
}

/// Initialised init options with an enclave, as rcl makes them.
pub fn options(domain: usize) -> rmw_init_options_t {
    // SAFETY: all-zero is the zero-initialised rmw_init_options_t.
    let mut o: rmw_init_options_t = unsafe { std::mem::zeroed() };
    // SAFETY: zero-initialised options and a valid allocator.
    assert_eq!(
        unsafe { rmw_init_options_init(&mut o, allocator()) },
        RMW_RET_OK
    );
    // SAFETY: strdup'd string, freed by rmw_init_options_fini with the allocator (free).
    o.enclave = unsafe { libc::strdup(c"/".as_ptr()) };
    o.domain_id = domain;
    o
}

pub fn fini_options(mut o: rmw_init_options_t) {
    // SAFETY: initialised by options().
    assert_eq!(unsafe { rmw_init_options_fini(&mut o) }, RMW_RET_OK);
}

pub fn zero_context() -> Box<rmw_context_t> {
    // SAFETY: all-zero is rmw_get_zero_initialized_context().
    Box::new(unsafe { std::mem::zeroed() })
}

/// A context of ours that was never initialised (enough for guard conditions and wait sets).
pub fn bare_context() -> Box<rmw_context_t> {
    let mut c = zero_context();
    c.implementation_identifier = rmw_get_implementation_identifier();
    c
}

/// A context of ours, initialised inside `ns` on `iface`; shut down (twice: harmless) and
/// finalised on drop.
pub struct Ctx(pub *mut rmw_context_t);

// SAFETY: rmw contexts may be used from any thread.
unsafe impl Send for Ctx {}

impl Ctx {
    /// A context on `lo` in `ns` (see [`lo_netns`]).
    pub fn on_lo(ns: &Netns, domain: usize) -> Ctx {
        Ctx::init(ns, "lo", domain)
    }

    pub fn init(ns: &Netns, iface: &str, domain: usize) -> Ctx {
        Ctx::init_with(ns, iface, domain, &[])
    }

    /// [`Ctx::init`] with more RMW_L2NET_* variables set while `rmw_init` runs.
    pub fn init_with(ns: &Netns, iface: &str, domain: usize, env: &[(&str, &str)]) -> Ctx {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let iface = iface.to_string();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let addr = ns
            .run(move || {
                set_env("RMW_L2NET_INTERFACE", Some(&iface));
                for (k, v) in &env {
                    set_env(k, Some(v));
                }
                let o = options(domain);
                let c = Box::into_raw(zero_context());
                // SAFETY: initialised options, zero-initialised context.
                let r = unsafe { rmw_init(&o, c) };
                set_env("RMW_L2NET_INTERFACE", None);
                for (k, _) in &env {
                    set_env(k, None);
                }
                assert_eq!(r, RMW_RET_OK, "rmw_init: {:?}", last_error());
                fini_options(o);
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
            assert_eq!(
                rmw_shutdown(self.0),
                RMW_RET_OK,
                "shutdown twice is harmless"
            );
            assert_eq!(rmw_context_fini(self.0), RMW_RET_OK);
            assert!((*self.0).impl_.is_null());
            drop(Box::from_raw(self.0));
        }
    }
}

/// A namespace of the test's own (named from `prefix`, the process id and a counter; removed
/// on drop) with `lo` up: where contexts that talk over loopback run.
pub fn lo_netns(prefix: &str) -> Netns {
    let ns = Netns::new(prefix).unwrap();
    ns.set_up("lo").unwrap();
    ns
}

/// One context on `lo` in a namespace of its own ([`lo_netns`]). Bind both, namespace first
/// (`let (_ns, ctx) = ...`): the context then shuts down before the namespace goes.
pub fn lo_context(prefix: &str, domain: usize) -> (Netns, Ctx) {
    let ns = lo_netns(prefix);
    let ctx = Ctx::on_lo(&ns, domain);
    (ns, ctx)
}

/// Two namespaces (named from `prefixes`) joined by a veth pair, and a context of `domain` on
/// each end: a in the first, b in the second. Bind them in this order
/// (`let (a, _b, veth, ca, cb) = ...`): the contexts then shut down before the pair and the
/// namespaces go.
pub fn veth_contexts(prefixes: (&str, &str), domain: usize) -> (Netns, Netns, VethPair, Ctx, Ctx) {
    let a = Netns::new(prefixes.0).unwrap();
    let b = Netns::new(prefixes.1).unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let ca = Ctx::init(&a, veth.a_name(), domain);
    let cb = Ctx::init(&b, veth.b_name(), domain);
    (a, b, veth, ca, cb)
}

/// ROS's default profile: reliable, volatile, keep last 10.
pub fn default_qos() -> rmw_qos_profile_t {
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

/// Polls `f` every 10 ms until it holds; fails the test after [`T`].
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A publisher on `pub_node` and a subscription on `sub_node` of `topic` with the given type
/// supports and the same `qos`, default options, matched with each other.
///
/// # Safety
/// Live nodes and type supports.
pub unsafe fn matched_pair(
    (pub_node, pub_ts): (*mut rmw_node_t, *const rosidl_message_type_support_t),
    (sub_node, sub_ts): (*mut rmw_node_t, *const rosidl_message_type_support_t),
    topic: &std::ffi::CStr,
    qos: &rmw_qos_profile_t,
) -> (*mut rmw_publisher_t, *mut rmw_subscription_t) {
    // SAFETY: the caller's; the options are plain data, all-zero the default.
    unsafe {
        let popts: rmw_publisher_options_t = std::mem::zeroed();
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let publ = rmw_create_publisher(pub_node, pub_ts, topic.as_ptr(), qos, &popts);
        let sub = rmw_create_subscription(sub_node, sub_ts, topic.as_ptr(), qos, &sopts);
        assert!(!publ.is_null() && !sub.is_null(), "{:?}", last_error());
        wait_matched(publ, sub);
        (publ, sub)
    }
}

/// Waits until `publ` counts one matched subscription and `sub` one matched publisher (each
/// other, where nothing else shares the topic).
///
/// # Safety
/// Live publisher and subscription.
pub unsafe fn wait_matched(publ: *const rmw_publisher_t, sub: *const rmw_subscription_t) {
    wait_until("the match", || {
        let (mut np, mut ns) = (0usize, 0usize);
        // SAFETY: the caller's.
        unsafe {
            assert_eq!(
                rmw_publisher_count_matched_subscriptions(publ, &mut np),
                RMW_RET_OK
            );
            assert_eq!(
                rmw_subscription_count_matched_publishers(sub, &mut ns),
                RMW_RET_OK
            );
        }
        np == 1 && ns == 1
    });
}

/// The entries of one `rmw_wait`: the `data` of subscriptions, guard conditions, services and
/// clients, and `rmw_event_t` pointers.
#[derive(Default, Clone, Copy)]
pub struct Entries<'a> {
    pub subs: &'a [*mut c_void],
    pub guards: &'a [*mut c_void],
    pub services: &'a [*mut c_void],
    pub clients: &'a [*mut c_void],
    pub events: &'a [*mut c_void],
}

/// `rmw_wait` on `e`: its return code and which entries stayed non-null, in the order
/// subscriptions, guard conditions, services, clients, events.
///
/// # Safety
/// Live wait set and entries.
pub unsafe fn wait_on(
    ws: *mut rmw_wait_set_t,
    e: Entries<'_>,
    timeout: Option<rmw_time_t>,
) -> (rmw_ret_t, Vec<bool>) {
    let (mut s, mut g, mut v, mut c, mut ev) = (
        e.subs.to_vec(),
        e.guards.to_vec(),
        e.services.to_vec(),
        e.clients.to_vec(),
        e.events.to_vec(),
    );
    let mut sa = rmw_subscriptions_t {
        subscriber_count: s.len(),
        subscribers: s.as_mut_ptr(),
    };
    let mut ga = rmw_guard_conditions_t {
        guard_condition_count: g.len(),
        guard_conditions: g.as_mut_ptr(),
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
        event_count: ev.len(),
        events: ev.as_mut_ptr(),
    };
    let t = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: forwarded from the caller.
    let r = unsafe { rmw_wait(&mut sa, &mut ga, &mut va, &mut ca, &mut ea, ws, t) };
    let ready = s
        .iter()
        .chain(&g)
        .chain(&v)
        .chain(&c)
        .chain(&ev)
        .map(|p| !p.is_null())
        .collect();
    (r, ready)
}

/// [`wait_on`] that must end with `RMW_RET_OK` or `RMW_RET_TIMEOUT`; returns which entries
/// stayed non-null (subscriptions, services, clients, events).
///
/// # Safety
/// Live wait set and entries.
pub unsafe fn wait(
    ws: *mut rmw_wait_set_t,
    subs: &[*mut c_void],
    services: &[*mut c_void],
    clients: &[*mut c_void],
    events: &[*mut c_void],
    timeout: rmw_time_t,
) -> Vec<bool> {
    let e = Entries {
        subs,
        services,
        clients,
        events,
        ..Entries::default()
    };
    // SAFETY: forwarded from the caller.
    ok_or_timeout(unsafe { wait_on(ws, e, Some(timeout)) })
}

/// What a [`wait_on`] that had to end with `RMW_RET_OK` or `RMW_RET_TIMEOUT` found.
fn ok_or_timeout((r, ready): (rmw_ret_t, Vec<bool>)) -> Vec<bool> {
    assert!(
        r == RMW_RET_OK || r == RMW_RET_TIMEOUT,
        "{r}: {:?}",
        last_error()
    );
    ready
}

/// Waits on one subscription; returns whether it was reported ready.
///
/// # Safety
/// Live wait set and subscription.
pub unsafe fn wait_sub(
    ws: *mut rmw_wait_set_t,
    sub: *mut rmw_subscription_t,
    timeout: Option<rmw_time_t>,
) -> bool {
    // SAFETY: forwarded from the caller.
    let (r, ready) = unsafe {
        wait_on(
            ws,
            Entries {
                subs: &[(*sub).data],
                ..Entries::default()
            },
            timeout,
        )
    };
    match r {
        RMW_RET_OK => {
            assert!(ready[0]);
            true
        }
        RMW_RET_TIMEOUT => {
            assert!(!ready[0]);
            false
        }
        r => panic!("rmw_wait returned {r}: {:?}", last_error()),
    }
}

/// Waits on events; returns which entries stayed non-null.
///
/// # Safety
/// Live wait set and events.
pub unsafe fn wait_events(
    ws: *mut rmw_wait_set_t,
    events: &mut [&mut rmw_event_t],
    timeout: Option<rmw_time_t>,
) -> Vec<bool> {
    let entries: Vec<*mut c_void> = events
        .iter_mut()
        .map(|e| (&mut **e as *mut rmw_event_t).cast())
        .collect();
    let e = Entries {
        events: &entries,
        ..Entries::default()
    };
    // SAFETY: forwarded from the caller.
    ok_or_timeout(unsafe { wait_on(ws, e, timeout) })
}

/// Waits on services and clients; returns which entries stayed non-null.
///
/// # Safety
/// Live wait set; entries are the data of live services / clients.
pub unsafe fn wait_services(
    ws: *mut rmw_wait_set_t,
    services: &[*mut c_void],
    clients: &[*mut c_void],
    timeout: Option<rmw_time_t>,
) -> (Vec<bool>, Vec<bool>) {
    let e = Entries {
        services,
        clients,
        ..Entries::default()
    };
    // SAFETY: forwarded from the caller.
    let ready = ok_or_timeout(unsafe { wait_on(ws, e, timeout) });
    let (s, c) = ready.split_at(services.len());
    (s.to_vec(), c.to_vec())
}

/// Takes a matched status, which must be taken.
///
/// # Safety
/// A live matched event.
pub unsafe fn matched(ev: &rmw_event_t) -> rmw_matched_status_t {
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

/// A C service type support whose request is std_msgs/msg/String and whose response is
/// `response`, from the fixture's message handles.
pub fn service_type_support(response: &str) -> rosidl_service_type_support_t {
    rosidl_service_type_support_t {
        typesupport_identifier: c"rosidl_typesupport_introspection_c".as_ptr(),
        data: std::ptr::null(),
        func: None,
        request_typesupport: super::type_support(Flavor::C, "std_msgs/msg/String"),
        response_typesupport: super::type_support(Flavor::C, response),
        event_typesupport: std::ptr::null(),
        event_message_create_handle_function: std::ptr::null(),
        event_message_destroy_handle_function: std::ptr::null(),
        get_type_hash_func: std::ptr::null(),
        get_type_description_func: std::ptr::null(),
        get_type_description_sources_func: std::ptr::null(),
    }
}

/// Waits until `client`'s service is available.
///
/// # Safety
/// Live node and client.
pub unsafe fn wait_for_service(node: *const rmw_node_t, client: *const rmw_client_t) {
    wait_until("the service", || {
        let mut up = false;
        // SAFETY: forwarded from the caller.
        let r = unsafe { rmw_service_server_is_available(node, client, &mut up) };
        assert_eq!(r, RMW_RET_OK, "{:?}", last_error());
        up
    });
}

/// `rmw_wait` on subscriptions (their data) and guard conditions (theirs), on a thread of its
/// own (`None`: no timeout): its return code and which entries stayed non-null.
///
/// # Safety
/// The wait set and the entries stay alive until the thread is joined.
pub unsafe fn spawn_wait(
    ws: *mut rmw_wait_set_t,
    subs: &[*mut c_void],
    guards: &[*mut c_void],
    timeout: Option<rmw_time_t>,
) -> std::thread::JoinHandle<(rmw_ret_t, Vec<bool>)> {
    // Addresses: raw pointers do not cross threads.
    let addr = |v: &[*mut c_void]| v.iter().map(|p| *p as usize).collect::<Vec<_>>();
    let (ws, subs, guards) = (ws as usize, addr(subs), addr(guards));
    std::thread::spawn(move || {
        let ptrs = |v: Vec<usize>| v.into_iter().map(|p| p as *mut c_void).collect::<Vec<_>>();
        let (subs, guards) = (ptrs(subs), ptrs(guards));
        let e = Entries {
            subs: &subs,
            guards: &guards,
            ..Entries::default()
        };
        // SAFETY: alive until the join (caller's contract).
        unsafe { wait_on(ws as *mut rmw_wait_set_t, e, timeout) }
    })
}
