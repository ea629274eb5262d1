//! The engine-backed exports: init / shutdown of a context, nodes, publishers,
//! subscriptions and wait sets.
//!
//! Ownership: every rmw handle (`rmw_node_t`, `rmw_publisher_t`, ...) is a `Box` whose `data`
//! points to a second `Box` with our state; destroy functions free both. The safe logic lives
//! in [`crate::context`], [`crate::config`], [`crate::qos`] and [`crate::wait`]; this file
//! only checks and converts C arguments.

use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use l2net::node::{NodeError, NodeWaker, Publisher, RemoteId};
use l2net_core::engine::LocalEndpoint;

use super::*;
use crate::config;
use crate::context::{Context, Hub, Link, MatchedStatus, Registration, SubQueue, Taken};
use crate::events::{EndpointEvents, EventRouter, Identity, Kind as EventKind};
use crate::graph::{EndpointDesc, Kind, QosDesc};
use crate::listener::Registered;
use crate::qos::{Role, to_engine};
use crate::wait::WAKER;

/// How long `rmw_publish` may block on a full reliable window before it gives up (the DDS
/// default `max_blocking_time`).
pub const PUBLISH_BLOCK: Duration = Duration::from_millis(100);

/// Stands for "forever" where the Node API wants a duration.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn zero_context() -> rmw_context_t {
    rmw_context_t {
        instance_id: 0,
        implementation_identifier: core::ptr::null(),
        options: zero_init_options(),
        actual_domain_id: 0,
        impl_: core::ptr::null_mut(),
    }
}

/// A C string argument as UTF-8.
///
/// # Safety
/// `s` is null or NUL-terminated.
unsafe fn utf8<'a>(s: *const c_char) -> Option<&'a str> {
    if s.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

/// A duration argument; `None` for `{0, 0}` / infinite where the caller treats them so.
fn rmw_duration(t: rmw_time_t) -> Duration {
    Duration::from_secs(t.sec).saturating_add(Duration::from_nanos(t.nsec))
}

/// GID of a remote (or local) endpoint: participant id, then entity id, little endian.
fn gid(participant: u64, entity: u32) -> rmw_gid_t {
    let mut data = [0u8; RMW_GID_STORAGE_SIZE];
    data[..8].copy_from_slice(&participant.to_le_bytes());
    data[8..12].copy_from_slice(&entity.to_le_bytes());
    rmw_gid_t {
        implementation_identifier: IDENTIFIER.as_ptr(),
        data,
    }
}

fn remote_gid(r: RemoteId) -> rmw_gid_t {
    gid(r.participant, r.entity)
}

// ---------------------------------------------------------------------------------------------
// Init and shutdown.

/// Reads what the settings depend on from the C options and the environment.
///
/// # Safety
/// `o` is an initialised `rmw_init_options_t`.
unsafe fn config_inputs(o: &rmw_init_options_t) -> Result<config::Inputs, String> {
    let mut peers = Vec::new();
    let d = &o.discovery_options;
    if d.static_peers_count > 0 {
        if d.static_peers.is_null() {
            return Err("discovery options have static peers but a null array".into());
        }
        for i in 0..d.static_peers_count {
            // SAFETY: the array holds static_peers_count entries.
            let p = unsafe { &*d.static_peers.add(i) };
            let bytes: Vec<u8> = p
                .peer_address
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            peers.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let mut range = d.automatic_discovery_range;
    if range == RMW_AUTOMATIC_DISCOVERY_RANGE_NOT_SET {
        // Options not filled by rcl: honour the variable rcl would have read.
        range = match std::env::var("ROS_AUTOMATIC_DISCOVERY_RANGE").as_deref() {
            Ok("LOCALHOST") => RMW_AUTOMATIC_DISCOVERY_RANGE_LOCALHOST,
            Ok("OFF") => RMW_AUTOMATIC_DISCOVERY_RANGE_OFF,
            _ => RMW_AUTOMATIC_DISCOVERY_RANGE_NOT_SET,
        };
    }
    Ok(config::Inputs {
        domain_id: o.domain_id,
        discovery_range: range,
        localhost_only: o.localhost_only,
        static_peers: peers,
        enforce_security: o.security_options.enforce_security,
        env_interface: std::env::var(config::ENV_INTERFACE).ok(),
        env_config: std::env::var(config::ENV_CONFIG).ok(),
        env_backend: std::env::var(config::ENV_BACKEND).ok(),
        env_busy_poll: std::env::var(config::ENV_BUSY_POLL).ok(),
    })
}

/// # Safety
/// rmw API contract: `options` is initialised, `context` zero-initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_init(
    options: *const rmw_init_options_t,
    context: *mut rmw_context_t,
) -> rmw_ret_t {
    boundary("rmw_init", RMW_RET_ERROR, || {
        check_null!(options);
        check_null!(context);
        // SAFETY: checked non-null; the caller guarantees validity.
        let (o, c) = unsafe { (&*options, &mut *context) };
        if o.implementation_identifier.is_null() {
            error!("rmw_init: expected initialized init options");
            return RMW_RET_INVALID_ARGUMENT;
        }
        check_ours!("init options", o.implementation_identifier);
        if o.enclave.is_null() {
            error!("rmw_init: init options have no enclave");
            return RMW_RET_INVALID_ARGUMENT;
        }
        if !c.implementation_identifier.is_null() || !c.impl_.is_null() {
            error!("rmw_init: expected a zero-initialized context");
            return RMW_RET_INVALID_ARGUMENT;
        }
        // SAFETY: `o` is initialised (checked above, caller's contract).
        let settings = match unsafe { config_inputs(o) }.and_then(|i| config::resolve(&i)) {
            Ok(s) => s,
            Err(e) => {
                error!("rmw_init: {e}");
                return RMW_RET_ERROR;
            }
        };
        let domain = settings.domain;
        let name = format!("ros2-{}", std::process::id());
        let ctx = match Context::open(settings, &name) {
            Ok(ctx) => ctx,
            Err(e) => {
                error!("rmw_init: {e}");
                return RMW_RET_ERROR;
            }
        };
        c.options = zero_init_options();
        // SAFETY: `o` is initialised and ours, `c.options` was just zeroed.
        let ret = unsafe { rmw_init_options_copy(o, &mut c.options) };
        if ret != RMW_RET_OK {
            return ret;
        }
        c.instance_id = o.instance_id;
        c.implementation_identifier = IDENTIFIER.as_ptr();
        c.actual_domain_id = usize::from(domain);
        c.impl_ = Box::into_raw(Box::new(ctx)).cast();
        RMW_RET_OK
    })
}

/// Our context state behind an rmw context.
///
/// # Safety
/// `c` is a context this library initialised and did not finalise.
unsafe fn context_state<'a>(c: &rmw_context_t) -> Option<&'a mut Context> {
    // SAFETY: impl_ of our contexts is a Box<Context> (rmw_init) or null.
    unsafe { c.impl_.cast::<Context>().as_mut() }
}

/// # Safety
/// rmw API contract: `context` was initialised by `rmw_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_shutdown(context: *mut rmw_context_t) -> rmw_ret_t {
    boundary("rmw_shutdown", RMW_RET_ERROR, || {
        check_null!(context);
        // SAFETY: checked non-null; the caller guarantees validity.
        let c = unsafe { &mut *context };
        check_ours!("context", c.implementation_identifier);
        // SAFETY: an initialised context of ours.
        let Some(state) = (unsafe { context_state(c) }) else {
            error!("rmw_shutdown: context is not initialized");
            return RMW_RET_INVALID_ARGUMENT;
        };
        state.shutdown();
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: `context` was initialised by `rmw_init` and shut down.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_context_fini(context: *mut rmw_context_t) -> rmw_ret_t {
    boundary("rmw_context_fini", RMW_RET_ERROR, || {
        check_null!(context);
        // SAFETY: checked non-null; the caller guarantees validity.
        let c = unsafe { &mut *context };
        if c.impl_.is_null() {
            error!("rmw_context_fini: expected an initialized context");
            return RMW_RET_INVALID_ARGUMENT;
        }
        check_ours!("context", c.implementation_identifier);
        // SAFETY: an initialised context of ours.
        if unsafe { context_state(c) }.is_some_and(|s| !s.is_shut_down()) {
            error!("rmw_context_fini: context has not been shut down");
            return RMW_RET_INVALID_ARGUMENT;
        }
        // SAFETY: impl_ is the Box<Context> made by rmw_init, freed once (zeroed below).
        drop(unsafe { Box::from_raw(c.impl_.cast::<Context>()) });
        c.impl_ = core::ptr::null_mut();
        // SAFETY: the options were copied by rmw_init with rmw_init_options_copy.
        let ret = unsafe { rmw_init_options_fini(&mut c.options) };
        *c = zero_context();
        ret
    })
}

// ---------------------------------------------------------------------------------------------
// Nodes.

struct NodeImpl {
    reg: Registration,
    name: CString,
    namespace: CString,
    // Keeps the guard condition `graph_handle.data` points to alive.
    _graph: Arc<GuardCondition>,
    graph_handle: rmw_guard_condition_t,
    participant: u64,
}

/// Our node state and context state behind an rmw node.
///
/// # Safety
/// `node` is null or a live node of any implementation.
unsafe fn node_parts<'a>(
    node: *const rmw_node_t,
    what: &str,
) -> Result<(&'a NodeImpl, &'a Context), rmw_ret_t> {
    // SAFETY: the caller guarantees null or a live node.
    let Some(n) = (unsafe { node.as_ref() }) else {
        error!("{what}: node argument is null");
        return Err(RMW_RET_INVALID_ARGUMENT);
    };
    check_ours!(
        "node",
        n.implementation_identifier,
        Err(RMW_RET_INCORRECT_RMW_IMPLEMENTATION)
    );
    // SAFETY: data of our nodes is a Box<NodeImpl>; context is the live rmw context the node
    // was created in (rcl destroys nodes before finalising their context).
    unsafe {
        let ni = n.data.cast::<NodeImpl>().as_ref();
        let ctx = n.context.as_ref().and_then(|c| context_state(c));
        match (ni, ctx) {
            (Some(ni), Some(ctx)) => Ok((ni, &*ctx)),
            _ => {
                error!("{what}: node is not initialized or its context was finalized");
                Err(RMW_RET_ERROR)
            }
        }
    }
}

/// # Safety
/// rmw API contract: `context` is initialised; `name` and `namespace_` are NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_node(
    context: *mut rmw_context_t,
    name: *const c_char,
    namespace_: *const c_char,
) -> *mut rmw_node_t {
    let null = core::ptr::null_mut();
    boundary("rmw_create_node", null, || {
        check_null!(context, null);
        check_null!(name, null);
        check_null!(namespace_, null);
        // SAFETY: checked non-null; the caller guarantees validity.
        let c = unsafe { &mut *context };
        check_ours!("context", c.implementation_identifier, null);
        // SAFETY: an initialised context of ours.
        let Some(state) = (unsafe { context_state(c) }) else {
            error!("rmw_create_node: context is not initialized");
            return null;
        };
        let node = match state.node() {
            Ok(n) => n,
            Err(e) => {
                error!("rmw_create_node: {e}");
                return null;
            }
        };
        // SAFETY: checked non-null, NUL-terminated (caller's contract).
        let (n, ns) = unsafe { (CStr::from_ptr(name), CStr::from_ptr(namespace_)) };
        if n.is_empty() {
            error!("rmw_create_node: empty node name");
            return null;
        }
        let graph = state.graph_guard();
        // SAFETY: the context's options were copied by rmw_init: enclave is NUL-terminated.
        let enclave = unsafe { utf8(c.options.enclave) }
            .unwrap_or("/")
            .to_string();
        let (Ok(name_s), Ok(ns_s)) = (n.to_str(), ns.to_str()) else {
            error!("rmw_create_node: node name and namespace must be UTF-8");
            return null;
        };
        let reg = state.graph().add_node(name_s, ns_s, &enclave);
        let mut ni = Box::new(NodeImpl {
            reg,
            name: n.to_owned(),
            namespace: ns.to_owned(),
            graph_handle: rmw_guard_condition_t {
                implementation_identifier: IDENTIFIER.as_ptr(),
                data: Arc::as_ptr(&graph).cast_mut().cast(),
                context,
            },
            _graph: graph,
            participant: node.id(),
        });
        let handle = rmw_node_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            data: core::ptr::null_mut(),
            name: ni.name.as_ptr(),
            namespace_: ni.namespace.as_ptr(),
            context,
        };
        ni.graph_handle.context = context;
        let handle = Box::into_raw(Box::new(handle));
        // SAFETY: just allocated.
        unsafe { (*handle).data = Box::into_raw(ni).cast() };
        handle
    })
}

/// # Safety
/// rmw API contract: `node` was created by `rmw_create_node`; its publishers and
/// subscriptions were destroyed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_node(node: *mut rmw_node_t) -> rmw_ret_t {
    boundary("rmw_destroy_node", RMW_RET_ERROR, || {
        check_null!(node);
        // SAFETY: checked non-null; the caller guarantees validity.
        let id = unsafe { (*node).implementation_identifier };
        check_ours!("node", id);
        // SAFETY: both boxes were made by rmw_create_node and are freed once.
        unsafe {
            let n = Box::from_raw(node);
            if !n.data.is_null() {
                drop(Box::from_raw(n.data.cast::<NodeImpl>()));
            }
        }
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: `node` is a live node.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_node_get_graph_guard_condition(
    node: *const rmw_node_t,
) -> *const rmw_guard_condition_t {
    boundary(
        "rmw_node_get_graph_guard_condition",
        core::ptr::null(),
        || {
            // SAFETY: the caller guarantees null or a live node.
            match unsafe { node_parts(node, "rmw_node_get_graph_guard_condition") } {
                Ok((ni, _)) => &ni.graph_handle,
                Err(_) => core::ptr::null(),
            }
        },
    )
}

fn qos_desc(q: &rmw_qos_profile_t) -> QosDesc {
    QosDesc {
        history: q.history,
        depth: q.depth as u64,
        reliability: q.reliability,
        durability: q.durability,
        deadline: (q.deadline.sec, q.deadline.nsec),
        lifespan: (q.lifespan.sec, q.lifespan.nsec),
        liveliness: q.liveliness,
        liveliness_lease: (
            q.liveliness_lease_duration.sec,
            q.liveliness_lease_duration.nsec,
        ),
    }
}

fn register(
    ni: &NodeImpl,
    kind: Kind,
    name: &CStr,
    (type_name, type_hash): (&str, Option<[u8; 32]>),
    gid: &rmw_gid_t,
    qos: &rmw_qos_profile_t,
) -> Registration {
    ni.reg.graph().add_endpoint(
        &ni.reg,
        EndpointDesc {
            kind,
            name: name.to_string_lossy().into_owned(),
            type_name: type_name.to_string(),
            gid: gid.data,
            type_hash,
            qos: qos_desc(qos),
        },
    )
}

/// `pkg/srv/Type` from the request type `pkg/srv/Type_Request`.
fn service_type(request_type: &str) -> String {
    request_type
        .strip_suffix("_Request")
        .unwrap_or(request_type)
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Publishers.

/// `"pkg/msg/Type"` from the introspection tables.
fn type_name(tables: introspection::MessageTables<'_>) -> Result<String, String> {
    let (ns, name) = match tables {
        introspection::MessageTables::C(m) => (m.message_namespace_, m.message_name_),
        introspection::MessageTables::Cpp(m) => (m.message_namespace_, m.message_name_),
    };
    // SAFETY: the names in introspection tables are null or NUL-terminated static strings.
    let (ns, name) = unsafe { (utf8(ns), utf8(name)) };
    match (ns, name) {
        (Some(ns), Some(name)) if !name.is_empty() => {
            let ns = ns.replace("::", "/").replace("__", "/");
            Ok(if ns.is_empty() {
                name.to_string()
            } else {
                format!("{ns}/{name}")
            })
        }
        _ => Err("type support has no message name".into()),
    }
}

/// What publisher and subscription creation take from their arguments.
struct EndpointArgs<'a> {
    tables: introspection::MessageTables<'a>,
    topic: CString,
    ty: String,
    hash: Option<[u8; 32]>,
    qos: rmw_qos_profile_t,
}

/// Checks the arguments common to publisher and subscription creation; returns the tables,
/// topic, type name and hash, and the profile.
///
/// # Safety
/// Pointers are null or valid (rmw API contract).
unsafe fn endpoint_args<'a>(
    what: &str,
    type_support: *const rosidl_message_type_support_t,
    topic_name: *const c_char,
    qos: *const rmw_qos_profile_t,
) -> Option<EndpointArgs<'a>> {
    if type_support.is_null() || topic_name.is_null() || qos.is_null() {
        error!("{what}: type_support, topic_name and qos must not be null");
        return None;
    }
    // SAFETY: a valid type support (caller's contract); its tables live as long as the library
    // that provides it, which outlives the endpoint.
    let tables = match unsafe { introspection::resolve(type_support) } {
        Ok(t) => t,
        Err(e) => {
            error!("{what}: {e}");
            return None;
        }
    };
    let ty = match type_name(tables) {
        Ok(t) => t,
        Err(e) => {
            error!("{what}: {e}");
            return None;
        }
    };
    // SAFETY: checked non-null, NUL-terminated (caller's contract).
    let topic = unsafe { CStr::from_ptr(topic_name) };
    if topic.is_empty() || topic.to_str().is_err() {
        error!("{what}: topic name must be non-empty UTF-8");
        return None;
    }
    // SAFETY: checked non-null; a valid type support.
    let (qos, hash) = unsafe { (*qos, introspection::type_hash(type_support)) };
    Some(EndpointArgs {
        tables,
        topic: topic.to_owned(),
        ty,
        hash,
        qos,
    })
}

struct PubImpl {
    _reg: Registration,
    hub: Arc<Hub>,
    matched: Mutex<MatchedStatus>,
    events: Arc<EndpointEvents>,
    publ: Publisher<Link>,
    tables: introspection::MessageTables<'static>,
    qos: rmw_qos_profile_t,
    gid: rmw_gid_t,
    topic: CString,
    scratch: Mutex<Vec<u8>>,
    /// Serialized bytes of the last message `rmw_publish` sent: the guess at the next one's
    /// size that picks how it is serialized ([`DIRECT_MIN`]).
    last_len: AtomicUsize,
}

/// Messages of a publisher whose last one had at least this many bytes are serialized straight
/// into the engine's history (`Publisher::publish_with`): one walk of the message sizes it and
/// a second writes it, instead of one walk into the publisher's buffer and a copy of the
/// bytes from there. Sizing walks the fields but not the contents of arrays and sequences of
/// numbers (the bulk of every large message: images, point clouds, scans; booleans are
/// counted one by one), so above this size it costs less than the copy it saves; below, the
/// copy is the cheaper.
const DIRECT_MIN: usize = 1024;

/// # Safety
/// `p` is null or a live publisher of any implementation.
unsafe fn pub_impl<'a>(p: *const rmw_publisher_t, what: &str) -> Result<&'a PubImpl, rmw_ret_t> {
    // SAFETY: the caller guarantees null or a live publisher.
    let Some(p) = (unsafe { p.as_ref() }) else {
        error!("{what}: publisher argument is null");
        return Err(RMW_RET_INVALID_ARGUMENT);
    };
    check_ours!(
        "publisher",
        p.implementation_identifier,
        Err(RMW_RET_INCORRECT_RMW_IMPLEMENTATION)
    );
    // SAFETY: data of our publishers is a Box<PubImpl>.
    unsafe { p.data.cast::<PubImpl>().as_ref() }.ok_or_else(|| {
        error!("{what}: publisher is not initialized");
        RMW_RET_ERROR
    })
}

/// # Safety
/// rmw API contract: live node, valid type support, NUL-terminated topic, valid profiles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_publisher(
    node: *const rmw_node_t,
    type_support: *const rosidl_message_type_support_t,
    topic_name: *const c_char,
    qos_profile: *const rmw_qos_profile_t,
    publisher_options: *const rmw_publisher_options_t,
) -> *mut rmw_publisher_t {
    let null = core::ptr::null_mut();
    boundary("rmw_create_publisher", null, || {
        const WHAT: &str = "rmw_create_publisher";
        // SAFETY: the caller guarantees null or a live node.
        let Ok((ni, ctx)) = (unsafe { node_parts(node, WHAT) }) else {
            return null;
        };
        check_null!(publisher_options, null);
        // SAFETY: pointers null or valid (caller's contract).
        let Some(EndpointArgs {
            tables,
            topic,
            ty,
            hash,
            qos,
        }) = (unsafe { endpoint_args(WHAT, type_support, topic_name, qos_profile) })
        else {
            return null;
        };
        // SAFETY: checked non-null.
        let options = unsafe { *publisher_options };
        if options.require_unique_network_flow_endpoints == 1 {
            error!("{WHAT}: unique network flow endpoints are not supported by rmw_l2net_cpp");
            return null;
        }
        let (q, actual) = match to_engine(&qos, Role::Publisher) {
            Ok(v) => v,
            Err(e) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        let node = match ctx.node() {
            Ok(n) => n,
            Err(e) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        // The router stays locked until the writer is registered: an event the engine
        // reports while creating it (an incompatible subscription) must reach it.
        let events = Arc::new(EndpointEvents::default());
        let mut router = ctx.events().creating();
        let publ = match node.publisher_with_hash(topic.to_str().unwrap_or_default(), &ty, hash, q)
        {
            Ok(p) => p,
            Err(e) => {
                error!("{WHAT}: topic {topic:?} type {ty}: {e}");
                return null;
            }
        };
        let identity = Identity {
            writer: true,
            topic: topic.to_string_lossy().into_owned(),
            type_name: ty.clone(),
            type_hash: hash.unwrap_or_default(),
        };
        let remotes = crate::context::remote_identities(node, &identity.topic);
        EventRouter::register(
            &mut router,
            LocalEndpoint::Writer(publ.handle()),
            &events,
            identity,
            &remotes,
        );
        drop(router);
        // The writer's own id: what subscriptions see as `publisher_gid` in message infos.
        let gid = gid(ni.participant, publ.handle().entity());
        let pi = Box::new(PubImpl {
            _reg: register(ni, Kind::Publisher, &topic, (&ty, hash), &gid, &actual),
            hub: Arc::clone(ctx.hub()),
            matched: Mutex::default(),
            events,
            publ,
            tables,
            qos: actual,
            gid,
            topic,
            scratch: Mutex::new(Vec::new()),
            last_len: AtomicUsize::new(0),
        });
        let handle = Box::new(rmw_publisher_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            data: core::ptr::null_mut(),
            topic_name: pi.topic.as_ptr(),
            options,
            can_loan_messages: false,
        });
        let handle = Box::into_raw(handle);
        // SAFETY: just allocated.
        unsafe { (*handle).data = Box::into_raw(pi).cast() };
        handle
    })
}

/// # Safety
/// rmw API contract: `publisher` was created by `rmw_create_publisher` on `node`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_publisher(
    node: *mut rmw_node_t,
    publisher: *mut rmw_publisher_t,
) -> rmw_ret_t {
    boundary("rmw_destroy_publisher", RMW_RET_ERROR, || {
        check_null!(node);
        check_null!(publisher);
        // SAFETY: checked non-null; the caller guarantees validity.
        let (nid, pid) = unsafe {
            (
                (*node).implementation_identifier,
                (*publisher).implementation_identifier,
            )
        };
        check_ours!("node", nid);
        check_ours!("publisher", pid);
        // SAFETY: both boxes were made by rmw_create_publisher and are freed once.
        unsafe {
            let p = Box::from_raw(publisher);
            if !p.data.is_null() {
                let pi = Box::from_raw(p.data.cast::<PubImpl>());
                forget_event_listeners(&pi.events, &pi.hub);
                drop(pi);
            }
        }
        RMW_RET_OK
    })
}

fn publish_bytes(pi: &PubImpl, bytes: &[u8], what: &str) -> rmw_ret_t {
    published(
        pi,
        pi.publ.publish_timeout(bytes, Some(PUBLISH_BLOCK)),
        what,
    )
}

/// The return code of a publish.
fn published(pi: &PubImpl, res: Result<u64, NodeError>, what: &str) -> rmw_ret_t {
    match res {
        Ok(_) => {
            pi.hub.published();
            RMW_RET_OK
        }
        Err(NodeError::Timeout) => {
            error!(
                "{what}: the reliable window stayed full for {PUBLISH_BLOCK:?} (a matched \
                 subscription does not acknowledge)"
            );
            RMW_RET_TIMEOUT
        }
        Err(e) => {
            error!("{what}: {e}");
            RMW_RET_ERROR
        }
    }
}

/// Serializes `ros_message` straight into the publisher's history and publishes it.
///
/// # Safety
/// `ros_message` is a message of the publisher's type.
unsafe fn publish_direct(pi: &PubImpl, ros_message: *const c_void) -> rmw_ret_t {
    // SAFETY: forwarded from the caller.
    let len = match unsafe { introspection::serialized_size(pi.tables, ros_message) } {
        Ok(n) => n,
        Err(e) => {
            error!("rmw_publish: {e}");
            return cdr_ret(e);
        }
    };
    pi.last_len.store(len, Ordering::Relaxed);
    let mut failed = None;
    let res = pi.publ.publish_with(len, Some(PUBLISH_BLOCK), |buf| {
        // SAFETY: as above; the message is the one just sized.
        match unsafe { introspection::serialize_into(pi.tables, ros_message, buf) } {
            Ok(n) if n == len => {}
            // The walk that sized the message found no error, so this cannot happen (the
            // message would have changed under the call); never send stale bytes.
            other => {
                buf.fill(0);
                failed = Some(other.err().unwrap_or(CdrError::Overflow));
            }
        }
    });
    if let Some(e) = failed {
        error!("rmw_publish: the message changed while it was serialized: {e}");
        return RMW_RET_ERROR;
    }
    published(pi, res, "rmw_publish")
}

/// # Safety
/// rmw API contract: live publisher; `ros_message` of the publisher's type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publish(
    publisher: *const rmw_publisher_t,
    ros_message: *const c_void,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_publish", RMW_RET_ERROR, || {
        let _ = allocation;
        // SAFETY: the caller guarantees null or a live publisher.
        let pi = match unsafe { pub_impl(publisher, "rmw_publish") } {
            Ok(p) => p,
            Err(r) => return r,
        };
        check_null!(ros_message);
        if pi.last_len.load(Ordering::Relaxed) >= DIRECT_MIN {
            // SAFETY: the message is of the publisher's type (caller's contract).
            return unsafe { publish_direct(pi, ros_message) };
        }
        let mut buf = lock(&pi.scratch);
        // SAFETY: the message is of the publisher's type (caller's contract).
        let n =
            match unsafe { introspection::serialize_into_vec(pi.tables, ros_message, &mut buf, 0) }
            {
                Ok(n) => n,
                Err(e) => {
                    error!("rmw_publish: {e}");
                    return cdr_ret(e);
                }
            };
        pi.last_len.store(n, Ordering::Relaxed);
        publish_bytes(pi, &buf[..n], "rmw_publish")
    })
}

/// # Safety
/// rmw API contract: live publisher; `serialized_message` holds `buffer_length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publish_serialized_message(
    publisher: *const rmw_publisher_t,
    serialized_message: *const rmw_serialized_message_t,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_publish_serialized_message", RMW_RET_ERROR, || {
        let _ = allocation;
        // SAFETY: the caller guarantees null or a live publisher.
        let pi = match unsafe { pub_impl(publisher, "rmw_publish_serialized_message") } {
            Ok(p) => p,
            Err(r) => return r,
        };
        check_null!(serialized_message);
        // SAFETY: checked non-null.
        let sm = unsafe { &*serialized_message };
        let bytes: &[u8] = if sm.buffer_length == 0 {
            &[]
        } else if sm.buffer.is_null() {
            error!("rmw_publish_serialized_message: a length but no buffer");
            return RMW_RET_INVALID_ARGUMENT;
        } else {
            // SAFETY: the caller guarantees buffer_length readable bytes.
            unsafe { core::slice::from_raw_parts(sm.buffer, sm.buffer_length) }
        };
        publish_bytes(pi, bytes, "rmw_publish_serialized_message")
    })
}

/// # Safety
/// rmw API contract: live publisher, writable `qos`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publisher_get_actual_qos(
    publisher: *const rmw_publisher_t,
    qos: *mut rmw_qos_profile_t,
) -> rmw_ret_t {
    boundary("rmw_publisher_get_actual_qos", RMW_RET_ERROR, || {
        // SAFETY: the caller guarantees null or a live publisher.
        let pi = match unsafe { pub_impl(publisher, "rmw_publisher_get_actual_qos") } {
            Ok(p) => p,
            Err(r) => return r,
        };
        check_null!(qos);
        // SAFETY: checked non-null, writable (caller's contract).
        unsafe { *qos = pi.qos };
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: live publisher, writable `subscription_count`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publisher_count_matched_subscriptions(
    publisher: *const rmw_publisher_t,
    subscription_count: *mut usize,
) -> rmw_ret_t {
    boundary(
        "rmw_publisher_count_matched_subscriptions",
        RMW_RET_ERROR,
        || {
            // SAFETY: the caller guarantees null or a live publisher.
            let pi =
                match unsafe { pub_impl(publisher, "rmw_publisher_count_matched_subscriptions") } {
                    Ok(p) => p,
                    Err(r) => return r,
                };
            check_null!(subscription_count);
            // SAFETY: checked non-null, writable.
            unsafe { *subscription_count = pi.publ.matched() };
            RMW_RET_OK
        },
    )
}

/// # Safety
/// rmw API contract: live publisher, writable `gid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_gid_for_publisher(
    publisher: *const rmw_publisher_t,
    gid: *mut rmw_gid_t,
) -> rmw_ret_t {
    boundary("rmw_get_gid_for_publisher", RMW_RET_ERROR, || {
        // SAFETY: the caller guarantees null or a live publisher.
        let pi = match unsafe { pub_impl(publisher, "rmw_get_gid_for_publisher") } {
            Ok(p) => p,
            Err(r) => return r,
        };
        check_null!(gid);
        // SAFETY: checked non-null, writable.
        unsafe { *gid = pi.gid };
        RMW_RET_OK
    })
}

/// Asserts the publisher's liveliness without publishing: the engine sends its readers a
/// HEARTBEAT with the liveliness flag. What a manual-by-topic publisher must do within its
/// lease (publishing does it too); harmless for an automatic one.
///
/// # Safety
/// rmw API contract: live publisher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publisher_assert_liveliness(
    publisher: *const rmw_publisher_t,
) -> rmw_ret_t {
    boundary("rmw_publisher_assert_liveliness", RMW_RET_ERROR, || {
        // SAFETY: the caller guarantees null or a live publisher.
        let pi = match unsafe { pub_impl(publisher, "rmw_publisher_assert_liveliness") } {
            Ok(p) => p,
            Err(r) => return r,
        };
        match pi.publ.assert_liveliness() {
            Ok(()) => RMW_RET_OK,
            Err(e) => {
                error!("rmw_publisher_assert_liveliness: {e}");
                RMW_RET_ERROR
            }
        }
    })
}

/// # Safety
/// rmw API contract: live publisher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publisher_wait_for_all_acked(
    publisher: *const rmw_publisher_t,
    wait_timeout: rmw_time_t,
) -> rmw_ret_t {
    boundary("rmw_publisher_wait_for_all_acked", RMW_RET_ERROR, || {
        // SAFETY: the caller guarantees null or a live publisher.
        let pi = match unsafe { pub_impl(publisher, "rmw_publisher_wait_for_all_acked") } {
            Ok(p) => p,
            Err(r) => return r,
        };
        if pi.qos.reliability != RMW_QOS_POLICY_RELIABILITY_RELIABLE {
            return RMW_RET_OK;
        }
        let t = if wait_timeout.sec >= crate::qos::DURATION_INFINITE.sec {
            FOREVER
        } else {
            rmw_duration(wait_timeout)
        };
        match pi.publ.wait_for_acks(t) {
            Ok(()) => RMW_RET_OK,
            Err(NodeError::Timeout) => RMW_RET_TIMEOUT,
            Err(e) => {
                error!("rmw_publisher_wait_for_all_acked: {e}");
                RMW_RET_ERROR
            }
        }
    })
}

macro_rules! unsupported {
    ($why:literal, $name:ident($($arg:ident: $ty:ty),*)) => {
        #[doc = concat!("`RMW_RET_UNSUPPORTED`: ", $why, ".")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> rmw_ret_t {
            boundary(stringify!($name), RMW_RET_ERROR, || {
                $(let _ = $arg;)*
                error!(concat!(stringify!($name), ": not supported by rmw_l2net_cpp (", $why, ")"));
                RMW_RET_UNSUPPORTED
            })
        }
    };
}

macro_rules! no_loans {
    ($name:ident($($arg:ident: $ty:ty),*)) => {
        unsupported!("message loaning; `can_loan_messages` is false", $name($($arg: $ty),*));
    };
}

/// The callback argument of the listener setters: `rmw_event_callback_t`, or null to clear.
///
/// # Safety
/// `callback` is null or a function `void (*)(const void *, size_t)` that may be called from
/// any thread while it stays set (the rmw headers' contract).
unsafe fn registered(callback: *const c_void, user_data: *const c_void) -> Option<Registered> {
    if callback.is_null() {
        return None;
    }
    // SAFETY: a non-null rmw_event_callback_t (caller's contract): a C function of this
    // signature; function and data pointers have one size on every platform rmw runs on.
    let callback =
        unsafe { std::mem::transmute::<*const c_void, crate::listener::Callback>(callback) };
    Some(Registered {
        callback,
        user_data: user_data as usize,
    })
}

/// Sets (or, with a null `callback`, clears) the callback called for every new message of
/// `subscription`, from the context's background thread: at once with the number of messages
/// already waiting, then once per batch of new ones with their number.
///
/// # Safety
/// rmw API contract: live subscription; `callback` null or an `rmw_event_callback_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_subscription_set_on_new_message_callback(
    subscription: *mut rmw_subscription_t,
    callback: *const c_void,
    user_data: *const c_void,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_subscription_set_on_new_message_callback";
    // SAFETY: the caller guarantees null or a live subscription, and the callback.
    unsafe {
        set_new_item_callback(
            WHAT,
            || sub_impl(subscription, WHAT).map(|s| &s.queue),
            callback,
            user_data,
        )
    }
}

/// The body of the `rmw_*_set_on_new_*_callback` functions: sets (or, with a null
/// `callback`, clears) the listener of the queue `queue` finds; `queue` reports a bad handle.
///
/// # Safety
/// `callback` null or an `rmw_event_callback_t`.
unsafe fn set_new_item_callback<'a>(
    what: &str,
    queue: impl FnOnce() -> Result<&'a Arc<SubQueue>, rmw_ret_t>,
    callback: *const c_void,
    user_data: *const c_void,
) -> rmw_ret_t {
    boundary(what, RMW_RET_ERROR, || {
        let q = match queue() {
            Ok(q) => q,
            Err(r) => return r,
        };
        // SAFETY: caller's contract.
        q.set_listener(unsafe { registered(callback, user_data) });
        RMW_RET_OK
    })
}

/// As [`rmw_subscription_set_on_new_message_callback`], for the requests of `service`.
///
/// # Safety
/// rmw API contract: live service; `callback` null or an `rmw_event_callback_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_service_set_on_new_request_callback(
    service: *mut rmw_service_t,
    callback: *const c_void,
    user_data: *const c_void,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_service_set_on_new_request_callback";
    // SAFETY: the caller guarantees null or a live service, and the callback.
    unsafe {
        set_new_item_callback(
            WHAT,
            || service_impl(service, WHAT).map(|s| &s.requests),
            callback,
            user_data,
        )
    }
}

/// As [`rmw_subscription_set_on_new_message_callback`], for the responses of `client` (only
/// its own: a response to another client of the same service is not counted).
///
/// # Safety
/// rmw API contract: live client; `callback` null or an `rmw_event_callback_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_client_set_on_new_response_callback(
    client: *mut rmw_client_t,
    callback: *const c_void,
    user_data: *const c_void,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_client_set_on_new_response_callback";
    // SAFETY: the caller guarantees null or a live client, and the callback.
    unsafe {
        set_new_item_callback(
            WHAT,
            || client_impl(client, WHAT).map(|c| &c.replies),
            callback,
            user_data,
        )
    }
}

/// An endpoint goes away: its event listeners no longer keep the background thread on the
/// node.
fn forget_event_listeners(events: &EndpointEvents, hub: &Hub) {
    for _ in 0..events.clear_listeners() {
        hub.event_listener_changed(false);
    }
}

/// Sets (or clears) the callback called whenever the status of `event` changes: at once with 1
/// if it changed since it was last taken, then once per change, from whichever thread routes
/// the engine's events (the context's background thread, which waits on the node while a
/// listener is set, or a thread in `rmw_wait` / `rmw_take_event`).
///
/// # Safety
/// rmw API contract: `event` initialised by this library, its endpoint alive; `callback` null
/// or an `rmw_event_callback_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_event_set_callback(
    event: *mut rmw_event_t,
    callback: *const c_void,
    user_data: *const c_void,
) -> rmw_ret_t {
    boundary("rmw_event_set_callback", RMW_RET_ERROR, || {
        check_null!(event);
        // SAFETY: checked non-null; the caller guarantees validity.
        let e = unsafe { &*event };
        check_ours!("event", e.implementation_identifier);
        // SAFETY: an event of ours (checked above) whose endpoint is alive.
        let (Some(source), Some(hub)) = (unsafe { event_source(e) }, unsafe { event_hub(e) })
        else {
            error!("rmw_event_set_callback: event is not initialized or of an unsupported type");
            return RMW_RET_INVALID_ARGUMENT;
        };
        let (events, kind) = match &source {
            EventSource::Matched(_, events, _) => (*events, None),
            EventSource::Counted(events, kind) => (*events, Some(*kind)),
        };
        // SAFETY: caller's contract.
        let r = unsafe { registered(callback, user_data) };
        let now_set = r.is_some();
        let was_set = events.listener(kind).set(r, usize::from(source.pending()));
        if was_set != now_set {
            hub.event_listener_changed(now_set);
        }
        RMW_RET_OK
    })
}
unsupported!(
    "content filtered topics",
    rmw_subscription_set_content_filter(
        subscription: *mut rmw_subscription_t,
        options: *const c_void
    )
);
unsupported!(
    "content filtered topics",
    rmw_subscription_get_content_filter(
        subscription: *const rmw_subscription_t,
        allocator: *mut rcutils_allocator_t,
        options: *mut c_void
    )
);
unsupported!(
    "network flow endpoints",
    rmw_publisher_get_network_flow_endpoints(
        publisher: *const rmw_publisher_t,
        allocator: *mut rcutils_allocator_t,
        network_flow_endpoint_array: *mut c_void
    )
);
unsupported!(
    "network flow endpoints",
    rmw_subscription_get_network_flow_endpoints(
        subscription: *const rmw_subscription_t,
        allocator: *mut rcutils_allocator_t,
        network_flow_endpoint_array: *mut c_void
    )
);
unsupported!(
    "dynamic messages",
    rmw_take_dynamic_message(
        subscription: *const rmw_subscription_t,
        dynamic_message: *mut c_void,
        taken: *mut bool,
        allocation: *mut c_void
    )
);
unsupported!(
    "dynamic messages",
    rmw_take_dynamic_message_with_info(
        subscription: *const rmw_subscription_t,
        dynamic_message: *mut c_void,
        taken: *mut bool,
        message_info: *mut rmw_message_info_t,
        allocation: *mut c_void
    )
);

no_loans!(rmw_borrow_loaned_message(
    publisher: *const rmw_publisher_t,
    type_support: *const rosidl_message_type_support_t,
    ros_message: *mut *mut c_void
));
no_loans!(rmw_return_loaned_message_from_publisher(
    publisher: *const rmw_publisher_t,
    loaned_message: *mut c_void
));
no_loans!(rmw_publish_loaned_message(
    publisher: *const rmw_publisher_t,
    ros_message: *mut c_void,
    allocation: *mut c_void
));
no_loans!(rmw_take_loaned_message(
    subscription: *const rmw_subscription_t,
    loaned_message: *mut *mut c_void,
    taken: *mut bool,
    allocation: *mut c_void
));
no_loans!(rmw_take_loaned_message_with_info(
    subscription: *const rmw_subscription_t,
    loaned_message: *mut *mut c_void,
    taken: *mut bool,
    message_info: *mut rmw_message_info_t,
    allocation: *mut c_void
));
no_loans!(rmw_return_loaned_message_from_subscription(
    subscription: *const rmw_subscription_t,
    loaned_message: *mut c_void
));

/// Whether a publisher (`publisher == true`) or a subscription supports `event_type`: every
/// event type of its side in rmw/event.h (matched, deadline missed, incompatible QoS,
/// incompatible type; liveliness lost for publishers; liveliness changed and message lost for
/// subscriptions).
pub fn endpoint_event_supported(event_type: rmw_event_type_t, publisher: bool) -> bool {
    let matched = if publisher {
        RMW_EVENT_PUBLICATION_MATCHED
    } else {
        RMW_EVENT_SUBSCRIPTION_MATCHED
    };
    event_type == matched || EventKind::from_rmw(event_type, publisher).is_some()
}

/// Why an event type is refused on a publisher / subscription.
fn unsupported_event(what: &str, event_type: rmw_event_type_t, publisher: bool) -> rmw_ret_t {
    let side = if publisher {
        "publishers"
    } else {
        "subscriptions"
    };
    let why = match event_type {
        t if (0..RMW_EVENT_INVALID).contains(&t) => "it is an event of the other side",
        _ => "it is not an rmw event type",
    };
    error!("{what}: event type {event_type} is not supported on {side} by rmw_l2net_cpp ({why})");
    RMW_RET_UNSUPPORTED
}

/// Initialises a publisher event: `RMW_EVENT_PUBLICATION_MATCHED`,
/// `RMW_EVENT_OFFERED_DEADLINE_MISSED`, `RMW_EVENT_OFFERED_QOS_INCOMPATIBLE`,
/// `RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE` and `RMW_EVENT_LIVELINESS_LOST`; a subscription
/// event type (or no event type) is `RMW_RET_UNSUPPORTED` with the reason in the error state.
///
/// # Safety
/// rmw API contract: `rmw_event` zero-initialised and writable; live publisher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_publisher_event_init(
    rmw_event: *mut rmw_event_t,
    publisher: *const rmw_publisher_t,
    event_type: rmw_event_type_t,
) -> rmw_ret_t {
    boundary("rmw_publisher_event_init", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_publisher_event_init";
        check_null!(rmw_event);
        // SAFETY: the caller guarantees null or a live publisher.
        if let Err(r) = unsafe { pub_impl(publisher, WHAT) } {
            return r;
        }
        if !endpoint_event_supported(event_type, true) {
            return unsupported_event(WHAT, event_type, true);
        }
        // SAFETY: checked non-null, writable; the event points at the publisher's handle,
        // which outlives it (rcl finalises events before their publisher).
        unsafe {
            *rmw_event = rmw_event_t {
                implementation_identifier: IDENTIFIER.as_ptr(),
                data: (*publisher).data,
                event_type,
            };
        }
        RMW_RET_OK
    })
}

/// Initialises a subscription event: `RMW_EVENT_SUBSCRIPTION_MATCHED`,
/// `RMW_EVENT_REQUESTED_DEADLINE_MISSED`, `RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE`,
/// `RMW_EVENT_MESSAGE_LOST`, `RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE` and
/// `RMW_EVENT_LIVELINESS_CHANGED`; see [`rmw_publisher_event_init`].
///
/// # Safety
/// rmw API contract: `rmw_event` zero-initialised and writable; live subscription.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_subscription_event_init(
    rmw_event: *mut rmw_event_t,
    subscription: *const rmw_subscription_t,
    event_type: rmw_event_type_t,
) -> rmw_ret_t {
    boundary("rmw_subscription_event_init", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_subscription_event_init";
        check_null!(rmw_event);
        // SAFETY: the caller guarantees null or a live subscription.
        if let Err(r) = unsafe { sub_impl(subscription, WHAT) } {
            return r;
        }
        if !endpoint_event_supported(event_type, false) {
            return unsupported_event(WHAT, event_type, false);
        }
        // SAFETY: as in rmw_publisher_event_init.
        unsafe {
            *rmw_event = rmw_event_t {
                implementation_identifier: IDENTIFIER.as_ptr(),
                data: (*subscription).data,
                event_type,
            };
        }
        RMW_RET_OK
    })
}

/// What one of our events reports on.
enum EventSource<'a> {
    /// A matched event: the status, the endpoint's counters and the current number of
    /// matches.
    Matched(&'a Mutex<MatchedStatus>, &'a EndpointEvents, usize),
    /// A counted QoS event of this kind.
    Counted(&'a EndpointEvents, EventKind),
}

impl EventSource<'_> {
    /// Whether the status changed since it was last taken.
    fn pending(&self) -> bool {
        match self {
            EventSource::Matched(status, events, current) => {
                lock(status).changed(*current, events.matches_pending())
            }
            EventSource::Counted(events, kind) => events.pending(*kind),
        }
    }
}

/// The status behind one of our events.
///
/// # Safety
/// `e` is an event initialised by this library whose publisher / subscription is alive.
unsafe fn event_source<'a>(e: &rmw_event_t) -> Option<EventSource<'a>> {
    let publisher = (RMW_EVENT_LIVELINESS_LOST..RMW_EVENT_INVALID).contains(&e.event_type);
    // SAFETY: the data of our events is the PubImpl (publisher event types) or SubImpl
    // (subscription event types) they were initialised with.
    unsafe {
        if publisher {
            let p = e.data.cast::<PubImpl>().as_ref()?;
            if e.event_type == RMW_EVENT_PUBLICATION_MATCHED {
                return Some(EventSource::Matched(
                    &p.matched,
                    &p.events,
                    p.publ.matched(),
                ));
            }
            EventKind::from_rmw(e.event_type, true).map(|k| EventSource::Counted(&p.events, k))
        } else {
            let s = e.data.cast::<SubImpl>().as_ref()?;
            if e.event_type == RMW_EVENT_SUBSCRIPTION_MATCHED {
                return Some(EventSource::Matched(
                    &s.matched,
                    &s.events,
                    s.queue.subscriber().matched(),
                ));
            }
            EventKind::from_rmw(e.event_type, false).map(|k| EventSource::Counted(&s.events, k))
        }
    }
}

/// The hub of the context of an event's publisher or subscription.
///
/// # Safety
/// As [`event_source`].
unsafe fn event_hub<'a>(e: &rmw_event_t) -> Option<&'a Arc<Hub>> {
    let publisher = (RMW_EVENT_LIVELINESS_LOST..RMW_EVENT_INVALID).contains(&e.event_type);
    // SAFETY: as in event_source.
    unsafe {
        if publisher {
            e.data.cast::<PubImpl>().as_ref().map(|p| &p.hub)
        } else {
            e.data.cast::<SubImpl>().as_ref().map(|s| s.queue.hub())
        }
    }
}

/// Writes the status of `e` into `event_info` and resets its changes. As in
/// rmw_cyclonedds_cpp (and as test_rmw_implementation's event tests expect), a status is
/// always taken (`taken = true`), with zero changes when nothing happened since the last take;
/// `rmw_wait` only reports the event ready when something changed.
///
/// # Safety
/// rmw API contract: `event_handle` initialised by this library; `event_info` points to the
/// status struct of its type (`rmw_matched_status_t`, `rmw_*_deadline_missed_status_t`,
/// `rmw_*_qos_incompatible_event_status_t`, `rmw_incompatible_type_status_t`,
/// `rmw_message_lost_status_t`, `rmw_liveliness_changed_status_t`,
/// `rmw_liveliness_lost_status_t`); `taken` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_event(
    event_handle: *const rmw_event_t,
    event_info: *mut c_void,
    taken: *mut bool,
) -> rmw_ret_t {
    boundary("rmw_take_event", RMW_RET_ERROR, || {
        check_null!(event_handle);
        check_null!(event_info);
        check_null!(taken);
        // SAFETY: checked non-null; the caller guarantees validity.
        let e = unsafe { &*event_handle };
        check_ours!("event", e.implementation_identifier);
        // Count what the node reported so far.
        // SAFETY: an event of ours (checked above).
        if let Some(hub) = unsafe { event_hub(e) } {
            hub.pump();
        }
        // SAFETY: an event of ours (checked above).
        let Some(source) = (unsafe { event_source(e) }) else {
            // SAFETY: `taken` is writable.
            unsafe { *taken = false };
            error!("rmw_take_event: event is not initialized or of an unsupported type");
            return RMW_RET_INVALID_ARGUMENT;
        };
        match source {
            EventSource::Matched(status, events, current) => {
                let r = lock(status).take(current, events.take_matches().0);
                // SAFETY: a matched event: the caller provides an rmw_matched_status_t.
                unsafe {
                    *event_info.cast::<rmw_matched_status_t>() = rmw_matched_status_t {
                        total_count: r.total_count,
                        total_count_change: r.total_count_change,
                        current_count: r.current_count,
                        current_count_change: r.current_count_change,
                    };
                }
            }
            EventSource::Counted(events, EventKind::DeadlineMissed) => {
                let st = events.take_deadline();
                // SAFETY: a deadline event: the caller provides an
                // rmw_{requested,offered}_deadline_missed_status_t (one layout).
                unsafe { *event_info.cast::<rmw_requested_deadline_missed_status_t>() = st };
            }
            EventSource::Counted(events, EventKind::IncompatibleQos) => {
                let st = events.take_incompatible_qos();
                // SAFETY: an incompatible-QoS event: the caller provides an
                // rmw_{requested,offered}_qos_incompatible_event_status_t (one struct).
                unsafe { *event_info.cast::<rmw_qos_incompatible_event_status_t>() = st };
            }
            EventSource::Counted(events, EventKind::IncompatibleType) => {
                let st = events.take_incompatible_type();
                // SAFETY: an incompatible-type event: the caller provides an
                // rmw_incompatible_type_status_t.
                unsafe { *event_info.cast::<rmw_incompatible_type_status_t>() = st };
            }
            EventSource::Counted(events, EventKind::LivelinessChanged) => {
                let st = events.take_liveliness_changed();
                // SAFETY: a liveliness-changed event: the caller provides an
                // rmw_liveliness_changed_status_t.
                unsafe { *event_info.cast::<rmw_liveliness_changed_status_t>() = st };
            }
            EventSource::Counted(events, EventKind::LivelinessLost) => {
                let st = events.take_liveliness_lost();
                // SAFETY: a liveliness-lost event: the caller provides an
                // rmw_liveliness_lost_status_t.
                unsafe { *event_info.cast::<rmw_liveliness_lost_status_t>() = st };
            }
            EventSource::Counted(events, EventKind::MessageLost) => {
                let st = events.take_message_lost();
                // SAFETY: a message-lost event: the caller provides an
                // rmw_message_lost_status_t.
                unsafe { *event_info.cast::<rmw_message_lost_status_t>() = st };
            }
        }
        // SAFETY: `taken` is writable (caller's contract).
        unsafe { *taken = true };
        RMW_RET_OK
    })
}

// ---------------------------------------------------------------------------------------------
// Subscriptions.

struct SubImpl {
    _reg: Registration,
    matched: Mutex<MatchedStatus>,
    events: Arc<EndpointEvents>,
    queue: Arc<SubQueue>,
    tables: introspection::MessageTables<'static>,
    qos: rmw_qos_profile_t,
    topic: CString,
}

/// # Safety
/// `s` is null or a live subscription of any implementation.
unsafe fn sub_impl<'a>(s: *const rmw_subscription_t, what: &str) -> Result<&'a SubImpl, rmw_ret_t> {
    // SAFETY: the caller guarantees null or a live subscription.
    let Some(s) = (unsafe { s.as_ref() }) else {
        error!("{what}: subscription argument is null");
        return Err(RMW_RET_INVALID_ARGUMENT);
    };
    check_ours!(
        "subscription",
        s.implementation_identifier,
        Err(RMW_RET_INCORRECT_RMW_IMPLEMENTATION)
    );
    // SAFETY: data of our subscriptions is a Box<SubImpl>.
    unsafe { s.data.cast::<SubImpl>().as_ref() }.ok_or_else(|| {
        error!("{what}: subscription is not initialized");
        RMW_RET_ERROR
    })
}

/// # Safety
/// rmw API contract: live node, valid type support, NUL-terminated topic, valid profiles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_subscription(
    node: *const rmw_node_t,
    type_support: *const rosidl_message_type_support_t,
    topic_name: *const c_char,
    qos_policies: *const rmw_qos_profile_t,
    subscription_options: *const rmw_subscription_options_t,
) -> *mut rmw_subscription_t {
    let null = core::ptr::null_mut();
    boundary("rmw_create_subscription", null, || {
        const WHAT: &str = "rmw_create_subscription";
        // SAFETY: the caller guarantees null or a live node.
        let Ok((ni, ctx)) = (unsafe { node_parts(node, WHAT) }) else {
            return null;
        };
        check_null!(subscription_options, null);
        // SAFETY: pointers null or valid (caller's contract).
        let Some(EndpointArgs {
            tables,
            topic,
            ty,
            hash,
            qos,
        }) = (unsafe { endpoint_args(WHAT, type_support, topic_name, qos_policies) })
        else {
            return null;
        };
        // SAFETY: checked non-null.
        let options = unsafe { *subscription_options };
        if options.require_unique_network_flow_endpoints == 1 {
            error!("{WHAT}: unique network flow endpoints are not supported by rmw_l2net_cpp");
            return null;
        }
        let (q, actual) = match to_engine(&qos, Role::Subscription) {
            Ok(v) => v,
            Err(e) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        let node = match ctx.node() {
            Ok(n) => n,
            Err(e) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        // As for publishers: registered before the router lets the next event through.
        let events = Arc::new(EndpointEvents::default());
        let mut router = ctx.events().creating();
        let sub = match node.subscriber_with_hash(topic.to_str().unwrap_or_default(), &ty, hash, q)
        {
            Ok(s) => s,
            Err(e) => {
                error!("{WHAT}: topic {topic:?} type {ty}: {e}");
                return null;
            }
        };
        let identity = Identity {
            writer: false,
            topic: topic.to_string_lossy().into_owned(),
            type_name: ty.clone(),
            type_hash: hash.unwrap_or_default(),
        };
        let remotes = crate::context::remote_identities(node, &identity.topic);
        EventRouter::register(
            &mut router,
            LocalEndpoint::Reader(sub.handle()),
            &events,
            identity,
            &remotes,
        );
        drop(router);
        let ignore = options.ignore_local_publications.then_some(ni.participant);
        let sgid = gid(ni.participant, sub.handle().entity());
        let si = Box::new(SubImpl {
            _reg: register(ni, Kind::Subscription, &topic, (&ty, hash), &sgid, &actual),
            matched: Mutex::default(),
            events,
            queue: Arc::new(SubQueue::new(sub, ctx.hub(), ignore, q.history)),
            tables,
            qos: actual,
            topic,
        });
        // Content filters are not applied: `is_cft_enabled` stays false, which tells rcl so.
        let handle = Box::new(rmw_subscription_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            data: core::ptr::null_mut(),
            topic_name: si.topic.as_ptr(),
            options,
            can_loan_messages: false,
            is_cft_enabled: false,
        });
        let handle = Box::into_raw(handle);
        // SAFETY: just allocated.
        unsafe { (*handle).data = Box::into_raw(si).cast() };
        handle
    })
}

/// # Safety
/// rmw API contract: `subscription` was created by `rmw_create_subscription` on `node`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_subscription(
    node: *mut rmw_node_t,
    subscription: *mut rmw_subscription_t,
) -> rmw_ret_t {
    boundary("rmw_destroy_subscription", RMW_RET_ERROR, || {
        check_null!(node);
        check_null!(subscription);
        // SAFETY: checked non-null; the caller guarantees validity.
        let (nid, sid) = unsafe {
            (
                (*node).implementation_identifier,
                (*subscription).implementation_identifier,
            )
        };
        check_ours!("node", nid);
        check_ours!("subscription", sid);
        // SAFETY: both boxes were made by rmw_create_subscription and are freed once.
        unsafe {
            let s = Box::from_raw(subscription);
            if !s.data.is_null() {
                let si = Box::from_raw(s.data.cast::<SubImpl>());
                forget_event_listeners(&si.events, si.queue.hub());
                si.queue.clear_listener();
                drop(si);
            }
        }
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: live subscription, writable `qos`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_subscription_get_actual_qos(
    subscription: *const rmw_subscription_t,
    qos: *mut rmw_qos_profile_t,
) -> rmw_ret_t {
    boundary("rmw_subscription_get_actual_qos", RMW_RET_ERROR, || {
        // SAFETY: the caller guarantees null or a live subscription.
        let si = match unsafe { sub_impl(subscription, "rmw_subscription_get_actual_qos") } {
            Ok(s) => s,
            Err(r) => return r,
        };
        check_null!(qos);
        // SAFETY: checked non-null, writable.
        unsafe { *qos = si.qos };
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: live subscription, writable `publisher_count`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_subscription_count_matched_publishers(
    subscription: *const rmw_subscription_t,
    publisher_count: *mut usize,
) -> rmw_ret_t {
    boundary(
        "rmw_subscription_count_matched_publishers",
        RMW_RET_ERROR,
        || {
            // SAFETY: the caller guarantees null or a live subscription.
            let si = match unsafe {
                sub_impl(subscription, "rmw_subscription_count_matched_publishers")
            } {
                Ok(s) => s,
                Err(r) => return r,
            };
            check_null!(publisher_count);
            // SAFETY: checked non-null, writable.
            unsafe { *publisher_count = si.queue.subscriber().matched() };
            RMW_RET_OK
        },
    )
}

fn info_of(t: &Taken<'_>) -> rmw_message_info_t {
    rmw_message_info_t {
        // The engine does not hand out the writer's timestamp yet.
        source_timestamp: 0,
        received_timestamp: t.received_ns,
        publication_sequence_number: t.info.seq,
        reception_sequence_number: t.reception_seq,
        publisher_gid: remote_gid(t.info.writer),
        from_intra_process: false,
    }
}

/// Takes one sample and hands it to `deliver`; writes `taken`.
///
/// # Safety
/// `subscription` null or live; `taken` null or writable.
unsafe fn take_common(
    what: &str,
    subscription: *const rmw_subscription_t,
    taken: *mut bool,
    deliver: impl FnOnce(&SubImpl, Taken<'_>) -> rmw_ret_t,
) -> rmw_ret_t {
    // SAFETY: the caller guarantees null or a live subscription.
    let si = match unsafe { sub_impl(subscription, what) } {
        Ok(s) => s,
        Err(r) => return r,
    };
    check_null!(taken);
    // SAFETY: checked non-null, writable.
    unsafe { *taken = false };
    match si.queue.take_with(|t| deliver(si, t)) {
        Ok(None) => RMW_RET_OK,
        Ok(Some(ret)) => {
            if ret == RMW_RET_OK {
                // SAFETY: as above.
                unsafe { *taken = true };
            }
            ret
        }
        Err(e) => {
            error!("{what}: {e}");
            RMW_RET_ERROR
        }
    }
}

/// # Safety
/// `msg` is an initialised message of `si`'s type.
unsafe fn deliver_message(si: &SubImpl, t: &Taken<'_>, msg: *mut c_void, what: &str) -> rmw_ret_t {
    // SAFETY: forwarded from the caller.
    match unsafe { introspection::deserialize(si.tables, t.data, msg) } {
        Ok(()) => RMW_RET_OK,
        Err(e) => {
            error!("{what}: dropping a sample that does not deserialize: {e}");
            cdr_ret(e)
        }
    }
}

/// # Safety
/// rmw API contract: live subscription; `ros_message` of its type; `taken` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take(
    subscription: *const rmw_subscription_t,
    ros_message: *mut c_void,
    taken: *mut bool,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_take", RMW_RET_ERROR, || {
        let _ = allocation;
        check_null!(ros_message);
        // SAFETY: caller's contract; the message matches the subscription's type.
        unsafe {
            take_common("rmw_take", subscription, taken, |si, t| {
                deliver_message(si, &t, ros_message, "rmw_take")
            })
        }
    })
}

/// # Safety
/// rmw API contract: as `rmw_take`, and `message_info` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_with_info(
    subscription: *const rmw_subscription_t,
    ros_message: *mut c_void,
    taken: *mut bool,
    message_info: *mut rmw_message_info_t,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_take_with_info", RMW_RET_ERROR, || {
        let _ = allocation;
        check_null!(ros_message);
        check_null!(message_info);
        // SAFETY: caller's contract; the message matches the subscription's type and
        // message_info is writable.
        unsafe {
            take_common("rmw_take_with_info", subscription, taken, |si, t| {
                let r = deliver_message(si, &t, ros_message, "rmw_take_with_info");
                if r == RMW_RET_OK {
                    *message_info = info_of(&t);
                }
                r
            })
        }
    })
}

/// Copies a sample into a serialized message, growing it with its allocator.
///
/// # Safety
/// `sm` is an initialised `rmw_serialized_message_t`.
unsafe fn fill_serialized(sm: &mut rmw_serialized_message_t, data: &[u8], what: &str) -> rmw_ret_t {
    if sm.buffer_capacity < data.len() || sm.buffer.is_null() {
        let Some(realloc) = sm.allocator.reallocate else {
            error!("{what}: serialized message has no valid allocator");
            return RMW_RET_INVALID_ARGUMENT;
        };
        // SAFETY: the buffer belongs to this array's allocator.
        let new = unsafe { realloc(sm.buffer.cast(), data.len().max(1), sm.allocator.state) };
        if new.is_null() {
            error!("{what}: failed to allocate {} bytes", data.len());
            return RMW_RET_BAD_ALLOC;
        }
        sm.buffer = new.cast();
        sm.buffer_capacity = data.len().max(1);
    }
    // SAFETY: the buffer holds at least data.len() bytes.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), sm.buffer, data.len()) };
    sm.buffer_length = data.len();
    RMW_RET_OK
}

/// # Safety
/// rmw API contract: live subscription; initialised `serialized_message`; writable `taken`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_serialized_message(
    subscription: *const rmw_subscription_t,
    serialized_message: *mut rmw_serialized_message_t,
    taken: *mut bool,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_take_serialized_message", RMW_RET_ERROR, || {
        let _ = allocation;
        check_null!(serialized_message);
        // SAFETY: caller's contract.
        unsafe {
            take_common(
                "rmw_take_serialized_message",
                subscription,
                taken,
                |_, t| {
                    fill_serialized(
                        &mut *serialized_message,
                        t.data,
                        "rmw_take_serialized_message",
                    )
                },
            )
        }
    })
}

/// # Safety
/// rmw API contract: as `rmw_take_serialized_message`, and `message_info` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_serialized_message_with_info(
    subscription: *const rmw_subscription_t,
    serialized_message: *mut rmw_serialized_message_t,
    taken: *mut bool,
    message_info: *mut rmw_message_info_t,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary(
        "rmw_take_serialized_message_with_info",
        RMW_RET_ERROR,
        || {
            let _ = allocation;
            check_null!(serialized_message);
            check_null!(message_info);
            const WHAT: &str = "rmw_take_serialized_message_with_info";
            // SAFETY: caller's contract.
            unsafe {
                take_common(WHAT, subscription, taken, |_, t| {
                    let r = fill_serialized(&mut *serialized_message, t.data, WHAT);
                    if r == RMW_RET_OK {
                        *message_info = info_of(&t);
                    }
                    r
                })
            }
        },
    )
}

/// # Safety
/// rmw API contract: live subscription; sequences initialised with at least `count`
/// capacity, their messages initialised; `taken` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_sequence(
    subscription: *const rmw_subscription_t,
    count: usize,
    message_sequence: *mut rmw_message_sequence_t,
    message_info_sequence: *mut rmw_message_info_sequence_t,
    taken: *mut usize,
    allocation: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_take_sequence", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_take_sequence";
        let _ = allocation;
        // SAFETY: the caller guarantees null or a live subscription.
        let si = match unsafe { sub_impl(subscription, WHAT) } {
            Ok(s) => s,
            Err(r) => return r,
        };
        check_null!(message_sequence);
        check_null!(message_info_sequence);
        check_null!(taken);
        // SAFETY: checked non-null; distinct objects (caller's contract).
        let (ms, mis, taken) = unsafe {
            (
                &mut *message_sequence,
                &mut *message_info_sequence,
                &mut *taken,
            )
        };
        if count == 0 {
            error!("{WHAT}: count must be greater than 0");
            return RMW_RET_INVALID_ARGUMENT;
        }
        if count > ms.capacity || count > mis.capacity || ms.data.is_null() || mis.data.is_null() {
            error!("{WHAT}: count {count} exceeds the capacity of the sequences");
            return RMW_RET_INVALID_ARGUMENT;
        }
        *taken = 0;
        while *taken < count {
            let next = *taken;
            let r = match si.queue.take_with(|t| {
                // SAFETY: both arrays hold `capacity` >= count entries; messages are
                // initialised.
                unsafe {
                    let msg = *ms.data.add(next);
                    let r = deliver_message(si, &t, msg, WHAT);
                    if r == RMW_RET_OK {
                        *mis.data.add(next) = info_of(&t);
                    }
                    r
                }
            }) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    error!("{WHAT}: {e}");
                    return RMW_RET_ERROR;
                }
            };
            if r != RMW_RET_OK {
                ms.size = *taken;
                mis.size = *taken;
                return r;
            }
            *taken += 1;
        }
        ms.size = *taken;
        mis.size = *taken;
        RMW_RET_OK
    })
}

// ---------------------------------------------------------------------------------------------
// Wait sets.

/// The state behind an `rmw_wait_set_t`: the hub of the context it was created in (guard
/// conditions alone wait there).
struct WaitSetImpl {
    hub: Option<Arc<Hub>>,
    /// What each `rmw_wait` on this wait set fills, kept so that a wait allocates nothing
    /// once the buffers have grown to the set's size.
    scratch: Mutex<WaitScratch>,
}

/// The working buffers of one `rmw_wait` (emptied of its handles when it returns).
#[derive(Default)]
struct WaitScratch {
    /// Readiness of the subscriptions, guard conditions, services, clients and events, in
    /// that order.
    ready: Vec<bool>,
    /// The contexts of the entries and of the wait set, each once.
    hubs: Vec<Arc<Hub>>,
    /// Their nodes that can still be waited on.
    nodes: Vec<NodeWaker<Link>>,
}

/// # Safety
/// rmw API contract: `context` is initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_wait_set(
    context: *mut rmw_context_t,
    max_conditions: usize,
) -> *mut rmw_wait_set_t {
    let null = core::ptr::null_mut();
    boundary("rmw_create_wait_set", null, || {
        let _ = max_conditions;
        check_null!(context, null);
        // SAFETY: checked non-null; the caller guarantees validity.
        let c = unsafe { &*context };
        check_ours!("context", c.implementation_identifier, null);
        // SAFETY: an rmw context of ours, initialised or zero (then impl_ is null).
        let hub = unsafe { context_state(c) }.map(|ctx| Arc::clone(ctx.hub()));
        let data = Box::into_raw(Box::new(WaitSetImpl {
            hub,
            scratch: Mutex::default(),
        }));
        Box::into_raw(Box::new(rmw_wait_set_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            guard_conditions: core::ptr::null_mut(),
            data: data.cast(),
        }))
    })
}

/// # Safety
/// rmw API contract: `wait_set` was created by `rmw_create_wait_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_wait_set(wait_set: *mut rmw_wait_set_t) -> rmw_ret_t {
    boundary("rmw_destroy_wait_set", RMW_RET_ERROR, || {
        check_null!(wait_set);
        // SAFETY: checked non-null; the caller guarantees validity.
        let id = unsafe { (*wait_set).implementation_identifier };
        check_ours!("wait set", id);
        // SAFETY: both boxes made by rmw_create_wait_set, freed once.
        unsafe {
            let ws = Box::from_raw(wait_set);
            if !ws.data.is_null() {
                drop(Box::from_raw(ws.data.cast::<WaitSetImpl>()));
            }
        }
        RMW_RET_OK
    })
}

/// The non-null entries of one rmw array, as a mutable slice.
///
/// # Safety
/// `ptr` is null or holds `count` entries.
unsafe fn entries<'a>(count: usize, ptr: *mut *mut c_void) -> &'a mut [*mut c_void] {
    if ptr.is_null() || count == 0 {
        return &mut [];
    }
    // SAFETY: forwarded from the caller.
    unsafe { core::slice::from_raw_parts_mut(ptr, count) }
}

/// # Safety
/// rmw API contract: every array is null or holds its count of entries, each null or the
/// `data` of a live handle of ours (the `rmw_event_t` itself for events); `wait_set` is ours.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_wait(
    subscriptions: *mut rmw_subscriptions_t,
    guard_conditions: *mut rmw_guard_conditions_t,
    services: *mut rmw_services_t,
    clients: *mut rmw_clients_t,
    events: *mut rmw_events_t,
    wait_set: *mut rmw_wait_set_t,
    wait_timeout: *const rmw_time_t,
) -> rmw_ret_t {
    boundary("rmw_wait", RMW_RET_ERROR, || {
        check_null!(wait_set);
        // SAFETY: checked non-null; the caller guarantees validity.
        let id = unsafe { (*wait_set).implementation_identifier };
        check_ours!("wait set", id);
        // SAFETY: the arrays are null or valid (caller's contract).
        let (subs, gcs, srvs, clis, evs) = unsafe {
            (
                subscriptions
                    .as_mut()
                    .map_or(&mut [][..], |s| entries(s.subscriber_count, s.subscribers)),
                guard_conditions.as_mut().map_or(&mut [][..], |g| {
                    entries(g.guard_condition_count, g.guard_conditions)
                }),
                services
                    .as_mut()
                    .map_or(&mut [][..], |s| entries(s.service_count, s.services)),
                clients
                    .as_mut()
                    .map_or(&mut [][..], |c| entries(c.client_count, c.clients)),
                events
                    .as_mut()
                    .map_or(&mut [][..], |e| entries(e.event_count, e.events)),
            )
        };
        // SAFETY: null or a valid time (caller's contract).
        let timeout = unsafe { wait_timeout.as_ref() }.map(|t| rmw_duration(*t));
        // The clock is read only for a wait with a timeout (it is slow on some VMs).
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let forever = timeout.is_none() || deadline.is_none();
        // SAFETY: our wait set's data is null or its WaitSetImpl.
        let ws = unsafe { (*wait_set).data.cast::<WaitSetImpl>().as_ref() };
        // The wait set's buffers; fresh ones should another thread be waiting on the same
        // set (which the rmw API does not allow) or the set have no data.
        let mut fresh = WaitScratch::default();
        let mut kept = ws.and_then(|w| match w.scratch.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        let scratch = kept.as_deref_mut().unwrap_or(&mut fresh);
        // SAFETY: the entries are as wait_on requires (caller's contract).
        let ret = unsafe { wait_on(scratch, ws, (subs, gcs, srvs, clis, evs), deadline, forever) };
        // Keep the buffers, not the handles.
        scratch.hubs.clear();
        scratch.nodes.clear();
        ret
    })
}

/// The entry arrays of one `rmw_wait`: subscriptions, guard conditions, services, clients,
/// events.
type WaitEntries<'a> = (
    &'a mut [*mut c_void],
    &'a mut [*mut c_void],
    &'a mut [*mut c_void],
    &'a mut [*mut c_void],
    &'a mut [*mut c_void],
);

/// One kind of `rmw_wait` entry, as the entry arrays point to it: the `data` of a
/// subscription, service, client or guard condition, or the `rmw_event_t` itself.
///
/// Its methods are `unsafe` because an event reads its endpoint through the raw `data` of
/// the handle: they may only be called on an entry of a running `rmw_wait`, which the rmw
/// API keeps alive (with its endpoint) for the whole call.
trait WaitEntry {
    /// Whether its readiness can change only through its context's node, so that a look is
    /// needed only after the node's [`NodeWaker::changes`] moved (a guard condition is a flag
    /// any thread raises: no).
    const ON_NODE: bool = true;

    /// The hub of its context, whose node the waiting thread drives.
    ///
    /// # Safety
    /// `self` is an entry of a running `rmw_wait`.
    unsafe fn hub(&self) -> Option<&Arc<Hub>>;

    /// Whether it is ready; `Err` says why looking failed.
    ///
    /// # Safety
    /// As [`WaitEntry::hub`].
    unsafe fn ready(&self) -> Result<bool, String>;

    /// `rmw_wait` reports it ready (a guard condition is lowered then).
    fn reported(&self) {}
}

impl WaitEntry for SubImpl {
    unsafe fn hub(&self) -> Option<&Arc<Hub>> {
        Some(self.queue.hub())
    }

    unsafe fn ready(&self) -> Result<bool, String> {
        (self.queue.ready()).map_err(|e| format!("subscription on {:?}: {e}", self.topic))
    }
}

impl WaitEntry for ServiceImpl {
    unsafe fn hub(&self) -> Option<&Arc<Hub>> {
        Some(self.requests.hub())
    }

    unsafe fn ready(&self) -> Result<bool, String> {
        (self.requests.ready()).map_err(|e| format!("service {:?}: {e}", self.name))
    }
}

impl WaitEntry for ClientImpl {
    unsafe fn hub(&self) -> Option<&Arc<Hub>> {
        Some(self.replies.hub())
    }

    unsafe fn ready(&self) -> Result<bool, String> {
        (self.replies.ready()).map_err(|e| format!("client of {:?}: {e}", self.name))
    }
}

impl WaitEntry for rmw_event_t {
    unsafe fn hub(&self) -> Option<&Arc<Hub>> {
        // SAFETY: an event of ours whose endpoint is alive (this method's contract).
        unsafe { event_hub(self) }
    }

    unsafe fn ready(&self) -> Result<bool, String> {
        // SAFETY: as in `hub`.
        Ok(unsafe { event_source(self) }.is_some_and(|s| s.pending()))
    }
}

impl WaitEntry for GuardCondition {
    const ON_NODE: bool = false;

    unsafe fn hub(&self) -> Option<&Arc<Hub>> {
        None
    }

    unsafe fn ready(&self) -> Result<bool, String> {
        Ok(self.is_triggered())
    }

    fn reported(&self) {
        self.take();
    }
}

/// The entries of one kind of an `rmw_wait` (null ones left out), each with its readiness.
///
/// # Safety
/// Every entry is null or points to a `T` that is an entry of the running `rmw_wait` (the
/// caller's contract, see `rmw_wait`): the references live as long as the call.
unsafe fn live<'a, T: WaitEntry + 'a>(
    entries: &'a [*mut c_void],
) -> impl Iterator<Item = (usize, &'a T)> + 'a {
    entries.iter().enumerate().filter_map(|(i, e)| {
        // SAFETY: the function's contract: null or a live `T`.
        unsafe { e.cast::<T>().as_ref() }.map(|t| (i, t))
    })
}

/// Adds the contexts of `entries` to `hubs` (each once).
///
/// # Safety
/// As [`live`].
unsafe fn add_hubs<T: WaitEntry>(entries: &[*mut c_void], hubs: &mut Vec<Arc<Hub>>) {
    // SAFETY: forwarded from the caller (for both calls).
    for (_, t) in unsafe { live::<T>(entries) } {
        if let Some(h) = unsafe { t.hub() } {
            add_hub(hubs, h);
        }
    }
}

fn add_hub(hubs: &mut Vec<Arc<Hub>>, h: &Arc<Hub>) {
    if !hubs.iter().any(|x| Arc::ptr_eq(x, h)) {
        hubs.push(Arc::clone(h));
    }
}

/// Looks at `entries`, setting `ready` for each; whether one is ready. `changed`: the nodes
/// changed since the last look (if not, entries on a node are as they were then: not ready).
///
/// # Safety
/// As [`live`].
unsafe fn look<T: WaitEntry>(
    entries: &[*mut c_void],
    ready: &mut [bool],
    changed: bool,
) -> Result<bool, String> {
    if T::ON_NODE && !changed {
        return Ok(false);
    }
    let mut any = false;
    // SAFETY: forwarded from the caller (for both calls).
    for (i, t) in unsafe { live::<T>(entries) } {
        let r = unsafe { t.ready() }?;
        ready[i] = r;
        any |= r;
    }
    Ok(any)
}

/// What `rmw_wait` returns in `entries`: the ones that are not ready become null, the ready
/// ones are told ([`WaitEntry::reported`]).
///
/// # Safety
/// As [`live`].
unsafe fn report<T: WaitEntry>(entries: &mut [*mut c_void], ready: &[bool]) {
    // SAFETY: forwarded from the caller.
    for (i, t) in unsafe { live::<T>(entries) } {
        if ready[i] {
            t.reported();
        }
    }
    for (entry, ready) in entries.iter_mut().zip(ready) {
        if !ready {
            *entry = core::ptr::null_mut();
        }
    }
}

/// `rmw_wait`'s work, in the buffers of `scratch`.
///
/// # Safety
/// As `rmw_wait`: the entries are null or the data of live handles of ours (the
/// `rmw_event_t` itself for events).
unsafe fn wait_on(
    scratch: &mut WaitScratch,
    ws: Option<&WaitSetImpl>,
    (subs, gcs, srvs, clis, evs): WaitEntries<'_>,
    deadline: Option<Instant>,
    forever: bool,
) -> rmw_ret_t {
    let WaitScratch { ready, hubs, nodes } = scratch;
    ready.clear();
    ready.resize(
        subs.len() + gcs.len() + srvs.len() + clis.len() + evs.len(),
        false,
    );
    let (sub_ready, rest) = ready.split_at_mut(subs.len());
    let (gc_ready, rest) = rest.split_at_mut(gcs.len());
    let (srv_ready, rest) = rest.split_at_mut(srvs.len());
    let (cli_ready, ev_ready) = rest.split_at_mut(clis.len());
    // The contexts of the entries (and of the wait set): the thread waits on their nodes.
    hubs.clear();
    if let Some(h) = ws.and_then(|w| w.hub.as_ref()) {
        add_hub(hubs, h);
    }
    // SAFETY (every `add_hubs`, `look` and `report` below): the entries are null or live
    // entries of this call, of the kind each array holds (the function's contract).
    unsafe {
        add_hubs::<SubImpl>(subs, hubs);
        add_hubs::<ServiceImpl>(srvs, hubs);
        add_hubs::<ClientImpl>(clis, hubs);
        add_hubs::<rmw_event_t>(evs, hubs);
    }
    let hubs: &[Arc<Hub>] = hubs;
    let mut failed = None;
    // The sum of the nodes' change counters ([`NodeWaker::changes`]) at the last look, read
    // before it (`None`: look at everything). The counters only grow, so the sum moves
    // whenever one does.
    let looked_at = std::cell::Cell::new(None);
    // Looks at the entries (after routing the contexts' events); true when one is ready or
    // looking failed (`failed` says how). Entries on a node are looked at again only once the
    // node changed (a busy-polling wait then reads an atomic per context on each spin instead
    // of locking the node three times); guard conditions every time.
    let mut check = || {
        let changes = hubs
            .iter()
            .fold(0u64, |a, h| a.wrapping_add(h.waker().changes()));
        let changed = looked_at.replace(Some(changes)) != Some(changes);
        if changed {
            for h in hubs {
                h.pump();
            }
        }
        // SAFETY: as for `add_hubs` above.
        let looked = (|| unsafe {
            Ok::<_, String>(
                look::<SubImpl>(subs, sub_ready, changed)?
                    | look::<GuardCondition>(gcs, gc_ready, changed)?
                    | look::<ServiceImpl>(srvs, srv_ready, changed)?
                    | look::<ClientImpl>(clis, cli_ready, changed)?
                    | look::<rmw_event_t>(evs, ev_ready, changed)?,
            )
        })();
        looked.unwrap_or_else(|e| {
            failed = Some(e);
            true
        })
    };
    let deadline = if forever { None } else { deadline };
    // This thread routes the contexts' events while it waits: their background threads
    // stand back.
    let _in_wait = Hub::enter_wait(hubs);
    let any = loop {
        // A wait that starts over (a context closed meanwhile) looks at everything.
        looked_at.set(None);
        // One context (the common case) is waited on in place; several through the kept
        // buffer of handles.
        let nodes: &[NodeWaker<Link>] = match hubs {
            [h] if h.usable() => core::slice::from_ref(h.waker()),
            [_] => &[],
            _ => {
                nodes.clear();
                nodes.extend(
                    hubs.iter()
                        .filter(|h| h.usable())
                        .map(|h| h.waker().clone()),
                );
                nodes
            }
        };
        if nodes.is_empty() {
            // Every context is shut down (or its link failed): wait for guard conditions
            // alone.
            let seen = WAKER.generation();
            if check() {
                break true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break false;
            }
            WAKER.wait(seen, deadline);
            continue;
        }
        match NodeWaker::wait_any(nodes, &mut check, deadline) {
            Ok(()) => break true,
            Err(NodeError::Timeout) => break false,
            // A context shut down meanwhile: wait on the others.
            Err(NodeError::Closed) => {}
            // A link failed for good: its context's endpoints and publishing report it
            // from now on; the wait goes on without that node (guard conditions, other
            // contexts).
            Err(NodeError::Link(_)) if hubs.iter().fold(false, |f, h| h.pump_and_check() | f) => {}
            Err(e) => {
                error!("rmw_wait: {e}");
                return RMW_RET_ERROR;
            }
        }
    };
    if let Some(e) = failed {
        error!("rmw_wait: {e}");
        return RMW_RET_ERROR;
    }
    // SAFETY: as for `add_hubs` above.
    unsafe {
        report::<SubImpl>(subs, sub_ready);
        report::<GuardCondition>(gcs, gc_ready);
        report::<ServiceImpl>(srvs, srv_ready);
        report::<ClientImpl>(clis, cli_ready);
        report::<rmw_event_t>(evs, ev_ready);
    }
    if any { RMW_RET_OK } else { RMW_RET_TIMEOUT }
}

// ---------------------------------------------------------------------------------------------
// Services and clients.
//
// A service is two topics, as the DDS middlewares lay them out: requests on
// `rq<service>Request`, replies on `rr<service>Reply`. Every sample starts with a 24-byte
// header: the client's GID (16 bytes) and the request's sequence number (i64, little endian),
// then the CDR of the request or response. A client's reply subscription delivers only the
// replies that carry its GID.

/// Bytes of the request / reply header.
pub const SERVICE_HEADER: usize = 24;

/// The request and response type hashes of a service type support, where its message handles
/// give them.
///
/// # Safety
/// `ts` is a valid service type support.
unsafe fn service_hashes(
    ts: *const rosidl_service_type_support_t,
) -> (Option<[u8; 32]>, Option<[u8; 32]>) {
    // SAFETY: a valid service type support whose message handles are null or valid.
    unsafe {
        let t = &*ts;
        (
            introspection::type_hash(t.request_typesupport),
            introspection::type_hash(t.response_typesupport),
        )
    }
}

fn request_topic(service: &CStr) -> String {
    format!("rq{}Request", service.to_string_lossy())
}

fn reply_topic(service: &CStr) -> String {
    format!("rr{}Reply", service.to_string_lossy())
}

struct ClientImpl {
    _reg: Registration,
    requests: Publisher<Link>,
    replies: Arc<SubQueue>,
    request: introspection::MessageTables<'static>,
    response: introspection::MessageTables<'static>,
    gid: rmw_gid_t,
    next_seq: std::sync::atomic::AtomicI64,
    request_qos: rmw_qos_profile_t,
    reply_qos: rmw_qos_profile_t,
    name: CString,
    scratch: Mutex<Vec<u8>>,
}

struct ServiceImpl {
    _reg: Registration,
    requests: Arc<SubQueue>,
    replies: Publisher<Link>,
    request: introspection::MessageTables<'static>,
    response: introspection::MessageTables<'static>,
    request_qos: rmw_qos_profile_t,
    reply_qos: rmw_qos_profile_t,
    name: CString,
    scratch: Mutex<Vec<u8>>,
}

/// Serializes `msg` behind `header` into `buf`; returns the sample length.
///
/// # Safety
/// `msg` is an initialised message of the type `tables` describes.
unsafe fn serialize_with_header(
    tables: introspection::MessageTables<'_>,
    msg: *const c_void,
    header: &[u8; SERVICE_HEADER],
    buf: &mut Vec<u8>,
) -> Result<usize, CdrError> {
    // SAFETY: forwarded from the caller.
    let n = unsafe { introspection::serialize_into_vec(tables, msg, buf, SERVICE_HEADER) }?;
    buf[..SERVICE_HEADER].copy_from_slice(header);
    Ok(SERVICE_HEADER + n)
}

fn header(guid: &[u8; 16], seq: i64) -> [u8; SERVICE_HEADER] {
    let mut h = [0u8; SERVICE_HEADER];
    h[..16].copy_from_slice(guid);
    h[16..].copy_from_slice(&seq.to_le_bytes());
    h
}

/// The request id in a sample's header, or `None` when the sample is too short.
fn request_id_of(data: &[u8]) -> Option<rmw_request_id_t> {
    let h = data.get(..SERVICE_HEADER)?;
    let mut writer_guid = [0i8; 16];
    for (d, s) in writer_guid.iter_mut().zip(&h[..16]) {
        *d = *s as i8;
    }
    Some(rmw_request_id_t {
        writer_guid,
        sequence_number: i64::from_le_bytes(h[16..].try_into().ok()?),
    })
}

fn service_qos(
    qos: &rmw_qos_profile_t,
    what: &str,
) -> Option<(
    l2net_core::engine::Qos,
    rmw_qos_profile_t,
    l2net_core::engine::Qos,
    rmw_qos_profile_t,
)> {
    let w = to_engine(qos, Role::Publisher);
    let r = to_engine(qos, Role::Subscription);
    match (w, r) {
        (Ok((wq, wa)), Ok((rq, ra))) => Some((wq, wa, rq, ra)),
        (Err(e), _) | (_, Err(e)) => {
            error!("{what}: {e}");
            None
        }
    }
}

/// Checks the arguments of service / client creation.
///
/// # Safety
/// Pointers are null or valid (rmw API contract).
unsafe fn service_args<'a>(
    what: &str,
    type_support: *const rosidl_service_type_support_t,
    service_name: *const c_char,
    qos: *const rmw_qos_profile_t,
) -> Option<(
    introspection::MessageTables<'a>,
    introspection::MessageTables<'a>,
    CString,
    rmw_qos_profile_t,
)> {
    if type_support.is_null() || service_name.is_null() || qos.is_null() {
        error!("{what}: type_support, service_name and qos must not be null");
        return None;
    }
    // SAFETY: a valid service type support (caller's contract).
    let (rq, rs) = match unsafe { introspection::resolve_service(type_support) } {
        Ok(t) => t,
        Err(e) => {
            error!("{what}: {e}");
            return None;
        }
    };
    // SAFETY: checked non-null, NUL-terminated (caller's contract).
    let name = unsafe { CStr::from_ptr(service_name) };
    if name.is_empty() || name.to_str().is_err() {
        error!("{what}: service name must be non-empty UTF-8");
        return None;
    }
    // SAFETY: checked non-null.
    Some((rq, rs, name.to_owned(), unsafe { *qos }))
}

/// # Safety
/// rmw API contract: live node, valid service type support, NUL-terminated name, valid QoS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_client(
    node: *const rmw_node_t,
    type_support: *const rosidl_service_type_support_t,
    service_name: *const c_char,
    qos_policies: *const rmw_qos_profile_t,
) -> *mut rmw_client_t {
    let null = core::ptr::null_mut();
    boundary("rmw_create_client", null, || {
        const WHAT: &str = "rmw_create_client";
        // SAFETY: the caller guarantees null or a live node.
        let Ok((ni, ctx)) = (unsafe { node_parts(node, WHAT) }) else {
            return null;
        };
        // SAFETY: pointers null or valid (caller's contract).
        let Some((rq, rs, name, qos)) =
            (unsafe { service_args(WHAT, type_support, service_name, qos_policies) })
        else {
            return null;
        };
        let Some((wq, wa, rqos, ra)) = service_qos(&qos, WHAT) else {
            return null;
        };
        let (rq_ty, rs_ty) = match (type_name(rq), type_name(rs)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        let node = match ctx.node() {
            Ok(n) => n,
            Err(e) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        // SAFETY: checked valid by service_args.
        let (hq, hs) = unsafe { service_hashes(type_support) };
        let made = node
            .publisher_with_hash(&request_topic(&name), &rq_ty, hq, wq)
            .and_then(|p| {
                node.subscriber_with_hash(&reply_topic(&name), &rs_ty, hs, rqos)
                    .map(|s| (p, s))
            });
        let (requests, replies) = match made {
            Ok(v) => v,
            Err(e) => {
                error!("{WHAT}: service {name:?}: {e}");
                return null;
            }
        };
        // The request writer's id: unique in the participant, like every endpoint GID.
        let gid = gid(ni.participant, requests.handle().entity());
        let ci = Box::new(ClientImpl {
            _reg: register(
                ni,
                Kind::Client,
                &name,
                (&service_type(&rq_ty), None),
                &gid,
                &wa,
            ),
            requests,
            replies: Arc::new(
                SubQueue::new(replies, ctx.hub(), None, rqos.history).with_prefix(&gid.data),
            ),
            request: rq,
            response: rs,
            gid,
            next_seq: std::sync::atomic::AtomicI64::new(1),
            request_qos: wa,
            reply_qos: ra,
            name,
            scratch: Mutex::new(Vec::new()),
        });
        let handle = Box::into_raw(Box::new(rmw_client_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            data: core::ptr::null_mut(),
            service_name: ci.name.as_ptr(),
        }));
        // SAFETY: just allocated.
        unsafe { (*handle).data = Box::into_raw(ci).cast() };
        handle
    })
}

/// # Safety
/// `c` is null or a live client of any implementation.
unsafe fn client_impl<'a>(c: *const rmw_client_t, what: &str) -> Result<&'a ClientImpl, rmw_ret_t> {
    // SAFETY: the caller guarantees null or a live client.
    let Some(c) = (unsafe { c.as_ref() }) else {
        error!("{what}: client argument is null");
        return Err(RMW_RET_INVALID_ARGUMENT);
    };
    check_ours!(
        "client",
        c.implementation_identifier,
        Err(RMW_RET_INCORRECT_RMW_IMPLEMENTATION)
    );
    // SAFETY: data of our clients is a Box<ClientImpl>.
    unsafe { c.data.cast::<ClientImpl>().as_ref() }.ok_or_else(|| {
        error!("{what}: client is not initialized");
        RMW_RET_ERROR
    })
}

/// # Safety
/// `s` is null or a live service of any implementation.
unsafe fn service_impl<'a>(
    s: *const rmw_service_t,
    what: &str,
) -> Result<&'a ServiceImpl, rmw_ret_t> {
    // SAFETY: the caller guarantees null or a live service.
    let Some(s) = (unsafe { s.as_ref() }) else {
        error!("{what}: service argument is null");
        return Err(RMW_RET_INVALID_ARGUMENT);
    };
    check_ours!(
        "service",
        s.implementation_identifier,
        Err(RMW_RET_INCORRECT_RMW_IMPLEMENTATION)
    );
    // SAFETY: data of our services is a Box<ServiceImpl>.
    unsafe { s.data.cast::<ServiceImpl>().as_ref() }.ok_or_else(|| {
        error!("{what}: service is not initialized");
        RMW_RET_ERROR
    })
}

/// # Safety
/// rmw API contract: `client` was created by `rmw_create_client` on `node`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_client(
    node: *mut rmw_node_t,
    client: *mut rmw_client_t,
) -> rmw_ret_t {
    boundary("rmw_destroy_client", RMW_RET_ERROR, || {
        check_null!(node);
        check_null!(client);
        // SAFETY: checked non-null; the caller guarantees validity.
        let (nid, cid) = unsafe {
            (
                (*node).implementation_identifier,
                (*client).implementation_identifier,
            )
        };
        check_ours!("node", nid);
        check_ours!("client", cid);
        // SAFETY: both boxes were made by rmw_create_client and are freed once.
        unsafe {
            let c = Box::from_raw(client);
            if !c.data.is_null() {
                let ci = Box::from_raw(c.data.cast::<ClientImpl>());
                ci.replies.clear_listener();
                drop(ci);
            }
        }
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: live node, valid service type support, NUL-terminated name, valid QoS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_create_service(
    node: *const rmw_node_t,
    type_support: *const rosidl_service_type_support_t,
    service_name: *const c_char,
    qos_profile: *const rmw_qos_profile_t,
) -> *mut rmw_service_t {
    let null = core::ptr::null_mut();
    boundary("rmw_create_service", null, || {
        const WHAT: &str = "rmw_create_service";
        // SAFETY: the caller guarantees null or a live node.
        let Ok((ni, ctx)) = (unsafe { node_parts(node, WHAT) }) else {
            return null;
        };
        // SAFETY: pointers null or valid (caller's contract).
        let Some((rq, rs, name, qos)) =
            (unsafe { service_args(WHAT, type_support, service_name, qos_profile) })
        else {
            return null;
        };
        let Some((wq, wa, rqos, ra)) = service_qos(&qos, WHAT) else {
            return null;
        };
        let (rq_ty, rs_ty) = match (type_name(rq), type_name(rs)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        let node = match ctx.node() {
            Ok(n) => n,
            Err(e) => {
                error!("{WHAT}: {e}");
                return null;
            }
        };
        // SAFETY: checked valid by service_args.
        let (hq, hs) = unsafe { service_hashes(type_support) };
        let made = node
            .subscriber_with_hash(&request_topic(&name), &rq_ty, hq, rqos)
            .and_then(|s| {
                node.publisher_with_hash(&reply_topic(&name), &rs_ty, hs, wq)
                    .map(|p| (s, p))
            });
        let (requests, replies) = match made {
            Ok(v) => v,
            Err(e) => {
                error!("{WHAT}: service {name:?}: {e}");
                return null;
            }
        };
        let sgid = gid(ni.participant, requests.handle().entity());
        let si = Box::new(ServiceImpl {
            _reg: register(
                ni,
                Kind::Service,
                &name,
                (&service_type(&rq_ty), None),
                &sgid,
                &ra,
            ),
            requests: Arc::new(SubQueue::new(requests, ctx.hub(), None, rqos.history)),
            replies,
            request: rq,
            response: rs,
            request_qos: ra,
            reply_qos: wa,
            name,
            scratch: Mutex::new(Vec::new()),
        });
        let handle = Box::into_raw(Box::new(rmw_service_t {
            implementation_identifier: IDENTIFIER.as_ptr(),
            data: core::ptr::null_mut(),
            service_name: si.name.as_ptr(),
        }));
        // SAFETY: just allocated.
        unsafe { (*handle).data = Box::into_raw(si).cast() };
        handle
    })
}

/// # Safety
/// rmw API contract: `service` was created by `rmw_create_service` on `node`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_destroy_service(
    node: *mut rmw_node_t,
    service: *mut rmw_service_t,
) -> rmw_ret_t {
    boundary("rmw_destroy_service", RMW_RET_ERROR, || {
        check_null!(node);
        check_null!(service);
        // SAFETY: checked non-null; the caller guarantees validity.
        let (nid, sid) = unsafe {
            (
                (*node).implementation_identifier,
                (*service).implementation_identifier,
            )
        };
        check_ours!("node", nid);
        check_ours!("service", sid);
        // SAFETY: both boxes were made by rmw_create_service and are freed once.
        unsafe {
            let s = Box::from_raw(service);
            if !s.data.is_null() {
                let si = Box::from_raw(s.data.cast::<ServiceImpl>());
                si.requests.clear_listener();
                drop(si);
            }
        }
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: live client; `ros_request` of its request type; `sequence_id` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_send_request(
    client: *const rmw_client_t,
    ros_request: *const c_void,
    sequence_id: *mut i64,
) -> rmw_ret_t {
    boundary("rmw_send_request", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_send_request";
        // SAFETY: the caller guarantees null or a live client.
        let ci = match unsafe { client_impl(client, WHAT) } {
            Ok(c) => c,
            Err(r) => return r,
        };
        check_null!(ros_request);
        check_null!(sequence_id);
        let seq = ci
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut buf = lock(&ci.scratch);
        // SAFETY: the request is of the client's request type (caller's contract).
        let n = match unsafe {
            serialize_with_header(
                ci.request,
                ros_request,
                &header(&ci.gid.data, seq),
                &mut buf,
            )
        } {
            Ok(n) => n,
            Err(e) => {
                error!("{WHAT}: {e}");
                return cdr_ret(e);
            }
        };
        match ci.requests.publish_timeout(&buf[..n], Some(PUBLISH_BLOCK)) {
            Ok(_) => {
                ci.replies.hub().published();
                // SAFETY: checked non-null, writable.
                unsafe { *sequence_id = seq };
                RMW_RET_OK
            }
            Err(e) => {
                error!("{WHAT}: service {:?}: {e}", ci.name);
                if matches!(e, NodeError::Timeout) {
                    RMW_RET_TIMEOUT
                } else {
                    RMW_RET_ERROR
                }
            }
        }
    })
}

/// # Safety
/// rmw API contract: live client; `ros_response` of its response type; the other pointers
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_response(
    client: *const rmw_client_t,
    request_header: *mut rmw_service_info_t,
    ros_response: *mut c_void,
    taken: *mut bool,
) -> rmw_ret_t {
    boundary("rmw_take_response", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_take_response";
        // SAFETY: the caller guarantees null or a live client.
        let ci = match unsafe { client_impl(client, WHAT) } {
            Ok(c) => c,
            Err(r) => return r,
        };
        check_null!(request_header);
        check_null!(ros_response);
        check_null!(taken);
        // SAFETY: checked non-null, writable; the response matches the client's type.
        unsafe {
            *taken = false;
            take_service_sample(
                &ci.replies,
                ci.response,
                request_header,
                ros_response,
                taken,
                WHAT,
            )
        }
    })
}

/// Takes one request or reply: header into `info`, CDR into `msg`.
///
/// # Safety
/// `info`, `msg`, `taken` valid; `msg` of the type `tables` describes.
unsafe fn take_service_sample(
    queue: &SubQueue,
    tables: introspection::MessageTables<'_>,
    info: *mut rmw_service_info_t,
    msg: *mut c_void,
    taken: *mut bool,
    what: &str,
) -> rmw_ret_t {
    let deliver = |t: Taken<'_>| {
        let Some(id) = request_id_of(t.data) else {
            error!(
                "{what}: dropping a {}-byte sample without the service header",
                t.data.len()
            );
            return RMW_RET_ERROR;
        };
        // SAFETY: forwarded from the caller.
        unsafe {
            if let Err(e) = introspection::deserialize(tables, &t.data[SERVICE_HEADER..], msg) {
                error!("{what}: dropping a sample that does not deserialize: {e}");
                return cdr_ret(e);
            }
            *info = rmw_service_info_t {
                source_timestamp: 0,
                received_timestamp: t.received_ns,
                request_id: id,
            };
            *taken = true;
        }
        RMW_RET_OK
    };
    match queue.take_with(deliver) {
        Ok(Some(r)) => r,
        Ok(None) => RMW_RET_OK,
        Err(e) => {
            error!("{what}: {e}");
            RMW_RET_ERROR
        }
    }
}

/// # Safety
/// rmw API contract: live service; `ros_request` of its request type; the other pointers
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_take_request(
    service: *const rmw_service_t,
    request_header: *mut rmw_service_info_t,
    ros_request: *mut c_void,
    taken: *mut bool,
) -> rmw_ret_t {
    boundary("rmw_take_request", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_take_request";
        // SAFETY: the caller guarantees null or a live service.
        let si = match unsafe { service_impl(service, WHAT) } {
            Ok(s) => s,
            Err(r) => return r,
        };
        check_null!(request_header);
        check_null!(ros_request);
        check_null!(taken);
        // SAFETY: checked non-null, writable; the request matches the service's type.
        unsafe {
            *taken = false;
            take_service_sample(
                &si.requests,
                si.request,
                request_header,
                ros_request,
                taken,
                WHAT,
            )
        }
    })
}

/// # Safety
/// rmw API contract: live service; `request_header` from `rmw_take_request`; `ros_response`
/// of the service's response type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_send_response(
    service: *const rmw_service_t,
    request_header: *mut rmw_request_id_t,
    ros_response: *mut c_void,
) -> rmw_ret_t {
    boundary("rmw_send_response", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_send_response";
        // SAFETY: the caller guarantees null or a live service.
        let si = match unsafe { service_impl(service, WHAT) } {
            Ok(s) => s,
            Err(r) => return r,
        };
        check_null!(request_header);
        check_null!(ros_response);
        // SAFETY: checked non-null.
        let id = unsafe { *request_header };
        let mut guid = [0u8; 16];
        for (d, s) in guid.iter_mut().zip(id.writer_guid) {
            *d = s as u8;
        }
        let mut buf = lock(&si.scratch);
        // SAFETY: the response is of the service's response type (caller's contract).
        let n = match unsafe {
            serialize_with_header(
                si.response,
                ros_response,
                &header(&guid, id.sequence_number),
                &mut buf,
            )
        } {
            Ok(n) => n,
            Err(e) => {
                error!("{WHAT}: {e}");
                return cdr_ret(e);
            }
        };
        match si.replies.publish_timeout(&buf[..n], Some(PUBLISH_BLOCK)) {
            Ok(_) => {
                si.requests.hub().published();
                RMW_RET_OK
            }
            Err(NodeError::Timeout) => {
                error!(
                    "{WHAT}: service {:?}: the reply window stayed full",
                    si.name
                );
                RMW_RET_TIMEOUT
            }
            Err(e) => {
                error!("{WHAT}: service {:?}: {e}", si.name);
                RMW_RET_ERROR
            }
        }
    })
}

/// # Safety
/// rmw API contract: live node and client; `is_available` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_service_server_is_available(
    node: *const rmw_node_t,
    client: *const rmw_client_t,
    is_available: *mut bool,
) -> rmw_ret_t {
    boundary("rmw_service_server_is_available", RMW_RET_ERROR, || {
        const WHAT: &str = "rmw_service_server_is_available";
        // SAFETY: the caller guarantees null or a live node.
        if let Err(r) = unsafe { node_parts(node, WHAT) } {
            return r;
        }
        // SAFETY: the caller guarantees null or a live client.
        let ci = match unsafe { client_impl(client, WHAT) } {
            Ok(c) => c,
            Err(r) => return r,
        };
        check_null!(is_available);
        let up = ci.requests.matched() > 0 && ci.replies.subscriber().matched() > 0;
        // SAFETY: checked non-null, writable.
        unsafe { *is_available = up };
        RMW_RET_OK
    })
}

/// # Safety
/// rmw API contract: live client; `gid` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_gid_for_client(
    client: *const rmw_client_t,
    gid: *mut rmw_gid_t,
) -> rmw_ret_t {
    boundary("rmw_get_gid_for_client", RMW_RET_ERROR, || {
        // SAFETY: the caller guarantees null or a live client.
        let ci = match unsafe { client_impl(client, "rmw_get_gid_for_client") } {
            Ok(c) => c,
            Err(r) => return r,
        };
        check_null!(gid);
        // SAFETY: checked non-null, writable.
        unsafe { *gid = ci.gid };
        RMW_RET_OK
    })
}

macro_rules! actual_qos {
    ($name:ident, $handle:ty, $get:ident, $field:ident) => {
        /// # Safety
        /// rmw API contract: live handle; `qos` writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            h: *const $handle,
            qos: *mut rmw_qos_profile_t,
        ) -> rmw_ret_t {
            boundary(stringify!($name), RMW_RET_ERROR, || {
                // SAFETY: the caller guarantees null or a live handle.
                let i = match unsafe { $get(h, stringify!($name)) } {
                    Ok(i) => i,
                    Err(r) => return r,
                };
                check_null!(qos);
                // SAFETY: checked non-null, writable.
                unsafe { *qos = i.$field };
                RMW_RET_OK
            })
        }
    };
}

actual_qos!(
    rmw_client_request_publisher_get_actual_qos,
    rmw_client_t,
    client_impl,
    request_qos
);
actual_qos!(
    rmw_client_response_subscription_get_actual_qos,
    rmw_client_t,
    client_impl,
    reply_qos
);
actual_qos!(
    rmw_service_request_subscription_get_actual_qos,
    rmw_service_t,
    service_impl,
    request_qos
);
actual_qos!(
    rmw_service_response_publisher_get_actual_qos,
    rmw_service_t,
    service_impl,
    reply_qos
);

// ---------------------------------------------------------------------------------------------
// Graph queries. The view is the context's own nodes plus the latest description of every
// remote participant (see `crate::graph`). Names are ROS names: l2net does not mangle topic
// names, so `no_demangle` changes nothing.

unsafe extern "C" fn g_alloc(n: usize, _: *mut c_void) -> *mut c_void {
    // SAFETY: plain malloc.
    unsafe { libc::malloc(n) }
}
unsafe extern "C" fn g_free(p: *mut c_void, _: *mut c_void) {
    // SAFETY: `p` came from g_alloc / g_realloc / g_calloc (or is null).
    unsafe { libc::free(p) }
}
unsafe extern "C" fn g_realloc(p: *mut c_void, n: usize, _: *mut c_void) -> *mut c_void {
    // SAFETY: `p` came from this allocator (or is null).
    unsafe { libc::realloc(p, n) }
}
unsafe extern "C" fn g_calloc(n: usize, k: usize, _: *mut c_void) -> *mut c_void {
    // SAFETY: plain calloc.
    unsafe { libc::calloc(n, k) }
}

/// The allocator of the string arrays whose query takes none (as rcutils' default one).
fn default_allocator() -> rcutils_allocator_t {
    rcutils_allocator_t {
        allocate: Some(g_alloc),
        deallocate: Some(g_free),
        reallocate: Some(g_realloc),
        zero_allocate: Some(g_calloc),
        state: core::ptr::null_mut(),
    }
}

/// Frees a string array filled by [`fill_strings`] (as `rcutils_string_array_fini`).
///
/// # Safety
/// `arr` was filled by `fill_strings` or is zeroed.
unsafe fn free_strings(arr: &mut rcutils_string_array_t) {
    let a = arr.allocator;
    if !arr.data.is_null() {
        for i in 0..arr.size {
            // SAFETY: `data` holds `size` entries, each null or from `a`.
            unsafe { dealloc((*arr.data.add(i)).cast(), &a) };
        }
        // SAFETY: from `a`.
        unsafe { dealloc(arr.data.cast(), &a) };
    }
    arr.data = core::ptr::null_mut();
    arr.size = 0;
}

/// Fills a zero-initialised string array (as `rcutils_string_array_init` + copies).
///
/// # Safety
/// `arr` is writable; `a` is valid.
unsafe fn fill_strings<S: AsRef<str>>(
    arr: &mut rcutils_string_array_t,
    items: &[S],
    a: &rcutils_allocator_t,
) -> Result<(), rmw_ret_t> {
    arr.allocator = *a;
    arr.size = 0;
    arr.data = core::ptr::null_mut();
    if items.is_empty() {
        return Ok(());
    }
    let zalloc = a.zero_allocate.ok_or(RMW_RET_INVALID_ARGUMENT)?;
    // SAFETY: a valid allocator.
    let data: *mut *mut c_char =
        unsafe { zalloc(items.len(), size_of::<*mut c_char>(), a.state) }.cast();
    if data.is_null() {
        return Err(RMW_RET_BAD_ALLOC);
    }
    arr.data = data;
    arr.size = items.len();
    for (i, s) in items.iter().enumerate() {
        let c = CString::new(s.as_ref().replace('\0', "")).unwrap_or_default();
        // SAFETY: NUL-terminated; a valid allocator.
        match unsafe { strdup(c.as_ptr(), a) } {
            // SAFETY: `data` holds `items.len()` entries.
            Ok(p) => unsafe { *arr.data.add(i) = p },
            Err(()) => {
                // SAFETY: filled by this function.
                unsafe { free_strings(arr) };
                return Err(RMW_RET_BAD_ALLOC);
            }
        }
    }
    Ok(())
}

fn is_zero_strings(a: &rcutils_string_array_t) -> bool {
    a.size == 0 && a.data.is_null()
}

/// Fills zero-initialised names and types from a sorted map.
///
/// # Safety
/// `nt` is writable; `a` is valid.
unsafe fn fill_names_and_types(
    nt: &mut rmw_names_and_types_t,
    map: &std::collections::BTreeMap<String, Vec<String>>,
    a: &rcutils_allocator_t,
) -> Result<(), rmw_ret_t> {
    let names: Vec<&String> = map.keys().collect();
    // SAFETY: forwarded.
    unsafe { fill_strings(&mut nt.names, &names, a) }?;
    if names.is_empty() {
        return Ok(());
    }
    let zalloc = a.zero_allocate.ok_or(RMW_RET_INVALID_ARGUMENT)?;
    // SAFETY: a valid allocator; zeroed memory is a valid empty rcutils_string_array_t.
    let types = unsafe { zalloc(names.len(), size_of::<rcutils_string_array_t>(), a.state) }
        .cast::<rcutils_string_array_t>();
    if types.is_null() {
        // SAFETY: filled above.
        unsafe { free_strings(&mut nt.names) };
        return Err(RMW_RET_BAD_ALLOC);
    }
    nt.types = types;
    for (i, t) in map.values().enumerate() {
        // SAFETY: `types` holds `names.len()` zeroed entries.
        if let Err(e) = unsafe { fill_strings(&mut *types.add(i), t, a) } {
            // SAFETY: every entry is filled or zeroed.
            unsafe {
                for j in 0..names.len() {
                    free_strings(&mut *types.add(j));
                }
                dealloc(types.cast(), a);
                free_strings(&mut nt.names);
            }
            nt.types = core::ptr::null_mut();
            return Err(e);
        }
    }
    Ok(())
}

/// The graph of the node's context.
///
/// # Safety
/// `node` is null or a live node.
unsafe fn graph_view(node: *const rmw_node_t, what: &str) -> Result<crate::graph::View, rmw_ret_t> {
    // SAFETY: forwarded.
    let (_, ctx) = unsafe { node_parts(node, what) }?;
    Ok(ctx.view())
}

/// # Safety
/// rmw API contract: live node; zero-initialised string arrays.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_node_names(
    node: *const rmw_node_t,
    node_names: *mut rcutils_string_array_t,
    node_namespaces: *mut rcutils_string_array_t,
) -> rmw_ret_t {
    boundary("rmw_get_node_names", RMW_RET_ERROR, || {
        // SAFETY: the caller's contract.
        unsafe { node_names_impl(node, node_names, node_namespaces, core::ptr::null_mut()) }
    })
}

/// # Safety
/// rmw API contract: live node; zero-initialised string arrays.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_node_names_with_enclaves(
    node: *const rmw_node_t,
    node_names: *mut rcutils_string_array_t,
    node_namespaces: *mut rcutils_string_array_t,
    enclaves: *mut rcutils_string_array_t,
) -> rmw_ret_t {
    boundary("rmw_get_node_names_with_enclaves", RMW_RET_ERROR, || {
        check_null!(enclaves);
        // SAFETY: the caller's contract.
        unsafe { node_names_impl(node, node_names, node_namespaces, enclaves) }
    })
}

/// # Safety
/// As `rmw_get_node_names_with_enclaves`; `enclaves` may be null.
unsafe fn node_names_impl(
    node: *const rmw_node_t,
    names: *mut rcutils_string_array_t,
    namespaces: *mut rcutils_string_array_t,
    enclaves: *mut rcutils_string_array_t,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_get_node_names";
    // SAFETY: forwarded.
    let view = match unsafe { graph_view(node, WHAT) } {
        Ok(v) => v,
        Err(r) => return r,
    };
    check_null!(names);
    check_null!(namespaces);
    // SAFETY: checked non-null, writable (caller's contract).
    let (names, namespaces, mut enclaves) =
        unsafe { (&mut *names, &mut *namespaces, enclaves.as_mut()) };
    if !is_zero_strings(names)
        || !is_zero_strings(namespaces)
        || enclaves.as_ref().is_some_and(|e| !is_zero_strings(e))
    {
        error!("{WHAT}: the string arrays must be zero-initialized");
        return RMW_RET_INVALID_ARGUMENT;
    }
    let a = default_allocator();
    let n: Vec<&str> = view.nodes.iter().map(|n| n.name.as_str()).collect();
    let ns: Vec<&str> = view.nodes.iter().map(|n| n.namespace.as_str()).collect();
    let en: Vec<&str> = view.nodes.iter().map(|n| n.enclave.as_str()).collect();
    // SAFETY: writable arrays, a valid allocator; on failure everything is freed.
    unsafe {
        let mut r = fill_strings(names, &n, &a).and_then(|()| fill_strings(namespaces, &ns, &a));
        if let (Ok(()), Some(e)) = (r, enclaves.as_deref_mut()) {
            r = fill_strings(e, &en, &a);
        }
        match r {
            Ok(()) => RMW_RET_OK,
            Err(ret) => {
                free_strings(names);
                free_strings(namespaces);
                if let Some(e) = enclaves {
                    free_strings(e);
                }
                error!("{WHAT}: failed to allocate the names");
                ret
            }
        }
    }
}

macro_rules! count_fn {
    ($name:ident, $kind:expr) => {
        /// # Safety
        /// rmw API contract: live node; NUL-terminated name; writable count.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            node: *const rmw_node_t,
            name: *const c_char,
            count: *mut usize,
        ) -> rmw_ret_t {
            boundary(stringify!($name), RMW_RET_ERROR, || {
                // SAFETY: the caller's contract.
                let view = match unsafe { graph_view(node, stringify!($name)) } {
                    Ok(v) => v,
                    Err(r) => return r,
                };
                check_null!(name);
                check_null!(count);
                // SAFETY: checked non-null, NUL-terminated.
                let Some(name) = (unsafe { utf8(name) }) else {
                    error!(concat!(stringify!($name), ": name is not UTF-8"));
                    return RMW_RET_INVALID_ARGUMENT;
                };
                // SAFETY: checked non-null, writable.
                unsafe { *count = view.count($kind, name) };
                RMW_RET_OK
            })
        }
    };
}

count_fn!(rmw_count_publishers, Kind::Publisher);
count_fn!(rmw_count_subscribers, Kind::Subscription);
count_fn!(rmw_count_clients, Kind::Client);
count_fn!(rmw_count_services, Kind::Service);

/// Names and types of endpoints of `kinds`, of one node if `node_name` is not null.
///
/// # Safety
/// Pointers null or valid (rmw API contract).
unsafe fn names_and_types_impl(
    what: &str,
    node: *const rmw_node_t,
    allocator: *mut rcutils_allocator_t,
    node_name: Option<(*const c_char, *const c_char)>,
    kinds: &[Kind],
    out: *mut rmw_names_and_types_t,
) -> rmw_ret_t {
    // SAFETY: forwarded.
    let view = match unsafe { graph_view(node, what) } {
        Ok(v) => v,
        Err(r) => return r,
    };
    check_null!(allocator);
    check_null!(out);
    // SAFETY: checked non-null (caller's contract).
    let (a, nt) = unsafe { (*allocator, &mut *out) };
    if !a.is_valid() {
        error!("{what}: invalid allocator");
        return RMW_RET_INVALID_ARGUMENT;
    }
    if !is_zero_strings(&nt.names) || !nt.types.is_null() {
        error!("{what}: names and types must be zero-initialized");
        return RMW_RET_INVALID_ARGUMENT;
    }
    let filter = match node_name {
        None => None,
        Some((n, ns)) => {
            // SAFETY: NUL-terminated or null (caller's contract).
            let (Some(n), Some(ns)) = (unsafe { utf8(n) }, unsafe { utf8(ns) }) else {
                error!("{what}: node name and namespace must be non-null UTF-8");
                return RMW_RET_INVALID_ARGUMENT;
            };
            if !view.has_node(n, ns) {
                error!("{what}: no node {n:?} in namespace {ns:?}");
                return RMW_RET_NODE_NAME_NON_EXISTENT;
            }
            Some((n, ns))
        }
    };
    let map = view.names_and_types(kinds, filter);
    // SAFETY: writable, zero-initialised; a valid allocator.
    match unsafe { fill_names_and_types(nt, &map, &a) } {
        Ok(()) => RMW_RET_OK,
        Err(r) => {
            error!("{what}: failed to allocate the result");
            r
        }
    }
}

/// # Safety
/// rmw API contract: live node, valid allocator, zero-initialised result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_topic_names_and_types(
    node: *const rmw_node_t,
    allocator: *mut rcutils_allocator_t,
    no_demangle: bool,
    topic_names_and_types: *mut rmw_names_and_types_t,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_get_topic_names_and_types";
    boundary(WHAT, RMW_RET_ERROR, || {
        let _ = no_demangle;
        let kinds = [Kind::Publisher, Kind::Subscription];
        // SAFETY: the caller's contract.
        unsafe { names_and_types_impl(WHAT, node, allocator, None, &kinds, topic_names_and_types) }
    })
}

/// # Safety
/// rmw API contract: live node, valid allocator, zero-initialised result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_service_names_and_types(
    node: *const rmw_node_t,
    allocator: *mut rcutils_allocator_t,
    service_names_and_types: *mut rmw_names_and_types_t,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_get_service_names_and_types";
    boundary(WHAT, RMW_RET_ERROR, || {
        // SAFETY: the caller's contract.
        unsafe {
            names_and_types_impl(
                WHAT,
                node,
                allocator,
                None,
                &[Kind::Service],
                service_names_and_types,
            )
        }
    })
}

macro_rules! by_node_fn {
    ($name:ident, $kind:expr $(, $demangle:ident)?) => {
        /// # Safety
        /// rmw API contract: live node, valid allocator, NUL-terminated names,
        /// zero-initialised result.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            node: *const rmw_node_t,
            allocator: *mut rcutils_allocator_t,
            node_name: *const c_char,
            node_namespace: *const c_char,
            $($demangle: bool,)?
            names_and_types: *mut rmw_names_and_types_t,
        ) -> rmw_ret_t {
            boundary(stringify!($name), RMW_RET_ERROR, || {
                $(let _ = $demangle;)?
                // SAFETY: the caller's contract.
                unsafe {
                    names_and_types_impl(
                        stringify!($name),
                        node,
                        allocator,
                        Some((node_name, node_namespace)),
                        &[$kind],
                        names_and_types,
                    )
                }
            })
        }
    };
}

by_node_fn!(
    rmw_get_publisher_names_and_types_by_node,
    Kind::Publisher,
    no_demangle
);
by_node_fn!(
    rmw_get_subscriber_names_and_types_by_node,
    Kind::Subscription,
    no_demangle
);
by_node_fn!(rmw_get_service_names_and_types_by_node, Kind::Service);
by_node_fn!(rmw_get_client_names_and_types_by_node, Kind::Client);

/// Endpoint infos of `kind` on `topic_name`.
///
/// # Safety
/// Pointers null or valid (rmw API contract).
unsafe fn infos_by_topic(
    what: &str,
    node: *const rmw_node_t,
    allocator: *mut rcutils_allocator_t,
    topic_name: *const c_char,
    kind: Kind,
    out: *mut rmw_topic_endpoint_info_array_t,
) -> rmw_ret_t {
    // SAFETY: forwarded.
    let view = match unsafe { graph_view(node, what) } {
        Ok(v) => v,
        Err(r) => return r,
    };
    check_null!(allocator);
    check_null!(topic_name);
    check_null!(out);
    // SAFETY: checked non-null (caller's contract).
    let (a, arr, topic) = unsafe { (*allocator, &mut *out, utf8(topic_name)) };
    let Some(topic) = topic else {
        error!("{what}: topic name is not UTF-8");
        return RMW_RET_INVALID_ARGUMENT;
    };
    if !a.is_valid() {
        error!("{what}: invalid allocator");
        return RMW_RET_INVALID_ARGUMENT;
    }
    if arr.size != 0 || !arr.info_array.is_null() {
        error!("{what}: the info array must be zero-initialized");
        return RMW_RET_INVALID_ARGUMENT;
    }
    let found: Vec<_> = view
        .endpoints()
        .filter(|(_, e)| e.kind == kind && e.name == topic)
        .collect();
    if found.is_empty() {
        return RMW_RET_OK;
    }
    let Some(zalloc) = a.zero_allocate else {
        error!("{what}: invalid allocator");
        return RMW_RET_INVALID_ARGUMENT;
    };
    // SAFETY: a valid allocator; zeroed memory is a valid empty endpoint info.
    let infos = unsafe { zalloc(found.len(), size_of::<rmw_topic_endpoint_info_t>(), a.state) }
        .cast::<rmw_topic_endpoint_info_t>();
    if infos.is_null() {
        error!("{what}: failed to allocate the infos");
        return RMW_RET_BAD_ALLOC;
    }
    let mut failed = false;
    for (i, (n, e)) in found.iter().enumerate() {
        let dup = |s: &str| {
            let c = CString::new(s.replace('\0', "")).unwrap_or_default();
            // SAFETY: NUL-terminated; a valid allocator.
            unsafe { strdup(c.as_ptr(), &a) }.unwrap_or(core::ptr::null_mut())
        };
        let q = &e.qos;
        let info = rmw_topic_endpoint_info_t {
            node_name: dup(&n.name),
            node_namespace: dup(&n.namespace),
            topic_type: dup(&e.type_name),
            topic_type_hash: rosidl_type_hash_t {
                version: u8::from(e.type_hash.is_some()),
                value: e.type_hash.unwrap_or([0; ROSIDL_TYPE_HASH_SIZE]),
            },
            endpoint_type: match kind {
                Kind::Publisher => RMW_ENDPOINT_PUBLISHER,
                _ => RMW_ENDPOINT_SUBSCRIPTION,
            },
            endpoint_gid: e.gid,
            qos_profile: rmw_qos_profile_t {
                history: q.history,
                depth: q.depth as usize,
                reliability: q.reliability,
                durability: q.durability,
                deadline: rmw_time_t {
                    sec: q.deadline.0,
                    nsec: q.deadline.1,
                },
                lifespan: rmw_time_t {
                    sec: q.lifespan.0,
                    nsec: q.lifespan.1,
                },
                liveliness: q.liveliness,
                liveliness_lease_duration: rmw_time_t {
                    sec: q.liveliness_lease.0,
                    nsec: q.liveliness_lease.1,
                },
                avoid_ros_namespace_conventions: false,
            },
        };
        failed |=
            info.node_name.is_null() || info.node_namespace.is_null() || info.topic_type.is_null();
        // SAFETY: `infos` holds found.len() entries.
        unsafe { infos.add(i).write(info) };
    }
    if failed {
        // SAFETY: every entry's strings are null or from `a`; the array is from `a`.
        unsafe {
            for i in 0..found.len() {
                let e = &*infos.add(i);
                dealloc(e.node_name.cast_mut().cast(), &a);
                dealloc(e.node_namespace.cast_mut().cast(), &a);
                dealloc(e.topic_type.cast_mut().cast(), &a);
            }
            dealloc(infos.cast(), &a);
        }
        error!("{what}: failed to allocate the infos");
        return RMW_RET_BAD_ALLOC;
    }
    arr.size = found.len();
    arr.info_array = infos;
    RMW_RET_OK
}

/// # Safety
/// rmw API contract: live node, valid allocator, NUL-terminated topic, zero-initialised array.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_publishers_info_by_topic(
    node: *const rmw_node_t,
    allocator: *mut rcutils_allocator_t,
    topic_name: *const c_char,
    no_mangle: bool,
    publishers_info: *mut rmw_topic_endpoint_info_array_t,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_get_publishers_info_by_topic";
    boundary(WHAT, RMW_RET_ERROR, || {
        let _ = no_mangle;
        // SAFETY: the caller's contract.
        unsafe {
            infos_by_topic(
                WHAT,
                node,
                allocator,
                topic_name,
                Kind::Publisher,
                publishers_info,
            )
        }
    })
}

/// # Safety
/// rmw API contract: live node, valid allocator, NUL-terminated topic, zero-initialised array.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmw_get_subscriptions_info_by_topic(
    node: *const rmw_node_t,
    allocator: *mut rcutils_allocator_t,
    topic_name: *const c_char,
    no_mangle: bool,
    subscriptions_info: *mut rmw_topic_endpoint_info_array_t,
) -> rmw_ret_t {
    const WHAT: &str = "rmw_get_subscriptions_info_by_topic";
    boundary(WHAT, RMW_RET_ERROR, || {
        let _ = no_mangle;
        // SAFETY: the caller's contract.
        unsafe {
            infos_by_topic(
                WHAT,
                node,
                allocator,
                topic_name,
                Kind::Subscription,
                subscriptions_info,
            )
        }
    })
}
