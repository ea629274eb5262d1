//! The frame-ring backend (`TPACKET_V2` receive ring, `sendmmsg` transmit) over a veth pair
//! between two namespaces each test makes.

mod support;

use std::time::{Duration, Instant as StdInstant};

use l2net_core::{RawLink, RxFrame};
use l2net_linux::FrameRingLink;
use l2net_linux::netns::require_privileges;
use support::{Waitable, contract};

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<FrameRingLink>();
}

#[test]
fn other_ethertypes_are_filtered_unless_asked_for() {
    contract::other_ethertypes_are_filtered_unless_asked_for::<FrameRingLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<FrameRingLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<FrameRingLink>();
}

#[test]
fn removed_interface_is_reported() {
    contract::removed_interface_is_reported::<FrameRingLink>();
}

#[test]
fn truncation_is_reported() {
    contract::truncation_is_reported::<FrameRingLink>();
}

#[test]
fn wait_readable_sleeps_until_a_frame_arrives() {
    contract::wait_readable_sleeps_until_a_frame_arrives::<FrameRingLink>();
}

#[test]
fn options_are_applied_or_refused() {
    contract::options_are_applied_or_refused::<FrameRingLink>();
}

#[test]
fn backpressure_and_down_keep_frames_queued() {
    contract::backpressure_and_down_keep_frames_queued::<FrameRingLink>();
}

#[test]
fn missing_privileges_are_explained() {
    contract::missing_privileges_are_explained::<FrameRingLink>();
}

/// The smallest ring (160 slots) wraps around a dozen times; every frame arrives whole, in
/// order, with a CLOCK_REALTIME stamp, and nothing is dropped.
#[test]
fn slots_recycle_and_frames_are_timestamped() {
    if !require_privileges("slots_recycle_and_frames_are_timestamped") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("fr", 1500);
    let small = |c: &mut l2net_linux::LinkConfig| c.ring_memory = 1;
    let mut a = contract::open::<FrameRingLink>(&w.a, w.veth.a_name(), small);
    let mut b = contract::open::<FrameRingLink>(&w.b, w.veth.b_name(), small);
    assert_eq!(b.rx_ring_bytes(), 256 << 10);
    assert_eq!(b.rx_ring_frames(), 160);
    // 100 rounds of 20 frames: 2000 frames through 160 slots.
    contract::small_ring_recycles_with_stamps(&mut a, &mut b, 100, 20, |i| 986 + (i as usize) * 20);
    let caps = b.capabilities();
    assert!(caps.timestamps.rx_software && !caps.timestamps.tx_software);
    assert!(caps.vlan.rx_strip);
}

/// `rx_maybe_pending` says exactly whether a frame waits in the head slot: false before any
/// frame, true once one landed (before any receive call), false again once the view of the
/// last one is dropped.
#[test]
fn rx_maybe_pending_is_exact() {
    if !require_privileges("rx_maybe_pending_is_exact") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("fp", 1500);
    let mut a = contract::open::<FrameRingLink>(&w.a, w.veth.a_name(), |_| {});
    let mut b = contract::open::<FrameRingLink>(&w.b, w.veth.b_name(), |_| {});
    assert!(!b.rx_maybe_pending(), "an empty ring has nothing pending");
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.wait(Duration::from_millis(10)));
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| support::frame(a.mac().octets(), &[], 100, i))
        .collect();
    support::send_all(&mut a, &frames);
    // The descriptor announces the first frame; after it all three are in the ring (veth
    // delivers them in order on the sender's CPU, but wait to be sure).
    assert!(b.wait(Duration::from_secs(10)), "woken by the frames");
    assert!(b.rx_maybe_pending(), "pending before any receive");
    let deadline = StdInstant::now() + Duration::from_secs(10);
    for (i, f) in frames.iter().enumerate() {
        let rx = loop {
            if let Some(rx) = b.receive(support::now()).unwrap() {
                break rx;
            }
            assert!(StdInstant::now() < deadline, "frame {i} never came");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(rx.data(), &f[..]);
        drop(rx);
        let more = i + 1 < frames.len();
        if !more {
            assert!(!b.rx_maybe_pending(), "all handed out");
        }
    }
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending());
    assert!(
        !b.wait(Duration::from_millis(10)),
        "nothing left to wake for"
    );
}

/// A view that is leaked instead of dropped keeps its slot: the link hands the same frame out
/// again rather than skipping it or releasing a slot it did not read.
#[test]
fn a_leaked_view_returns_the_same_frame_again() {
    if !require_privileges("a_leaked_view_returns_the_same_frame_again") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("fl", 1500);
    let mut a = contract::open::<FrameRingLink>(&w.a, w.veth.a_name(), |_| {});
    let mut b = contract::open::<FrameRingLink>(&w.b, w.veth.b_name(), |_| {});
    let frames: Vec<Vec<u8>> = (0..2)
        .map(|i| support::frame(a.mac().octets(), &[], 100, 40 + i))
        .collect();
    support::send_all(&mut a, &frames);
    assert!(b.wait(Duration::from_secs(10)));
    let rx = b.receive(support::now()).unwrap().expect("a frame");
    assert_eq!(rx.data(), &frames[0][..]);
    std::mem::forget(rx);
    let got = support::recv_n(&mut b, 2);
    assert_eq!(got[0].0, frames[0]);
    assert_eq!(got[1].0, frames[1]);
}

/// Opened through `LinuxLink` by name: "frame-ring" parses, the selection says it was
/// requested, and `auto` still takes the `TPACKET_V3` ring.
#[test]
fn linux_link_opens_it_by_name() {
    use l2net_linux::{Backend, LinkConfig, LinuxLink};
    if !require_privileges("linux_link_opens_it_by_name") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("fn", 1500);
    let cfg = LinkConfig::new(w.veth.a_name()).with_backend("frame-ring".parse().unwrap());
    let (link, sel) = w.a.run(|| LinuxLink::open(&cfg)).unwrap().unwrap();
    assert_eq!(
        (link.backend(), sel.backend),
        (Backend::FrameRing, Backend::FrameRing)
    );
    assert_eq!(sel.to_string(), "frame-ring (requested)");
    let (auto, _) =
        w.a.run(|| LinuxLink::open(&LinkConfig::new(w.veth.a_name())))
            .unwrap()
            .unwrap();
    assert_eq!(auto.backend(), Backend::Ring);
}
