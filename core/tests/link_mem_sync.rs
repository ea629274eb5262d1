//! The thread-safe in-memory segment (`SyncSegment`, core feature `std`).
#![cfg(feature = "std")]

use std::time::Duration;

use l2net_core::link::mem::{SegmentConfig, SyncMemLink, SyncSegment, arena_len};
use l2net_core::link::{RawLink, RxFrame, TxToken};
use l2net_core::{Instant, MacAddr};

const A: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xa]);
const B: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xb]);
const GROUP: MacAddr = MacAddr([0x03, 0x4c, 0x32, 0, 0, 7]);

fn assert_sync<T: Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn segment_is_sync_and_links_are_send() {
    assert_sync::<SyncSegment<'static, 4, 64>>();
    assert_send::<SyncMemLink<'static, 'static, 4, 64>>();
}

fn send_seq<L: RawLink>(link: &mut L, dst: MacAddr, seq: u32) {
    loop {
        if let Some(tok) = link.transmit(Instant::ZERO, 64).unwrap() {
            tok.consume(|buf| {
                buf.fill(0);
                buf[..6].copy_from_slice(&dst.0);
                buf[6..12].copy_from_slice(&A.0);
                buf[14..18].copy_from_slice(&seq.to_be_bytes());
            });
            return;
        }
        link.flush(Instant::ZERO).unwrap();
    }
}

#[test]
fn a_receiver_thread_sleeps_until_frames_arrive() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = SyncSegment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    const N: u32 = 2000;
    std::thread::scope(|s| {
        let mut b = seg.link(B, 1500).unwrap();
        b.join_multicast(GROUP).unwrap();
        let mut a = seg.link(A, 1500).unwrap();
        let receiver = s.spawn(move || {
            let mut seen = Vec::new();
            let mut idle = 0;
            while idle < 50 {
                if !b.wait_readable(Duration::from_millis(100)) {
                    idle += 1;
                    continue;
                }
                while let Some(rx) = b.receive(Instant::ZERO).unwrap() {
                    let d = rx.data();
                    seen.push(u32::from_be_bytes([d[14], d[15], d[16], d[17]]));
                }
                if seen.len() as u64 + b.stats().rx_dropped >= u64::from(N) {
                    break;
                }
            }
            (seen, b.stats())
        });
        let sender = s.spawn(move || {
            for seq in 0..N {
                send_seq(&mut a, if seq % 2 == 0 { B } else { GROUP }, seq);
                if seq % 4 == 3 {
                    a.flush(Instant::ZERO).unwrap();
                }
            }
            a.flush(Instant::ZERO).unwrap();
            a.stats()
        });
        let tx_stats = sender.join().unwrap();
        let (seen, rx_stats) = receiver.join().unwrap();
        assert_eq!(tx_stats.tx_frames, u64::from(N));
        // Whatever overran the receive queue is counted; the rest arrives in order.
        assert_eq!(seen.len() as u64 + rx_stats.rx_dropped, u64::from(N));
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        assert!(!seen.is_empty());
    });
}

#[test]
fn wait_readable_times_out_and_sees_queued_frames() {
    let mut mem = vec![0u8; arena_len(64, 1500)];
    let seg = SyncSegment::<2, 64>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    let mut a = seg.link(A, 1500).unwrap();
    let b = seg.link(B, 1500).unwrap();
    let started = std::time::Instant::now();
    assert!(!b.wait_readable(Duration::from_millis(20)));
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert!(!b.wait_readable(Duration::ZERO));
    send_seq(&mut a, B, 1);
    a.flush(Instant::ZERO).unwrap();
    assert!(b.wait_readable(Duration::ZERO));
    assert!(b.wait_readable(Duration::MAX));
}

#[test]
fn a_leaked_segment_serves_spawned_threads() {
    let mem: &'static mut [u8] = vec![0u8; arena_len(64, 1500)].leak();
    let seg: &'static SyncSegment<'static, 2, 64> = Box::leak(Box::new(
        SyncSegment::new(mem, SegmentConfig::DEFAULT).unwrap(),
    ));
    let mut b = seg.link(B, 1500).unwrap();
    let t = std::thread::spawn(move || {
        let mut a = seg.link(A, 1500).unwrap();
        send_seq(&mut a, B, 42);
        a.flush(Instant::ZERO).unwrap();
    });
    t.join().unwrap();
    assert!(b.wait_readable(Duration::from_secs(5)));
    let rx = b.receive(Instant::ZERO).unwrap().unwrap();
    assert_eq!(&rx.data()[14..18], &42u32.to_be_bytes());
}

#[test]
fn several_threads_send_and_receive_at_once() {
    const MACS: [MacAddr; 3] = [
        MacAddr([0x02, 0, 0, 0, 1, 1]),
        MacAddr([0x02, 0, 0, 0, 1, 2]),
        MacAddr([0x02, 0, 0, 0, 1, 3]),
    ];
    const PER_PEER: u32 = 500;
    let mut mem = vec![0u8; arena_len(96, 1500)];
    let seg = SyncSegment::<3, 96>::new(&mut mem, SegmentConfig::DEFAULT).unwrap();
    // Attach every link before any thread sends: frames to an absent MAC go nowhere.
    let links: Vec<_> = MACS.iter().map(|&m| seg.link(m, 1500).unwrap()).collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .into_iter()
            .enumerate()
            .map(|(me, mut link)| {
                s.spawn(move || {
                    let mut got = 0u64;
                    let mut sent = 0;
                    let mut idle = 0;
                    // Until everything addressed to this link arrived or was counted as
                    // dropped; the idle limit only stops a broken run.
                    while idle < 500 {
                        if sent == 2 * PER_PEER
                            && got + link.stats().rx_dropped >= u64::from(2 * PER_PEER)
                        {
                            break;
                        }
                        if sent < 2 * PER_PEER {
                            let dst = MACS[(me + 1 + (sent as usize % 2)) % 3];
                            if let Some(tok) = link.transmit(Instant::ZERO, 64).unwrap() {
                                tok.consume(|buf| {
                                    buf.fill(0);
                                    buf[..6].copy_from_slice(&dst.0);
                                });
                                sent += 1;
                            }
                            link.flush(Instant::ZERO).unwrap();
                        } else if !link.wait_readable(Duration::from_millis(10)) {
                            idle += 1;
                        }
                        // Hold a view while the other threads flush into the segment.
                        while let Some(rx) = link.receive(Instant::ZERO).unwrap() {
                            assert_eq!(&rx.data()[..6], &MACS[me].0);
                            got += 1;
                        }
                    }
                    (got, link.stats())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (got, stats) in results {
        assert_eq!(stats.tx_frames, u64::from(2 * PER_PEER));
        assert_eq!(got, stats.rx_frames);
        assert_eq!(got + stats.rx_dropped, u64::from(2 * PER_PEER));
    }
    assert_eq!(seg.free_slots(), 96);
}
