//! The link-state monitor against real veth pairs in namespaces the tests create.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use l2net_linux::netlink::{LinkChange, LinkMonitor, MonitorError};
use l2net_linux::netns::{Netns, VethPair, require_privileges};

/// Generous: carrier changes pass through the kernel's link watcher, which may delay them.
const WAIT: Duration = Duration::from_secs(5);

/// Read events until `want` arrives; every event seen must be about `index`.
fn expect(monitor: &mut LinkMonitor, index: u32, want: LinkChange) {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match monitor.next_event(Some(left)).unwrap() {
            Some(ev) => {
                assert_eq!(ev.index, index, "event for another interface: {ev:?}");
                if ev.change == want {
                    return;
                }
                seen.push(ev);
            }
            None => panic!("no {want:?} within {WAIT:?}; saw {seen:?}"),
        }
    }
}

/// `ip link set dev down` in a namespace (the netns helpers only bring links up).
fn set_down(ns: &Netns, ifname: &str) {
    let status = Command::new("ip")
        .args(["-n", ns.name(), "link", "set", "dev", ifname, "down"])
        .status()
        .expect("run ip");
    assert!(status.success(), "ip link set {ifname} down");
}

#[test]
fn reports_down_up_carrier_mtu_and_removal() {
    if !require_privileges("reports_down_up_carrier_mtu_and_removal") {
        return;
    }
    let _serial = support::serial();
    let a = Netns::new("nlmon-a").unwrap();
    let b = Netns::new("nlmon-b").unwrap();
    let pair = VethPair::new(&a, &b).unwrap();
    let (a_name, b_name) = (pair.a_name().to_owned(), pair.b_name().to_owned());
    let mut mon_a = a.run(|| LinkMonitor::for_name(&a_name)).unwrap().unwrap();
    let mut mon_b = b.run(|| LinkMonitor::for_name(&b_name)).unwrap().unwrap();
    let mut all_a = a.run(LinkMonitor::all).unwrap().unwrap();
    let ia = mon_a.index().unwrap();
    let ib = mon_b.index().unwrap();
    let state = mon_a.state(ia).unwrap();
    assert_eq!(state.name, a_name);
    assert!(state.is_usable(), "{state:?}");

    // Peer down: the peer reports admin down, our end loses its carrier.
    set_down(&b, &b_name);
    expect(&mut mon_b, ib, LinkChange::AdminDown);
    expect(&mut mon_a, ia, LinkChange::CarrierDown);
    assert!(!mon_a.state(ia).unwrap().carrier);
    assert!(mon_a.state(ia).unwrap().admin_up);

    // Peer up again: carrier returns.
    b.set_up(&b_name).unwrap();
    expect(&mut mon_b, ib, LinkChange::AdminUp);
    expect(&mut mon_a, ia, LinkChange::CarrierUp);

    // MTU change.
    a.set_mtu(&a_name, 1400).unwrap();
    expect(
        &mut mon_a,
        ia,
        LinkChange::Mtu {
            old: 1500,
            new: 1400,
        },
    );
    assert_eq!(mon_a.state(ia).unwrap().mtu, 1400);

    // Deleting the pair removes both ends.
    drop(pair);
    expect(&mut mon_a, ia, LinkChange::Removed);
    expect(&mut mon_b, ib, LinkChange::Removed);
    assert!(mon_a.state(ia).is_none());

    // The all-interfaces monitor saw the same story for our end, in order.
    let mut changes = Vec::new();
    while let Some(ev) = all_a.next_event(Some(Duration::from_millis(200))).unwrap() {
        assert_eq!(
            ev.index, ia,
            "only one interface changed in namespace a: {ev:?}"
        );
        changes.push(ev.change);
    }
    let pos = |c: &LinkChange| changes.iter().position(|x| x == c);
    let down = pos(&LinkChange::CarrierDown).expect("carrier down");
    let up = pos(&LinkChange::CarrierUp).expect("carrier up");
    let mtu = pos(&LinkChange::Mtu {
        old: 1500,
        new: 1400,
    })
    .expect("mtu");
    let removed = pos(&LinkChange::Removed).expect("removed");
    assert!(down < up && up < mtu && mtu < removed, "{changes:?}");
    assert_eq!(all_a.malformed_messages(), 0);
}

#[test]
fn nonblocking_reads_and_timeouts() {
    if !require_privileges("nonblocking_reads_and_timeouts") {
        return;
    }
    let _serial = support::serial();
    let ns = Netns::new("nlmon-nb").unwrap();
    let pair = VethPair::new(&ns, &ns).unwrap();
    let name = pair.a_name().to_owned();
    let mut mon = ns.run(|| LinkMonitor::for_name(&name)).unwrap().unwrap();
    // Nothing happened: no event, no blocking, and a timeout returns None.
    assert!(mon.try_next_event().unwrap().is_none());
    let t0 = Instant::now();
    assert!(
        mon.next_event(Some(Duration::from_millis(50)))
            .unwrap()
            .is_none()
    );
    assert!(t0.elapsed() >= Duration::from_millis(50));
    // A change becomes visible to the nonblocking reader without anyone waiting in poll.
    ns.set_mtu(&name, 1280).unwrap();
    let deadline = Instant::now() + WAIT;
    let ev = loop {
        if let Some(ev) = mon.try_next_event().unwrap() {
            break ev;
        }
        assert!(Instant::now() < deadline, "no event");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        ev.change,
        LinkChange::Mtu {
            old: 1500,
            new: 1280
        }
    );
    assert_eq!(ev.name, name);
}

#[test]
fn bad_arguments_are_errors() {
    let _serial = support::serial();
    // The current namespace is only read here, never changed.
    assert_eq!(
        LinkMonitor::for_name("").unwrap_err(),
        MonitorError::InvalidName
    );
    assert_eq!(
        LinkMonitor::for_name("sixteen-chars-xx").unwrap_err(),
        MonitorError::InvalidName
    );
    assert_eq!(
        LinkMonitor::for_name("l2net-nosuch0").unwrap_err(),
        MonitorError::NoSuchInterface
    );
    assert_eq!(
        LinkMonitor::for_index(u32::MAX).unwrap_err(),
        MonitorError::NoSuchInterface
    );
    let lo = LinkMonitor::for_name("lo").unwrap();
    assert_eq!(lo.state(lo.index().unwrap()).unwrap().name, "lo");
    assert!(!MonitorError::NoSuchInterface.to_string().is_empty());
}

#[test]
fn no_descriptor_leaks() {
    let _serial = support::serial();
    let before = support::open_fds();
    for _ in 0..20 {
        let mut m = LinkMonitor::all().unwrap();
        assert!(m.links().count() >= 1);
        let _ = m.try_next_event().unwrap();
        let _ = LinkMonitor::for_name("l2net-nosuch0");
    }
    support::assert_no_fd_leak(before);
}
