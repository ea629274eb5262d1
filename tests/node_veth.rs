//! The std Node API over a real veth pair between two namespaces: discovery, a reliable and a
//! best-effort topic, a 4 MiB sample and a service call.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use l2net::node::{Node, NodeConfig, NodeError, Qos};
use l2net_linux::link::{Backend, LinkConfig, LinuxLink};
use l2net_linux::netns::{Netns, VethPair, require_privileges};

const T: Duration = Duration::from_secs(10);

fn nodes(domain: u16) -> (Node<LinuxLink>, Node<LinuxLink>, VethPair) {
    nodes_on(domain, Backend::Auto)
}

fn nodes_on(domain: u16, backend: Backend) -> (Node<LinuxLink>, Node<LinuxLink>, VethPair) {
    let a = Netns::new("node").unwrap();
    let b = Netns::new("node").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let (ia, ib) = (veth.a_name().to_string(), veth.b_name().to_string());
    let la = a
        .run(move || LinuxLink::open(&LinkConfig::new(&ia).with_backend(backend)))
        .unwrap()
        .unwrap()
        .0;
    let lb = b
        .run(move || LinuxLink::open(&LinkConfig::new(&ib).with_backend(backend)))
        .unwrap()
        .unwrap()
        .0;
    let na = Node::new(la, NodeConfig::new(domain, "node-a")).unwrap();
    let nb = Node::new(lb, NodeConfig::new(domain, "node-b")).unwrap();
    (na, nb, veth)
}

#[test]
fn reliable_topic_delivers_everything_in_order() {
    if !require_privileges("reliable_topic_delivers_everything_in_order") {
        return;
    }
    let (na, nb, _veth) = nodes(7);
    let publ = na
        .publisher("/counter", "test/Counter", Qos::reliable(64))
        .unwrap();
    let sub = nb
        .subscriber("/counter", "test/Counter", Qos::reliable(64))
        .unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    sub.wait_for_publishers(1, T).unwrap();
    let n = 5000u32;
    let writer = std::thread::scope(|s| {
        let h = s.spawn(|| {
            for i in 0..n {
                publ.publish(&i.to_be_bytes()).unwrap();
            }
            publ.wait_for_acks(T).unwrap();
        });
        let mut buf = [0u8; 64];
        for i in 0..n {
            let info = sub.recv_timeout(&mut buf, Some(T)).unwrap();
            assert_eq!(info.len, 4);
            assert_eq!(
                u32::from_be_bytes(buf[..4].try_into().unwrap()),
                i,
                "in order, no gaps"
            );
            assert_eq!(info.writer.participant, na.id());
        }
        h.join()
    });
    writer.unwrap();
    let mut buf = [0u8; 64];
    assert!(
        sub.try_recv(&mut buf).unwrap().is_none(),
        "nothing delivered twice"
    );
}

/// Batched publish and take on both socket backends, with a second thread of the receiving
/// node waiting on events at the same time (so that the link changes hands between the
/// waiting threads): every sample arrives once, in order.
#[test]
fn batched_publish_and_take_deliver_everything_in_order() {
    if !require_privileges("batched_publish_and_take_deliver_everything_in_order") {
        return;
    }
    for (domain, backend) in [(11, Backend::Mmsg), (12, Backend::Ring)] {
        let (na, nb, _veth) = nodes_on(domain, backend);
        let publ = na
            .publisher("/batch", "test/Counter", Qos::reliable(256))
            .unwrap();
        let sub = nb
            .subscriber("/batch", "test/Counter", Qos::reliable(256))
            .unwrap();
        publ.wait_for_subscribers(1, T).unwrap();
        sub.wait_for_publishers(1, T).unwrap();
        let n = 20_000u32;
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut next = 0u32;
                while next < n {
                    let chunk: Vec<[u8; 4]> =
                        (next..n.min(next + 64)).map(u32::to_be_bytes).collect();
                    let k = publ.publish_batch(&chunk, Some(T)).unwrap();
                    assert!(k >= 1 && k <= chunk.len());
                    next += k as u32;
                }
                publ.wait_for_acks(T).unwrap();
            });
            // A second waiter on the receiving node.
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = nb.next_event(Some(Duration::from_millis(20)));
                }
            });
            let mut expect = 0u32;
            let mut calls = 0u32;
            while expect < n {
                let k = sub
                    .recv_batch(usize::MAX, Some(T), |info, data| {
                        assert_eq!(info.len, 4);
                        assert_eq!(
                            u32::from_be_bytes(data.try_into().unwrap()),
                            expect,
                            "in order, no gaps ({backend:?})"
                        );
                        expect += 1;
                    })
                    .unwrap();
                assert!(k >= 1);
                calls += 1;
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(calls <= n, "never more calls than samples");
        });
        assert_eq!(sub.recv_batch(0, Some(T), |_, _| ()).unwrap(), 0);
        let mut buf = [0u8; 64];
        assert!(sub.try_recv(&mut buf).unwrap().is_none());
        assert_eq!(publ.publish_batch::<&[u8]>(&[], None).unwrap(), 0);
    }
}

#[test]
fn best_effort_large_sample_and_service() {
    if !require_privileges("best_effort_large_sample_and_service") {
        return;
    }
    let (na, nb, _veth) = nodes(8);

    // Best effort: whatever arrives is intact and never duplicated.
    let publ = na
        .publisher("/scan", "test/Scan", Qos::BEST_EFFORT)
        .unwrap();
    let sub = nb
        .subscriber("/scan", "test/Scan", Qos::BEST_EFFORT)
        .unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    for i in 0..200u32 {
        publ.publish(&[i as u8; 100]).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut buf = vec![0u8; 8 << 20];
    let mut last = None;
    while let Ok(info) = sub.recv_timeout(&mut buf, Some(Duration::from_millis(300))) {
        assert_eq!(info.len, 100);
        assert!(buf[..100].iter().all(|&b| b == buf[0]));
        assert!(
            last.is_none_or(|l| info.seq > l),
            "no duplicates, no reordering"
        );
        last = Some(info.seq);
    }
    assert!(
        last.is_some(),
        "best effort delivered nothing on a clean veth"
    );

    // A 4 MiB sample, reliably (fragmented and reassembled).
    let big_pub = na.publisher("/map", "test/Map", Qos::reliable(1)).unwrap();
    let big_sub = nb.subscriber("/map", "test/Map", Qos::reliable(1)).unwrap();
    big_pub.wait_for_subscribers(1, T).unwrap();
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    big_pub.publish(&big).unwrap();
    let info = big_sub.recv_timeout(&mut buf, Some(T)).unwrap();
    assert_eq!(info.len, big.len());
    assert!(buf[..big.len()] == big[..], "4 MiB sample arrived intact");

    // A service call.
    let server = nb.server("/add", "test/Add").unwrap();
    let mut client = na.client("/add", "test/Add").unwrap();
    client.wait_for_server(T).unwrap();
    let srv = std::thread::spawn(move || {
        let mut req = [0u8; 64];
        let (id, len) = server.next_request(&mut req, Some(T)).unwrap();
        assert_eq!(len, 8);
        let a = u32::from_be_bytes(req[..4].try_into().unwrap());
        let b = u32::from_be_bytes(req[4..8].try_into().unwrap());
        server.reply(id, &(a + b).to_be_bytes()).unwrap();
        server
    });
    let mut reply = [0u8; 16];
    let mut req = [0u8; 8];
    req[..4].copy_from_slice(&40u32.to_be_bytes());
    req[4..].copy_from_slice(&2u32.to_be_bytes());
    let len = client.call(&req, &mut reply, T).unwrap();
    assert_eq!(len, 4);
    assert_eq!(u32::from_be_bytes(reply[..4].try_into().unwrap()), 42);
    drop(srv.join().unwrap());
}

#[test]
fn goodbye_removes_the_peer_at_once() {
    if !require_privileges("goodbye_removes_the_peer_at_once") {
        return;
    }
    let (na, nb, _veth) = nodes(9);
    let id_a = na.id();
    let seen = loop {
        match nb.next_event(Some(T)).unwrap() {
            l2net::node::Event::ParticipantDiscovered { participant, .. } => break participant,
            _ => continue,
        }
    };
    assert_eq!(seen, id_a);
    na.close();
    loop {
        match nb.next_event(Some(Duration::from_secs(2))).unwrap() {
            l2net::node::Event::ParticipantLost {
                participant,
                reason,
            } => {
                assert_eq!(participant, id_a);
                assert_eq!(reason, l2net_core::engine::LostReason::Goodbye);
                break;
            }
            _ => continue,
        }
    }
}

/// A waiting thread whose timeout is far away sleeps on the link without a timer of its own
/// (the I/O thread wakes it when its time comes): it still times out, not before its time, and
/// a publish from another thread of the same node still wakes it.
#[test]
fn a_leader_without_its_own_timer_times_out_and_is_woken() {
    if !require_privileges("a_leader_without_its_own_timer_times_out_and_is_woken") {
        return;
    }
    let (na, _nb, _veth) = nodes_on(9, Backend::Mmsg);
    let sub = na
        .subscriber("/quiet", "test/Quiet", Qos::BEST_EFFORT)
        .unwrap();
    let mut buf = [0u8; 64];
    for wait in [Duration::from_millis(100), Duration::from_millis(30)] {
        let t0 = Instant::now();
        let r = sub.recv_timeout(&mut buf, Some(wait));
        assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");
        assert!(t0.elapsed() >= wait, "timed out after {:?}", t0.elapsed());
    }
    let publ = na
        .publisher("/quiet", "test/Quiet", Qos::BEST_EFFORT)
        .unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            publ.publish(b"wake").unwrap();
        });
        let info = sub.recv_timeout(&mut buf, Some(T)).unwrap();
        assert_eq!(&buf[..info.len], b"wake");
    });
}

/// Busy-polling nodes (each waiter spins on the link and yields its CPU every few looks)
/// answer each other: a ping/pong of 300 samples, every answer to the right ping.
#[test]
fn busy_polling_nodes_ping_pong() {
    if !require_privileges("busy_polling_nodes_ping_pong") {
        return;
    }
    let a = Netns::new("node").unwrap();
    let b = Netns::new("node").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let open = |ns: &Netns, name: &str, who: &str| {
        let name = name.to_string();
        let link = ns
            .run(move || LinuxLink::open(&LinkConfig::new(&name).with_backend(Backend::Mmsg)))
            .unwrap()
            .unwrap()
            .0;
        let mut cfg = NodeConfig::new(11, who);
        cfg.busy_poll = true;
        Node::new(link, cfg).unwrap()
    };
    let na = open(&a, veth.a_name(), "ping");
    let nb = open(&b, veth.b_name(), "pong");
    let ping = na
        .publisher("/ping", "test/Ping", Qos::reliable(16))
        .unwrap();
    let pongs = na
        .subscriber("/pong", "test/Ping", Qos::reliable(16))
        .unwrap();
    let pings = nb
        .subscriber("/ping", "test/Ping", Qos::reliable(16))
        .unwrap();
    let pong = nb
        .publisher("/pong", "test/Ping", Qos::reliable(16))
        .unwrap();
    ping.wait_for_subscribers(1, T).unwrap();
    pong.wait_for_subscribers(1, T).unwrap();
    let n = 300u32;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u8; 16];
            for _ in 0..n {
                let info = pings.recv_timeout(&mut buf, Some(T)).unwrap();
                pong.publish(&buf[..info.len]).unwrap();
            }
        });
        let mut buf = [0u8; 16];
        for i in 0..n {
            ping.publish(&i.to_be_bytes()).unwrap();
            let info = pongs.recv_timeout(&mut buf, Some(T)).unwrap();
            assert_eq!(&buf[..info.len], &i.to_be_bytes());
        }
    });
}

/// A thread that only polls (`try_recv`) right after a wait still receives while the I/O thread
/// stands back (another thread keeps touching the node with waits that end at once, so it
/// never takes over) and no thread sleeps on the link: the take itself looks at the link.
#[test]
fn polling_after_a_wait_still_receives() {
    if !require_privileges("polling_after_a_wait_still_receives") {
        return;
    }
    let (na, nb, _veth) = nodes_on(13, Backend::Mmsg);
    let publ = na
        .publisher("/poll", "test/Counter", Qos::reliable(64))
        .unwrap();
    let sub = nb
        .subscriber("/poll", "test/Counter", Qos::reliable(64))
        .unwrap();
    publ.wait_for_subscribers(1, T).unwrap();
    sub.wait_for_publishers(1, T).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // Keeps the I/O thread standing back: a wait stamps the node's activity; this one
        // ends at once, so it never leads the link for long and never receives.
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                nb.wait_until(|| true, None).unwrap();
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..50u32 {
            publ.publish(&i.to_be_bytes()).unwrap();
            // The first sample through a wait (it drains the link), the rest by polling.
            let info = if i == 0 {
                sub.recv_timeout(&mut buf, Some(T)).unwrap()
            } else {
                let end = Instant::now() + T;
                loop {
                    if let Some(info) = sub.try_recv(&mut buf).unwrap() {
                        break info;
                    }
                    assert!(Instant::now() < end, "sample {i} never taken by polling");
                }
            };
            assert_eq!(&buf[..info.len], i.to_be_bytes());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
