//! The ring backend over a veth pair between two namespaces each test makes.

mod support;

use l2net_linux::RingLink;
use support::contract;

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<RingLink>();
}

#[test]
fn other_ethertypes_are_filtered_unless_asked_for() {
    contract::other_ethertypes_are_filtered_unless_asked_for::<RingLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<RingLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<RingLink>();
}

#[test]
fn removed_interface_is_reported() {
    contract::removed_interface_is_reported::<RingLink>();
}

#[test]
fn blocks_recycle_and_frames_are_timestamped() {
    use l2net_core::RawLink;
    use l2net_linux::netns::require_privileges;
    if !require_privileges("blocks_recycle_and_frames_are_timestamped") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("rr", 1500);
    // The smallest ring: 128 KiB each way (eight 16 KiB blocks).
    let small = |c: &mut l2net_linux::LinkConfig| c.ring_memory = 1;
    let mut a = contract::open::<RingLink>(&w.a, w.veth.a_name(), small);
    let mut b = contract::open::<RingLink>(&w.b, w.veth.b_name(), small);
    assert_eq!(a.rx_ring_bytes(), 128 << 10);
    // 80 rounds of 10 frames of 1000 bytes: many times what the RX blocks hold. (Rounds are
    // kept small: a small ring overflows if the receiver is descheduled mid-burst.)
    contract::small_ring_recycles_with_stamps(&mut a, &mut b, 80, 10, |_| 986);
    assert!(a.capabilities().timestamps.rx_software);
}

#[test]
fn truncation_is_reported() {
    contract::truncation_is_reported::<RingLink>();
}

#[test]
fn wait_readable_sleeps_until_a_frame_arrives() {
    contract::wait_readable_sleeps_until_a_frame_arrives::<RingLink>();
}

#[test]
fn options_are_applied_or_refused() {
    contract::options_are_applied_or_refused::<RingLink>();
}

#[test]
fn backpressure_and_down_keep_frames_queued() {
    contract::backpressure_and_down_keep_frames_queued::<RingLink>();
}

#[test]
fn missing_privileges_are_explained() {
    contract::missing_privileges_are_explained::<RingLink>();
}
