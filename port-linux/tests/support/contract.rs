//! The RawLink contract every backend must keep, checked over a veth pair between two
//! namespaces each test makes. Each `veth_<backend>.rs` runs these for its backend.

use std::time::Duration;

use l2net_core::{LinkError, MacAddr, TxToken};
use l2net_linux::netns::require_privileges;
use l2net_linux::{LinkConfig, LinkStats, OpenError};

use super::{Tag, Waitable, Wire, check, frame, now, recv_n, send_all};

/// A backend under test.
pub trait TestBackend: Waitable + Send + Sized + std::fmt::Debug {
    /// Open on the calling thread's namespace.
    fn open_link(cfg: &LinkConfig) -> Result<Self, OpenError>;
    /// Counters.
    fn link_stats(&mut self) -> LinkStats;
}

/// Open a backend link on `name` in `ns`, with a large receive buffer.
pub fn open<L: TestBackend>(
    ns: &l2net_linux::netns::Netns,
    name: &str,
    cfg: impl FnOnce(&mut LinkConfig),
) -> L {
    let mut c = LinkConfig::new(name);
    c.rcvbuf = Some(4 << 20);
    cfg(&mut c);
    ns.run(|| L::open_link(&c)).unwrap().expect("open link")
}

const TAG_CASES: &[&[Tag]] = &[
    &[],
    &[(0x8100, 0, false, 0)],
    &[(0x8100, 7, true, 4095)],
    &[(0x8100, 3, false, 100)],
    &[(0x88A8, 5, true, 1)],
    &[(0x88A8, 5, false, 200), (0x8100, 2, true, 300)],
    &[(0x8100, 6, false, 42), (0x8100, 1, true, 43)],
];

/// Contract check.
pub fn frames_cross_both_ways_with_tags_intact<L: TestBackend>() {
    if !require_privileges("frames_cross_both_ways_with_tags_intact") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("pl", 1500);
    let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
    let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
    assert_eq!(a.capabilities().mtu, 1500);
    for (t, tags) in TAG_CASES.iter().enumerate() {
        // Largest body this tag stack may carry: one 802.1Q tag may exceed the MTU.
        let max_body = 1500 - 4 * tags.len()
            + if tags.first().is_some_and(|t| t.0 == 0x8100) {
                4
            } else {
                0
            };
        for dir in 0..2 {
            let (from, to) = if dir == 0 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let src = from.mac().octets();
            let sent: Vec<Vec<u8>> = [0usize, 1, 46, 100, 1000, max_body]
                .iter()
                .enumerate()
                .map(|(i, &body)| frame(src, tags, body, (t * 100 + i) as u32))
                .collect();
            send_all(from, &sent);
            let got = recv_n(to, sent.len());
            check(&sent, tags, &got);
        }
    }
    super::assert_silent(&mut a, Duration::from_millis(20));
    let st = b.link_stats();
    assert_eq!(st.rx_frames, (TAG_CASES.len() * 6) as u64);
    assert_eq!(st.tx_frames, (TAG_CASES.len() * 6) as u64);
    assert_eq!(st.kernel_drops, 0);
}

/// Contract check.
pub fn other_ethertypes_are_filtered_unless_asked_for<L: TestBackend>() {
    if !require_privileges("other_ethertypes_are_filtered_unless_asked_for") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("pf", 1500);
    let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
    let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
    let mut all = open::<L>(&w.b, w.veth.b_name(), |c| c.ethertype = None);
    let mut ipv4 = frame(a.mac().octets(), &[], 50, 1);
    ipv4[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let l2 = frame(a.mac().octets(), &[], 50, 2);
    send_all(&mut a, &[ipv4.clone(), l2.clone()]);
    let got = recv_n(&mut b, 1);
    assert_eq!(got[0].0, l2);
    // The unfiltered socket sees both (and maybe the kernel's own IPv6 chatter: skip it).
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (data, _) = recv_n(&mut all, 1).remove(0);
        if data == ipv4 || data == l2 {
            seen.push(data);
        }
    }
    assert_eq!(seen, vec![ipv4, l2]);
    super::assert_silent(&mut b, Duration::from_millis(20));
}

/// Contract check.
pub fn errors_for_bad_names_missing_interfaces_and_bad_lengths<L: TestBackend>() {
    if !require_privileges("errors_for_bad_names_missing_interfaces_and_bad_lengths") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("pe", 1500);
    let missing =
        w.a.run(|| L::open_link(&LinkConfig::new("l2nope0")).map(|_| ()))
            .unwrap();
    let err = missing.unwrap_err();
    assert!(matches!(err, OpenError::NoSuchInterface(_)), "{err:?}");
    assert_eq!(err.to_string(), "no interface named l2nope0");
    assert_eq!(
        L::open_link(&LinkConfig::new("bad/name")).unwrap_err(),
        OpenError::InvalidName
    );
    let mut c = LinkConfig::new(w.veth.a_name());
    c.tx_slots = 0;
    assert!(matches!(
        w.a.run(|| L::open_link(&c)).unwrap(),
        Err(OpenError::InvalidConfig(_))
    ));
    let lo = w.a.run(|| L::open_link(&LinkConfig::new("lo"))).unwrap();
    assert!(lo.is_ok(), "loopback frames Ethernet headers too");

    let mut a = open::<L>(&w.a, w.veth.a_name(), |c| c.tx_slots = 2);
    let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
    assert_eq!(
        a.transmit(now(), 13).err(),
        Some(LinkError::TooShort { len: 13 })
    );
    assert_eq!(
        a.transmit(now(), 1519).err(),
        Some(LinkError::TooLarge {
            len: 1519,
            max: 1518
        })
    );
    // 1518 bytes is only allowed with an 802.1Q tag: an untagged one is refused at the next
    // flush, nothing else is lost.
    let big = frame(a.mac().octets(), &[], 1504, 7);
    let ok = frame(a.mac().octets(), &[], 10, 8);
    a.transmit(now(), big.len())
        .unwrap()
        .unwrap()
        .consume(|b| b.copy_from_slice(&big));
    a.transmit(now(), ok.len())
        .unwrap()
        .unwrap()
        .consume(|b| b.copy_from_slice(&ok));
    assert_eq!(
        a.flush(now()),
        Err(LinkError::TooLarge {
            len: 1518,
            max: 1514
        })
    );
    assert_eq!(a.link_stats().tx_rejected, 1);
    let st = a.flush(now()).unwrap();
    assert_eq!((st.sent, st.pending), (1, 0));
    assert_eq!(recv_n(&mut b, 1)[0].0, super::expected(&ok, &[]).0);
    // Backpressure from the slot pool: no token until a flush frees a slot.
    for i in 0..2 {
        a.transmit(now(), 60)
            .unwrap()
            .unwrap()
            .consume(|b| b.copy_from_slice(&frame([2; 6], &[], 46, i)));
    }
    assert!(a.transmit(now(), 60).unwrap().is_none());
    assert_eq!(a.flush(now()).unwrap().sent, 2);
    assert!(a.transmit(now(), 60).unwrap().is_some());
    recv_n(&mut b, 2);
    // Multicast membership.
    let group = MacAddr([0x03, 0x4c, 0x32, 0, 0, 7]);
    a.join_multicast(group).unwrap();
    a.leave_multicast(group).unwrap();
    assert!(matches!(
        a.join_multicast(MacAddr([2, 0, 0, 0, 0, 1])),
        Err(LinkError::Unsupported(_))
    ));
}

/// Contract check.
pub fn no_descriptor_leaks<L: TestBackend>() {
    if !require_privileges("no_descriptor_leaks") {
        return;
    }
    let _serial = super::serial();
    let before = super::open_fds();
    {
        let w = Wire::new("pd", 1500);
        for _ in 0..5 {
            let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
            let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
            let f = frame(a.mac().octets(), &[], 20, 0);
            send_all(&mut a, std::slice::from_ref(&f));
            assert_eq!(recv_n(&mut b, 1)[0].0, super::expected(&f, &[]).0);
        }
        let _ =
            w.a.run(|| L::open_link(&LinkConfig::new("l2nope0")).map(|_| ()));
    }
    super::assert_no_fd_leak(before);
}

/// Contract check.
pub fn removed_interface_is_reported<L: TestBackend>() {
    if !require_privileges("removed_interface_is_reported") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("pg", 1500);
    let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
    w.a.delete_link(w.veth.a_name()).unwrap();
    let f = frame(a.mac().octets(), &[], 20, 0);
    a.transmit(now(), f.len())
        .unwrap()
        .unwrap()
        .consume(|b| b.copy_from_slice(&f));
    let err = a.flush(now()).unwrap_err();
    assert_eq!(err, LinkError::Gone, "send on a removed interface");
    for _ in 0..3 {
        match a.receive(now()).map(|r| r.is_some()) {
            Err(LinkError::Gone) | Ok(false) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// Frames longer than the receive buffer are reported truncated with their real length, and
/// the bytes that fit are right.
pub fn truncation_is_reported<L: TestBackend>() {
    if !require_privileges("truncation_is_reported") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("tr", 1500);
    // Buffers sized for a 1500-byte MTU, then the MTU grows under the open links.
    let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
    let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
    w.veth.set_mtu(9000).unwrap();
    // The sender's limit also stays at the old MTU: a jumbo token is refused.
    assert!(matches!(
        a.transmit(now(), 9014),
        Err(LinkError::TooLarge { .. })
    ));
    let mut big: L = open::<L>(&w.a, w.veth.a_name(), |_| {});
    let f = frame(a.mac().octets(), &[], 9000, 5);
    send_all(&mut big, std::slice::from_ref(&f));
    let (data, meta) = recv_n(&mut b, 1).remove(0);
    assert_eq!(meta.wire_len, 9014);
    assert_eq!(meta.truncated, data.len() < 9014);
    assert_eq!(&data[..], &f[..data.len()]);
    if meta.truncated {
        assert!(data.len() >= 1514, "at least an MTU's worth is kept");
        assert_eq!(b.link_stats().rx_truncated, 1);
    }
    let _ = &mut a;
}

/// `wait` sleeps until a frame arrives and times out when none does.
pub fn wait_readable_sleeps_until_a_frame_arrives<L: TestBackend>() {
    if !require_privileges("wait_readable_sleeps_until_a_frame_arrives") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("wt", 1500);
    let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
    let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
    assert!(!b.wait(Duration::from_millis(20)), "nothing to read yet");
    let f = frame(a.mac().octets(), &[], 100, 9);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            send_all(&mut a, std::slice::from_ref(&f));
        });
        assert!(b.wait(Duration::from_secs(10)), "woken by the frame");
    });
    assert_eq!(recv_n(&mut b, 1)[0].0, f);
}

/// Every socket option is applied; conflicting ones are refused with a clear error.
pub fn options_are_applied_or_refused<L: TestBackend>() {
    use l2net_linux::link::{Fanout, FanoutMode};
    if !require_privileges("options_are_applied_or_refused") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("op", 1500);
    let fanout = Fanout {
        group: (std::process::id() & 0xffff) as u16,
        mode: FanoutMode::Hash,
    };
    let mut a = open::<L>(&w.a, w.veth.a_name(), |c| {
        c.qdisc_bypass = true;
        c.sndbuf = Some(1 << 20);
        c.busy_poll_us = Some(10);
    });
    let mut b = open::<L>(&w.b, w.veth.b_name(), |c| {
        c.rcvbuf = Some(8 << 20);
        c.fanout = Some(fanout);
    });
    // A second member of the same group with another mode is refused by the kernel.
    let mut clash = LinkConfig::new(w.veth.b_name());
    clash.fanout = Some(Fanout {
        mode: FanoutMode::LoadBalance,
        ..fanout
    });
    let err =
        w.b.run(|| L::open_link(&clash).map(|_| ()))
            .unwrap()
            .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::OptionRefused {
                option: "PACKET_FANOUT",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("PACKET_FANOUT"), "{err}");
    let sent: Vec<Vec<u8>> = (0..16)
        .map(|i| frame(a.mac().octets(), &[], 200, i))
        .collect();
    send_all(&mut a, &sent);
    let got = recv_n(&mut b, sent.len());
    check(&sent, &[], &got);
}

/// When the kernel pushes back (`ENOBUFS` from a full qdisc) or the interface is down, frames
/// stay queued and are sent, in order, once the link can take them: nothing is dropped.
pub fn backpressure_and_down_keep_frames_queued<L: TestBackend>() {
    if !require_privileges("backpressure_and_down_keep_frames_queued") {
        return;
    }
    let _serial = super::serial();
    let w = Wire::new("bp", 1500);
    let mut a = open::<L>(&w.a, w.veth.a_name(), |_| {});
    let mut b = open::<L>(&w.b, w.veth.b_name(), |_| {});
    let src = a.mac().octets();
    let sent: Vec<Vec<u8>> = (0..6).map(|i| frame(src, &[], 80, i)).collect();

    // A pfifo qdisc of limit 0 refuses every frame with ENOBUFS.
    w.a.set_pfifo_qdisc(w.veth.a_name(), 0).unwrap();
    for f in &sent[..3] {
        a.transmit(now(), f.len())
            .unwrap()
            .unwrap()
            .consume(|buf| buf.copy_from_slice(f));
    }
    let st = a.flush(now()).unwrap();
    assert_eq!((st.sent, st.pending), (0, 3), "pushed back, kept queued");
    assert_eq!(a.flush(now()).unwrap().pending, 3, "still queued");
    super::assert_silent(&mut b, Duration::from_millis(20));
    w.a.delete_root_qdisc(w.veth.a_name()).unwrap();
    let st = a.flush(now()).unwrap();
    assert_eq!((st.sent, st.pending), (3, 0));
    check(&sent[..3], &[], &recv_n(&mut b, 3));

    // Interface down: the flush fails with Down, and the frames go out once it is back up.
    w.a.set_down(w.veth.a_name()).unwrap();
    for f in &sent[3..] {
        a.transmit(now(), f.len())
            .unwrap()
            .unwrap()
            .consume(|buf| buf.copy_from_slice(f));
    }
    assert_eq!(a.flush(now()), Err(LinkError::Down));
    w.a.set_up(w.veth.a_name()).unwrap();
    w.a.wait_running(w.veth.a_name(), Duration::from_secs(10))
        .unwrap();
    w.b.wait_running(w.veth.b_name(), Duration::from_secs(10))
        .unwrap();
    let mut total = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match a.flush(now()) {
            Ok(st) => {
                total += st.sent;
                if st.pending == 0 {
                    break;
                }
            }
            // The socket reports the earlier ENETDOWN once more; the frames are still queued.
            Err(LinkError::Down) => {}
            Err(e) => panic!("{e:?}"),
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(total, 3);
    check(&sent[3..], &[], &recv_n(&mut b, 3));
}

/// Without `CAP_NET_RAW` opening fails with an error that says what to do.
pub fn missing_privileges_are_explained<L: TestBackend>() {
    if !require_privileges("missing_privileges_are_explained") {
        return;
    }
    let _serial = super::serial();
    let err = l2net_linux::netns::without_capabilities(|| {
        L::open_link(&LinkConfig::new("lo")).map(|_| ())
    })
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(err, OpenError::NeedsCapNetRaw { errno: libc::EPERM }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("needs CAP_NET_RAW: run as root or `setcap cap_net_raw+ep <binary>`"),
        "{err}"
    );
}

/// A small receive ring carries `rounds` bursts of `per_round` frames (frame `i` of a burst
/// `len(i)` bytes long) many times around: every frame arrives whole and in order with a
/// software CLOCK_REALTIME stamp that never goes backwards, and nothing is dropped.
pub fn small_ring_recycles_with_stamps<L: TestBackend>(
    a: &mut L,
    b: &mut L,
    rounds: u32,
    per_round: u32,
    len: impl Fn(u32) -> usize,
) {
    use l2net_core::link::TimestampSource;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut last = 0;
    for round in 0..rounds {
        let sent: Vec<Vec<u8>> = (0..per_round)
            .map(|i| frame(a.mac().octets(), &[], len(i), round * 100 + i))
            .collect();
        send_all(a, &sent);
        let got = recv_n(b, sent.len());
        check(&sent, &[], &got);
        for (_, meta) in &got {
            let ts = meta.timestamp.expect("ring frames carry a timestamp");
            assert_eq!(ts.source, TimestampSource::Software);
            assert!(ts.nanos >= before - 1_000_000_000, "CLOCK_REALTIME stamp");
            assert!(ts.nanos >= last, "stamps go forwards");
            last = ts.nanos;
        }
    }
    let st = b.link_stats();
    assert_eq!(st.rx_frames, u64::from(rounds * per_round));
    assert_eq!(st.kernel_drops, 0);
}
