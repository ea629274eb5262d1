//! Helpers shared by the privileged integration tests.
#![allow(dead_code)]

pub mod contract;

/// Number of open descriptors of this process. Tests in one binary run in parallel, so compare
/// only within a test that holds [`serial`].
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Assert that the process has no more descriptors open than `before`. Other tests of the same
/// binary run in parallel and open descriptors of their own for a moment, so the count is given
/// up to 5 s to settle; a real leak stays and fails.
pub fn assert_no_fd_leak(before: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = open_fds();
        if now <= before {
            return;
        }
        if std::time::Instant::now() >= deadline {
            panic!("descriptor leak: {now} open, {before} before");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Serialise the tests of one binary that count descriptors or need quiet interfaces.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

use std::time::{Duration, Instant as StdInstant};

use l2net_core::{Instant, RawLink, RxFrame, RxMeta, TxToken};
use l2net_linux::netns::{Netns, VethPair};

/// Two namespaces joined by a veth pair.
pub struct Wire {
    /// The veth pair (dropped first).
    pub veth: VethPair,
    /// Namespace of end `a`.
    pub a: Netns,
    /// Namespace of end `b`.
    pub b: Netns,
}

impl Wire {
    /// Make the namespaces and the pair, with `mtu` on both ends.
    pub fn new(tag: &str, mtu: u32) -> Wire {
        let a = Netns::new(&format!("{tag}a")).expect("namespace a");
        let b = Netns::new(&format!("{tag}b")).expect("namespace b");
        let veth = VethPair::new(&a, &b).expect("veth pair");
        if mtu != 1500 {
            veth.set_mtu(mtu).expect("set MTU");
        }
        Wire { veth, a, b }
    }
}

/// A link the tests can sleep on.
pub trait Waitable: RawLink {
    /// Sleep until readable or timeout.
    fn wait(&self, timeout: Duration) -> bool;
}

macro_rules! backend {
    ($t:ty) => {
        backend!($t, |cfg| <$t>::open(cfg));
    };
    ($t:ty, $open:expr) => {
        impl Waitable for $t {
            fn wait(&self, timeout: Duration) -> bool {
                self.wait_readable(Some(timeout)).expect("poll")
            }
        }
        impl contract::TestBackend for $t {
            fn open_link(cfg: &l2net_linux::LinkConfig) -> Result<Self, l2net_linux::OpenError> {
                let open: fn(&l2net_linux::LinkConfig) -> Result<Self, l2net_linux::OpenError> =
                    $open;
                open(cfg)
            }
            fn link_stats(&mut self) -> l2net_linux::LinkStats {
                self.stats().expect("stats")
            }
        }
    };
}

backend!(l2net_linux::PlainLink);
backend!(l2net_linux::MmsgLink);
backend!(l2net_linux::RingLink);
backend!(l2net_linux::FrameRingLink);
backend!(l2net_linux::LinuxLink, |cfg| {
    l2net_linux::LinuxLink::open(cfg).map(|(link, _)| link)
});
backend!(l2net_linux::UringLink);

/// `now` for links that ignore it.
pub fn now() -> Instant {
    Instant::from_micros(0)
}

/// A VLAN tag as (TPID, PCP, DEI, VID).
pub type Tag = (u16, u8, bool, u16);

/// Build a frame by hand: dst, src, `tags`, EtherType 0x88B5, then `body_len` bytes derived from
/// `seed` so that every frame's bytes differ.
pub fn frame(src: [u8; 6], tags: &[Tag], body_len: usize, seed: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(18 + 8 + body_len);
    f.extend_from_slice(&[0x02, 0x4c, 0x32, 0xee, 0xee, 0x01]);
    f.extend_from_slice(&src);
    for &(tpid, pcp, dei, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | (vid & 0x0fff);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&0x88B5u16.to_be_bytes());
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for _ in 0..body_len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f
}

/// What the receiver must see for a sent `frame` with `tags`: the kernel strips the outer tag
/// into the metadata and leaves any inner tag in the bytes.
pub fn expected(frame: &[u8], tags: &[Tag]) -> (Vec<u8>, Option<(u16, u16)>) {
    // The link pads short frames to the Ethernet minimum of 60 bytes.
    let mut frame = frame.to_vec();
    if frame.len() < 60 {
        frame.resize(60, 0);
    }
    match tags.first() {
        None => (frame, None),
        Some(&(tpid, pcp, dei, vid)) => {
            let mut v = frame[..12].to_vec();
            v.extend_from_slice(&frame[16..]);
            let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | (vid & 0x0fff);
            (v, Some((tpid, tci)))
        }
    }
}

/// Queue and flush `frames` on `link`, retrying while it pushes back.
pub fn send_all<L: RawLink>(link: &mut L, frames: &[Vec<u8>]) {
    let deadline = StdInstant::now() + Duration::from_secs(10);
    for f in frames {
        loop {
            if let Some(tok) = link.transmit(now(), f.len()).expect("transmit") {
                tok.consume(|buf| buf.copy_from_slice(f));
                break;
            }
            link.flush(now()).expect("flush");
            assert!(StdInstant::now() < deadline, "link never took the frame");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    loop {
        let st = link.flush(now()).expect("flush");
        if st.is_complete() {
            break;
        }
        assert!(StdInstant::now() < deadline, "flush never completed");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Receive `n` frames (or fail after a timeout): bytes and metadata.
pub fn recv_n<L: Waitable>(link: &mut L, n: usize) -> Vec<(Vec<u8>, RxMeta)> {
    let deadline = StdInstant::now() + Duration::from_secs(10);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let got = link
            .receive(now())
            .expect("receive")
            .map(|rx| (rx.data().to_vec(), rx.meta()));
        match got {
            Some(f) => out.push(f),
            None => {
                assert!(
                    StdInstant::now() < deadline,
                    "got {} of {n} frames before the timeout",
                    out.len()
                );
                link.wait(Duration::from_millis(50));
            }
        }
    }
    out
}

/// Assert that nothing more arrives within `quiet`.
pub fn assert_silent<L: Waitable>(link: &mut L, quiet: Duration) {
    let deadline = StdInstant::now() + quiet;
    while StdInstant::now() < deadline {
        let got = link
            .receive(now())
            .expect("receive")
            .map(|rx| rx.data().len());
        if let Some(len) = got {
            panic!("unexpected frame of {len} bytes");
        }
        link.wait(Duration::from_millis(10));
    }
}

/// Check received frames against what was sent with `tags`, byte for byte and in order.
pub fn check(sent: &[Vec<u8>], tags: &[Tag], got: &[(Vec<u8>, RxMeta)]) {
    assert_eq!(sent.len(), got.len());
    for (i, (s, (data, meta))) in sent.iter().zip(got).enumerate() {
        let (want, vlan) = expected(s, tags);
        assert_eq!(data.len(), want.len(), "frame {i}: length");
        assert!(data == &want, "frame {i}: bytes differ");
        assert!(!meta.truncated, "frame {i}: truncated");
        assert_eq!(meta.wire_len, want.len(), "frame {i}: wire_len");
        let got_vlan = meta.stripped_vlan.map(|t| (t.tpid, t.tci.0));
        assert_eq!(got_vlan, vlan, "frame {i}: stripped tag");
    }
}
