//! Nodes for the facade's integration tests: on the in-memory segment (no privileges) and on
//! `lo` in a namespace of the test's own (waits sleep on the link's descriptor there).

#![allow(dead_code)] // each test binary uses part of it

use l2net::node::{Node, NodeConfig, NodeLink};
use l2net_core::MacAddr;
use l2net_core::link::mem::{SegmentConfig, SyncSegment, arena_len};
use l2net_linux::link::{LinkConfig, LinuxLink};
use l2net_linux::netns::{Netns, VethPair};

/// A node alone on an in-memory segment of its own, with MAC `02:4c:00:00:00:<mac_last>`.
pub fn mem_node(domain: u16, name: &str, mac_last: u8) -> Node<impl NodeLink> {
    let arena: &'static mut [u8] = Box::leak(vec![0u8; arena_len(256, 1500)].into_boxed_slice());
    let seg: &'static SyncSegment<'static, 1, 256> = Box::leak(Box::new(
        SyncSegment::new(arena, SegmentConfig::DEFAULT).unwrap(),
    ));
    let link = seg
        .link(MacAddr([0x02, 0x4c, 0, 0, 0, mac_last]), 1500)
        .unwrap();
    Node::new(link, NodeConfig::new(domain, name)).unwrap()
}

/// A node on `lo` in a namespace of its own (removed when the returned `Netns` drops); the
/// namespace's name starts with `prefix`.
pub fn lo_node(domain: u16, name: &str, prefix: &str) -> (Node<LinuxLink>, Netns) {
    let ns = Netns::new(prefix).unwrap();
    ns.set_up("lo").unwrap();
    let link = ns
        .run(|| LinuxLink::open(&LinkConfig::new("lo")))
        .unwrap()
        .unwrap()
        .0;
    (Node::new(link, NodeConfig::new(domain, name)).unwrap(), ns)
}

/// A node on one end of a veth pair between two namespaces of the test's own (nothing at the
/// other end, so its own frames never come back); the pair and both namespaces go when the
/// returned `VethPair` drops.
pub fn veth_end_node(config: NodeConfig, prefix: &str) -> (Node<LinuxLink>, VethPair) {
    let a = Netns::new(prefix).unwrap();
    let b = Netns::new(prefix).unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let ia = veth.a_name().to_string();
    let link = a
        .run(move || LinuxLink::open(&LinkConfig::new(&ia)))
        .unwrap()
        .unwrap()
        .0;
    (Node::new(link, config).unwrap(), veth)
}

/// Two nodes at the two ends of a veth pair between two namespaces of the test's own (the pair
/// and both namespaces go when the returned `VethPair` drops: it comes first, so that bound in
/// one pattern it drops after the nodes).
pub fn veth_node_pair(
    a_config: NodeConfig,
    b_config: NodeConfig,
    prefix: &str,
) -> (VethPair, Node<LinuxLink>, Node<LinuxLink>) {
    let a = Netns::new(prefix).unwrap();
    let b = Netns::new(prefix).unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let (ia, ib) = (veth.a_name().to_string(), veth.b_name().to_string());
    let open = |ns: &Netns, name: String| {
        ns.run(move || LinuxLink::open(&LinkConfig::new(&name)))
            .unwrap()
            .unwrap()
            .0
    };
    let (la, lb) = (open(&a, ia), open(&b, ib));
    (
        veth,
        Node::new(la, a_config).unwrap(),
        Node::new(lb, b_config).unwrap(),
    )
}
