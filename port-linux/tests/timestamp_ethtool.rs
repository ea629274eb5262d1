//! Interface offload facts and timestamping capabilities of veth, in a namespace the test makes.

mod support;

use std::net::UdpSocket;
use std::os::fd::AsFd;

use l2net_linux::ethtool::{self, EthtoolError};
use l2net_linux::netns::{Netns, VethPair, require_privileges};
use l2net_linux::timestamp::{self, TimestampError, TimestampMode};

#[test]
fn veth_facts_and_no_hardware_clock() {
    if !require_privileges("veth_facts_and_no_hardware_clock") {
        return;
    }
    let _serial = support::serial();
    let ns = Netns::new("ethtool").unwrap();
    let pair = VethPair::new(&ns, &ns).unwrap();
    let name = pair.a_name().to_owned();
    let (facts, hw, prefer) = ns
        .run(|| {
            let facts = ethtool::offload_facts(&name);
            // Any socket of the namespace carries the ioctls.
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let hw = timestamp::enable(udp.as_fd(), &name, TimestampMode::Hardware);
            let prefer = timestamp::enable(udp.as_fd(), &name, TimestampMode::PreferHardware);
            (facts, hw, prefer)
        })
        .unwrap();
    let facts = facts.unwrap();
    // veth strips VLAN tags into metadata and can insert them.
    assert!(facts.vlan.rx_strip, "{facts:?}");
    assert!(facts.vlan.tx_insert, "{facts:?}");
    let ts = facts.timestamps.expect("veth answers ETHTOOL_GET_TS_INFO");
    assert!(ts.rx_software && ts.tx_software, "{ts:?}");
    assert!(!ts.rx_hardware && !ts.tx_hardware, "{ts:?}");
    assert_eq!(ts.phc_index, None);
    let caps = ts.caps();
    assert!(caps.rx_software && caps.tx_software && !caps.rx_hardware && !caps.tx_hardware);
    // Hardware stamps cannot be had on veth: a clear error when required, software otherwise.
    assert_eq!(hw, Err(TimestampError::NoHardwareSupport));
    let prefer = prefer.unwrap();
    assert_eq!(prefer.rx, l2net_core::link::TimestampSource::Software);
    assert_eq!(prefer.tx, l2net_core::link::TimestampSource::Software);
}

#[test]
fn bad_names_are_errors() {
    let _serial = support::serial();
    assert_eq!(
        ethtool::offload_facts("").unwrap_err(),
        EthtoolError::InvalidName
    );
    assert_eq!(
        ethtool::vlan_offload("sixteen-chars-xx").unwrap_err(),
        EthtoolError::InvalidName
    );
    assert_eq!(
        ethtool::timestamp_info("l2net-nosuch0").unwrap_err(),
        EthtoolError::NoSuchInterface
    );
    let before = support::open_fds();
    for _ in 0..10 {
        let _ = ethtool::offload_facts("lo");
        let _ = ethtool::offload_facts("l2net-nosuch0");
    }
    support::assert_no_fd_leak(before);
}
