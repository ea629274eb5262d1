//! `LinuxLink`: backend selection from one config value, and the RawLink contract through the
//! dispatching enum (auto backend).

mod support;

use l2net_linux::netns::require_privileges;
use l2net_linux::{Backend, LinkConfig, LinuxLink, OpenError};
use support::contract;

#[test]
fn auto_picks_the_ring_and_says_why() {
    if !require_privileges("auto_picks_the_ring_and_says_why") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("ls", 1500);
    let cfg = LinkConfig::new(w.veth.a_name());
    let (link, sel) = w.a.run(|| LinuxLink::open(&cfg)).unwrap().unwrap();
    assert_eq!(link.backend(), Backend::Ring);
    assert_eq!(sel.backend, Backend::Ring);
    assert!(sel.reason.contains("TPACKET_V3"), "{sel}");
    for backend in Backend::CONCRETE {
        let cfg = LinkConfig::new(w.veth.a_name()).with_backend(backend);
        let (link, sel) = w.a.run(|| LinuxLink::open(&cfg)).unwrap().unwrap();
        assert_eq!((link.backend(), sel.backend), (backend, backend));
        assert_eq!(sel.reason, "requested");
        assert_eq!(link.interface().mtu, 1500);
    }
    // The backend is one config value, spelled as on a command line.
    let cfg = LinkConfig::new(w.veth.a_name()).with_backend("mmsg".parse().unwrap());
    let (link, _) = w.a.run(|| LinuxLink::open(&cfg)).unwrap().unwrap();
    assert_eq!(link.backend(), Backend::Mmsg);
    // Errors no backend can avoid come back from auto unchanged.
    let cfg = LinkConfig::new("l2nope0");
    let err = w.a.run(|| LinuxLink::open(&cfg).map(|_| ())).unwrap();
    assert!(matches!(err, Err(OpenError::NoSuchInterface(_))), "{err:?}");
}

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<LinuxLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<LinuxLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<LinuxLink>();
}

#[test]
fn truncation_is_reported() {
    contract::truncation_is_reported::<LinuxLink>();
}

#[test]
fn wait_readable_sleeps_until_a_frame_arrives() {
    contract::wait_readable_sleeps_until_a_frame_arrives::<LinuxLink>();
}

#[test]
fn options_are_applied_or_refused() {
    contract::options_are_applied_or_refused::<LinuxLink>();
}

#[test]
fn backpressure_and_down_keep_frames_queued() {
    contract::backpressure_and_down_keep_frames_queued::<LinuxLink>();
}

#[test]
fn missing_privileges_are_explained() {
    contract::missing_privileges_are_explained::<LinuxLink>();
}
