//! The mmsg backend over a veth pair between two namespaces each test makes.

mod support;

use l2net_linux::MmsgLink;
use support::contract;

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<MmsgLink>();
}

#[test]
fn other_ethertypes_are_filtered_unless_asked_for() {
    contract::other_ethertypes_are_filtered_unless_asked_for::<MmsgLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<MmsgLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<MmsgLink>();
}

#[test]
fn removed_interface_is_reported() {
    contract::removed_interface_is_reported::<MmsgLink>();
}

#[test]
fn truncation_is_reported() {
    contract::truncation_is_reported::<MmsgLink>();
}

#[test]
fn wait_readable_sleeps_until_a_frame_arrives() {
    contract::wait_readable_sleeps_until_a_frame_arrives::<MmsgLink>();
}

#[test]
fn options_are_applied_or_refused() {
    contract::options_are_applied_or_refused::<MmsgLink>();
}

#[test]
fn backpressure_and_down_keep_frames_queued() {
    contract::backpressure_and_down_keep_frames_queued::<MmsgLink>();
}

#[test]
fn missing_privileges_are_explained() {
    contract::missing_privileges_are_explained::<MmsgLink>();
}
