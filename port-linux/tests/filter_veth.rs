//! Kernel-side filtering with the core's BPF program, proven by counters on a veth pair.

mod support;

use std::os::fd::AsFd;
use std::time::Duration;

use l2net_core::wire::MacAddr;
use l2net_core::{RawLink, RxFrame, TxToken};
use l2net_linux::filter::{self, DROP_ALL, FilterError, Insn};
use l2net_linux::netns::{Netns, VethPair, require_privileges};
use l2net_linux::{LinkConfig, PlainLink};

const GROUP: MacAddr = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x42]);
const OTHER: MacAddr = MacAddr([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);

fn send(link: &mut PlainLink, dst: MacAddr, ethertype: u16, seq: u32) {
    let src = link.mac();
    let tok = link.transmit(support::now(), 64).unwrap().expect("slot");
    tok.consume(|b| {
        b.fill(0xab);
        b[..6].copy_from_slice(&dst.octets());
        b[6..12].copy_from_slice(&src.octets());
        b[12..14].copy_from_slice(&ethertype.to_be_bytes());
        b[14..18].copy_from_slice(&seq.to_be_bytes());
    });
    assert!(link.flush(support::now()).unwrap().is_complete());
}

/// Every frame waiting on `link` (until it stays quiet): (dst, ethertype, seq).
fn drain(link: &mut PlainLink) -> Vec<([u8; 6], u16, u32)> {
    let mut out = Vec::new();
    while link
        .wait_readable(Some(Duration::from_millis(200)))
        .unwrap()
    {
        while let Some(f) = link.receive(support::now()).unwrap() {
            let d = f.data();
            out.push((
                d[..6].try_into().unwrap(),
                u16::from_be_bytes([d[12], d[13]]),
                u32::from_be_bytes(d[14..18].try_into().unwrap()),
            ));
        }
    }
    out
}

#[test]
fn unwanted_frames_never_reach_user_space() {
    if !require_privileges("unwanted_frames_never_reach_user_space") {
        return;
    }
    let _serial = support::serial();
    let a = Netns::new("filter-a").unwrap();
    let b = Netns::new("filter-b").unwrap();
    let pair = VethPair::new(&a, &b).unwrap();
    let mut cfg_a = LinkConfig::new(pair.a_name());
    cfg_a.ethertype = None;
    let mut cfg_b = LinkConfig::new(pair.b_name());
    cfg_b.ethertype = None;
    let mut tx = a.run(|| PlainLink::open(&cfg_a)).unwrap().unwrap();
    let mut rx = b.run(|| PlainLink::open(&cfg_b)).unwrap().unwrap();
    // A second, unfiltered socket on the same interface proves the frames did arrive.
    let mut control = b.run(|| PlainLink::open(&cfg_b)).unwrap().unwrap();
    let me = rx.mac();

    // Frames queued before the filter exists are drained by the install.
    for seq in 0..5 {
        send(&mut tx, OTHER, 0x88B5, 1000 + seq);
    }
    std::thread::sleep(Duration::from_millis(50));
    let installed = filter::install_l2net(rx.as_fd(), &[me, GROUP], 65535, true).unwrap();
    assert!(installed.drained >= 5, "{installed:?}");
    assert!(installed.locked);
    filter::stats(rx.as_fd()).unwrap(); // reset the kernel counters
    drain(&mut control);

    let mut wanted = Vec::new();
    for seq in 0..10 {
        send(&mut tx, me, 0x88B5, seq);
        wanted.push((me.octets(), 0x88B5, seq));
        send(&mut tx, GROUP, 0x88B5, 100 + seq);
        wanted.push((GROUP.octets(), 0x88B5, 100 + seq));
        send(&mut tx, OTHER, 0x88B5, 200 + seq); // other destination
        send(&mut tx, me, 0x0800, 300 + seq); // other EtherType
        send(&mut tx, MacAddr::BROADCAST, 0x88B5, 400 + seq); // not in the set
    }
    let got = drain(&mut rx);
    assert_eq!(got, wanted, "only wanted frames reach user space, in order");
    let st = filter::stats(rx.as_fd()).unwrap();
    assert_eq!(
        st.packets, 20,
        "the kernel counted only frames that passed: {st:?}"
    );
    assert_eq!(st.drops, 0);
    let seen = drain(&mut control);
    for seq in 0..10 {
        assert!(
            seen.iter().any(|f| f.2 == 200 + seq),
            "other-MAC frame {seq} was on the wire"
        );
        assert!(
            seen.iter().any(|f| f.2 == 300 + seq),
            "other-EtherType frame {seq} was on the wire"
        );
    }
    // Locked: the filter cannot be replaced.
    assert_eq!(
        filter::attach(rx.as_fd(), &DROP_ALL),
        Err(FilterError::Locked)
    );
}

#[test]
fn bad_programs_are_errors() {
    if !require_privileges("bad_programs_are_errors") {
        return;
    }
    let _serial = support::serial();
    let ns = Netns::new("filter-bad").unwrap();
    let pair = VethPair::new(&ns, &ns).unwrap();
    let cfg = LinkConfig::new(pair.a_name());
    let link = ns.run(|| PlainLink::open(&cfg)).unwrap().unwrap();
    assert_eq!(
        filter::attach(link.as_fd(), &[]),
        Err(FilterError::BadLength { len: 0 })
    );
    let bogus = Insn {
        code: 0xffff,
        jt: 0,
        jf: 0,
        k: 0,
    };
    assert_eq!(
        filter::attach(link.as_fd(), &[bogus]),
        Err(FilterError::Rejected)
    );
    assert_eq!(
        filter::install_l2net(link.as_fd(), &[], 100, false),
        Err(FilterError::BadLength { len: 0 })
    );
    // Unlocked: a new program replaces the old one.
    filter::install(link.as_fd(), &DROP_ALL, false).unwrap();
    filter::install(link.as_fd(), &DROP_ALL, false).unwrap();
}
