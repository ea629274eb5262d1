//! The dynamic symbol table of the built librmw_l2net_cpp.so: exactly the rmw functions listed
//! in exported_symbols.txt, none of the functions librmw itself defines, no internal helper;
//! and a plain C program can dlopen it and call it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// The 95 functions rmw_implementation forwards to an RMW library (Jazzy).
const FORWARDED: &str = "rmw_borrow_loaned_message rmw_client_request_publisher_get_actual_qos
rmw_client_response_subscription_get_actual_qos rmw_client_set_on_new_response_callback
rmw_compare_gids_equal rmw_context_fini rmw_count_clients rmw_count_publishers rmw_count_services
rmw_count_subscribers rmw_create_client rmw_create_guard_condition rmw_create_node
rmw_create_publisher rmw_create_service rmw_create_subscription rmw_create_wait_set
rmw_deserialize rmw_destroy_client rmw_destroy_guard_condition rmw_destroy_node
rmw_destroy_publisher rmw_destroy_service rmw_destroy_subscription rmw_destroy_wait_set
rmw_event_set_callback rmw_feature_supported rmw_fini_publisher_allocation
rmw_fini_subscription_allocation rmw_get_client_names_and_types_by_node rmw_get_gid_for_client
rmw_get_gid_for_publisher rmw_get_implementation_identifier rmw_get_node_names
rmw_get_node_names_with_enclaves rmw_get_publisher_names_and_types_by_node
rmw_get_publishers_info_by_topic rmw_get_serialization_format rmw_get_serialized_message_size
rmw_get_service_names_and_types rmw_get_service_names_and_types_by_node
rmw_get_subscriber_names_and_types_by_node rmw_get_subscriptions_info_by_topic
rmw_get_topic_names_and_types rmw_init rmw_init_options_copy rmw_init_options_fini
rmw_init_options_init rmw_init_publisher_allocation rmw_init_subscription_allocation
rmw_node_get_graph_guard_condition rmw_publish rmw_publish_loaned_message
rmw_publish_serialized_message rmw_publisher_assert_liveliness
rmw_publisher_count_matched_subscriptions rmw_publisher_event_init rmw_publisher_get_actual_qos
rmw_publisher_get_network_flow_endpoints rmw_publisher_wait_for_all_acked
rmw_qos_profile_check_compatible rmw_return_loaned_message_from_publisher
rmw_return_loaned_message_from_subscription rmw_send_request rmw_send_response
rmw_serialization_support_init rmw_serialize rmw_service_request_subscription_get_actual_qos
rmw_service_response_publisher_get_actual_qos rmw_service_server_is_available
rmw_service_set_on_new_request_callback rmw_set_log_severity rmw_shutdown
rmw_subscription_count_matched_publishers rmw_subscription_event_init
rmw_subscription_get_actual_qos rmw_subscription_get_content_filter
rmw_subscription_get_network_flow_endpoints rmw_subscription_set_content_filter
rmw_subscription_set_on_new_message_callback rmw_take rmw_take_dynamic_message
rmw_take_dynamic_message_with_info rmw_take_event rmw_take_loaned_message
rmw_take_loaned_message_with_info rmw_take_request rmw_take_response rmw_take_sequence
rmw_take_serialized_message rmw_take_serialized_message_with_info rmw_take_with_info
rmw_trigger_guard_condition rmw_wait rmw_event_type_is_supported";

/// Functions librmw.so defines: an RMW library must not define them.
const LIBRMW_OWNS: &str = "rmw_check_zero_rmw_string_array rmw_event_fini
rmw_get_default_publisher_options rmw_get_default_subscription_options
rmw_get_zero_initialized_content_filter_options rmw_get_zero_initialized_context
rmw_get_zero_initialized_event rmw_get_zero_initialized_init_options
rmw_get_zero_initialized_message_info rmw_get_zero_initialized_message_info_sequence
rmw_get_zero_initialized_message_sequence rmw_get_zero_initialized_names_and_types
rmw_get_zero_initialized_topic_endpoint_info_array rmw_message_info_sequence_fini
rmw_message_info_sequence_init rmw_message_sequence_fini rmw_message_sequence_init
rmw_names_and_types_check_zero rmw_names_and_types_fini rmw_names_and_types_init
rmw_subscription_content_filter_options_fini rmw_subscription_content_filter_options_init
rmw_topic_endpoint_info_array_check_zero rmw_topic_endpoint_info_array_fini
rmw_topic_endpoint_info_array_init_with_size";

fn words(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn expected() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/exported_symbols.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The cdylib cargo built next to this test binary (target/<profile>/deps).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for dir in [deps, deps.parent().unwrap()] {
        let p = dir.join("librmw_l2net_cpp.so");
        if p.exists() {
            return p;
        }
    }
    panic!("librmw_l2net_cpp.so not found beside {}", exe.display());
}

fn dynamic_symbols() -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(library())
        .output()
        .expect("run nm (binutils)");
    assert!(
        out.status.success(),
        "nm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

#[test]
fn exported_rmw_functions_match_the_list() {
    let syms = dynamic_symbols();
    let exported: BTreeSet<String> = syms
        .iter()
        .filter(|s| s.starts_with("rmw_"))
        .cloned()
        .collect();
    let want = expected();
    let missing: Vec<_> = want.difference(&exported).collect();
    let extra: Vec<_> = exported.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the .so: {missing:?}; exported but not listed: {extra:?}"
    );
    let forwarded = words(FORWARDED);
    assert_eq!(forwarded.len(), 95);
    let unknown: Vec<_> = want.difference(&forwarded).collect();
    assert!(
        unknown.is_empty(),
        "listed but not an rmw_implementation function: {unknown:?}"
    );
    let librmw = words(LIBRMW_OWNS);
    let owned: Vec<_> = exported.intersection(&librmw).collect();
    assert!(
        owned.is_empty(),
        "defines functions that belong to librmw: {owned:?}"
    );
    let internal: Vec<_> = syms
        .iter()
        .filter(|s| s.contains("l2net_rmw_cxx"))
        .collect();
    assert!(
        internal.is_empty(),
        "internal shim symbols leak: {internal:?}"
    );
}

#[test]
fn a_c_program_loads_and_calls_the_library() {
    let prog = concat!(env!("OUT_DIR"), "/dlopen_smoke");
    let out = Command::new(prog).arg(library()).output().unwrap();
    assert!(
        out.status.success(),
        "dlopen_smoke failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
