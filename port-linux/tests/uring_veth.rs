//! The io_uring backend over a veth pair between two namespaces each test makes.

mod support;

use l2net_linux::UringLink;
use support::contract;

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<UringLink>();
}

#[test]
fn other_ethertypes_are_filtered_unless_asked_for() {
    contract::other_ethertypes_are_filtered_unless_asked_for::<UringLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<UringLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<UringLink>();
}

#[test]
fn removed_interface_is_reported() {
    contract::removed_interface_is_reported::<UringLink>();
}
