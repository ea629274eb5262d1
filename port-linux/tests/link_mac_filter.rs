//! `LinkConfig::mac_filter` on every backend, over a veth pair: the link receives l2net frames
//! for its own MAC and for the groups it joined, and nothing else; joining and leaving
//! replace the kernel filter. An unfiltered link on the same interface sees every frame, which
//! proves the unwanted frames were on the wire.

mod support;

use std::time::Duration;

use l2net_core::{LinkError, MacAddr, RawLink};
use l2net_linux::netns::require_privileges;
use l2net_linux::{Backend, LinkConfig, LinuxLink, OpenError};
use support::{assert_silent, contract, recv_n, send_all};

const OTHER_UNICAST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x99];
const GROUP: [u8; 6] = [0x03, 0x4c, 0x32, 0x00, 0x00, 0x07];
const NOT_JOINED: [u8; 6] = [0x03, 0x4c, 0x32, 0x00, 0x00, 0x08];

fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, seed: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend((0..46).map(|i| seed.wrapping_add(i)));
    f
}

fn data(got: &[(Vec<u8>, l2net_core::RxMeta)]) -> Vec<Vec<u8>> {
    got.iter().map(|(d, _)| d.clone()).collect()
}

#[test]
fn mac_filter_passes_own_and_joined_addresses_only_on_every_backend() {
    if !require_privileges("mac_filter_passes_own_and_joined_addresses_only_on_every_backend") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("mf", 1500);
    let quiet = Duration::from_millis(30);
    for backend in Backend::CONCRETE {
        let mut tx: LinuxLink = contract::open(&w.a, w.veth.a_name(), |c| {
            c.backend = Backend::Plain;
            c.ethertype = None;
        });
        let mut rx: LinuxLink = contract::open(&w.b, w.veth.b_name(), |c| {
            c.backend = backend;
            c.mac_filter = true;
        });
        let mut all: LinuxLink =
            contract::open(&w.b, w.veth.b_name(), |c| c.backend = Backend::Plain);
        let own = rx.mac().octets();
        let src = tx.mac().octets();

        // Before any join: only the link's own MAC.
        let sent = vec![
            frame(own, src, 0x88B5, 1),
            frame(OTHER_UNICAST, src, 0x88B5, 2),
            frame(GROUP, src, 0x88B5, 3),
            frame(NOT_JOINED, src, 0x88B5, 4),
            frame(own, src, 0x0800, 5),
            frame(own, src, 0x88B5, 6),
        ];
        send_all(&mut tx, &sent);
        let got = data(&recv_n(&mut rx, 2));
        assert_eq!(got, vec![sent[0].clone(), sent[5].clone()], "{backend}");
        assert_silent(&mut rx, quiet);
        // The unfiltered link saw every l2net frame.
        let seen = data(&recv_n(&mut all, 5));
        let want: Vec<Vec<u8>> = [0, 1, 2, 3, 5].iter().map(|&i| sent[i].clone()).collect();
        assert_eq!(seen, want, "{backend}: control link");
        assert_silent(&mut all, quiet);

        // Joined: the group too, still not the others.
        rx.join_multicast(MacAddr(GROUP)).expect("join");
        let sent = vec![
            frame(GROUP, src, 0x88B5, 7),
            frame(NOT_JOINED, src, 0x88B5, 8),
            frame(own, src, 0x88B5, 9),
        ];
        send_all(&mut tx, &sent);
        let got = data(&recv_n(&mut rx, 2));
        assert_eq!(got, vec![sent[0].clone(), sent[2].clone()], "{backend}");
        assert_silent(&mut rx, quiet);

        // Left: back to the own MAC only.
        rx.leave_multicast(MacAddr(GROUP)).expect("leave");
        let sent = vec![frame(GROUP, src, 0x88B5, 10), frame(own, src, 0x88B5, 11)];
        send_all(&mut tx, &sent);
        let got = data(&recv_n(&mut rx, 1));
        assert_eq!(got, vec![sent[1].clone()], "{backend}");
        assert_silent(&mut rx, quiet);

        // Leaving a group that is not joined (as the kernel's own membership call does)
        // succeeds and changes nothing.
        rx.leave_multicast(MacAddr(GROUP)).expect("leave again");
        let sent = vec![frame(GROUP, src, 0x88B5, 12), frame(own, src, 0x88B5, 13)];
        send_all(&mut tx, &sent);
        assert_eq!(
            data(&recv_n(&mut rx, 1)),
            vec![sent[1].clone()],
            "{backend}"
        );
        assert_silent(&mut rx, quiet);
        drop(all);
    }
}

#[test]
fn mac_filter_limits_and_bad_configuration() {
    if !require_privileges("mac_filter_limits_and_bad_configuration") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("mg", 1500);
    // mac_filter only admits l2net's EtherType.
    let mut c = LinkConfig::new(w.veth.b_name());
    c.mac_filter = true;
    c.ethertype = None;
    let r = w.b.run(|| LinuxLink::open(&c).map(|_| ())).unwrap();
    assert!(matches!(r, Err(OpenError::InvalidConfig(_))), "{r:?}");
    c.ethertype = Some(0x0800);
    let r = w.b.run(|| LinuxLink::open(&c).map(|_| ())).unwrap();
    assert!(matches!(r, Err(OpenError::InvalidConfig(_))), "{r:?}");

    // One program matches at most 64 addresses: the own MAC and 63 groups.
    let mut rx: LinuxLink = contract::open(&w.b, w.veth.b_name(), |c| {
        c.backend = Backend::Plain;
        c.mac_filter = true;
    });
    let group = |i: u8| MacAddr([0x03, 0x4c, 0x32, 0x01, 0x00, i]);
    for i in 0..63 {
        rx.join_multicast(group(i)).expect("join within the limit");
    }
    // Joining the same group again needs no new filter slot.
    rx.join_multicast(group(0)).expect("join again");
    assert_eq!(
        rx.join_multicast(group(63)),
        Err(LinkError::Unsupported(
            "more than 63 multicast groups on a link with mac_filter"
        ))
    );
    // After the refusal the link still works and can leave what it joined.
    rx.leave_multicast(group(0)).expect("leave once");
    rx.leave_multicast(group(0)).expect("leave twice");
    rx.join_multicast(group(63)).expect("room again");
}
