//! The BPF link against the real kernel path, on a virtual Ethernet pair the test makes and
//! removes itself: `epair` on FreeBSD, a `feth` pair on macOS. NetBSD and OpenBSD have no pair
//! device; the exchange test skips there (the error-path tests still run).
//!
//! Needs root; without it the privileged tests skip with a message, unless
//! `L2NET_REQUIRE_PRIVILEGED=1`, which turns a skip into a failure.
#![cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant as StdInstant};

use l2net_bsd::{BpfLink, OpenError};
use l2net_core::link::{RawLink, RxFrame, TxToken};
use l2net_core::{Instant, MacAddr};

fn privileged(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let msg = format!("{test}: skipped, needs root (creates interfaces, opens /dev/bpf)");
    if std::env::var("L2NET_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{msg}, and L2NET_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("{msg}");
    false
}

fn ifconfig(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ifconfig")
        .args(args)
        .output()
        .map_err(|e| format!("ifconfig {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ifconfig {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A pair of connected virtual Ethernet interfaces, destroyed on drop.
struct Pair {
    a: String,
    b: String,
}

impl Pair {
    fn create() -> Option<Pair> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        if cfg!(target_os = "freebsd") {
            let a = ifconfig(&["epair", "create"]).expect("ifconfig epair create");
            let b = format!("{}b", a.trim_end_matches('a'));
            let pair = Pair { a, b };
            ifconfig(&[&pair.a, "up"]).expect("epair a up");
            ifconfig(&[&pair.b, "up"]).expect("epair b up");
            Some(pair)
        } else if cfg!(target_os = "macos") {
            // feth units from the process id and a counter, so parallel runs do not collide.
            let unit = 1000 + (std::process::id() % 4000) * 2 + n * 8000;
            let pair = Pair {
                a: format!("feth{unit}"),
                b: format!("feth{}", unit + 1),
            };
            ifconfig(&[&pair.a, "create"]).expect("feth create");
            ifconfig(&[&pair.b, "create"]).expect("feth create");
            ifconfig(&[&pair.a, "peer", &pair.b]).expect("feth peer");
            ifconfig(&[&pair.a, "up"]).expect("feth up");
            ifconfig(&[&pair.b, "up"]).expect("feth up");
            Some(pair)
        } else {
            None
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = ifconfig(&[&self.a, "destroy"]);
        if cfg!(target_os = "macos") {
            let _ = ifconfig(&[&self.b, "destroy"]);
        }
    }
}

fn now() -> Instant {
    Instant::ZERO
}

fn send(link: &mut BpfLink, frame: &[u8]) {
    let tok = link
        .transmit(now(), frame.len())
        .expect("transmit")
        .expect("a free slot");
    tok.consume(|b| b.copy_from_slice(frame));
    let st = link.flush(now()).expect("flush");
    assert_eq!(st.pending, 0);
}

fn frame(dst: MacAddr, src: MacAddr, ethertype: u16, tag: Option<u16>, fill: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&src.octets());
    if let Some(tci) = tag {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend(std::iter::repeat_n(fill, 80));
    f
}

/// Everything that arrives within `wait`, as (bytes, wire_len, has_timestamp, stripped tag).
fn drain(link: &mut BpfLink, wait: Duration) -> Vec<(Vec<u8>, usize, bool, bool)> {
    let mut got = Vec::new();
    let deadline = StdInstant::now() + wait;
    while StdInstant::now() < deadline {
        match link.receive(now()).expect("receive") {
            Some(rx) => {
                let m = rx.meta();
                got.push((
                    rx.data().to_vec(),
                    m.wire_len,
                    m.timestamp.is_some(),
                    m.stripped_vlan.is_some(),
                ));
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    got
}

#[test]
fn bad_names_and_missing_interfaces_are_clear_errors() {
    assert!(matches!(BpfLink::open(""), Err(OpenError::InvalidName(_))));
    assert!(matches!(
        BpfLink::open("a-name-far-too-long"),
        Err(OpenError::InvalidName(_))
    ));
    let missing = format!("l2nx{}", std::process::id() % 100_000);
    match BpfLink::open(&missing) {
        Err(OpenError::NoSuchInterface { name }) => assert_eq!(name.as_str(), missing),
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
}

#[test]
fn loopback_is_refused_as_not_ethernet() {
    match BpfLink::open("lo0") {
        Err(OpenError::NotEthernet { dlt, .. }) => assert_ne!(dlt, 1),
        // Without access to /dev/bpf the permission error comes first, with its fix.
        Err(e @ OpenError::PermissionDenied { .. }) => {
            assert!(e.to_string().contains("/dev/bpf"));
            let _ = privileged("loopback_is_refused_as_not_ethernet");
        }
        other => panic!("expected NotEthernet, got {other:?}"),
    }
}

#[test]
fn frames_cross_a_virtual_pair_with_metadata_and_filtering() {
    if !privileged("frames_cross_a_virtual_pair_with_metadata_and_filtering") {
        return;
    }
    let Some(pair) = Pair::create() else {
        let msg = "exchange test: no virtual Ethernet pair device on this system";
        if std::env::var("L2NET_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("{msg}; skipped");
        return;
    };
    let mut a = BpfLink::open(&pair.a).expect("open a");
    let mut b = BpfLink::open(&pair.b).expect("open b");
    assert!(a.capabilities().timestamps.rx_software);
    assert!(!a.capabilities().vlan.rx_strip);

    let group = MacAddr([0x03, 0x4c, 0x32, 0x00, 0x00, 0x2a]);
    let other_group = MacAddr([0x03, 0x4c, 0x32, 0x00, 0x00, 0x2b]);
    b.join_multicast(group).expect("join");
    b.join_multicast(group).expect("joining twice is a no-op");
    assert_eq!(b.multicast_groups().count(), 1);

    let to_b = frame(b.mac(), a.mac(), 0x88b5, None, 1);
    let to_group = frame(group, a.mac(), 0x88b5, None, 2);
    let tagged = frame(b.mac(), a.mac(), 0x88b5, Some(0x2064), 3);
    let short = frame(b.mac(), a.mac(), 0x88b5, None, 4)[..20].to_vec();
    let not_joined = frame(other_group, a.mac(), 0x88b5, None, 5);
    let not_l2net = frame(b.mac(), a.mac(), 0x0800, None, 6);
    for f in [&to_b, &not_joined, &to_group, &not_l2net, &tagged, &short] {
        send(&mut a, f);
    }

    let got = drain(&mut b, Duration::from_millis(500));
    let bytes: Vec<&[u8]> = got.iter().map(|g| &g.0[..]).collect();
    let mut short_padded = short.clone();
    short_padded.resize(60, 0);
    assert_eq!(
        bytes,
        vec![&to_b[..], &to_group[..], &tagged[..], &short_padded[..]],
        "exactly the l2net frames for b and its group, in order, tags in-band, short ones padded"
    );
    for (data, wire_len, stamped, stripped) in &got {
        assert_eq!(*wire_len, data.len());
        assert!(stamped, "software timestamp from the BPF header");
        assert!(!stripped, "tags stay in the bytes on BPF");
    }
    assert!(
        drain(&mut a, Duration::from_millis(50)).is_empty(),
        "a does not capture its own transmissions"
    );

    b.leave_multicast(group).expect("leave");
    assert_eq!(b.multicast_groups().count(), 0);
    send(&mut a, &to_group);
    assert!(
        drain(&mut b, Duration::from_millis(200)).is_empty(),
        "after leaving, the group's frames are filtered out"
    );

    let rx = b.rx_stats();
    assert_eq!(rx.corrupt_reads, 0);
    assert!(rx.frames >= 4);
    assert!(a.tx_stats().frames >= 7);
    let k = b.kernel_stats().expect("BIOCGSTATS");
    assert!(k.received >= 4);
    assert_eq!(k.dropped, 0);
}
