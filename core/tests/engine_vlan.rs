//! VLAN receive filtering: with `Config::vlan` set, only frames whose outermost tag (in the
//! bytes or reported stripped by the link) has the participant's VLAN id are accepted; others,
//! untagged ones included, are counted in `rx_other_vlan` and dropped. Without it, anything goes.

use l2net_core::engine::{Config, Event, Participant};
use l2net_core::wire::{Tci, VlanTag};
use l2net_core::{Instant, MacAddr, RxMeta};

type Part = Participant<'static, 4, 16, 2, 2, 16, 4, 4>;

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

fn tag(vid: u16) -> VlanTag {
    VlanTag::dot1q(Tci::new(5, false, vid))
}

fn node(id: u64, vlan: Option<VlanTag>) -> Part {
    let mut c = Config::new(0, "vlan");
    c.vlan = vlan;
    let mac = MacAddr([2, 0, 0, 0, 0, id as u8]);
    Part::new(c, id, mac, leak(1 << 16), Instant::from_millis(1)).unwrap()
}

/// The first frame `p` sends (a HELLO), as bytes.
fn first_frame(p: &mut Part) -> Vec<u8> {
    let len = p.poll_transmit(Instant::from_millis(1)).unwrap();
    let mut buf = vec![0u8; len];
    p.write_transmit(&mut buf).unwrap();
    buf
}

/// `frame` with its VLAN tag removed from the bytes (as a NIC that strips it delivers it).
fn strip(frame: &[u8]) -> Vec<u8> {
    assert_eq!(&frame[12..14], &[0x81, 0x00], "tagged");
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&frame[16..]);
    v
}

/// `frame` with its tag's VLAN id replaced.
fn retag(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut v = frame.to_vec();
    let tci = (u16::from_be_bytes([v[14], v[15]]) & 0xf000) | vid;
    v[14..16].copy_from_slice(&tci.to_be_bytes());
    v
}

fn discovered(p: &mut Part) -> bool {
    let mut found = false;
    while let Some(e) = p.poll_event() {
        found |= matches!(e, Event::ParticipantDiscovered { .. });
    }
    found
}

fn deliver(p: &mut Part, frame: &[u8], meta: RxMeta) {
    p.handle_frame(frame, meta, Instant::from_millis(2));
}

#[test]
fn sent_frames_carry_the_configured_tag() {
    let f = first_frame(&mut node(1, Some(tag(10))));
    assert_eq!(&f[12..16], &[0x81, 0x00, 0xa0, 0x0a], "TPID, PCP 5, VID 10");
    assert_eq!(&f[16..18], &[0x88, 0xb5]);
}

#[test]
fn same_vlan_in_the_bytes_or_stripped_is_accepted() {
    let f = first_frame(&mut node(1, Some(tag(10))));
    let mut b = node(2, Some(tag(10)));
    deliver(&mut b, &f, RxMeta::new(f.len()));
    assert!(discovered(&mut b));
    assert_eq!(b.stats().rx_other_vlan, 0);

    // The link stripped the tag and reports it: same VLAN. A different priority is fine.
    let mut c = node(3, Some(VlanTag::dot1q(Tci::new(0, false, 10))));
    let s = strip(&f);
    let mut meta = RxMeta::new(s.len());
    meta.stripped_vlan = Some(tag(10));
    deliver(&mut c, &s, meta);
    assert!(discovered(&mut c));
    assert_eq!(c.stats().rx_other_vlan, 0);
}

#[test]
fn other_vlans_and_untagged_frames_are_counted_and_dropped() {
    let f = first_frame(&mut node(1, Some(tag(10))));
    let mut b = node(2, Some(tag(20)));
    // Another VLAN id in the bytes.
    deliver(&mut b, &f, RxMeta::new(f.len()));
    // Another VLAN id reported stripped.
    let s = strip(&f);
    let mut meta = RxMeta::new(s.len());
    meta.stripped_vlan = Some(tag(10));
    deliver(&mut b, &s, meta);
    // Untagged.
    deliver(&mut b, &s, RxMeta::new(s.len()));
    // Priority-tagged (VLAN id 0) is not VLAN 20 either.
    let p = retag(&f, 0);
    deliver(&mut b, &p, RxMeta::new(p.len()));
    assert!(!discovered(&mut b));
    assert_eq!(b.stats().rx_other_vlan, 4);
    assert_eq!(b.stats().rx_frames, 4);
    assert_eq!(b.graph().peers().count(), 0);

    // The right id after all: accepted.
    let ok = retag(&f, 20);
    deliver(&mut b, &ok, RxMeta::new(ok.len()));
    assert!(discovered(&mut b));
    assert_eq!(b.stats().rx_other_vlan, 4);
}

#[test]
fn the_stripped_tag_is_the_outer_one() {
    // Q-in-Q as delivered by a link that stripped the outer tag: the tag left in the bytes is
    // the inner one and does not decide.
    let f = first_frame(&mut node(1, Some(tag(30))));
    let mut b = node(2, Some(tag(10)));
    let mut meta = RxMeta::new(f.len());
    meta.stripped_vlan = Some(tag(10));
    deliver(&mut b, &f, meta);
    assert!(discovered(&mut b));
    assert_eq!(b.stats().rx_other_vlan, 0);
}

#[test]
fn without_a_vlan_everything_is_accepted() {
    let f = first_frame(&mut node(1, Some(tag(10))));
    let mut b = node(2, None);
    deliver(&mut b, &f, RxMeta::new(f.len()));
    assert!(discovered(&mut b));
    let u = first_frame(&mut node(3, None));
    deliver(&mut b, &u, RxMeta::new(u.len()));
    assert!(discovered(&mut b));
    assert_eq!(b.stats().rx_other_vlan, 0);
}
