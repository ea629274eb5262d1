//! Software receive and transmit timestamps on a veth pair in namespaces the test makes.

mod support;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use l2net_core::RawLink;
use l2net_core::link::TimestampSource;
use l2net_linux::netns::{Netns, VethPair, require_privileges};
use l2net_linux::timestamp::{self, TimestampMode};
use l2net_linux::{LinkConfig, PlainLink};

#[test]
fn rx_stamps_monotonic_and_tx_stamps_matched_by_id() {
    if !require_privileges("rx_stamps_monotonic_and_tx_stamps_matched_by_id") {
        return;
    }
    let _serial = support::serial();
    let a = Netns::new("ts-a").unwrap();
    let b = Netns::new("ts-b").unwrap();
    let pair = VethPair::new(&a, &b).unwrap();
    let cfg_a = LinkConfig::new(pair.a_name());
    let cfg_b = LinkConfig::new(pair.b_name());
    let tx = a.run(|| PlainLink::open(&cfg_a)).unwrap().unwrap();
    let rx = b.run(|| PlainLink::open(&cfg_b)).unwrap().unwrap();
    let on_tx = timestamp::enable(tx.as_fd(), pair.a_name(), TimestampMode::PreferHardware);
    let on_rx = timestamp::enable(rx.as_fd(), pair.b_name(), TimestampMode::Software);
    assert_eq!(
        on_tx.unwrap().tx,
        TimestampSource::Software,
        "veth has no PHC"
    );
    assert_eq!(on_rx.unwrap().rx, TimestampSource::Software);

    // The kernel switches receive timestamping on system-wide from a workqueue (a static key),
    // so frames right after the first enable may still come without a stamp.
    std::thread::sleep(Duration::from_millis(100));
    let n = 32u32;
    let (src, dst) = (tx.mac().octets(), rx.mac().octets());
    for i in 0..n {
        let mut frame = [0u8; 60];
        frame[..6].copy_from_slice(&dst);
        frame[6..12].copy_from_slice(&src);
        frame[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
        frame[14..18].copy_from_slice(&i.to_be_bytes());
        let mut control = [0u8; timestamp::TX_REQUEST_SPACE];
        let len = timestamp::write_tx_request(&mut control, 7000 + i, false).unwrap();
        timestamp::send_with_control(tx.as_fd(), &frame, &control[..len]).unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut buf, mut control) = ([0u8; 2048], [0u8; timestamp::RX_CONTROL_SPACE]);
    let (mut seqs, mut last) = (Vec::new(), 0u64);
    while seqs.len() < n as usize {
        assert!(Instant::now() < deadline, "received only {seqs:?}");
        match timestamp::recv_with_control(rx.as_fd(), &mut buf, &mut control).unwrap() {
            Some(r) => {
                let ts = timestamp::rx_timestamp(&control[..r.control_len])
                    .unwrap_or_else(|| panic!("rx stamp: {:?} {:?}", r, &control[..r.control_len]));
                assert_eq!(ts.source, TimestampSource::Software);
                assert!(ts.nanos >= last, "monotonic");
                last = ts.nanos;
                seqs.push(u32::from_be_bytes(buf[14..18].try_into().unwrap()));
            }
            None => {
                rx.wait_readable(Some(Duration::from_millis(100))).unwrap();
            }
        }
    }
    assert_eq!(seqs, (0..n).collect::<Vec<_>>());

    let mut ids = Vec::new();
    let mut errq = [0u8; timestamp::ERRQUEUE_CONTROL_SPACE];
    let mut prev = 0u64;
    while ids.len() < n as usize {
        assert!(Instant::now() < deadline, "tx stamps only for {ids:?}");
        match timestamp::read_tx_timestamp(tx.as_fd(), &mut errq).unwrap() {
            Some(t) => {
                assert_eq!(t.timestamp.source, TimestampSource::Software);
                assert!(t.timestamp.nanos >= prev);
                prev = t.timestamp.nanos;
                ids.push(t.id);
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert_eq!(
        ids,
        (7000..7000 + n).collect::<Vec<_>>(),
        "each id once, in send order"
    );
    assert!(
        timestamp::read_tx_timestamp(tx.as_fd(), &mut errq)
            .unwrap()
            .is_none()
    );
    timestamp::disable(tx.as_fd()).unwrap();
}
