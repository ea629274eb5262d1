//! `LinkConfig::timestamps` through `LinuxLink` on a veth pair, for every backend: receive
//! stamps in `RxMeta::timestamp` (batched receives included), transmit stamps for the frames
//! that asked and only for them, the capabilities and the stamp source that say which clock
//! took them, VLAN tags still reported next to the stamps, and clear refusals where a link
//! cannot stamp.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

use l2net_core::link::TimestampSource;
use l2net_core::{LinkError, RawLink, TxToken};
use l2net_linux::netns::require_privileges;
use l2net_linux::timestamp::TimestampMode;
use l2net_linux::{Backend, LinkConfig, LinuxLink, OpenError};
use support::{Tag, check, contract, frame, now, recv_n};

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

/// Queue `frames`, asking for a transmit stamp (id = index) for those in `stamp`, and flush
/// until all left.
fn send_stamped(link: &mut LinuxLink, frames: &[Vec<u8>], stamp: &[u32]) {
    for (i, f) in frames.iter().enumerate() {
        let mut tok = link
            .transmit(now(), f.len())
            .expect("transmit")
            .expect("a free slot");
        if stamp.contains(&(i as u32)) {
            tok.request_timestamp(i as u32).expect("request a stamp");
        }
        tok.consume(|b| b.copy_from_slice(f));
    }
    let deadline = StdInstant::now() + Duration::from_secs(5);
    while !link.flush(now()).expect("flush").is_complete() {
        assert!(StdInstant::now() < deadline, "flush never completed");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn receive_and_transmit_stamps_per_backend() {
    if !require_privileges("receive_and_transmit_stamps_per_backend") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("ts", 1500);
    let tags: [&[Tag]; 2] = [&[], &[(0x8100, 5, false, 321)]];
    for backend in Backend::CONCRETE {
        let mut tx: LinuxLink = contract::open(&w.a, w.veth.a_name(), |c| {
            c.backend = backend;
            c.timestamps = Some(TimestampMode::Software);
        });
        let mut rx: LinuxLink = contract::open(&w.b, w.veth.b_name(), |c| {
            c.backend = backend;
            c.timestamps = Some(TimestampMode::Software);
        });
        let caps = rx.capabilities().timestamps;
        assert!(caps.rx_software && !caps.rx_hardware, "{backend}: {caps:?}");
        let caps = tx.capabilities().timestamps;
        assert!(caps.tx_software && !caps.tx_hardware, "{backend}: {caps:?}");
        // The kernel switches software receive stamping on from a workqueue.
        std::thread::sleep(Duration::from_millis(100));

        for tags in tags {
            let before = realtime_ns();
            let sent: Vec<Vec<u8>> = (0..6)
                .map(|i| frame(tx.interface().mac.octets(), tags, 100, i))
                .collect();
            send_stamped(&mut tx, &sent, &[1, 3, 4]);
            let got = recv_n(&mut rx, sent.len());
            let after = realtime_ns();
            // Bytes and tags as without timestamps: the stamp did not push the auxdata out.
            check(&sent, tags, &got);
            let mut last = 0;
            for (i, (_, meta)) in got.iter().enumerate() {
                let ts = meta
                    .timestamp
                    .unwrap_or_else(|| panic!("{backend}: frame {i} has no stamp"));
                assert_eq!(ts.source, TimestampSource::Software);
                assert!(
                    (before..=after).contains(&ts.nanos),
                    "{backend}: stamp {} outside [{before}, {after}]",
                    ts.nanos
                );
                assert!(ts.nanos >= last, "{backend}: stamps go backwards");
                last = ts.nanos;
            }
            {
                let mut stamps = BTreeMap::new();
                let deadline = StdInstant::now() + Duration::from_secs(5);
                while stamps.len() < 3 {
                    match tx.poll_tx_timestamp() {
                        Some(t) => {
                            assert_eq!(t.timestamp.source, TimestampSource::Software);
                            assert!(
                                (before..=after).contains(&t.timestamp.nanos),
                                "{backend}: transmit stamp {} outside [{before}, {after}]",
                                t.timestamp.nanos
                            );
                            assert!(stamps.insert(t.id, t.timestamp.nanos).is_none());
                        }
                        None => {
                            assert!(StdInstant::now() < deadline, "{backend}: {stamps:?}");
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
                assert_eq!(stamps.keys().copied().collect::<Vec<_>>(), [1, 3, 4]);
                // Frames that did not ask have no stamp.
                std::thread::sleep(Duration::from_millis(20));
                assert_eq!(tx.poll_tx_timestamp(), None, "{backend}");
                assert_eq!(tx.stats().unwrap().tx_timestamp_errors, 0, "{backend}");
            }
        }
    }
}

#[test]
fn without_the_option_nothing_is_stamped_but_the_ring_receive() {
    if !require_privileges("without_the_option_nothing_is_stamped_but_the_ring_receive") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("tu", 1500);
    for backend in Backend::CONCRETE {
        let mut tx: LinuxLink = contract::open(&w.a, w.veth.a_name(), |c| c.backend = backend);
        let mut rx: LinuxLink = contract::open(&w.b, w.veth.b_name(), |c| c.backend = backend);
        let caps = tx.capabilities().timestamps;
        // The rings stamp every received frame anyway; nothing else is stamped.
        let ring = matches!(backend, Backend::Ring | Backend::FrameRing);
        assert_eq!(caps.rx_software, ring, "{backend}");
        assert!(!caps.tx_software && !caps.tx_hardware && !caps.rx_hardware);
        let mut tok = tx.transmit(now(), 64).unwrap().unwrap();
        assert!(
            matches!(tok.request_timestamp(9), Err(LinkError::Unsupported(_))),
            "{backend}"
        );
        let sent = vec![frame(tx.interface().mac.octets(), &[], 50, 1)];
        support::send_all(&mut tx, &sent);
        let got = recv_n(&mut rx, 1);
        assert_eq!(got[0].1.timestamp.is_some(), ring, "{backend}");
        assert_eq!(tx.poll_tx_timestamp(), None);
    }

    // veth has no hardware clock.
    let mut c = LinkConfig::new(w.veth.b_name()).with_backend(Backend::Plain);
    c.timestamps = Some(TimestampMode::Hardware);
    let r = w.b.run(|| LinuxLink::open(&c).map(|_| ())).unwrap();
    assert!(matches!(r, Err(OpenError::Unsupported(_))), "{r:?}");
    // PreferHardware falls back to software stamps.
    c.timestamps = Some(TimestampMode::PreferHardware);
    let (link, _) = w.b.run(|| LinuxLink::open(&c)).unwrap().expect("open");
    assert!(link.capabilities().timestamps.rx_software);
    // Auto with timestamps takes the ring, as without them.
    c.backend = Backend::Auto;
    c.timestamps = Some(TimestampMode::Software);
    let (link, sel) = w.b.run(|| LinuxLink::open(&c)).unwrap().expect("open");
    assert_eq!(link.backend(), Backend::Ring, "{sel}");
}

/// Read frames from `tap` until `want` comes out (skipping the kernel's own IPv6 chatter).
fn read_from_tap(tap: &l2net_linux::netns::Tap, want: &[u8]) {
    let deadline = StdInstant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    loop {
        match tap.read_frame(&mut buf) {
            Ok(n) if &buf[..n] == want => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(StdInstant::now() < deadline, "frame never left the TAP");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read TAP: {e}"),
        }
    }
}

/// Transmit stamps where nothing on the way stamps the buffer itself: a TAP, like a NIC
/// without hardware stamping, only takes the driver's software stamp (`skb_tx_timestamp`),
/// which reaches the error queue. Every backend, the ring included, reports it. (The ring's
/// frame-header stamp would be missing here: the reason the ring uses the error queue too.)
#[test]
fn transmit_stamps_come_from_the_driver_on_a_tap() {
    if !require_privileges("transmit_stamps_come_from_the_driver_on_a_tap") {
        return;
    }
    let _serial = support::serial();
    let ns = l2net_linux::netns::Netns::new("tt").expect("namespace");
    let mut tap = l2net_linux::netns::Tap::new().expect("TAP");
    tap.move_to(&ns).expect("move TAP");
    for backend in [
        Backend::Ring,
        Backend::FrameRing,
        Backend::Plain,
        Backend::Mmsg,
        Backend::Uring,
    ] {
        let mut link: LinuxLink = contract::open(&ns, tap.name(), |c| {
            c.backend = backend;
            c.timestamps = Some(TimestampMode::Software);
        });
        let before = realtime_ns();
        let sent: Vec<Vec<u8>> = (0..3)
            .map(|i| frame(link.interface().mac.octets(), &[], 100, 7 + i))
            .collect();
        send_stamped(&mut link, &sent, &[1]);
        for f in &sent {
            read_from_tap(&tap, f);
        }
        let deadline = StdInstant::now() + Duration::from_secs(2);
        let t = loop {
            if let Some(t) = link.poll_tx_timestamp() {
                break t;
            }
            assert!(StdInstant::now() < deadline, "{backend}: no transmit stamp");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!((t.id, t.timestamp.source), (1, TimestampSource::Software));
        assert!(
            (before..=realtime_ns()).contains(&t.timestamp.nanos),
            "{backend}"
        );
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            link.poll_tx_timestamp(),
            None,
            "{backend}: only frame 1 asked"
        );
        assert_eq!(link.stats().unwrap().tx_timestamp_errors, 0);
    }
}

/// Poll `link` for transmit stamps until `n` arrived (or fail after 5 s), then check that no
/// further one comes.
fn stamps_of(link: &mut LinuxLink, n: usize) -> Vec<u32> {
    let mut ids = Vec::new();
    let deadline = StdInstant::now() + Duration::from_secs(5);
    while ids.len() < n {
        match link.poll_tx_timestamp() {
            Some(t) => ids.push(t.id),
            None => {
                assert!(StdInstant::now() < deadline, "stamps so far: {ids:?}");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(link.poll_tx_timestamp(), None, "after {ids:?}");
    ids
}

/// The ring kicks a stamped frame on its own, with the request, and only after the kernel took
/// the frames before it. When the kernel pushes back (a pfifo qdisc of limit 0 refuses every
/// frame with ENOBUFS), frames stay queued in order and the request stays with its frame across
/// flushes: the frame before it, a stamped frame that is itself refused, the frames after it.
#[test]
fn ring_keeps_the_stamp_request_with_its_frame_across_pushback() {
    if !require_privileges("ring_keeps_the_stamp_request_with_its_frame_across_pushback") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("tp", 1500);
    let mut tx: LinuxLink = contract::open(&w.a, w.veth.a_name(), |c| {
        c.backend = Backend::Ring;
        c.timestamps = Some(TimestampMode::Software);
    });
    let mut rx: LinuxLink = contract::open(&w.b, w.veth.b_name(), |c| c.backend = Backend::Plain);
    let src = tx.interface().mac.octets();
    let queue = |tx: &mut LinuxLink, frames: &[Vec<u8>], stamp: &[u32], first: u32| {
        for (i, f) in frames.iter().enumerate() {
            let mut tok = tx.transmit(now(), f.len()).unwrap().expect("a free slot");
            let id = first + i as u32;
            if stamp.contains(&id) {
                tok.request_timestamp(id).unwrap();
            }
            tok.consume(|b| b.copy_from_slice(f));
        }
    };
    let flush_all = |tx: &mut LinuxLink| {
        let deadline = StdInstant::now() + Duration::from_secs(5);
        let mut sent = 0;
        loop {
            let st = tx.flush(now()).unwrap();
            sent += st.sent;
            if st.pending == 0 {
                return sent;
            }
            assert!(StdInstant::now() < deadline, "flush never completed");
            std::thread::sleep(Duration::from_millis(1));
        }
    };

    // A plain frame, a stamped one, a plain one, all pushed back at first.
    let sent: Vec<Vec<u8>> = (0..3).map(|i| frame(src, &[], 80, i)).collect();
    w.a.set_pfifo_qdisc(w.veth.a_name(), 0).unwrap();
    queue(&mut tx, &sent, &[1], 0);
    let st = tx.flush(now()).unwrap();
    assert_eq!((st.sent, st.pending), (0, 3));
    assert_eq!(tx.flush(now()).unwrap().pending, 3);
    w.a.delete_root_qdisc(w.veth.a_name()).unwrap();
    assert_eq!(flush_all(&mut tx), 3);
    check(&sent, &[], &recv_n(&mut rx, 3));
    assert_eq!(stamps_of(&mut tx, 1), [1]);

    // The stamped frame first, refused while it is the only one marked.
    let sent: Vec<Vec<u8>> = (10..14).map(|i| frame(src, &[], 80, i)).collect();
    w.a.set_pfifo_qdisc(w.veth.a_name(), 0).unwrap();
    queue(&mut tx, &sent, &[10, 12], 10);
    assert_eq!(tx.flush(now()).unwrap().pending, 4);
    assert_eq!(tx.flush(now()).unwrap().pending, 4);
    w.a.delete_root_qdisc(w.veth.a_name()).unwrap();
    assert_eq!(flush_all(&mut tx), 4);
    check(&sent, &[], &recv_n(&mut rx, 4));
    let mut ids = stamps_of(&mut tx, 2);
    ids.sort();
    assert_eq!(ids, [10, 12]);
    assert_eq!(tx.stats().unwrap().tx_timestamp_errors, 0);
}
