//! Waiting on a node from outside its endpoints (`NodeWaker`, `Node::wait_until`,
//! `NodeWaker::wait_any`, `Node::try_next_event`, `Subscriber::try_take`): a flag raised by
//! another thread ends a wait through `NodeWaker::wake` without a lost wake-up, deadlines end
//! it with `Timeout`, closing ends it with `Closed`, and one thread waits on two nodes (two
//! links) at once, as well as two threads on one node (leader and follower).

#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use l2net::node::{Event, NodeConfig, NodeError, NodeWaker, Qos};
use l2net_linux::link::LinuxLink;
use l2net_linux::netns::require_privileges;

mod support;

const T: Duration = Duration::from_secs(10);

#[test]
fn wake_ends_a_wait_and_deadline_times_out() {
    let node = support::mem_node(40, "wait", 2);
    let t0 = Instant::now();
    let r = node.wait_until(|| false, Some(t0 + Duration::from_millis(30)));
    assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");
    assert!(t0.elapsed() >= Duration::from_millis(30));
    // A condition already true returns at once, even past the deadline.
    node.wait_until(|| true, Some(t0)).unwrap();

    let flag = AtomicBool::new(false);
    let waker = node.waker();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            flag.store(true, Ordering::Release);
            waker.wake();
        });
        node.wait_until(|| flag.load(Ordering::Acquire), Some(Instant::now() + T))
            .unwrap();
    });
    assert!(waker.same_node(&node.waker()));
    assert!(!waker.is_closed());
}

#[test]
fn closing_the_node_ends_a_wait() {
    let node = support::mem_node(41, "wait", 2);
    let waker = node.waker();
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| waker.wait_until(|| false, Some(Instant::now() + T)));
        std::thread::sleep(Duration::from_millis(20));
        node.close();
        h.join().unwrap()
    });
    assert!(matches!(r, Err(NodeError::Closed)), "{r:?}");
    assert!(waker.is_closed());
    assert!(matches!(
        waker.wait_until(|| false, None),
        Err(NodeError::Closed)
    ));
}

#[test]
fn try_take_and_try_next_event_do_not_wait() {
    let node = support::mem_node(42, "wait", 2);
    let sub = node
        .subscriber("/w", "test/Counter", Qos::reliable(8))
        .unwrap();
    let publ = node
        .publisher("/w", "test/Counter", Qos::reliable(8))
        .unwrap();
    let waker = node.waker();
    assert!(waker.has_events(), "the Matched events are flagged");
    let mut matched = 0;
    while let Some(ev) = node.try_next_event().unwrap() {
        matched += usize::from(matches!(ev, Event::Matched { .. }));
    }
    assert_eq!(matched, 2, "a Matched event on each side, queued");
    assert!(!waker.has_events(), "cleared with the last event taken");
    let mut buf = [0u8; 16];
    assert!(sub.try_take(&mut buf).unwrap().is_none());
    let changes = waker.changes();
    publ.publish(b"one").unwrap();
    // The sample into an empty queue queues a DataAvailable event: flagged by the time the
    // change counter moved.
    assert_ne!(waker.changes(), changes);
    assert!(waker.has_events());
    assert!(matches!(
        node.try_next_event().unwrap(),
        Some(Event::DataAvailable { .. })
    ));
    assert!(!waker.has_events());
    let info = sub
        .try_take(&mut buf)
        .unwrap()
        .expect("a local sample is queued at once");
    assert_eq!(&buf[..info.len], b"one");
    assert!(sub.try_take(&mut buf).unwrap().is_none());
    assert!(matches!(
        NodeWaker::<LinuxLink>::wait_any(&[], || true, None),
        Err(NodeError::Config(_))
    ));
}

/// Two threads hand a counter back and forth 2000 times, each raising it and waking the
/// node, each waiting for the other's step with `wait_until`. The node sleeps on `lo`'s
/// descriptor with no endpoint and no timer due for seconds: a lost wake-up would show as a
/// `Timeout` after 2 s.
#[test]
fn no_wake_up_is_lost() {
    if !require_privileges("no_wake_up_is_lost") {
        return;
    }
    let (node, _ns) = support::lo_node(43, "wait", "nodewait");
    let step = AtomicU64::new(0);
    let patience = Duration::from_secs(2);
    std::thread::scope(|s| {
        let (w, step) = (node.waker(), &step);
        s.spawn(move || {
            for i in 0..2000u64 {
                w.wait_until(
                    || step.load(Ordering::Acquire) == 2 * i + 1,
                    Some(Instant::now() + patience),
                )
                .unwrap_or_else(|e| panic!("B at step {i}: {e}"));
                step.store(2 * i + 2, Ordering::Release);
                w.wake();
            }
        });
        let w = node.waker();
        for i in 0..2000u64 {
            step.store(2 * i + 1, Ordering::Release);
            w.wake();
            w.wait_until(
                || step.load(Ordering::Acquire) == 2 * i + 2,
                Some(Instant::now() + patience),
            )
            .unwrap_or_else(|e| panic!("A at step {i}: {e}"));
        }
    });
}

/// One thread waits on two nodes (two links, one per namespace) at once and takes every
/// sample of both directions; meanwhile a second thread on node b waits for its own topic
/// (a follower of whichever thread leads b).
#[test]
fn one_thread_waits_on_two_nodes() {
    if !require_privileges("one_thread_waits_on_two_nodes") {
        return;
    }
    let (_veth, na, nb) = support::veth_node_pair(
        NodeConfig::new(44, "wait-a"),
        NodeConfig::new(44, "wait-b"),
        "nodewait",
    );
    let q = Qos::reliable(64);
    let (pub_x, sub_x) = (
        na.publisher("/x", "test/C", q).unwrap(),
        nb.subscriber("/x", "test/C", q).unwrap(),
    );
    let (pub_y, sub_y) = (
        nb.publisher("/y", "test/C", q).unwrap(),
        na.subscriber("/y", "test/C", q).unwrap(),
    );
    let (pub_z, sub_z) = (
        na.publisher("/z", "test/C", q).unwrap(),
        nb.subscriber("/z", "test/C", q).unwrap(),
    );
    for p in [&pub_x, &pub_y, &pub_z] {
        p.wait_for_subscribers(1, T).unwrap();
    }
    let n = 500u32;
    let wakers = [na.waker(), nb.waker()];
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                pub_x.publish(&i.to_be_bytes()).unwrap();
                pub_y.publish(&i.to_be_bytes()).unwrap();
                pub_z.publish(&i.to_be_bytes()).unwrap();
            }
        });
        let follower = s.spawn(|| {
            let mut buf = [0u8; 16];
            for i in 0..n {
                let mut got = None;
                nb.wait_until(
                    || {
                        got = sub_z.try_take(&mut buf).unwrap();
                        got.is_some()
                    },
                    Some(Instant::now() + T),
                )
                .unwrap();
                assert_eq!(&buf[..4], &i.to_be_bytes());
            }
        });
        let (mut next_x, mut next_y) = (0u32, 0u32);
        let mut buf = [0u8; 16];
        while next_x < n || next_y < n {
            let (mut got_x, mut got_y) = (false, false);
            NodeWaker::wait_any(
                &wakers,
                || {
                    got_x = sub_x.try_take(&mut buf).unwrap().is_some();
                    if got_x {
                        return true;
                    }
                    got_y = sub_y.try_take(&mut buf).unwrap().is_some();
                    got_y
                },
                Some(Instant::now() + T),
            )
            .unwrap_or_else(|e| panic!("after x {next_x}, y {next_y}: {e}"));
            let v = u32::from_be_bytes(buf[..4].try_into().unwrap());
            if got_x {
                assert_eq!(v, next_x, "x in order");
                next_x += 1;
            } else {
                assert_eq!(v, next_y, "y in order");
                next_y += 1;
            }
        }
        follower.join().unwrap();
    });
}

/// A thread that only polls (`wait_until` with a deadline already passed, as an executor's
/// non-blocking spin does) still receives: each poll takes in what the link holds.
#[test]
fn polling_alone_receives() {
    if !require_privileges("polling_alone_receives") {
        return;
    }
    let (_veth, na, nb) = support::veth_node_pair(
        NodeConfig::new(45, "poll-a"),
        NodeConfig::new(45, "poll-b"),
        "nodewait",
    );
    let q = Qos::reliable(64);
    let publ = na.publisher("/p", "test/C", q).unwrap();
    let sub = nb.subscriber("/p", "test/C", q).unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    sub.wait_for_publishers(1, T).unwrap();
    let end = Instant::now() + T;
    let mut buf = [0u8; 16];
    for i in 0..200u32 {
        publ.publish(&i.to_be_bytes()).unwrap();
        loop {
            let mut got = false;
            match nb.wait_until(
                || {
                    got = sub.try_take(&mut buf).unwrap().is_some();
                    got
                },
                Some(Instant::now()),
            ) {
                Ok(()) => break,
                Err(NodeError::Timeout) => {
                    assert!(Instant::now() < end, "sample {i} never arrived");
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(&buf[..4], &i.to_be_bytes());
    }
}

#[test]
fn wait_events_follows_until_an_event_a_wake_or_closing() {
    if !require_privileges("wait_events_follows_until_an_event_a_wake_or_closing") {
        return;
    }
    let (node, _ns) = support::lo_node(46, "wait", "nodewait");
    let waker = node.waker();
    while waker.try_next_event().unwrap().is_some() {}
    let r = waker.wait_events(|| false, Some(Instant::now() + Duration::from_millis(20)));
    assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");

    // A flag raised before a wake ends the wait: `Ok(false)`, no event.
    let flag = AtomicBool::new(false);
    std::thread::scope(|s| {
        let w = s
            .spawn(|| waker.wait_events(|| flag.load(Ordering::Acquire), Some(Instant::now() + T)));
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
        waker.wake();
        assert!(matches!(w.join().unwrap(), Ok(false)));
    });

    // A match queues events: `Ok(true)`, and they are there to take.
    std::thread::scope(|s| {
        let w = s.spawn(|| waker.wait_events(|| false, Some(Instant::now() + T)));
        std::thread::sleep(Duration::from_millis(20));
        let _p = node.publisher("/follow", "t", Qos::reliable(4)).unwrap();
        let _s = node.subscriber("/follow", "t", Qos::reliable(4)).unwrap();
        assert!(matches!(w.join().unwrap(), Ok(true)));
        assert!(waker.try_next_event().unwrap().is_some());
    });

    // Closing ends it (after the events that closing queues, if any).
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            loop {
                match waker.wait_events(|| false, None) {
                    Ok(true) => while waker.try_next_event().is_ok_and(|e| e.is_some()) {},
                    r => return r,
                }
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        node.close();
        assert!(matches!(w.join().unwrap(), Err(NodeError::Closed)));
    });
}
