//! Endpoints of one Node talk to each other (the engine matches them without the wire): a
//! publisher and a subscriber, and a client and a server, of the same Node. Over the in-memory
//! segment (no privileges needed), and over loopback and veth in namespaces of the test's own,
//! where waiting threads sleep on the link's descriptor.

#![cfg(target_os = "linux")]

use std::time::Duration;

use l2net::node::{Event, Node, NodeConfig, NodeLink, Qos, RemoteId};
use l2net_linux::netns::require_privileges;

mod support;

const T: Duration = Duration::from_secs(10);

/// Publisher and subscriber of one node: matched at once, every sample in order, from
/// another thread, with a subscriber queue much smaller than the stream (the publisher keeps
/// blocking on it and must be woken when the subscriber takes).
fn pub_sub<L: NodeLink>(node: &Node<L>) {
    let sub = node
        .subscriber("/local", "test/Counter", Qos::reliable(4))
        .unwrap();
    let publ = node
        .publisher("/local", "test/Counter", Qos::reliable(4))
        .unwrap();
    assert_eq!(publ.matched(), 1);
    assert_eq!(sub.matched(), 1);
    let mut matched = 0;
    while let Ok(ev) = node.next_event(Some(Duration::from_millis(100))) {
        if let Event::Matched { remote, .. } = ev {
            assert_eq!(remote.participant, node.id());
            matched += 1;
        }
    }
    assert_eq!(matched, 2, "a Matched event on each side");

    let n = 3000u32;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                publ.publish_timeout(&i.to_be_bytes(), Some(T)).unwrap();
            }
        });
        let mut buf = [0u8; 16];
        for i in 0..n {
            let info = sub.recv_timeout(&mut buf, Some(T)).unwrap();
            assert_eq!(&buf[..info.len], &i.to_be_bytes());
            assert_eq!(
                info.writer,
                RemoteId {
                    participant: node.id(),
                    entity: publ.handle().entity()
                }
            );
            assert_eq!(info.seq, u64::from(i) + 1);
        }
    });
    publ.wait_for_acks(T).unwrap();
    drop(sub);
    assert_eq!(publ.matched(), 0);
}

/// A client calls a server of the same node (the server answers from another thread).
fn service<L: NodeLink>(node: &Node<L>) {
    let server = node.server("/add", "test/Add").unwrap();
    let mut client = node.client("/add", "test/Add").unwrap();
    client.wait_for_server(T).unwrap();
    assert_eq!(client.servers(), 1);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u8; 16];
            for _ in 0..100 {
                let (id, len) = server.next_request(&mut buf, Some(T)).unwrap();
                assert_eq!(id.participant, node.id());
                let sum = buf[..len].iter().map(|b| u32::from(*b)).sum::<u32>();
                server.reply(id, &sum.to_be_bytes()).unwrap();
            }
        });
        let mut reply = [0u8; 16];
        for i in 0..100u8 {
            let len = client.call(&[i, 1, 2], &mut reply, T).unwrap();
            assert_eq!(&reply[..len], &(u32::from(i) + 3).to_be_bytes());
        }
    });
}

#[test]
fn pub_sub_in_one_node_in_memory() {
    pub_sub(&support::mem_node(21, "local", 1));
}

#[test]
fn client_server_in_one_node_in_memory() {
    service(&support::mem_node(22, "local", 1));
}

#[test]
fn pub_sub_and_service_in_one_node_on_loopback() {
    if !require_privileges("pub_sub_and_service_in_one_node_on_loopback") {
        return;
    }
    let (node, _ns) = support::lo_node(23, "local", "nodelocal");
    pub_sub(&node);
    service(&node);
}

/// On one end of a veth pair (nothing at the other end): the node's own frames do not come
/// back, so nothing but the other endpoint wakes a waiting thread.
#[test]
fn pub_sub_and_service_in_one_node_on_veth() {
    if !require_privileges("pub_sub_and_service_in_one_node_on_veth") {
        return;
    }
    let (node, veth) = support::veth_end_node(NodeConfig::new(24, "local"), "nodelocal");
    pub_sub(&node);
    service(&node);
    drop(veth);
}

/// A non-blocking take that makes room lets the thread blocked in `publish` go on, with no
/// other call into the node in between (the take wakes it; on one end of a veth pair with the
/// node's lease and heartbeat period at 60 s nothing else has work for it). How soon it goes
/// on is not asserted here: before the take woke it, each such wait lasted until the next
/// timer of the node, which made `pub_sub_and_service_in_one_node_on_veth` take 7-27 s
/// instead of 0.5 s.
#[test]
fn a_take_wakes_the_blocked_local_publisher() {
    if !require_privileges("a_take_wakes_the_blocked_local_publisher") {
        return;
    }
    let mut config = NodeConfig::new(25, "local");
    config.lease = Duration::from_secs(60);
    config.heartbeat_period = Duration::from_secs(60);
    let (node, veth) = support::veth_end_node(config, "nodelocal");
    let sub = node
        .subscriber("/wake", "test/Counter", Qos::reliable(1))
        .unwrap();
    let publ = node
        .publisher("/wake", "test/Counter", Qos::reliable(1))
        .unwrap();
    // The first fills the reader's queue, the second the writer's history (held back for the
    // reader, unacknowledged).
    publ.publish(&[1]).unwrap();
    publ.publish(&[2]).unwrap();
    std::thread::scope(|s| {
        // So this one blocks until the main thread takes.
        let blocked = s.spawn(|| publ.publish_timeout(&[3], Some(Duration::from_secs(20))));
        // Give it time to block (were it slower, its publish would simply not block).
        std::thread::sleep(Duration::from_millis(200));
        // One non-blocking take, and no other call into the node until the publisher is back:
        // the take alone must wake it.
        let mut buf = [0u8; 4];
        let info = sub
            .try_recv(&mut buf)
            .unwrap()
            .expect("the first sample is queued");
        assert_eq!((info.len, buf[0]), (1, 1));
        assert_eq!(blocked.join().unwrap().unwrap(), 3);
        for n in [2, 3] {
            let info = sub
                .try_recv(&mut buf)
                .unwrap()
                .expect("the next sample is queued");
            assert_eq!((info.len, buf[0]), (1, n));
        }
    });
    drop(veth);
}

#[test]
fn reliable_window_is_checked() {
    use l2net::node::{NodeConfig, NodeError};
    use l2net_core::MacAddr;
    use l2net_core::link::mem::{SegmentConfig, SyncSegment, arena_len};
    let arena: &'static mut [u8] = Box::leak(vec![0u8; arena_len(256, 1500)].into_boxed_slice());
    let seg: &'static SyncSegment<'static, 3, 256> = Box::leak(Box::new(
        SyncSegment::new(arena, SegmentConfig::DEFAULT).unwrap(),
    ));
    for (i, (window, ok)) in [(0u16, false), (257, false), (256, true)]
        .into_iter()
        .enumerate()
    {
        let link = seg
            .link(MacAddr([0x02, 0x4c, 0, 0, 1, i as u8]), 1500)
            .unwrap();
        let mut cfg = NodeConfig::new(23, "window");
        cfg.reliable_window = window;
        match Node::new(link, cfg) {
            Ok(_) => assert!(ok, "window {window} accepted"),
            Err(NodeError::Config(msg)) => {
                assert!(!ok, "window {window} refused: {msg}");
                assert!(msg.contains("reliable_window"), "{msg}");
            }
            Err(e) => panic!("window {window}: unexpected {e}"),
        }
    }
}
