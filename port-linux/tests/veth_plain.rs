//! The plain backend over a veth pair between two namespaces each test makes.

mod support;

use l2net_linux::PlainLink;
use support::contract;

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<PlainLink>();
}

#[test]
fn other_ethertypes_are_filtered_unless_asked_for() {
    contract::other_ethertypes_are_filtered_unless_asked_for::<PlainLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<PlainLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<PlainLink>();
}

#[test]
fn removed_interface_is_reported() {
    contract::removed_interface_is_reported::<PlainLink>();
}

#[test]
fn truncation_is_reported() {
    contract::truncation_is_reported::<PlainLink>();
}

#[test]
fn wait_readable_sleeps_until_a_frame_arrives() {
    contract::wait_readable_sleeps_until_a_frame_arrives::<PlainLink>();
}

#[test]
fn options_are_applied_or_refused() {
    contract::options_are_applied_or_refused::<PlainLink>();
}

#[test]
fn backpressure_and_down_keep_frames_queued() {
    contract::backpressure_and_down_keep_frames_queued::<PlainLink>();
}

#[test]
fn missing_privileges_are_explained() {
    contract::missing_privileges_are_explained::<PlainLink>();
}

/// A receive that finds the socket empty makes the link say that nothing is pending (a waiting
/// node then sleeps on the descriptor at once instead of calling `recv` to find nothing), until
/// the next receive; a frame that arrives meanwhile makes the descriptor readable.
#[test]
fn empty_receive_reports_drained() {
    use l2net_core::RawLink;
    use std::time::Duration;
    if !l2net_linux::netns::require_privileges("empty_receive_reports_drained") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("pd", 1500);
    let mut a: PlainLink = contract::open(&w.a, w.veth.a_name(), |_| {});
    let mut b: PlainLink = contract::open(&w.b, w.veth.b_name(), |_| {});
    assert!(
        b.rx_maybe_pending(),
        "nothing is known before the first receive"
    );
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending(), "an empty receive drained the socket");
    let frames: Vec<Vec<u8>> = (0..2)
        .map(|i| support::frame(a.mac().octets(), &[], 100, 20 + i))
        .collect();
    support::send_all(&mut a, &frames);
    assert!(
        b.wait_readable(Some(Duration::from_secs(10))).unwrap(),
        "the frames make the descriptor readable"
    );
    assert!(
        !b.rx_maybe_pending(),
        "still drained until the next receive"
    );
    let got = support::recv_n(&mut b, 1);
    assert_eq!(got[0].0, frames[0]);
    assert!(b.rx_maybe_pending(), "after a frame more may wait");
    assert_eq!(support::recv_n(&mut b, 1)[0].0, frames[1]);
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending());
}
