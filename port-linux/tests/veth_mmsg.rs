//! The mmsg backend over a veth pair between two namespaces each test makes.

mod support;

use l2net_linux::MmsgLink;
use support::contract;

#[test]
fn frames_cross_both_ways_with_tags_intact() {
    contract::frames_cross_both_ways_with_tags_intact::<MmsgLink>();
}

#[test]
fn other_ethertypes_are_filtered_unless_asked_for() {
    contract::other_ethertypes_are_filtered_unless_asked_for::<MmsgLink>();
}

#[test]
fn errors_for_bad_names_missing_interfaces_and_bad_lengths() {
    contract::errors_for_bad_names_missing_interfaces_and_bad_lengths::<MmsgLink>();
}

#[test]
fn no_descriptor_leaks() {
    contract::no_descriptor_leaks::<MmsgLink>();
}

#[test]
fn removed_interface_is_reported() {
    contract::removed_interface_is_reported::<MmsgLink>();
}

#[test]
fn truncation_is_reported() {
    contract::truncation_is_reported::<MmsgLink>();
}

#[test]
fn wait_readable_sleeps_until_a_frame_arrives() {
    contract::wait_readable_sleeps_until_a_frame_arrives::<MmsgLink>();
}

#[test]
fn options_are_applied_or_refused() {
    contract::options_are_applied_or_refused::<MmsgLink>();
}

#[test]
fn backpressure_and_down_keep_frames_queued() {
    contract::backpressure_and_down_keep_frames_queued::<MmsgLink>();
}

#[test]
fn missing_privileges_are_explained() {
    contract::missing_privileges_are_explained::<MmsgLink>();
}

/// After a `recvmmsg` batch that came back short, the link says that nothing is pending (so a
/// waiting node sleeps on the descriptor at once instead of receiving to find nothing), and
/// only once the batch's frames are handed out; the receive after it finds nothing.
#[test]
fn short_batch_reports_drained() {
    use l2net_core::{RawLink, RxFrame};
    if !l2net_linux::netns::require_privileges("short_batch_reports_drained") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("dr", 1500);
    let mut a: MmsgLink = contract::open(&w.a, w.veth.a_name(), |_| {});
    let mut b: MmsgLink = contract::open(&w.b, w.veth.b_name(), |c| c.rx_batch = 4);
    assert!(
        b.rx_maybe_pending(),
        "nothing is known before the first receive"
    );
    // One frame: the batch of 4 comes back with 1.
    let f = support::frame(a.mac().octets(), &[], 100, 1);
    support::send_all(&mut a, std::slice::from_ref(&f));
    assert_eq!(support::recv_n(&mut b, 1)[0].0, f);
    assert!(!b.rx_maybe_pending(), "a short batch drained the socket");
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending(), "an empty receive drained it too");
    // Ten frames, taken in batches of at most 4: a batch's frames are pending until handed
    // out, and once all arrived the link ends drained.
    let frames: Vec<Vec<u8>> = (0..10)
        .map(|i| support::frame(a.mac().octets(), &[], 100, 10 + i))
        .collect();
    support::send_all(&mut a, &frames);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = 0;
    while got < frames.len() {
        let data = b
            .receive(support::now())
            .unwrap()
            .map(|rx| rx.data().to_vec());
        match data {
            Some(d) => {
                assert_eq!(d, frames[got], "frame {got}");
                got += 1;
            }
            None => {
                assert!(!b.rx_maybe_pending(), "nothing received, so drained");
                assert!(
                    std::time::Instant::now() < deadline,
                    "got {got} of 10 frames"
                );
                support::Waitable::wait(&b, std::time::Duration::from_millis(50));
            }
        }
    }
    assert!(b.receive(support::now()).unwrap().is_none());
    assert!(!b.rx_maybe_pending());
}

/// The io_uring sleeper: a sleep ends on its timeout, on a byte written to its wake-up socket,
/// and on a frame, which it receives for the link's next receive (tag, bytes, and order with
/// frames still queued behind it intact); a second sleep before the frame was taken is refused,
/// and nothing leaks.
#[test]
fn sleeper_receives_wakes_and_times_out() {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    use std::time::{Duration, Instant};

    use l2net_core::{RawLink, RxFrame};
    if !l2net_linux::netns::require_privileges("sleeper_receives_wakes_and_times_out") {
        return;
    }
    let _serial = support::serial();
    let fds = support::open_fds();
    {
        let w = support::Wire::new("sl", 1500);
        let mut a: MmsgLink = contract::open(&w.a, w.veth.a_name(), |_| {});
        let mut b: MmsgLink = contract::open(&w.b, w.veth.b_name(), |_| {});
        let sleeper = match b.sleeper() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping: this kernel has no io_uring sleeper ({e})");
                return;
            }
        };
        // Timeout, nothing arrived.
        let t0 = Instant::now();
        let s = sleeper.sleep(Some(Duration::from_millis(20))).unwrap();
        assert!(!s.frame && !s.woken, "{s:?}");
        assert!(t0.elapsed() >= Duration::from_millis(20));
        assert!(!sleeper.has_frame());

        // A byte on the wake-up socket (borrowed, not closed: ManuallyDrop).
        let mut wake = std::mem::ManuallyDrop::new(unsafe {
            std::os::unix::net::UnixStream::from_raw_fd(sleeper.wake_fd())
        });
        std::thread::scope(|sc| {
            sc.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                wake.write_all(&[1]).unwrap();
            });
            let s = sleeper.sleep(Some(Duration::from_secs(10))).unwrap();
            assert!(s.woken && !s.frame, "{s:?}");
        });

        // A tagged frame sent while the sleeper sleeps (from another thread).
        let tags = [(0x8100, 5, false, 42)];
        let f = support::frame(a.mac().octets(), &tags, 200, 1);
        let s = std::thread::scope(|sc| {
            let h = sc.spawn(|| sleeper.sleep(None));
            std::thread::sleep(Duration::from_millis(30));
            support::send_all(&mut a, std::slice::from_ref(&f));
            h.join().unwrap().unwrap()
        });
        assert!(s.frame, "{s:?}");
        assert!(sleeper.has_frame() && b.rx_maybe_pending());
        // Not taken yet: a second sleep is refused rather than overwriting it.
        let busy = sleeper.sleep(Some(Duration::from_millis(1))).unwrap_err();
        assert_eq!(busy.raw_os_error(), Some(libc::EBUSY));
        let got = b
            .receive(support::now())
            .unwrap()
            .map(|rx| (rx.data().to_vec(), rx.meta()))
            .expect("the sleeper's frame");
        support::check(std::slice::from_ref(&f), &tags, &[got]);
        assert!(!sleeper.has_frame());
        assert!(b.receive(support::now()).unwrap().is_none());

        // Frames queued before the sleep: it ends at once with the first, and the link hands
        // it out before the rest, which follow in order.
        let frames: Vec<Vec<u8>> = (0..5)
            .map(|i| support::frame(a.mac().octets(), &[], 100, 20 + i))
            .collect();
        support::send_all(&mut a, &frames);
        std::thread::sleep(Duration::from_millis(20));
        let s = sleeper.sleep(Some(Duration::from_secs(10))).unwrap();
        assert!(s.frame, "{s:?}");
        let got = support::recv_n(&mut b, frames.len());
        support::check(&frames, &[], &got);
        drop(sleeper);
    }
    support::assert_no_fd_leak(fds);
}
