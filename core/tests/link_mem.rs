//! Behaviour of the in-memory Ethernet segment (`l2net_core::link::mem`).

use l2net_core::link::mem::{LinkConfig, MemError, RxVlanStrip, Segment, SegmentConfig, arena_len};
use l2net_core::link::{LinkError, RawLink, RxFrame, TimestampSource, TxToken};
use l2net_core::wire::vlan::{TPID_8021AD, TPID_8021Q, Tci, VlanTag};
use l2net_core::{Instant, MacAddr};

const A: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xa]);
const B: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xb]);
const C: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xc]);
const D: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xd]);
const GROUP: MacAddr = MacAddr([0x03, 0x4c, 0x32, 0, 0, 7]);
const GROUP2: MacAddr = MacAddr([0x03, 0x4c, 0x32, 0x80, 1, 2]);

const T0: Instant = Instant::from_millis(10);

/// An untagged l2net-typed frame of `len` bytes whose payload bytes are `fill`.
fn frame(dst: MacAddr, src: MacAddr, len: usize, fill: u8) -> Vec<u8> {
    let mut f = vec![fill; len];
    f[..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f
}

/// A frame with VLAN tags `(tpid, tci)` inserted after the MACs.
fn tagged(dst: MacAddr, src: MacAddr, tags: &[(u16, u16)], payload: usize, fill: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.extend(std::iter::repeat_n(fill, payload));
    f
}

fn send<L: RawLink>(link: &mut L, now: Instant, bytes: &[u8]) {
    let tok = link
        .transmit(now, bytes.len())
        .expect("transmit")
        .expect("tx room");
    tok.consume(|buf| buf.copy_from_slice(bytes));
    let st = link.flush(now).expect("flush");
    assert!(st.is_complete());
}

fn recv_all<L: RawLink>(link: &mut L) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(rx) = link.receive(T0).expect("receive") {
        out.push(rx.data().to_vec());
    }
    out
}

fn arena() -> Vec<u8> {
    vec![0; arena_len(128, 1500)]
}

#[test]
fn unicast_goes_to_the_addressee_only() {
    let mut mem = arena();
    let seg = Segment::<4, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let mut c = seg.link(C, 1500).unwrap();
    let f = frame(B, A, 100, 0x5a);
    send(&mut a, Instant::from_micros(1234), &f);

    let rx = b.receive(T0).unwrap().unwrap();
    assert_eq!(rx.data(), &f[..]);
    let meta = rx.meta();
    assert_eq!(meta.wire_len, 100);
    assert!(!meta.truncated);
    assert_eq!(meta.stripped_vlan, None);
    let ts = meta.timestamp.unwrap();
    assert_eq!(ts.nanos, 1_234_000);
    assert_eq!(ts.source, TimestampSource::Link);
    drop(rx);
    assert!(b.receive(T0).unwrap().is_none());
    assert!(recv_all(&mut c).is_empty());
    assert!(recv_all(&mut a).is_empty());

    assert_eq!(a.stats().tx_frames, 1);
    assert_eq!(a.stats().tx_bytes, 100);
    assert_eq!(b.stats().rx_frames, 1);
    assert_eq!(b.stats().rx_bytes, 100);
    assert_eq!(c.stats().rx_frames, 0);
}

#[test]
fn short_frames_are_padded_unless_disabled() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    // Stale bytes in the slot must not leak into the padding.
    send(&mut a, T0, &frame(B, A, 60, 0xee));
    recv_all(&mut b);
    let f = frame(B, A, 20, 0x11);
    send(&mut a, T0, &f);
    let got = recv_all(&mut b);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].len(), 60);
    assert_eq!(&got[0][..20], &f[..]);
    assert!(got[0][20..].iter().all(|&x| x == 0));

    drop((a, b));
    let mut mem = arena();
    let cfg = SegmentConfig {
        pad_short_frames: false,
        ..SegmentConfig::DEFAULT
    };
    let seg = Segment::<2, 128>::new(&mut mem, cfg).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    send(&mut a, T0, &f);
    assert_eq!(recv_all(&mut b), vec![f]);
}

#[test]
fn broadcast_reaches_every_other_link() {
    let mut mem = arena();
    let seg = Segment::<4, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let mut c = seg.link(C, 1500).unwrap();
    let mut d = seg.link(D, 1500).unwrap();
    let f = frame(MacAddr::BROADCAST, A, 64, 1);
    send(&mut a, T0, &f);
    for l in [&mut b, &mut c, &mut d] {
        assert_eq!(recv_all(l), vec![f.clone()]);
    }
    assert!(recv_all(&mut a).is_empty());
}

#[test]
fn never_delivered_back_to_the_sender() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    a.set_promiscuous(true);
    a.set_all_multicast(true);
    a.join_multicast(GROUP).unwrap();
    for dst in [A, GROUP, MacAddr::BROADCAST] {
        send(&mut a, T0, &frame(dst, A, 64, 2));
    }
    assert!(recv_all(&mut a).is_empty());
    // b got the group-less broadcast only (it joined nothing and A is not its address).
    assert_eq!(recv_all(&mut b).len(), 1);
}

#[test]
fn promiscuous_link_sees_foreign_unicast() {
    let mut mem = arena();
    let seg = Segment::<3, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let mut c = seg.link(C, 1500).unwrap();
    c.set_promiscuous(true);
    send(&mut a, T0, &frame(B, A, 64, 3));
    send(&mut a, T0, &frame(GROUP, A, 64, 4));
    assert_eq!(recv_all(&mut b).len(), 1);
    assert_eq!(recv_all(&mut c).len(), 2);
    c.set_promiscuous(false);
    send(&mut a, T0, &frame(B, A, 64, 3));
    assert!(recv_all(&mut c).is_empty());
}

#[test]
fn multicast_needs_a_join_and_joins_are_counted() {
    let mut mem = arena();
    let seg = Segment::<4, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let mut c = seg.link(C, 1500).unwrap();
    let mut d = seg.link(D, 1500).unwrap();
    b.join_multicast(GROUP).unwrap();
    c.join_multicast(GROUP2).unwrap();
    d.set_all_multicast(true);

    send(&mut a, T0, &frame(GROUP, A, 64, 1));
    assert_eq!(recv_all(&mut b).len(), 1);
    assert!(recv_all(&mut c).is_empty());
    assert_eq!(recv_all(&mut d).len(), 1);

    // Two joins need two leaves.
    b.join_multicast(GROUP).unwrap();
    b.leave_multicast(GROUP).unwrap();
    send(&mut a, T0, &frame(GROUP, A, 64, 1));
    assert_eq!(recv_all(&mut b).len(), 1);
    b.leave_multicast(GROUP).unwrap();
    send(&mut a, T0, &frame(GROUP, A, 64, 1));
    assert!(recv_all(&mut b).is_empty());
    // Leaving a group that was never joined is harmless.
    b.leave_multicast(GROUP).unwrap();

    assert_eq!(recv_all(&mut d).len(), 2);
    d.set_all_multicast(false);
    send(&mut a, T0, &frame(GROUP2, A, 64, 1));
    assert_eq!(recv_all(&mut c).len(), 1);
    assert!(recv_all(&mut d).is_empty());
}

#[test]
fn multicast_join_rejects_unicast_and_a_full_table() {
    let mut mem = arena();
    let seg = Segment::<2, 64, 2>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    assert!(matches!(
        a.join_multicast(B),
        Err(LinkError::Unsupported(_))
    ));
    a.join_multicast(MacAddr::BROADCAST).unwrap();
    a.join_multicast(GROUP).unwrap();
    a.join_multicast(GROUP2).unwrap();
    a.join_multicast(GROUP).unwrap(); // already in the table: counted, no new entry
    assert!(matches!(
        a.join_multicast(MacAddr([0x03, 0, 0, 0, 0, 9])),
        Err(LinkError::Unsupported(_))
    ));
}

#[test]
fn full_receive_queue_drops_at_that_receiver_only() {
    let mut mem = arena();
    let seg = Segment::<3, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let small = LinkConfig {
        rx_queue: 2,
        ..LinkConfig::new(B, 1500, &SegmentConfig::DEFAULT)
    };
    let mut b = seg.link_with(small).unwrap();
    let mut c = seg.link(C, 1500).unwrap();
    for i in 0..5u8 {
        send(&mut a, T0, &frame(MacAddr::BROADCAST, A, 64, i));
    }
    let got = recv_all(&mut b);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0][20], 0);
    assert_eq!(got[1][20], 1);
    assert_eq!(b.stats().rx_dropped, 3);
    assert_eq!(b.stats().rx_frames, 2);
    assert_eq!(recv_all(&mut c).len(), 5);
    assert_eq!(c.stats().rx_dropped, 0);
    assert_eq!(a.stats().tx_frames, 5);
    // Room again once drained.
    send(&mut a, T0, &frame(B, A, 64, 9));
    assert_eq!(recv_all(&mut b).len(), 1);
}

#[test]
fn transmit_pushes_back_only_when_the_tx_queue_is_full() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let cfg = LinkConfig {
        tx_queue: 2,
        ..LinkConfig::new(A, 1500, &SegmentConfig::DEFAULT)
    };
    let mut a = seg.link_with(cfg).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    assert_eq!(a.capabilities().max_burst, 2);
    let f = frame(B, A, 64, 7);
    for _ in 0..2 {
        let tok = a.transmit(T0, 64).unwrap().unwrap();
        tok.consume(|buf| buf.copy_from_slice(&f));
    }
    assert_eq!(a.tx_queued(), 2);
    assert!(a.transmit(T0, 64).unwrap().is_none());
    // Nothing left the link yet.
    assert!(recv_all(&mut b).is_empty());
    let st = a.flush(T0).unwrap();
    assert_eq!((st.sent, st.pending), (2, 0));
    assert_eq!(recv_all(&mut b).len(), 2);
    // A dropped token frees its slot and sends nothing.
    let tok = a.transmit(T0, 64).unwrap().unwrap();
    drop(tok);
    assert_eq!(a.flush(T0).unwrap().sent, 0);
    assert!(recv_all(&mut b).is_empty());
    for _ in 0..2 {
        assert!(a.transmit(T0, 64).unwrap().is_some());
    }
}

#[test]
fn frames_in_a_batch_keep_their_order() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    for i in 0..10u8 {
        let tok = a.transmit(T0, 64 + usize::from(i)).unwrap().unwrap();
        tok.consume(|buf| buf.copy_from_slice(&frame(B, A, 64 + usize::from(i), i)));
    }
    assert_eq!(a.flush(T0).unwrap().sent, 10);
    let got = recv_all(&mut b);
    assert_eq!(got.len(), 10);
    for (i, f) in got.iter().enumerate() {
        assert_eq!(f.len(), 64 + i);
        assert_eq!(f[20], i as u8);
    }
}

#[test]
fn lengths_are_checked_against_the_mtu() {
    let mut mem = arena();
    let seg = Segment::<3, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1000).unwrap();
    let mut c = seg.link(C, 1500).unwrap();
    assert_eq!(
        a.transmit(T0, 13).err(),
        Some(LinkError::TooShort { len: 13 })
    );
    assert_eq!(
        a.transmit(T0, 1523).err(),
        Some(LinkError::TooLarge {
            len: 1523,
            max: 1522
        })
    );
    assert!(a.transmit(T0, 14).unwrap().is_some());

    // 1000-byte payload fits b; 1001 does not and is counted at b.
    send(&mut a, T0, &frame(MacAddr::BROADCAST, A, 1014, 1));
    send(&mut a, T0, &frame(MacAddr::BROADCAST, A, 1015, 1));
    assert_eq!(recv_all(&mut b).len(), 1);
    assert_eq!(b.stats().rx_oversize, 1);
    assert_eq!(recv_all(&mut c).len(), 2);

    // Room for two tags: a QinQ frame with a full payload passes, an untagged frame using
    // the tag room is dropped at the sender.
    let qinq = tagged(C, A, &[(TPID_8021AD, 5), (TPID_8021Q, 6)], 1500, 2);
    assert_eq!(qinq.len(), 1522);
    send(&mut a, T0, &qinq);
    assert_eq!(recv_all(&mut c), vec![qinq]);
    send(&mut a, T0, &frame(C, A, 1522, 3));
    assert!(recv_all(&mut c).is_empty());
    assert_eq!(a.stats().tx_oversize, 1);
}

#[test]
fn vlan_strip_emulation_moves_the_outer_tag_into_the_metadata() {
    let mut mem = arena();
    let seg = Segment::<4, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut off = seg.link(B, 1500).unwrap();
    let strip = |mac, s| LinkConfig {
        rx_vlan_strip: s,
        ..LinkConfig::new(mac, 1500, &SegmentConfig::DEFAULT)
    };
    let mut q = seg.link_with(strip(C, RxVlanStrip::Dot1Q)).unwrap();
    let mut ad = seg
        .link_with(strip(D, RxVlanStrip::Dot1QAndDot1AD))
        .unwrap();
    assert!(q.capabilities().vlan.rx_strip);
    assert!(!off.capabilities().vlan.rx_strip);

    let tci = Tci::new(5, false, 42);
    let single = tagged(MacAddr::BROADCAST, A, &[(TPID_8021Q, tci.0)], 100, 9);
    send(&mut a, T0, &single);
    let untagged = frame(MacAddr::BROADCAST, A, 114, 9);

    assert_eq!(recv_all(&mut off), vec![single.clone()]);
    for l in [&mut q, &mut ad] {
        let rx = l.receive(T0).unwrap().unwrap();
        assert_eq!(rx.data(), &untagged[..]);
        assert_eq!(rx.meta().stripped_vlan, Some(VlanTag::dot1q(tci)));
        assert_eq!(rx.meta().wire_len, 114);
    }

    // QinQ: the Dot1Q-only NIC leaves the S-tag alone; the other strips it and keeps the C-tag.
    let qinq = tagged(
        MacAddr::BROADCAST,
        A,
        &[(TPID_8021AD, 100), (TPID_8021Q, 200)],
        100,
        8,
    );
    send(&mut a, T0, &qinq);
    let rx = q.receive(T0).unwrap().unwrap();
    assert_eq!(rx.data(), &qinq[..]);
    assert_eq!(rx.meta().stripped_vlan, None);
    drop(rx);
    let rx = ad.receive(T0).unwrap().unwrap();
    assert_eq!(
        rx.data(),
        &tagged(MacAddr::BROADCAST, A, &[(TPID_8021Q, 200)], 100, 8)[..]
    );
    assert_eq!(
        rx.meta().stripped_vlan,
        Some(VlanTag {
            tpid: TPID_8021AD,
            tci: Tci(100)
        })
    );
    drop(rx);

    // A short tagged frame is padded on the wire first, then stripped: 56 bytes arrive.
    let short = tagged(MacAddr::BROADCAST, A, &[(TPID_8021Q, 7)], 10, 1);
    send(&mut a, T0, &short);
    let rx = q.receive(T0).unwrap().unwrap();
    assert_eq!(rx.data().len(), 56);
    assert_eq!(rx.meta().stripped_vlan.map(|t| t.tci), Some(Tci(7)));
    drop(rx);

    // Switching stripping off at run time.
    q.set_rx_vlan_strip(RxVlanStrip::Off);
    send(&mut a, T0, &single);
    assert_eq!(recv_all(&mut q), vec![single]);
}

#[test]
fn a_down_link_neither_sends_nor_receives() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let f = frame(B, A, 64, 1);

    // Queue a frame, then cut a's cable: the queued frame stays queued.
    let tok = a.transmit(T0, 64).unwrap().unwrap();
    tok.consume(|buf| buf.copy_from_slice(&f));
    a.set_up(false);
    assert!(!a.is_up());
    assert_eq!(a.transmit(T0, 64).err(), Some(LinkError::Down));
    assert_eq!(a.flush(T0).err(), Some(LinkError::Down));
    assert_eq!(a.tx_queued(), 1);
    a.set_up(true);
    assert_eq!(a.flush(T0).unwrap().sent, 1);
    assert_eq!(recv_all(&mut b), vec![f.clone()]);

    // Frames waiting at b are discarded when b goes down; while down it receives nothing.
    send(&mut a, T0, &f);
    seg.set_up(b.id(), false).unwrap();
    assert_eq!(b.stats().rx_discarded_down, 1);
    send(&mut a, T0, &f);
    assert!(b.receive(T0).unwrap().is_none());
    assert_eq!(b.stats().rx_frames, 2);
    seg.set_up(b.id(), true).unwrap();
    send(&mut a, T0, &f);
    assert_eq!(recv_all(&mut b), vec![f]);
}

#[test]
fn a_view_survives_its_link_being_set_down() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    let b_id = b.id();
    send(&mut a, T0, &frame(B, A, 64, 1));
    send(&mut a, T0, &frame(B, A, 64, 2));
    let rx = b.receive(T0).unwrap().unwrap();
    seg.set_up(b_id, false).unwrap();
    // More traffic reuses the discarded slot, never the lent one.
    seg.set_up(b_id, true).unwrap();
    send(&mut a, T0, &frame(B, A, 64, 3));
    assert_eq!(rx.data()[20], 1);
    assert_eq!(seg.stats(b_id).unwrap().rx_discarded_down, 1);
    drop(rx);
    let got = recv_all(&mut b);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][20], 3);
}

#[test]
fn many_links_interleave_with_views_and_tokens_alive() {
    let mut mem = arena();
    let seg = Segment::<4, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let macs = [A, B, C, D];
    let mut links: Vec<_> = macs.iter().map(|&m| seg.link(m, 1500).unwrap()).collect();
    for l in &mut links {
        l.join_multicast(GROUP).unwrap();
    }
    let (first, rest) = links.split_at_mut(1);
    let (a, rest) = (&mut first[0], rest);
    let (b, rest) = rest.split_at_mut(1);
    let (b, cd) = (&mut b[0], rest);
    let (c, d) = cd.split_at_mut(1);
    let (c, d) = (&mut c[0], &mut d[0]);

    for round in 0..20u8 {
        // a's token is in hand while b flushes and c holds a receive view.
        send(b, T0, &frame(GROUP, B, 80, round));
        let rx_c = c.receive(T0).unwrap().unwrap();
        let tok_a = a.transmit(T0, 70).unwrap().unwrap();
        send(d, T0, &frame(C, D, 90, round));
        tok_a.consume(|buf| buf.copy_from_slice(&frame(B, A, 70, round)));
        assert_eq!(rx_c.data()[20], round);
        assert_eq!(rx_c.data().len(), 80);
        drop(rx_c);
        a.flush(T0).unwrap();
        // c now has d's unicast; b has a's unicast; a and d have b's group frame.
        let got_c = recv_all(c);
        assert_eq!(got_c.len(), 1);
        assert_eq!(got_c[0].len(), 90);
        let got_b = recv_all(b);
        assert_eq!(got_b.len(), 1);
        assert_eq!(got_b[0].len(), 70);
        assert_eq!(recv_all(a).len(), 1);
        assert_eq!(recv_all(d).len(), 1);
    }
    for l in &links {
        assert_eq!(l.stats().rx_dropped, 0);
    }
}

#[test]
fn tx_timestamps_report_the_flush_time() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let _b = seg.link(B, 1500).unwrap();
    assert!(a.capabilities().timestamps.tx_software);
    let mut tok = a.transmit(T0, 64).unwrap().unwrap();
    tok.request_timestamp(77).unwrap();
    tok.consume(|buf| buf.copy_from_slice(&frame(B, A, 64, 0)));
    assert!(a.poll_tx_timestamp().is_none());
    a.flush(Instant::from_nanos(5555)).unwrap();
    let ts = a.poll_tx_timestamp().unwrap();
    assert_eq!(ts.id, 77);
    assert_eq!(ts.timestamp.nanos, 5555);
    assert_eq!(ts.timestamp.source, TimestampSource::Link);
    assert!(a.poll_tx_timestamp().is_none());
}

#[test]
fn setup_errors_are_reported() {
    let mut small = [0u8; 100];
    assert!(matches!(
        Segment::<2, 4>::new(&mut small, SegmentConfig::DEFAULT),
        Err(MemError::ArenaTooSmall { slot_len: 25, .. })
    ));
    let mut empty: [u8; 0] = [];
    assert!(Segment::<2, 4>::new(&mut empty, SegmentConfig::DEFAULT).is_err());
    let zero = SegmentConfig {
        rx_queue: 0,
        ..SegmentConfig::DEFAULT
    };
    let mut mem = arena();
    assert_eq!(
        Segment::<2, 128>::new(&mut mem, zero).err(),
        Some(MemError::ZeroQueue)
    );

    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    assert_eq!(seg.max_mtu(), 1500);
    assert!(matches!(
        seg.link(A, 1501),
        Err(MemError::ArenaTooSmall { .. })
    ));
    assert_eq!(
        seg.link(GROUP, 1500).err(),
        Some(MemError::NotUnicast(GROUP))
    );
    let big = LinkConfig {
        rx_queue: 100,
        tx_queue: 100,
        ..LinkConfig::new(A, 1500, &SegmentConfig::DEFAULT)
    };
    assert_eq!(
        seg.link_with(big).err(),
        Some(MemError::OutOfSlots {
            needed: 200,
            available: 128
        })
    );
    let a = seg.link(A, 1500).unwrap();
    let b = seg.link(B, 1500).unwrap();
    assert_eq!(seg.link(C, 1500).err(), Some(MemError::TooManyLinks));
    // Dropping a link frees its place and its reservation.
    assert_eq!(seg.unreserved_slots(), 64);
    let b_id = b.id();
    drop(b);
    assert_eq!(seg.unreserved_slots(), 96);
    assert_eq!(seg.stats(b_id).err(), Some(MemError::NoSuchLink(b_id)));
    assert!(seg.set_up(b_id, true).is_err());
    let _c = seg.link(C, 1500).unwrap();
    drop(a);
    // Errors print something useful.
    assert!(
        MemError::OutOfSlots {
            needed: 3,
            available: 1
        }
        .to_string()
        .contains("3 slots")
    );
}

#[test]
fn dropping_a_link_with_queued_frames_frees_them() {
    let mut mem = arena();
    let cfg = SegmentConfig {
        rx_queue: 60,
        tx_queue: 4,
        ..SegmentConfig::DEFAULT
    };
    let seg = Segment::<2, 128>::new(&mut mem, cfg).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    for round in 0..5 {
        // b fills its whole receive queue, then goes away; the slots must come back.
        let b = seg.link(B, 1500).unwrap();
        for _ in 0..60 {
            send(&mut a, T0, &frame(B, A, 64, round));
        }
        assert_eq!(b.rx_queued(), 60);
        assert_eq!(b.stats().rx_dropped, 0);
        drop(b);
    }
    let tok = a.transmit(T0, 64).unwrap().unwrap();
    tok.consume(|buf| buf.copy_from_slice(&frame(B, A, 64, 0)));
    drop(a);
    let _a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    assert!(recv_all(&mut b).is_empty());
}

#[test]
fn frames_to_nobody_vanish_without_a_trace() {
    let mut mem = arena();
    let seg = Segment::<2, 128>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let mut b = seg.link(B, 1500).unwrap();
    for _ in 0..100 {
        send(&mut a, T0, &frame(C, A, 64, 0));
    }
    assert_eq!(a.stats().tx_frames, 100);
    assert!(recv_all(&mut b).is_empty());
    assert_eq!(b.stats().rx_dropped, 0);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Send {
            from: usize,
            dst: usize,
            len: usize,
            tpid: u16,
        },
        Flush {
            from: usize,
        },
        Recv {
            to: usize,
        },
        DropToken {
            from: usize,
        },
        Join {
            l: usize,
            g: usize,
        },
        Leave {
            l: usize,
            g: usize,
        },
        Up {
            l: usize,
            up: bool,
        },
        Strip {
            l: usize,
            on: bool,
        },
    }

    const MACS: [MacAddr; 6] = [A, B, C, D, GROUP, MacAddr::BROADCAST];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (
                0..3usize,
                0..6usize,
                0..1600usize,
                proptest::sample::select(vec![0x88b5u16, 0x8100, 0x88a8]),
            )
                .prop_map(|(from, dst, len, tpid)| Op::Send {
                    from,
                    dst,
                    len,
                    tpid
                }),
            (0..3usize).prop_map(|from| Op::Flush { from }),
            (0..3usize).prop_map(|to| Op::Recv { to }),
            (0..3usize).prop_map(|from| Op::DropToken { from }),
            (0..3usize, 4..6usize).prop_map(|(l, g)| Op::Join { l, g }),
            (0..3usize, 4..6usize).prop_map(|(l, g)| Op::Leave { l, g }),
            (0..3usize, any::<bool>()).prop_map(|(l, up)| Op::Up { l, up }),
            (0..3usize, any::<bool>()).prop_map(|(l, on)| Op::Strip { l, on }),
        ]
    }

    proptest! {
        /// Any sequence of operations keeps every slot accounted for and never panics.
        #[test]
        fn slots_are_conserved(ops in proptest::collection::vec(op(), 1..200)) {
            let mut mem = vec![0u8; arena_len(48, 1500)];
            let cfg = SegmentConfig { rx_queue: 4, tx_queue: 3, ..SegmentConfig::DEFAULT };
            let seg = Segment::<3, 48>::new(&mut mem, cfg).unwrap();
            let mut links = [
                seg.link(A, 1500).unwrap(),
                seg.link(B, 1000).unwrap(),
                seg.link(C, 1500).unwrap(),
            ];
            for op in ops {
                match op {
                    Op::Send { from, dst, len, tpid } => {
                        let l = &mut links[from];
                        let (queued, up) = (l.tx_queued(), l.is_up());
                        match l.transmit(T0, len) {
                            Ok(Some(tok)) => tok.consume(|buf| {
                                buf.fill(0x81);
                                // Lengths below 14 never get a token.
                                buf[..6].copy_from_slice(&MACS[dst].0);
                                buf[12..14].copy_from_slice(&tpid.to_be_bytes());
                                if buf.len() >= 18 && len % 3 == 0 {
                                    buf[16..18].copy_from_slice(&0x8100u16.to_be_bytes());
                                }
                            }),
                            Ok(None) => prop_assert_eq!(queued, 3),
                            Err(LinkError::Down) => prop_assert!(!up),
                            Err(LinkError::TooShort { .. }) => prop_assert!(len < 14),
                            Err(LinkError::TooLarge { .. }) => prop_assert!(len > 1522 || from == 1),
                            Err(e) => prop_assert!(false, "unexpected {e:?}"),
                        }
                    }
                    Op::Flush { from } => {
                        let _ = links[from].flush(T0);
                    }
                    Op::Recv { to } => {
                        if let Some(rx) = links[to].receive(T0).unwrap() {
                            prop_assert!(rx.data().len() >= 14);
                            prop_assert_eq!(rx.data().len(), rx.meta().wire_len);
                        }
                    }
                    Op::DropToken { from } => {
                        let _ = links[from].transmit(T0, 64);
                    }
                    Op::Join { l, g } => {
                        let _ = links[l].join_multicast(MACS[g]);
                    }
                    Op::Leave { l, g } => links[l].leave_multicast(MACS[g]).unwrap(),
                    Op::Up { l, up } => links[l].set_up(up),
                    Op::Strip { l, on } => links[l].set_rx_vlan_strip(if on {
                        RxVlanStrip::Dot1QAndDot1AD
                    } else {
                        RxVlanStrip::Off
                    }),
                }
                let queued: usize = links.iter().map(|l| l.rx_queued() + l.tx_queued()).sum();
                prop_assert_eq!(seg.free_slots() + queued, 48);
                for l in &links {
                    prop_assert!(l.rx_queued() <= 4 && l.tx_queued() <= 3);
                }
            }
            drop(links);
            prop_assert_eq!(seg.free_slots(), 48);
            prop_assert_eq!(seg.unreserved_slots(), 48);
        }
    }
}
