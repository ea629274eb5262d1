//! The namespace helpers themselves: namespaces, veth pairs, MTU, TAP devices, clean-up.

mod support;

use l2net_core::RawLink;
use l2net_linux::iface;
use l2net_linux::netns::{Netns, Tap, VethPair, require_privileges};
use l2net_linux::{LinkConfig, PlainLink};

#[test]
fn veth_pair_between_namespaces_with_jumbo_mtu() {
    if !require_privileges("veth_pair_between_namespaces_with_jumbo_mtu") {
        return;
    }
    let _serial = support::serial();
    let fds_before = support::open_fds();
    {
        let a = Netns::new("nsa").unwrap();
        let b = Netns::new("nsb").unwrap();
        assert!(a.path().exists(), "{:?} is mounted", a.path());
        let pair = VethPair::new(&a, &b).unwrap();
        pair.set_mtu(9000).unwrap();
        let a_name = pair.a_name().to_owned();
        let info_a = a.run(|| iface::query(&a_name)).unwrap().unwrap();
        assert_eq!(info_a.mtu, 9000);
        assert!(info_a.flags.up());
        assert!(info_a.is_ethernet());
        // The other end is not visible in namespace a, nor in ours.
        let b_name = pair.b_name().to_owned();
        assert!(a.run(|| iface::query(&b_name)).unwrap().is_err());
        assert!(iface::query(&b_name).is_err());
        let info_b = b.interface(&b_name).unwrap();
        assert_eq!(info_b.mtu, 9000);
        // Both ends up: the carrier is on, and the kernel reports the link running.
        assert_eq!(info_b.carrier, Some(true));
        assert!(info_b.flags.running());
        assert_ne!(info_a.mac, info_b.mac);
        // Bad arguments are errors, not panics.
        assert!(a.set_mtu(&a_name, 10).is_err());
        assert!(a.set_up("no/such").is_err());
        drop(pair);
        assert!(
            a.run(|| iface::query(&a_name)).unwrap().is_err(),
            "veth deleted on drop"
        );
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists(), "namespace unmounted and removed on drop");
    }
    support::assert_no_fd_leak(fds_before);
}

#[test]
fn tap_moves_into_a_namespace_and_carries_frames() {
    if !require_privileges("tap_moves_into_a_namespace_and_carries_frames") {
        return;
    }
    let _serial = support::serial();
    let ns = Netns::new("tap").unwrap();
    let mut tap = Tap::new().unwrap();
    let name = tap.name().to_owned();
    assert!(iface::query(&name).is_ok());
    tap.move_to(&ns).unwrap();
    assert!(iface::query(&name).is_err(), "gone from our namespace");
    let info = ns.run(|| iface::query(&name)).unwrap().unwrap();
    assert!(info.flags.up());
    // Frames written to the TAP arrive at a link on the interface, and frames the link sends
    // come out of the TAP (skipping whatever IPv6 chatter the kernel sends on a new link).
    let mut link = ns
        .run(|| PlainLink::open(&LinkConfig::new(&name)))
        .unwrap()
        .unwrap();
    let inbound = support::frame([0x02, 0, 0, 0, 0, 9], &[], 100, 1);
    tap.write_frame(&inbound).unwrap();
    assert_eq!(support::recv_n(&mut link, 1)[0].0, inbound);
    let outbound = support::frame(link.mac().octets(), &[], 200, 2);
    support::send_all(&mut link, std::slice::from_ref(&outbound));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    loop {
        match tap.read_frame(&mut buf) {
            Ok(n) if buf[..n] == outbound[..] => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "frame never left the TAP"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    }
    drop(link);
    drop(tap);
    assert!(
        ns.run(|| iface::query(&name)).unwrap().is_err(),
        "TAP removed on drop"
    );
}

#[test]
fn namespaces_need_privileges_and_say_so() {
    if !require_privileges("namespaces_need_privileges_and_say_so") {
        return;
    }
    let err = l2net_linux::netns::without_capabilities(|| Netns::new("nocap"))
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, l2net_linux::OpenError::NeedsCapNetAdmin { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
}
