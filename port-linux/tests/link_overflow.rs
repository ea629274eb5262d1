//! Every backend after its receive queue (socket buffer or ring) overflowed: it delivers what
//! is queued, counts the drops, and keeps receiving afterwards. (Found while benchmarking: a
//! receiver that falls behind must recover, not stall.)

mod support;

use std::time::{Duration, Instant as StdInstant};

use l2net_core::{RawLink, RxFrame};
use l2net_linux::netns::require_privileges;
use l2net_linux::{Backend, LinuxLink};
use support::{contract, frame, now, send_all};

fn drain(rx: &mut LinuxLink, for_: Duration) -> usize {
    let deadline = StdInstant::now() + for_;
    let mut n = 0;
    while StdInstant::now() < deadline {
        let got = rx.receive(now()).expect("receive").map(|f| f.data().len());
        match got {
            Some(len) => {
                assert!(len > 0);
                n += 1;
            }
            None => {
                rx.wait_readable(Some(Duration::from_millis(5)))
                    .expect("poll");
            }
        }
    }
    n
}

#[test]
fn every_backend_keeps_receiving_after_its_queue_overflowed() {
    if !require_privileges("every_backend_keeps_receiving_after_its_queue_overflowed") {
        return;
    }
    overflow_and_recover(&[Backend::Plain, Backend::Mmsg, Backend::Uring]);
}

/// Known bug, kept visible: after an overflow the ring intermittently (about one run in five)
/// delivers only 64 of the next 100 frames within the drain window. Run with `--ignored`.
#[test]
#[ignore = "ring: intermittently delivers 64 of 100 frames after an overflow (under investigation)"]
fn ring_keeps_receiving_after_its_queue_overflowed() {
    if !require_privileges("ring_keeps_receiving_after_its_queue_overflowed") {
        return;
    }
    overflow_and_recover(&[Backend::Ring]);
}

fn overflow_and_recover(backends: &[Backend]) {
    let _serial = support::serial();
    let w = support::Wire::new("uo", 1500);
    for &backend in backends {
        let mut tx: LinuxLink =
            contract::open(&w.a, w.veth.a_name(), |c| c.backend = Backend::Plain);
        let mut rx: LinuxLink = contract::open(&w.b, w.veth.b_name(), |c| {
            c.backend = backend;
            c.rcvbuf = Some(64 << 10);
            // The ring's smallest geometry: two 64 KiB receive blocks.
            c.ring_memory = 256 << 10;
        });
        let sent: Vec<Vec<u8>> = (0..3000)
            .map(|i| frame(tx.interface().mac.octets(), &[], 100, i))
            .collect();
        send_all(&mut tx, &sent);
        let first = drain(&mut rx, Duration::from_millis(300));
        let more: Vec<Vec<u8>> = (0..100)
            .map(|i| frame(tx.interface().mac.octets(), &[], 100, 5000 + i))
            .collect();
        send_all(&mut tx, &more);
        let second = drain(&mut rx, Duration::from_millis(300));
        let st = rx.stats().unwrap();
        assert!(first > 0, "{backend}: nothing of the queue delivered");
        assert!(st.kernel_drops > 0, "{backend}: the queue never overflowed");
        // Nothing may go unaccounted. The kernel's drop counter can also count other frames that
        // crossed the interface while the queue was full (IPv6 neighbour discovery, MLD), so the
        // sum may exceed what we sent; delivered frames alone never may.
        assert!(first <= sent.len(), "{backend}: more delivered than sent");
        assert!(
            first as u64 + st.kernel_drops >= sent.len() as u64,
            "{backend}: every frame delivered or counted as dropped ({first} + {})",
            st.kernel_drops
        );
        assert_eq!(second, 100, "{backend}: stalled after overflow");
    }
}
