//! Hand-written declarations of the ROS 2 Jazzy C ABI types this library reads or writes.
//!
//! The public headers of ros2/rmw, ros2/rcutils and ros2/rosidl (Jazzy: rmw 7.3, rcutils 6.7,
//! rosidl 4.6) are the authority; every struct here has a layout test (size, alignment, every
//! offset) against the numbers measured on x86_64 Linux, in `tests` at the bottom of this file.
//!
//! C enums are declared as `c_int` aliases with associated constants, never as Rust enums: a
//! value from C that is outside the known set must not be undefined behaviour.
//! This module only declares data; it contains no `unsafe` code.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_void};

/// `rmw_ret_t` (rmw/ret_types.h).
pub type rmw_ret_t = i32;
pub const RMW_RET_OK: rmw_ret_t = 0;
pub const RMW_RET_ERROR: rmw_ret_t = 1;
pub const RMW_RET_TIMEOUT: rmw_ret_t = 2;
pub const RMW_RET_UNSUPPORTED: rmw_ret_t = 3;
pub const RMW_RET_BAD_ALLOC: rmw_ret_t = 10;
pub const RMW_RET_INVALID_ARGUMENT: rmw_ret_t = 11;
pub const RMW_RET_INCORRECT_RMW_IMPLEMENTATION: rmw_ret_t = 12;

/// `RMW_GID_STORAGE_SIZE` (Jazzy: 16).
pub const RMW_GID_STORAGE_SIZE: usize = 16;
/// `ROSIDL_TYPE_HASH_SIZE`.
pub const ROSIDL_TYPE_HASH_SIZE: usize = 32;
/// `RMW_DISCOVERY_OPTIONS_STATIC_PEERS_MAX_LENGTH`.
pub const RMW_DISCOVERY_OPTIONS_STATIC_PEERS_MAX_LENGTH: usize = 256;
/// `RMW_DEFAULT_DOMAIN_ID` (`SIZE_MAX`).
pub const RMW_DEFAULT_DOMAIN_ID: usize = usize::MAX;

/// `rcutils_allocator_t` (rcutils/allocator.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rcutils_allocator_t {
    pub allocate: Option<unsafe extern "C" fn(size: usize, state: *mut c_void) -> *mut c_void>,
    pub deallocate: Option<unsafe extern "C" fn(pointer: *mut c_void, state: *mut c_void)>,
    pub reallocate: Option<
        unsafe extern "C" fn(pointer: *mut c_void, size: usize, state: *mut c_void) -> *mut c_void,
    >,
    pub zero_allocate:
        Option<unsafe extern "C" fn(count: usize, size: usize, state: *mut c_void) -> *mut c_void>,
    pub state: *mut c_void,
}

impl rcutils_allocator_t {
    /// The all-null allocator (`rcutils_get_zero_initialized_allocator`).
    pub const ZERO: Self = Self {
        allocate: None,
        deallocate: None,
        reallocate: None,
        zero_allocate: None,
        state: core::ptr::null_mut(),
    };

    /// `rcutils_allocator_is_valid`: every function is set.
    pub fn is_valid(&self) -> bool {
        self.allocate.is_some()
            && self.deallocate.is_some()
            && self.reallocate.is_some()
            && self.zero_allocate.is_some()
    }
}

/// `rcutils_uint8_array_t` (rcutils/types/uint8_array.h).
#[repr(C)]
#[derive(Debug)]
pub struct rcutils_uint8_array_t {
    pub buffer: *mut u8,
    pub buffer_length: usize,
    pub buffer_capacity: usize,
    pub allocator: rcutils_allocator_t,
}

/// `rmw_serialized_message_t` is `rcutils_uint8_array_t` (rmw/serialized_message.h).
pub type rmw_serialized_message_t = rcutils_uint8_array_t;

/// `rmw_time_t` (rmw/time.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct rmw_time_t {
    pub sec: u64,
    pub nsec: u64,
}

pub type rmw_qos_history_policy_t = c_int;
pub type rmw_qos_reliability_policy_t = c_int;
pub type rmw_qos_durability_policy_t = c_int;
pub type rmw_qos_liveliness_policy_t = c_int;

pub const RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT: c_int = 0;
pub const RMW_QOS_POLICY_RELIABILITY_RELIABLE: c_int = 1;
pub const RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: c_int = 2;
pub const RMW_QOS_POLICY_RELIABILITY_UNKNOWN: c_int = 3;
pub const RMW_QOS_POLICY_RELIABILITY_BEST_AVAILABLE: c_int = 4;
pub const RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT: c_int = 0;
pub const RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: c_int = 1;
pub const RMW_QOS_POLICY_DURABILITY_VOLATILE: c_int = 2;
pub const RMW_QOS_POLICY_DURABILITY_UNKNOWN: c_int = 3;
pub const RMW_QOS_POLICY_DURABILITY_BEST_AVAILABLE: c_int = 4;
pub const RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT: c_int = 0;
pub const RMW_QOS_POLICY_LIVELINESS_AUTOMATIC: c_int = 1;
/// Deprecated in rmw (`RMW_DECLARE_DEPRECATED`); refused by this implementation.
pub const RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_NODE: c_int = 2;
pub const RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC: c_int = 3;
pub const RMW_QOS_POLICY_LIVELINESS_UNKNOWN: c_int = 4;
pub const RMW_QOS_POLICY_LIVELINESS_BEST_AVAILABLE: c_int = 5;

/// `rmw_qos_profile_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_qos_profile_t {
    pub history: rmw_qos_history_policy_t,
    pub depth: usize,
    pub reliability: rmw_qos_reliability_policy_t,
    pub durability: rmw_qos_durability_policy_t,
    pub deadline: rmw_time_t,
    pub lifespan: rmw_time_t,
    pub liveliness: rmw_qos_liveliness_policy_t,
    pub liveliness_lease_duration: rmw_time_t,
    pub avoid_ros_namespace_conventions: bool,
}

/// `rmw_qos_compatibility_type_t` (rmw/qos_profiles.h).
pub type rmw_qos_compatibility_type_t = c_int;
pub const RMW_QOS_COMPATIBILITY_OK: c_int = 0;
pub const RMW_QOS_COMPATIBILITY_WARNING: c_int = 1;
pub const RMW_QOS_COMPATIBILITY_ERROR: c_int = 2;

/// `rmw_security_options_t` (rmw/security_options.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_security_options_t {
    /// `rmw_security_enforcement_policy_t`; 0 is permissive.
    pub enforce_security: c_int,
    pub security_root_path: *mut c_char,
}

/// `rmw_peer_address_t` (rmw/discovery_options.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct rmw_peer_address_t {
    pub peer_address: [c_char; RMW_DISCOVERY_OPTIONS_STATIC_PEERS_MAX_LENGTH],
}

impl core::fmt::Debug for rmw_peer_address_t {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let bytes: Vec<u8> = self
            .peer_address
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        f.debug_struct("rmw_peer_address_t")
            .field("peer_address", &String::from_utf8_lossy(&bytes))
            .finish()
    }
}

/// `rmw_discovery_options_t` (rmw/discovery_options.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_discovery_options_t {
    /// `rmw_automatic_discovery_range_t`; 0 is "not set".
    pub automatic_discovery_range: c_int,
    pub static_peers: *mut rmw_peer_address_t,
    pub static_peers_count: usize,
    pub allocator: rcutils_allocator_t,
}

/// `rmw_init_options_t` (rmw/init_options.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_init_options_t {
    pub instance_id: u64,
    pub implementation_identifier: *const c_char,
    pub domain_id: usize,
    pub security_options: rmw_security_options_t,
    /// `rmw_localhost_only_t`; 0 is "default".
    pub localhost_only: c_int,
    pub discovery_options: rmw_discovery_options_t,
    pub enclave: *mut c_char,
    pub allocator: rcutils_allocator_t,
    pub impl_: *mut c_void,
}

/// `rmw_context_t` (rmw/init.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_context_t {
    pub instance_id: u64,
    pub implementation_identifier: *const c_char,
    pub options: rmw_init_options_t,
    pub actual_domain_id: usize,
    pub impl_: *mut c_void,
}

/// `rmw_node_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_node_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub name: *const c_char,
    pub namespace_: *const c_char,
    pub context: *mut rmw_context_t,
}

/// `rmw_publisher_options_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_publisher_options_t {
    pub rmw_specific_publisher_payload: *mut c_void,
    /// `rmw_unique_network_flow_endpoints_requirement_t`.
    pub require_unique_network_flow_endpoints: c_int,
}

/// `rmw_publisher_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_publisher_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub topic_name: *const c_char,
    pub options: rmw_publisher_options_t,
    pub can_loan_messages: bool,
}

/// `rmw_subscription_options_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_subscription_options_t {
    pub rmw_specific_subscription_payload: *mut c_void,
    pub ignore_local_publications: bool,
    pub require_unique_network_flow_endpoints: c_int,
    /// `rmw_subscription_content_filter_options_t *`.
    pub content_filter_options: *mut c_void,
}

/// `rmw_subscription_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_subscription_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub topic_name: *const c_char,
    pub options: rmw_subscription_options_t,
    pub can_loan_messages: bool,
    pub is_cft_enabled: bool,
}

/// `rmw_guard_condition_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_guard_condition_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub context: *mut rmw_context_t,
}

/// `rmw_gid_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_gid_t {
    pub implementation_identifier: *const c_char,
    pub data: [u8; RMW_GID_STORAGE_SIZE],
}

/// `rmw_message_info_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_message_info_t {
    pub source_timestamp: i64,
    pub received_timestamp: i64,
    pub publication_sequence_number: u64,
    pub reception_sequence_number: u64,
    pub publisher_gid: rmw_gid_t,
    pub from_intra_process: bool,
}

/// `rmw_subscriptions_t` (rmw/types.h): the `data` pointers of the subscriptions to wait on.
#[repr(C)]
#[derive(Debug)]
pub struct rmw_subscriptions_t {
    pub subscriber_count: usize,
    pub subscribers: *mut *mut c_void,
}

/// `rmw_guard_conditions_t` (rmw/types.h): the `data` pointers of the guard conditions.
#[repr(C)]
#[derive(Debug)]
pub struct rmw_guard_conditions_t {
    pub guard_condition_count: usize,
    pub guard_conditions: *mut *mut c_void,
}

/// `rmw_services_t` (rmw/types.h): the `data` pointers of the services.
#[repr(C)]
#[derive(Debug)]
pub struct rmw_services_t {
    pub service_count: usize,
    pub services: *mut *mut c_void,
}

/// `rmw_clients_t` (rmw/types.h): the `data` pointers of the clients.
#[repr(C)]
#[derive(Debug)]
pub struct rmw_clients_t {
    pub client_count: usize,
    pub clients: *mut *mut c_void,
}

/// `rmw_events_t` (rmw/types.h): the `rmw_event_t` pointers of the events.
#[repr(C)]
#[derive(Debug)]
pub struct rmw_events_t {
    pub event_count: usize,
    pub events: *mut *mut c_void,
}

/// `rmw_wait_set_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_wait_set_t {
    pub implementation_identifier: *const c_char,
    pub guard_conditions: *mut rmw_guard_conditions_t,
    pub data: *mut c_void,
}

/// `rmw_message_sequence_t` (rmw/message_sequence.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_message_sequence_t {
    pub data: *mut *mut c_void,
    pub size: usize,
    pub capacity: usize,
    pub allocator: *mut rcutils_allocator_t,
}

/// `rmw_message_info_sequence_t` (rmw/message_sequence.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_message_info_sequence_t {
    pub data: *mut rmw_message_info_t,
    pub size: usize,
    pub capacity: usize,
    pub allocator: *mut rcutils_allocator_t,
}

/// `RMW_AUTOMATIC_DISCOVERY_RANGE_*` (rmw/discovery_options.h).
pub const RMW_AUTOMATIC_DISCOVERY_RANGE_NOT_SET: c_int = 0;
pub const RMW_AUTOMATIC_DISCOVERY_RANGE_OFF: c_int = 1;
pub const RMW_AUTOMATIC_DISCOVERY_RANGE_LOCALHOST: c_int = 2;
pub const RMW_AUTOMATIC_DISCOVERY_RANGE_SUBNET: c_int = 3;
pub const RMW_AUTOMATIC_DISCOVERY_RANGE_SYSTEM_DEFAULT: c_int = 4;
/// `RMW_LOCALHOST_ONLY_ENABLED` (rmw/localhost.h).
pub const RMW_LOCALHOST_ONLY_ENABLED: c_int = 1;
/// `RMW_SECURITY_ENFORCEMENT_ENFORCE` (rmw/security_options.h).
pub const RMW_SECURITY_ENFORCEMENT_ENFORCE: c_int = 1;
/// `RMW_QOS_POLICY_HISTORY_*` (rmw/qos_policy_kind.h).
pub const RMW_QOS_POLICY_HISTORY_SYSTEM_DEFAULT: c_int = 0;
pub const RMW_QOS_POLICY_HISTORY_KEEP_LAST: c_int = 1;
pub const RMW_QOS_POLICY_HISTORY_KEEP_ALL: c_int = 2;
pub const RMW_QOS_POLICY_HISTORY_UNKNOWN: c_int = 3;

/// `rmw_client_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_client_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub service_name: *const c_char,
}

/// `rmw_service_t` (rmw/types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_service_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub service_name: *const c_char,
}

/// `rmw_request_id_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_request_id_t {
    pub writer_guid: [i8; 16],
    pub sequence_number: i64,
}

/// `rmw_service_info_t` (rmw/types.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rmw_service_info_t {
    pub source_timestamp: i64,
    pub received_timestamp: i64,
    pub request_id: rmw_request_id_t,
}

/// `rosidl_service_type_support_t` (rosidl_runtime_c/service_type_support_struct.h).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_service_type_support_t {
    pub typesupport_identifier: *const c_char,
    pub data: *const c_void,
    pub func: Option<
        unsafe extern "C" fn(
            *const rosidl_service_type_support_t,
            *const c_char,
        ) -> *const rosidl_service_type_support_t,
    >,
    pub request_typesupport: *const rosidl_message_type_support_t,
    pub response_typesupport: *const rosidl_message_type_support_t,
    pub event_typesupport: *const rosidl_message_type_support_t,
    pub event_message_create_handle_function: *const c_void,
    pub event_message_destroy_handle_function: *const c_void,
    pub get_type_hash_func: *const c_void,
    pub get_type_description_func: *const c_void,
    pub get_type_description_sources_func: *const c_void,
}

/// `rosidl_typesupport_introspection_c__ServiceMembers` (the `_cpp` one has the same layout,
/// with C++ message members).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_typesupport_introspection_c__ServiceMembers {
    pub service_namespace_: *const c_char,
    pub service_name_: *const c_char,
    pub request_members_: *const c_void,
    pub response_members_: *const c_void,
    pub event_members_: *const c_void,
}

/// `rcutils_string_array_t` (rcutils/types/string_array.h).
#[repr(C)]
#[derive(Debug)]
pub struct rcutils_string_array_t {
    pub size: usize,
    pub data: *mut *mut c_char,
    pub allocator: rcutils_allocator_t,
}

/// `rmw_names_and_types_t` (rmw/names_and_types.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_names_and_types_t {
    pub names: rcutils_string_array_t,
    pub types: *mut rcutils_string_array_t,
}

/// `rosidl_type_hash_t` (rosidl_runtime_c/type_hash.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rosidl_type_hash_t {
    pub version: u8,
    pub value: [u8; ROSIDL_TYPE_HASH_SIZE],
}

/// `rmw_endpoint_type_t` (rmw/topic_endpoint_info.h).
pub const RMW_ENDPOINT_PUBLISHER: c_int = 1;
pub const RMW_ENDPOINT_SUBSCRIPTION: c_int = 2;

/// `rmw_topic_endpoint_info_t` (rmw/topic_endpoint_info.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_topic_endpoint_info_t {
    pub node_name: *const c_char,
    pub node_namespace: *const c_char,
    pub topic_type: *const c_char,
    pub topic_type_hash: rosidl_type_hash_t,
    pub endpoint_type: c_int,
    pub endpoint_gid: [u8; RMW_GID_STORAGE_SIZE],
    pub qos_profile: rmw_qos_profile_t,
}

/// `rmw_topic_endpoint_info_array_t` (rmw/topic_endpoint_info_array.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_topic_endpoint_info_array_t {
    pub size: usize,
    pub info_array: *mut rmw_topic_endpoint_info_t,
}

/// `RMW_RET_NODE_NAME_NON_EXISTENT` (rmw/ret_types.h).
pub const RMW_RET_NODE_NAME_NON_EXISTENT: rmw_ret_t = 203;

/// `rmw_event_t` (rmw/event.h).
#[repr(C)]
#[derive(Debug)]
pub struct rmw_event_t {
    pub implementation_identifier: *const c_char,
    pub data: *mut c_void,
    pub event_type: c_int,
}

/// `rmw_matched_status_t` (rmw/events_statuses/matched.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rmw_matched_status_t {
    pub total_count: usize,
    pub total_count_change: usize,
    pub current_count: usize,
    pub current_count_change: i32,
}

/// `rmw_event_type_t` values (rmw/event.h): subscription events, then publisher events.
pub const RMW_EVENT_LIVELINESS_CHANGED: c_int = 0;
pub const RMW_EVENT_REQUESTED_DEADLINE_MISSED: c_int = 1;
pub const RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE: c_int = 2;
pub const RMW_EVENT_MESSAGE_LOST: c_int = 3;
pub const RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE: c_int = 4;
pub const RMW_EVENT_SUBSCRIPTION_MATCHED: c_int = 5;
pub const RMW_EVENT_LIVELINESS_LOST: c_int = 6;
pub const RMW_EVENT_OFFERED_DEADLINE_MISSED: c_int = 7;
pub const RMW_EVENT_OFFERED_QOS_INCOMPATIBLE: c_int = 8;
pub const RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE: c_int = 9;
pub const RMW_EVENT_PUBLICATION_MATCHED: c_int = 10;

/// `rmw_qos_policy_kind_t` (rmw/qos_policy_kind.h): one bit per policy.
pub type rmw_qos_policy_kind_t = c_int;
pub const RMW_QOS_POLICY_INVALID: c_int = 1 << 0;
pub const RMW_QOS_POLICY_DURABILITY: c_int = 1 << 1;
pub const RMW_QOS_POLICY_DEADLINE: c_int = 1 << 2;
pub const RMW_QOS_POLICY_LIVELINESS: c_int = 1 << 3;
pub const RMW_QOS_POLICY_RELIABILITY: c_int = 1 << 4;
pub const RMW_QOS_POLICY_HISTORY: c_int = 1 << 5;
pub const RMW_QOS_POLICY_LIFESPAN: c_int = 1 << 6;
pub const RMW_QOS_POLICY_DEPTH: c_int = 1 << 7;
pub const RMW_QOS_POLICY_LIVELINESS_LEASE_DURATION: c_int = 1 << 8;
pub const RMW_QOS_POLICY_AVOID_ROS_NAMESPACE_CONVENTIONS: c_int = 1 << 9;

/// `rmw_liveliness_changed_status_t` (rmw/events_statuses/liveliness_changed.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rmw_liveliness_changed_status_t {
    pub alive_count: i32,
    pub not_alive_count: i32,
    pub alive_count_change: i32,
    pub not_alive_count_change: i32,
}

/// `rmw_liveliness_lost_status_t` (rmw/events_statuses/liveliness_lost.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rmw_liveliness_lost_status_t {
    pub total_count: i32,
    pub total_count_change: i32,
}

/// `rmw_requested_deadline_missed_status_t`
/// (rmw/events_statuses/requested_deadline_missed.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rmw_requested_deadline_missed_status_t {
    pub total_count: i32,
    pub total_count_change: i32,
}

/// `rmw_offered_deadline_missed_status_t` (rmw/events_statuses/offered_deadline_missed.h):
/// the same layout as the requested one.
pub type rmw_offered_deadline_missed_status_t = rmw_requested_deadline_missed_status_t;

/// `struct rmw_qos_incompatible_event_status_s` (rmw/events_statuses/incompatible_qos.h),
/// typedef'd as `rmw_requested_qos_incompatible_event_status_t` and
/// `rmw_offered_qos_incompatible_event_status_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct rmw_qos_incompatible_event_status_t {
    pub total_count: i32,
    pub total_count_change: i32,
    pub last_policy_kind: rmw_qos_policy_kind_t,
}

/// `rmw_message_lost_status_t` (rmw/events_statuses/message_lost.h): `size_t` counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rmw_message_lost_status_t {
    pub total_count: usize,
    pub total_count_change: usize,
}

/// `rmw_incompatible_type_status_t` (rmw/events_statuses/incompatible_type.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rmw_incompatible_type_status_t {
    pub total_count: i32,
    pub total_count_change: i32,
}

/// `rmw_event_type_t` (rmw/event.h).
pub type rmw_event_type_t = c_int;
/// The sentinel `RMW_EVENT_INVALID`: every valid event type is below it.
pub const RMW_EVENT_INVALID: rmw_event_type_t = 11;

/// `rmw_feature_t` (rmw/features.h).
pub type rmw_feature_t = c_int;

/// `rmw_log_severity_t` (rmw/types.h): the rcutils severities.
pub type rmw_log_severity_t = c_int;
pub const RMW_LOG_SEVERITY_DEBUG: c_int = 10;
pub const RMW_LOG_SEVERITY_INFO: c_int = 20;
pub const RMW_LOG_SEVERITY_WARN: c_int = 30;
pub const RMW_LOG_SEVERITY_ERROR: c_int = 40;
pub const RMW_LOG_SEVERITY_FATAL: c_int = 50;

/// `rosidl_message_typesupport_handle_function`.
pub type rosidl_message_typesupport_handle_function = Option<
    unsafe extern "C" fn(
        handle: *const rosidl_message_type_support_t,
        identifier: *const c_char,
    ) -> *const rosidl_message_type_support_t,
>;

/// `rosidl_message_type_support_t` (rosidl_runtime_c/message_type_support_struct.h).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_message_type_support_t {
    pub typesupport_identifier: *const c_char,
    pub data: *const c_void,
    pub func: rosidl_message_typesupport_handle_function,
    /// `rosidl_message_get_type_hash_function`: the type's RIHS hash, or null.
    pub get_type_hash_func: Option<
        unsafe extern "C" fn(*const rosidl_message_type_support_t) -> *const rosidl_type_hash_t,
    >,
    pub get_type_description_func: *const c_void,
    pub get_type_description_sources_func: *const c_void,
}

/// `rosidl_runtime_c__String` (rosidl_runtime_c/string.h): `size` excludes the NUL that
/// `data[size]` holds; `capacity` includes it.
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_runtime_c__String {
    pub data: *mut c_char,
    pub size: usize,
    pub capacity: usize,
}

/// `rosidl_runtime_c__U16String` (rosidl_runtime_c/u16string.h): sizes count UTF-16 units.
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_runtime_c__U16String {
    pub data: *mut u16,
    pub size: usize,
    pub capacity: usize,
}

/// Every `rosidl_runtime_c__*__Sequence`: `{T * data; size_t size; size_t capacity;}`.
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_runtime_c__Sequence {
    pub data: *mut c_void,
    pub size: usize,
    pub capacity: usize,
}

/// Field type ids shared by the C and C++ introspection (field_types.h / field_types.hpp).
pub mod field_type {
    pub const FLOAT: u8 = 1;
    pub const DOUBLE: u8 = 2;
    pub const LONG_DOUBLE: u8 = 3;
    pub const CHAR: u8 = 4;
    pub const WCHAR: u8 = 5;
    pub const BOOLEAN: u8 = 6;
    pub const OCTET: u8 = 7;
    pub const UINT8: u8 = 8;
    pub const INT8: u8 = 9;
    pub const UINT16: u8 = 10;
    pub const INT16: u8 = 11;
    pub const UINT32: u8 = 12;
    pub const INT32: u8 = 13;
    pub const UINT64: u8 = 14;
    pub const INT64: u8 = 15;
    pub const STRING: u8 = 16;
    pub const WSTRING: u8 = 17;
    pub const MESSAGE: u8 = 18;
}

/// `rosidl_typesupport_introspection_c__MessageMember` (Jazzy layout).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_typesupport_introspection_c__MessageMember {
    pub name_: *const c_char,
    pub type_id_: u8,
    pub string_upper_bound_: usize,
    pub members_: *const rosidl_message_type_support_t,
    pub is_key_: bool,
    pub is_array_: bool,
    pub array_size_: usize,
    pub is_upper_bound_: bool,
    pub offset_: u32,
    pub default_value_: *const c_void,
    pub size_function: Option<unsafe extern "C" fn(*const c_void) -> usize>,
    pub get_const_function: Option<unsafe extern "C" fn(*const c_void, usize) -> *const c_void>,
    pub get_function: Option<unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void>,
    pub fetch_function: Option<unsafe extern "C" fn(*const c_void, usize, *mut c_void)>,
    pub assign_function: Option<unsafe extern "C" fn(*mut c_void, usize, *const c_void)>,
    pub resize_function: Option<unsafe extern "C" fn(*mut c_void, usize) -> bool>,
}

/// `rosidl_typesupport_introspection_c__MessageMembers` (Jazzy layout).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_typesupport_introspection_c__MessageMembers {
    pub message_namespace_: *const c_char,
    pub message_name_: *const c_char,
    pub member_count_: u32,
    pub size_of_: usize,
    pub has_any_key_member_: bool,
    pub members_: *const rosidl_typesupport_introspection_c__MessageMember,
    /// The second argument is `enum rosidl_runtime_c__message_initialization`.
    pub init_function: Option<unsafe extern "C" fn(*mut c_void, c_int)>,
    pub fini_function: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// `rosidl_typesupport_introspection_cpp::MessageMember` (Jazzy layout: `resize_function`
/// returns void and there is no trailing `is_rosidl_buffer_`).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_typesupport_introspection_cpp__MessageMember {
    pub name_: *const c_char,
    pub type_id_: u8,
    pub string_upper_bound_: usize,
    pub members_: *const rosidl_message_type_support_t,
    pub is_key_: bool,
    pub is_array_: bool,
    pub array_size_: usize,
    pub is_upper_bound_: bool,
    pub offset_: u32,
    pub default_value_: *const c_void,
    pub size_function: Option<unsafe extern "C" fn(*const c_void) -> usize>,
    pub get_const_function: Option<unsafe extern "C" fn(*const c_void, usize) -> *const c_void>,
    pub get_function: Option<unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void>,
    pub fetch_function: Option<unsafe extern "C" fn(*const c_void, usize, *mut c_void)>,
    pub assign_function: Option<unsafe extern "C" fn(*mut c_void, usize, *const c_void)>,
    pub resize_function: Option<unsafe extern "C" fn(*mut c_void, usize)>,
}

/// `rosidl_typesupport_introspection_cpp::MessageMembers` (Jazzy layout).
#[repr(C)]
#[derive(Debug)]
pub struct rosidl_typesupport_introspection_cpp__MessageMembers {
    pub message_namespace_: *const c_char,
    pub message_name_: *const c_char,
    pub member_count_: u32,
    pub size_of_: usize,
    pub has_any_key_member_: bool,
    pub members_: *const rosidl_typesupport_introspection_cpp__MessageMember,
    /// The second argument is `rosidl_runtime_cpp::MessageInitialization`.
    pub init_function: Option<unsafe extern "C" fn(*mut c_void, c_int)>,
    pub fini_function: Option<unsafe extern "C" fn(*mut c_void)>,
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    macro_rules! layout {
        ($t:ty, size = $s:expr, align = $a:expr $(, $f:ident = $o:expr)* $(,)?) => {{
            assert_eq!(size_of::<$t>(), $s, concat!("size of ", stringify!($t)));
            assert_eq!(align_of::<$t>(), $a, concat!("align of ", stringify!($t)));
            $(assert_eq!(
                offset_of!($t, $f), $o,
                concat!("offset of ", stringify!($t), ".", stringify!($f))
            );)*
        }};
    }

    #[test]
    fn rcutils_layouts() {
        layout!(
            rcutils_allocator_t,
            size = 40,
            align = 8,
            allocate = 0,
            deallocate = 8,
            reallocate = 16,
            zero_allocate = 24,
            state = 32
        );
        layout!(
            rcutils_uint8_array_t,
            size = 64,
            align = 8,
            buffer = 0,
            buffer_length = 8,
            buffer_capacity = 16,
            allocator = 24
        );
    }

    #[test]
    fn rmw_layouts() {
        layout!(rmw_time_t, size = 16, align = 8, sec = 0, nsec = 8);
        layout!(
            rmw_qos_profile_t,
            size = 88,
            align = 8,
            history = 0,
            depth = 8,
            reliability = 16,
            durability = 20,
            deadline = 24,
            lifespan = 40,
            liveliness = 56,
            liveliness_lease_duration = 64,
            avoid_ros_namespace_conventions = 80
        );
        layout!(
            rmw_security_options_t,
            size = 16,
            align = 8,
            enforce_security = 0,
            security_root_path = 8
        );
        layout!(rmw_peer_address_t, size = 256, align = 1, peer_address = 0);
        layout!(
            rmw_discovery_options_t,
            size = 64,
            align = 8,
            automatic_discovery_range = 0,
            static_peers = 8,
            static_peers_count = 16,
            allocator = 24
        );
        layout!(
            rmw_init_options_t,
            size = 168,
            align = 8,
            instance_id = 0,
            implementation_identifier = 8,
            domain_id = 16,
            security_options = 24,
            localhost_only = 40,
            discovery_options = 48,
            enclave = 112,
            allocator = 120,
            impl_ = 160
        );
        layout!(
            rmw_context_t,
            size = 200,
            align = 8,
            instance_id = 0,
            implementation_identifier = 8,
            options = 16,
            actual_domain_id = 184,
            impl_ = 192
        );
        layout!(
            rmw_node_t,
            size = 40,
            align = 8,
            implementation_identifier = 0,
            data = 8,
            name = 16,
            namespace_ = 24,
            context = 32
        );
        layout!(
            rmw_publisher_options_t,
            size = 16,
            align = 8,
            rmw_specific_publisher_payload = 0,
            require_unique_network_flow_endpoints = 8
        );
        layout!(
            rmw_publisher_t,
            size = 48,
            align = 8,
            implementation_identifier = 0,
            data = 8,
            topic_name = 16,
            options = 24,
            can_loan_messages = 40
        );
        layout!(
            rmw_subscription_options_t,
            size = 24,
            align = 8,
            rmw_specific_subscription_payload = 0,
            ignore_local_publications = 8,
            require_unique_network_flow_endpoints = 12,
            content_filter_options = 16
        );
        layout!(
            rmw_subscription_t,
            size = 56,
            align = 8,
            implementation_identifier = 0,
            data = 8,
            topic_name = 16,
            options = 24,
            can_loan_messages = 48,
            is_cft_enabled = 49
        );
        layout!(
            rmw_guard_condition_t,
            size = 24,
            align = 8,
            implementation_identifier = 0,
            data = 8,
            context = 16
        );
        layout!(
            rmw_gid_t,
            size = 24,
            align = 8,
            implementation_identifier = 0,
            data = 8
        );
        layout!(
            rmw_message_info_t,
            size = 64,
            align = 8,
            source_timestamp = 0,
            received_timestamp = 8,
            publication_sequence_number = 16,
            reception_sequence_number = 24,
            publisher_gid = 32,
            from_intra_process = 56
        );
    }

    #[test]
    fn wait_and_sequence_layouts() {
        layout!(
            rmw_subscriptions_t,
            size = 16,
            align = 8,
            subscriber_count = 0,
            subscribers = 8
        );
        layout!(
            rmw_guard_conditions_t,
            size = 16,
            align = 8,
            guard_condition_count = 0,
            guard_conditions = 8
        );
        layout!(
            rmw_services_t,
            size = 16,
            align = 8,
            service_count = 0,
            services = 8
        );
        layout!(
            rmw_clients_t,
            size = 16,
            align = 8,
            client_count = 0,
            clients = 8
        );
        layout!(
            rmw_events_t,
            size = 16,
            align = 8,
            event_count = 0,
            events = 8
        );
        layout!(
            rmw_wait_set_t,
            size = 24,
            align = 8,
            implementation_identifier = 0,
            guard_conditions = 8,
            data = 16
        );
        layout!(
            rmw_message_sequence_t,
            size = 32,
            align = 8,
            data = 0,
            size = 8,
            capacity = 16,
            allocator = 24
        );
        layout!(
            rmw_message_info_sequence_t,
            size = 32,
            align = 8,
            data = 0,
            size = 8,
            capacity = 16,
            allocator = 24
        );
    }

    #[test]
    fn service_layouts() {
        layout!(
            rmw_client_t,
            size = 24,
            align = 8,
            implementation_identifier = 0,
            data = 8,
            service_name = 16
        );
        layout!(rmw_service_t, size = 24, align = 8, service_name = 16);
        layout!(
            rmw_request_id_t,
            size = 24,
            align = 8,
            writer_guid = 0,
            sequence_number = 16
        );
        layout!(
            rmw_service_info_t,
            size = 40,
            align = 8,
            source_timestamp = 0,
            received_timestamp = 8,
            request_id = 16
        );
        layout!(
            rosidl_service_type_support_t,
            size = 88,
            align = 8,
            typesupport_identifier = 0,
            data = 8,
            func = 16,
            request_typesupport = 24,
            response_typesupport = 32,
            event_typesupport = 40
        );
        layout!(
            rosidl_typesupport_introspection_c__ServiceMembers,
            size = 40,
            align = 8,
            request_members_ = 16,
            response_members_ = 24
        );
    }

    #[test]
    fn graph_layouts() {
        layout!(
            rcutils_string_array_t,
            size = 56,
            align = 8,
            size = 0,
            data = 8,
            allocator = 16
        );
        layout!(
            rmw_names_and_types_t,
            size = 64,
            align = 8,
            names = 0,
            types = 56
        );
        layout!(
            rosidl_type_hash_t,
            size = 33,
            align = 1,
            version = 0,
            value = 1
        );
        layout!(
            rmw_topic_endpoint_info_t,
            size = 168,
            align = 8,
            node_name = 0,
            node_namespace = 8,
            topic_type = 16,
            topic_type_hash = 24,
            endpoint_type = 60,
            endpoint_gid = 64,
            qos_profile = 80
        );
        layout!(
            rmw_topic_endpoint_info_array_t,
            size = 16,
            align = 8,
            size = 0,
            info_array = 8
        );
    }

    #[test]
    fn event_layouts() {
        layout!(
            rmw_event_t,
            size = 24,
            align = 8,
            implementation_identifier = 0,
            data = 8,
            event_type = 16
        );
        layout!(
            rmw_matched_status_t,
            size = 32,
            align = 8,
            total_count = 0,
            total_count_change = 8,
            current_count = 16,
            current_count_change = 24
        );
        layout!(
            rmw_liveliness_changed_status_t,
            size = 16,
            align = 4,
            alive_count = 0,
            not_alive_count = 4,
            alive_count_change = 8,
            not_alive_count_change = 12
        );
        layout!(
            rmw_liveliness_lost_status_t,
            size = 8,
            align = 4,
            total_count = 0,
            total_count_change = 4
        );
        layout!(
            rmw_requested_deadline_missed_status_t,
            size = 8,
            align = 4,
            total_count = 0,
            total_count_change = 4
        );
        layout!(
            rmw_offered_deadline_missed_status_t,
            size = 8,
            align = 4,
            total_count = 0,
            total_count_change = 4
        );
        layout!(
            rmw_qos_incompatible_event_status_t,
            size = 12,
            align = 4,
            total_count = 0,
            total_count_change = 4,
            last_policy_kind = 8
        );
        layout!(
            rmw_message_lost_status_t,
            size = 16,
            align = 8,
            total_count = 0,
            total_count_change = 8
        );
        layout!(
            rmw_incompatible_type_status_t,
            size = 8,
            align = 4,
            total_count = 0,
            total_count_change = 4
        );
    }

    #[test]
    fn event_type_values_follow_the_header_order() {
        // rmw/event.h declares the enumerators in this order, from 0, with the sentinel last.
        let order = [
            RMW_EVENT_LIVELINESS_CHANGED,
            RMW_EVENT_REQUESTED_DEADLINE_MISSED,
            RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE,
            RMW_EVENT_MESSAGE_LOST,
            RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE,
            RMW_EVENT_SUBSCRIPTION_MATCHED,
            RMW_EVENT_LIVELINESS_LOST,
            RMW_EVENT_OFFERED_DEADLINE_MISSED,
            RMW_EVENT_OFFERED_QOS_INCOMPATIBLE,
            RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE,
            RMW_EVENT_PUBLICATION_MATCHED,
            RMW_EVENT_INVALID,
        ];
        for (i, v) in order.iter().enumerate() {
            assert_eq!(*v as usize, i);
        }
    }

    #[test]
    fn rosidl_layouts() {
        layout!(
            rosidl_message_type_support_t,
            size = 48,
            align = 8,
            typesupport_identifier = 0,
            data = 8,
            func = 16,
            get_type_hash_func = 24,
            get_type_description_func = 32,
            get_type_description_sources_func = 40
        );
        layout!(
            rosidl_runtime_c__String,
            size = 24,
            align = 8,
            data = 0,
            size = 8,
            capacity = 16
        );
        layout!(
            rosidl_runtime_c__U16String,
            size = 24,
            align = 8,
            data = 0,
            size = 8,
            capacity = 16
        );
        layout!(
            rosidl_runtime_c__Sequence,
            size = 24,
            align = 8,
            data = 0,
            size = 8,
            capacity = 16
        );
    }

    #[test]
    fn introspection_layouts() {
        macro_rules! member {
            ($t:ty) => {
                layout!(
                    $t,
                    size = 112,
                    align = 8,
                    name_ = 0,
                    type_id_ = 8,
                    string_upper_bound_ = 16,
                    members_ = 24,
                    is_key_ = 32,
                    is_array_ = 33,
                    array_size_ = 40,
                    is_upper_bound_ = 48,
                    offset_ = 52,
                    default_value_ = 56,
                    size_function = 64,
                    get_const_function = 72,
                    get_function = 80,
                    fetch_function = 88,
                    assign_function = 96,
                    resize_function = 104
                )
            };
        }
        macro_rules! members {
            ($t:ty) => {
                layout!(
                    $t,
                    size = 64,
                    align = 8,
                    message_namespace_ = 0,
                    message_name_ = 8,
                    member_count_ = 16,
                    size_of_ = 24,
                    has_any_key_member_ = 32,
                    members_ = 40,
                    init_function = 48,
                    fini_function = 56
                )
            };
        }
        member!(rosidl_typesupport_introspection_c__MessageMember);
        member!(rosidl_typesupport_introspection_cpp__MessageMember);
        members!(rosidl_typesupport_introspection_c__MessageMembers);
        members!(rosidl_typesupport_introspection_cpp__MessageMembers);
    }
}
