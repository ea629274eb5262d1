//! The leader's sleep that receives (`NodeLink::sleeper`: io_uring on the mmsg backend) over a
//! veth pair between two namespaces of the test's own: no frame is lost or reordered, and the
//! sleeping leader is woken by a local publish from another thread, by its own short timer, by
//! the I/O thread for a far deadline, and by the node's closing.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use l2net::node::{Node, NodeConfig, NodeError, Qos};
use l2net_linux::link::{Backend, LinkConfig, LinuxLink};
use l2net_linux::netns::{Netns, VethPair, require_privileges};

const T: Duration = Duration::from_secs(10);

/// Two nodes on the mmsg backend at the ends of a veth pair (`None` when the kernel offers no
/// sleeper: the test then has nothing to check).
fn mmsg_pair(domain: u16, sleep: bool) -> Option<(VethPair, Node<LinuxLink>, Node<LinuxLink>)> {
    let a = Netns::new("slp").unwrap();
    let b = Netns::new("slp").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let open = |ns: &Netns, name: String| {
        ns.run(move || LinuxLink::open(&LinkConfig::new(&name).with_backend(Backend::Mmsg)))
            .unwrap()
            .unwrap()
            .0
    };
    let (la, lb) = (
        open(&a, veth.a_name().to_string()),
        open(&b, veth.b_name().to_string()),
    );
    let config = |name: &str| {
        let mut c = NodeConfig::new(domain, name);
        c.receive_in_sleep = sleep;
        c
    };
    let na = Node::new(la, config("sleep-a")).unwrap();
    let nb = Node::new(lb, config("sleep-b")).unwrap();
    if sleep && !(na.receives_in_sleep() && nb.receives_in_sleep()) {
        eprintln!("skipping: this kernel offers no io_uring sleeper");
        return None;
    }
    assert_eq!(na.receives_in_sleep(), sleep);
    Some((veth, na, nb))
}

#[test]
fn sleeping_leaders_lose_and_reorder_nothing() {
    if !require_privileges("sleeping_leaders_lose_and_reorder_nothing") {
        return;
    }
    let Some((_veth, na, nb)) = mmsg_pair(60, true) else {
        return;
    };
    // Ping/pong: each side's leader sleeps in the link for every answer.
    let ping = na.publisher("/ping", "t/P", Qos::BEST_EFFORT).unwrap();
    let pong_in = na.subscriber("/pong", "t/P", Qos::BEST_EFFORT).unwrap();
    let ping_in = nb.subscriber("/ping", "t/P", Qos::BEST_EFFORT).unwrap();
    let pong = nb.publisher("/pong", "t/P", Qos::BEST_EFFORT).unwrap();
    ping.wait_for_subscribers(1, T).unwrap();
    pong.wait_for_subscribers(1, T).unwrap();
    let n = 2000u32;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u8; 64];
            for _ in 0..n {
                let info = ping_in.recv_timeout(&mut buf, Some(T)).unwrap();
                pong.publish(&buf[..info.len]).unwrap();
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..n {
            ping.publish(&i.to_be_bytes()).unwrap();
            let info = pong_in.recv_timeout(&mut buf, Some(T)).unwrap();
            assert_eq!(&buf[..info.len], &i.to_be_bytes(), "answer {i}");
        }
    });
    // A reliable stream into a blocked receiver: everything, in order.
    let publ = na.publisher("/rel", "t/R", Qos::reliable(64)).unwrap();
    let sub = nb.subscriber("/rel", "t/R", Qos::reliable(64)).unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    sub.wait_for_publishers(1, T).unwrap();
    let m = 5000u32;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..m {
                publ.publish(&i.to_be_bytes()).unwrap();
            }
            publ.wait_for_acks(T).unwrap();
        });
        let mut buf = [0u8; 64];
        for i in 0..m {
            let info = sub.recv_timeout(&mut buf, Some(T)).unwrap();
            assert_eq!(&buf[..info.len], &i.to_be_bytes(), "sample {i}");
        }
    });
    assert_eq!(nb.stats().rx_malformed, 0);
}

#[test]
fn a_sleeping_leader_is_woken_by_a_publish_timers_and_closing() {
    if !require_privileges("a_sleeping_leader_is_woken_by_a_publish_timers_and_closing") {
        return;
    }
    let Some((_veth, na, _nb)) = mmsg_pair(61, true) else {
        return;
    };
    let sub = na.subscriber("/local", "t/L", Qos::BEST_EFFORT).unwrap();
    let mut buf = [0u8; 64];
    // Its own timer (below LEADER_TIMER_MIN) and the I/O thread's (above it).
    for wait in [Duration::from_millis(5), Duration::from_millis(60)] {
        let t0 = Instant::now();
        let r = sub.recv_timeout(&mut buf, Some(wait));
        assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");
        assert!(t0.elapsed() >= wait, "timed out after {:?}", t0.elapsed());
    }
    // A publish from another thread to a reader of the same node: no frame on the link, so
    // only the wake-up can end the leader's sleep.
    let publ = na.publisher("/local", "t/L", Qos::BEST_EFFORT).unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    for round in 0..20u8 {
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(2));
                publ.publish(&[round]).unwrap();
            });
            let info = sub.recv_timeout(&mut buf, Some(T)).unwrap();
            assert_eq!(&buf[..info.len], &[round]);
        });
    }
    // Closing the node ends a wait without a deadline.
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| sub.recv(&mut [0u8; 64]));
        std::thread::sleep(Duration::from_millis(50));
        na.close();
        h.join().unwrap()
    });
    assert!(matches!(r, Err(NodeError::Closed)), "{r:?}");
}

#[test]
fn receive_in_sleep_off_keeps_polling() {
    if !require_privileges("receive_in_sleep_off_keeps_polling") {
        return;
    }
    let Some((_veth, na, nb)) = mmsg_pair(62, false) else {
        return;
    };
    assert!(!na.receives_in_sleep() && !nb.receives_in_sleep());
    let publ = na.publisher("/p", "t/P", Qos::BEST_EFFORT).unwrap();
    let sub = nb.subscriber("/p", "t/P", Qos::BEST_EFFORT).unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            publ.publish(b"polled").unwrap();
        });
        let mut buf = [0u8; 64];
        let info = sub.recv_timeout(&mut buf, Some(T)).unwrap();
        assert_eq!(&buf[..info.len], b"polled");
    });
}
