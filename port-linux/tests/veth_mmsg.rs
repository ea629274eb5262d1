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

/// After a `recvmmsg` batch that came back short, the link says that nothing is pending (so a
/// waiting node sleeps on the descriptor at once instead of receiving to find nothing), and
/// only once the batch's frames are handed out; the receive after it finds nothing.
#[test]
fn short_batch_reports_drained() {
    use l2net_core::{RawLink, RxFrame};
    if !l2net_linux::netns::require_privileges("short_batch_reports_drained") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("dr", 1500);
    let mut a: MmsgLink = contract::open(&w.a, w.veth.a_name(), |_| {});
    let mut b: MmsgLink = contract::open(&w.b, w.veth.b_name(), |c| c.rx_batch = 4);
    assert!(
        b.rx_maybe_pending(),
        "nothing is known before the first receive"
    );
    // One frame: the batch of 4 comes back with 1.
    let f = support::frame(a.mac().octets(), &[], 100, 1);
    support::send_all(&mut a, std::slice::from_ref(&f));
    assert_eq!(support::recv_n(&mut b, 1)[0].0, f);
    assert!(!b.rx_maybe_pending(), "a short batch drained the socket");
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending(), "an empty receive drained it too");
    // Ten frames, taken in batches of at most 4: a batch's frames are pending until handed
    // out, and once all arrived the link ends drained.
    let frames: Vec<Vec<u8>> = (0..10)
        .map(|i| support::frame(a.mac().octets(), &[], 100, 10 + i))
        .collect();
    support::send_all(&mut a, &frames);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = 0;
    while got < frames.len() {
        let data = b
            .receive(support::now())
            .unwrap()
            .map(|rx| rx.data().to_vec());
        match data {
            Some(d) => {
                assert_eq!(d, frames[got], "frame {got}");
                got += 1;
            }
            None => {
                assert!(!b.rx_maybe_pending(), "nothing received, so drained");
                assert!(
                    std::time::Instant::now() < deadline,
                    "got {got} of 10 frames"
                );
                support::Waitable::wait(&b, std::time::Duration::from_millis(50));
            }
        }
    }
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending());
}
