//! The middleware driven through its C ABI, as rcl drives it: librmw_l2net_cpp.so is dlopen'ed
//! and every function looked up by name (as rmw_implementation does), a context is initialised
//! from init options, a node gets one publisher and one subscription of a byte-array message
//! whose C introspection type support is built here by hand (`l2net_bench/msg/Bytes`, one field
//! `uint8[] data`, laid out as rosidl_generator_c lays it out), and a wait set is re-filled
//! before every `rmw_wait` with the subscription, the node's graph guard condition and one
//! guard condition of the application (what an rclcpp executor waits on besides its
//! subscriptions). All the benchmark's unsafe code is in this module.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::time::Duration;

use rmw_l2net_cpp::abi::*;

type Res<T> = Result<T, String>;

// ---- rcutils' default allocator, as rcl passes it.
unsafe extern "C" fn a_alloc(n: usize, _: *mut c_void) -> *mut c_void {
    // SAFETY: malloc has no preconditions.
    unsafe { libc::malloc(n) }
}
unsafe extern "C" fn a_free(p: *mut c_void, _: *mut c_void) {
    // SAFETY: the library frees only what this allocator (malloc) gave it.
    unsafe { libc::free(p) }
}
unsafe extern "C" fn a_realloc(p: *mut c_void, n: usize, _: *mut c_void) -> *mut c_void {
    // SAFETY: p is null or came from this allocator.
    unsafe { libc::realloc(p, n) }
}
unsafe extern "C" fn a_calloc(n: usize, k: usize, _: *mut c_void) -> *mut c_void {
    // SAFETY: calloc has no preconditions.
    unsafe { libc::calloc(n, k) }
}

const ALLOCATOR: rcutils_allocator_t = rcutils_allocator_t {
    allocate: Some(a_alloc),
    deallocate: Some(a_free),
    reallocate: Some(a_realloc),
    zero_allocate: Some(a_calloc),
    state: ptr::null_mut(),
};

/// `l2net_bench/msg/Bytes` in the rosidl_generator_c layout: `rosidl_runtime_c__uint8__Sequence data`.
#[repr(C)]
struct BytesMsg {
    data: rosidl_runtime_c__Sequence,
}

impl BytesMsg {
    const EMPTY: BytesMsg = BytesMsg {
        data: rosidl_runtime_c__Sequence {
            data: ptr::null_mut(),
            size: 0,
            capacity: 0,
        },
    };
}

unsafe extern "C" fn bytes_init(msg: *mut c_void, _how: c_int) {
    // SAFETY: the library passes a message of size_of_ bytes.
    unsafe { ptr::write(msg.cast::<BytesMsg>(), BytesMsg::EMPTY) }
}

unsafe extern "C" fn bytes_fini(msg: *mut c_void) {
    // SAFETY: the library passes a message it initialised or filled with the C allocator.
    unsafe {
        let m = &mut *msg.cast::<BytesMsg>();
        libc::free(m.data.data);
        m.data = BytesMsg::EMPTY.data;
    }
}

const INTROSPECTION_C: &CStr = c"rosidl_typesupport_introspection_c";

unsafe extern "C" fn handle_getter(
    handle: *const rosidl_message_type_support_t,
    identifier: *const c_char,
) -> *const rosidl_message_type_support_t {
    // SAFETY: rosidl passes a live handle and a NUL-terminated identifier.
    unsafe {
        if !identifier.is_null() && CStr::from_ptr(identifier) == INTROSPECTION_C {
            handle
        } else {
            ptr::null()
        }
    }
}

/// The hand-built C introspection type support of `l2net_bench/msg/Bytes`, alive for the
/// process (as a generated one is for the life of its library).
fn bytes_type_support() -> &'static rosidl_message_type_support_t {
    let member = Box::leak(Box::new(
        rosidl_typesupport_introspection_c__MessageMember {
            name_: c"data".as_ptr(),
            type_id_: field_type::UINT8,
            string_upper_bound_: 0,
            members_: ptr::null(),
            is_key_: false,
            is_array_: true,
            array_size_: 0,
            is_upper_bound_: false,
            offset_: 0,
            default_value_: ptr::null(),
            size_function: None,
            get_const_function: None,
            get_function: None,
            fetch_function: None,
            assign_function: None,
            resize_function: None,
        },
    ));
    let members = Box::leak(Box::new(
        rosidl_typesupport_introspection_c__MessageMembers {
            message_namespace_: c"l2net_bench__msg".as_ptr(),
            message_name_: c"Bytes".as_ptr(),
            member_count_: 1,
            size_of_: size_of::<BytesMsg>(),
            has_any_key_member_: false,
            members_: member,
            init_function: Some(bytes_init),
            fini_function: Some(bytes_fini),
        },
    ));
    Box::leak(Box::new(rosidl_message_type_support_t {
        typesupport_identifier: INTROSPECTION_C.as_ptr(),
        data: (members as *const rosidl_typesupport_introspection_c__MessageMembers).cast(),
        func: Some(handle_getter),
        get_type_hash_func: None,
        get_type_description_func: ptr::null(),
        get_type_description_sources_func: ptr::null(),
    }))
}

/// The rmw functions the benchmark calls, looked up by name in the loaded library.
struct Api {
    init_options_init:
        unsafe extern "C" fn(*mut rmw_init_options_t, rcutils_allocator_t) -> rmw_ret_t,
    init_options_fini: unsafe extern "C" fn(*mut rmw_init_options_t) -> rmw_ret_t,
    init: unsafe extern "C" fn(*const rmw_init_options_t, *mut rmw_context_t) -> rmw_ret_t,
    shutdown: unsafe extern "C" fn(*mut rmw_context_t) -> rmw_ret_t,
    context_fini: unsafe extern "C" fn(*mut rmw_context_t) -> rmw_ret_t,
    create_node:
        unsafe extern "C" fn(*mut rmw_context_t, *const c_char, *const c_char) -> *mut rmw_node_t,
    destroy_node: unsafe extern "C" fn(*mut rmw_node_t) -> rmw_ret_t,
    node_get_graph_guard_condition:
        unsafe extern "C" fn(*const rmw_node_t) -> *const rmw_guard_condition_t,
    create_guard_condition: unsafe extern "C" fn(*mut rmw_context_t) -> *mut rmw_guard_condition_t,
    destroy_guard_condition: unsafe extern "C" fn(*mut rmw_guard_condition_t) -> rmw_ret_t,
    create_publisher: unsafe extern "C" fn(
        *const rmw_node_t,
        *const rosidl_message_type_support_t,
        *const c_char,
        *const rmw_qos_profile_t,
        *const rmw_publisher_options_t,
    ) -> *mut rmw_publisher_t,
    destroy_publisher: unsafe extern "C" fn(*mut rmw_node_t, *mut rmw_publisher_t) -> rmw_ret_t,
    publish: unsafe extern "C" fn(*const rmw_publisher_t, *const c_void, *mut c_void) -> rmw_ret_t,
    publisher_count_matched_subscriptions:
        unsafe extern "C" fn(*const rmw_publisher_t, *mut usize) -> rmw_ret_t,
    create_subscription: unsafe extern "C" fn(
        *const rmw_node_t,
        *const rosidl_message_type_support_t,
        *const c_char,
        *const rmw_qos_profile_t,
        *const rmw_subscription_options_t,
    ) -> *mut rmw_subscription_t,
    destroy_subscription:
        unsafe extern "C" fn(*mut rmw_node_t, *mut rmw_subscription_t) -> rmw_ret_t,
    subscription_count_matched_publishers:
        unsafe extern "C" fn(*const rmw_subscription_t, *mut usize) -> rmw_ret_t,
    take_with_info: unsafe extern "C" fn(
        *const rmw_subscription_t,
        *mut c_void,
        *mut bool,
        *mut rmw_message_info_t,
        *mut c_void,
    ) -> rmw_ret_t,
    create_wait_set: unsafe extern "C" fn(*mut rmw_context_t, usize) -> *mut rmw_wait_set_t,
    destroy_wait_set: unsafe extern "C" fn(*mut rmw_wait_set_t) -> rmw_ret_t,
    wait: unsafe extern "C" fn(
        *mut rmw_subscriptions_t,
        *mut rmw_guard_conditions_t,
        *mut rmw_services_t,
        *mut rmw_clients_t,
        *mut rmw_events_t,
        *mut rmw_wait_set_t,
        *const rmw_time_t,
    ) -> rmw_ret_t,
}

/// A function pointer of type `F` from a symbol address.
///
/// # Safety
/// `F` must be an `extern "C"` function pointer type matching the symbol's definition.
unsafe fn fn_from<F: Copy>(p: *mut c_void) -> F {
    assert_eq!(
        size_of::<F>(),
        size_of::<*mut c_void>(),
        "not a function pointer type"
    );
    // SAFETY: the caller names the symbol's function pointer type; sizes are equal.
    unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) }
}

fn load(path: &str) -> Res<Api> {
    let c_path = CString::new(path).map_err(|_| "library path contains NUL".to_string())?;
    // SAFETY: dlopen of the middleware library, as rmw_implementation loads it.
    let lib = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        // SAFETY: dlerror returns a NUL-terminated message after a failed dlopen.
        let why = unsafe { CStr::from_ptr(libc::dlerror()) };
        return Err(format!("dlopen {path}: {}", why.to_string_lossy()));
    }
    let sym = |name: &CStr| -> Res<*mut c_void> {
        // SAFETY: dlsym on the live handle (never closed: the library stays for the process).
        let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
        if p.is_null() {
            Err(format!("{path} does not export {}", name.to_string_lossy()))
        } else {
            Ok(p)
        }
    };
    macro_rules! f {
        ($name:literal) => {
            // SAFETY: the symbol is the rmw function of that name and the field's type is its
            // Jazzy signature (rmw/rmw.h, rmw/init.h, rmw/init_options.h).
            unsafe { fn_from(sym($name)?) }
        };
    }
    Ok(Api {
        init_options_init: f!(c"rmw_init_options_init"),
        init_options_fini: f!(c"rmw_init_options_fini"),
        init: f!(c"rmw_init"),
        shutdown: f!(c"rmw_shutdown"),
        context_fini: f!(c"rmw_context_fini"),
        create_node: f!(c"rmw_create_node"),
        destroy_node: f!(c"rmw_destroy_node"),
        node_get_graph_guard_condition: f!(c"rmw_node_get_graph_guard_condition"),
        create_guard_condition: f!(c"rmw_create_guard_condition"),
        destroy_guard_condition: f!(c"rmw_destroy_guard_condition"),
        create_publisher: f!(c"rmw_create_publisher"),
        destroy_publisher: f!(c"rmw_destroy_publisher"),
        publish: f!(c"rmw_publish"),
        publisher_count_matched_subscriptions: f!(c"rmw_publisher_count_matched_subscriptions"),
        create_subscription: f!(c"rmw_create_subscription"),
        destroy_subscription: f!(c"rmw_destroy_subscription"),
        subscription_count_matched_publishers: f!(c"rmw_subscription_count_matched_publishers"),
        take_with_info: f!(c"rmw_take_with_info"),
        create_wait_set: f!(c"rmw_create_wait_set"),
        destroy_wait_set: f!(c"rmw_destroy_wait_set"),
        wait: f!(c"rmw_wait"),
    })
}

/// `rmw_qos_profile_default` (reliable, volatile, keep last 10), or its best-effort variant
/// (`rmw_qos_profile_sensor_data` without the depth change).
pub fn qos(reliable: bool) -> rmw_qos_profile_t {
    let zero = rmw_time_t { sec: 0, nsec: 0 };
    rmw_qos_profile_t {
        history: RMW_QOS_POLICY_HISTORY_KEEP_LAST,
        depth: 10,
        reliability: if reliable {
            RMW_QOS_POLICY_RELIABILITY_RELIABLE
        } else {
            RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT
        },
        durability: RMW_QOS_POLICY_DURABILITY_VOLATILE,
        deadline: zero,
        lifespan: zero,
        liveliness: RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT,
        liveliness_lease_duration: zero,
        avoid_ros_namespace_conventions: false,
    }
}

/// One rmw context with one node, an optional publisher and subscription, a guard condition and
/// a wait set; everything is destroyed (and the context shut down) on drop, in rcl's order.
pub struct Session {
    api: Api,
    ctx: Box<rmw_context_t>,
    node: *mut rmw_node_t,
    publ: *mut rmw_publisher_t,
    sub: *mut rmw_subscription_t,
    guard: *mut rmw_guard_condition_t,
    graph: *const rmw_guard_condition_t,
    ws: *mut rmw_wait_set_t,
    ts: &'static rosidl_message_type_support_t,
    /// The message published from the caller's bytes (points into `payload`).
    out: BytesMsg,
    payload: Vec<u8>,
    /// The message taken into (its buffer grows with the C allocator, freed on drop).
    inp: BytesMsg,
}

fn check(what: &str, rc: rmw_ret_t) -> Res<()> {
    if rc == RMW_RET_OK {
        Ok(())
    } else {
        Err(format!("{what} returned {rc}"))
    }
}

impl Session {
    /// Load `lib`, init a context on `domain` (the interface comes from RMW_L2NET_INTERFACE),
    /// create node `name` and, when given, a publisher and a subscription.
    pub fn open(
        lib: &str,
        domain: usize,
        name: &str,
        pub_topic: Option<&str>,
        sub_topic: Option<&str>,
        qos: rmw_qos_profile_t,
    ) -> Res<Session> {
        let api = load(lib)?;
        // SAFETY: zeroed is rmw_get_zero_initialized_context / _init_options (all null / 0).
        let mut ctx: Box<rmw_context_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        let mut opts: rmw_init_options_t = unsafe { std::mem::zeroed() };
        // SAFETY: zero-initialised options and a valid allocator, as rcl_init_options_init.
        check("rmw_init_options_init", unsafe {
            (api.init_options_init)(&mut opts, ALLOCATOR)
        })?;
        opts.domain_id = domain;
        // SAFETY: strdup of a literal; rmw_init_options_fini frees it with the allocator.
        opts.enclave = unsafe { libc::strdup(c"/".as_ptr()) };
        // SAFETY: initialised options and a zeroed context.
        let rc = unsafe { (api.init)(&opts, &mut *ctx) };
        // SAFETY: the options were initialised by rmw_init_options_init.
        let rc_fini = unsafe { (api.init_options_fini)(&mut opts) };
        check("rmw_init", rc)?;
        let mut s = Session {
            api,
            ctx,
            node: ptr::null_mut(),
            publ: ptr::null_mut(),
            sub: ptr::null_mut(),
            guard: ptr::null_mut(),
            graph: ptr::null(),
            ws: ptr::null_mut(),
            ts: bytes_type_support(),
            out: BytesMsg::EMPTY,
            payload: Vec::new(),
            inp: BytesMsg::EMPTY,
        };
        check("rmw_init_options_fini", rc_fini)?;
        let c_name = CString::new(name).map_err(|_| "node name contains NUL".to_string())?;
        // SAFETY: an initialised context and NUL-terminated names.
        s.node = unsafe { (s.api.create_node)(&mut *s.ctx, c_name.as_ptr(), c"/".as_ptr()) };
        if s.node.is_null() {
            return Err("rmw_create_node failed".into());
        }
        // SAFETY: a live node.
        s.graph = unsafe { (s.api.node_get_graph_guard_condition)(s.node) };
        // SAFETY: an initialised context.
        s.guard = unsafe { (s.api.create_guard_condition)(&mut *s.ctx) };
        if s.graph.is_null() || s.guard.is_null() {
            return Err("guard conditions could not be made".into());
        }
        if let Some(topic) = pub_topic {
            let t = CString::new(topic).map_err(|_| "topic contains NUL".to_string())?;
            let po = rmw_publisher_options_t {
                rmw_specific_publisher_payload: ptr::null_mut(),
                require_unique_network_flow_endpoints: 0,
            };
            // SAFETY: a live node, a type support alive for the process, valid QoS and options.
            s.publ = unsafe { (s.api.create_publisher)(s.node, s.ts, t.as_ptr(), &qos, &po) };
            if s.publ.is_null() {
                return Err(format!("rmw_create_publisher({topic}) failed"));
            }
        }
        if let Some(topic) = sub_topic {
            let t = CString::new(topic).map_err(|_| "topic contains NUL".to_string())?;
            let so = rmw_subscription_options_t {
                rmw_specific_subscription_payload: ptr::null_mut(),
                ignore_local_publications: false,
                require_unique_network_flow_endpoints: 0,
                content_filter_options: ptr::null_mut(),
            };
            // SAFETY: as for the publisher.
            s.sub = unsafe { (s.api.create_subscription)(s.node, s.ts, t.as_ptr(), &qos, &so) };
            if s.sub.is_null() {
                return Err(format!("rmw_create_subscription({topic}) failed"));
            }
        }
        // SAFETY: an initialised context; 3 entries (subscription and two guard conditions).
        s.ws = unsafe { (s.api.create_wait_set)(&mut *s.ctx, 3) };
        if s.ws.is_null() {
            return Err("rmw_create_wait_set failed".into());
        }
        Ok(s)
    }

    /// (subscriptions matched by the publisher, publishers matched by the subscription); 0 for
    /// an endpoint this session does not have.
    pub fn matched(&self) -> Res<(usize, usize)> {
        let (mut p, mut s) = (0usize, 0usize);
        if !self.publ.is_null() {
            // SAFETY: a live publisher and a valid out pointer.
            check("rmw_publisher_count_matched_subscriptions", unsafe {
                (self.api.publisher_count_matched_subscriptions)(self.publ, &mut p)
            })?;
        }
        if !self.sub.is_null() {
            // SAFETY: a live subscription and a valid out pointer.
            check("rmw_subscription_count_matched_publishers", unsafe {
                (self.api.subscription_count_matched_publishers)(self.sub, &mut s)
            })?;
        }
        Ok((p, s))
    }

    /// Set the bytes the next [`Session::publish`] sends.
    pub fn set_payload(&mut self, bytes: &[u8]) {
        self.payload.clear();
        self.payload.extend_from_slice(bytes);
        self.out.data = rosidl_runtime_c__Sequence {
            data: self.payload.as_mut_ptr().cast(),
            size: self.payload.len(),
            capacity: self.payload.len(),
        };
    }

    /// The payload buffer, to change bytes in place between publishes.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.payload
    }

    /// `rmw_publish` of the payload; `Ok(false)` when a reliable publisher's window stayed full
    /// (RMW_RET_TIMEOUT).
    pub fn publish(&mut self) -> Res<bool> {
        // SAFETY: a live publisher and a message of the publisher's type whose sequence points
        // into `payload`, unchanged since set_payload.
        let rc = unsafe {
            (self.api.publish)(
                self.publ,
                (&self.out as *const BytesMsg).cast(),
                ptr::null_mut(),
            )
        };
        match rc {
            RMW_RET_OK => Ok(true),
            RMW_RET_TIMEOUT => Ok(false),
            rc => Err(format!("rmw_publish returned {rc}")),
        }
    }

    /// `rmw_publish` of the message taken last (an echo).
    pub fn publish_taken(&mut self) -> Res<bool> {
        // SAFETY: a live publisher and a message the library filled.
        let rc = unsafe {
            (self.api.publish)(
                self.publ,
                (&self.inp as *const BytesMsg).cast(),
                ptr::null_mut(),
            )
        };
        match rc {
            RMW_RET_OK => Ok(true),
            RMW_RET_TIMEOUT => Ok(false),
            rc => Err(format!("rmw_publish returned {rc}")),
        }
    }

    /// One rcl_wait: the arrays are filled afresh (subscription, graph guard condition, the
    /// application's guard condition); `Ok(true)` when the subscription is ready.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Res<bool> {
        // SAFETY: reading the data pointers of live entities.
        let (sub_data, graph_data, guard_data) =
            unsafe { ((*self.sub).data, (*self.graph).data, (*self.guard).data) };
        let mut subs = [sub_data];
        let mut gcs = [graph_data, guard_data];
        let mut s = rmw_subscriptions_t {
            subscriber_count: 1,
            subscribers: subs.as_mut_ptr(),
        };
        let mut g = rmw_guard_conditions_t {
            guard_condition_count: 2,
            guard_conditions: gcs.as_mut_ptr(),
        };
        let mut srv = rmw_services_t {
            service_count: 0,
            services: ptr::null_mut(),
        };
        let mut cli = rmw_clients_t {
            client_count: 0,
            clients: ptr::null_mut(),
        };
        let mut ev = rmw_events_t {
            event_count: 0,
            events: ptr::null_mut(),
        };
        let t = timeout.map(|d| rmw_time_t {
            sec: d.as_secs(),
            nsec: u64::from(d.subsec_nanos()),
        });
        let tp = t.as_ref().map_or(ptr::null(), |t| t as *const rmw_time_t);
        // SAFETY: arrays that outlive the call, a live wait set and a valid or null timeout.
        let rc =
            unsafe { (self.api.wait)(&mut s, &mut g, &mut srv, &mut cli, &mut ev, self.ws, tp) };
        match rc {
            RMW_RET_OK => Ok(!subs[0].is_null()),
            RMW_RET_TIMEOUT => Ok(false),
            rc => Err(format!("rmw_wait returned {rc}")),
        }
    }

    /// `rmw_take_with_info` (what rcl_take calls); the taken bytes, or `None`.
    pub fn take(&mut self) -> Res<Option<&[u8]>> {
        let mut taken = false;
        // SAFETY: zeroed message info is valid plain data.
        let mut info: rmw_message_info_t = unsafe { std::mem::zeroed() };
        // SAFETY: a live subscription and a message of its type owned by this session.
        check("rmw_take_with_info", unsafe {
            (self.api.take_with_info)(
                self.sub,
                (&mut self.inp as *mut BytesMsg).cast(),
                &mut taken,
                &mut info,
                ptr::null_mut(),
            )
        })?;
        if !taken {
            return Ok(None);
        }
        let seq = &self.inp.data;
        if seq.size == 0 {
            return Ok(Some(&[]));
        }
        // SAFETY: the library filled `size` bytes at `data` (C allocator).
        Ok(Some(unsafe {
            std::slice::from_raw_parts(seq.data.cast::<u8>(), seq.size)
        }))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: each entity was created by this session and is destroyed once, before its
        // node; the context is shut down and finalised last, as rcl does.
        unsafe {
            if !self.ws.is_null() {
                (self.api.destroy_wait_set)(self.ws);
            }
            if !self.sub.is_null() {
                (self.api.destroy_subscription)(self.node, self.sub);
            }
            if !self.publ.is_null() {
                (self.api.destroy_publisher)(self.node, self.publ);
            }
            if !self.guard.is_null() {
                (self.api.destroy_guard_condition)(self.guard);
            }
            if !self.node.is_null() {
                (self.api.destroy_node)(self.node);
            }
            if !self.ctx.impl_.is_null() {
                (self.api.shutdown)(&mut *self.ctx);
                (self.api.context_fini)(&mut *self.ctx);
            }
            bytes_fini((&mut self.inp as *mut BytesMsg).cast());
        }
    }
}
