//! The rings' shrink-on-`ENOMEM` (the ring and the frame ring), end to end against the real
//! kernel.
//!
//! What can make the kernel refuse a ring of a size `LinkConfig::ring_memory` allows (at most
//! 1 GiB)? Not `PACKET_RX_RING` itself on this machine: it allocates the blocks with
//! `GFP_KERNEL` pages or `vzalloc`, neither charged to the memory cgroup nor bound by
//! `RLIMIT_MEMLOCK`, so it only fails when the machine is out of memory (and a block count the
//! kernel cannot index gives `EINVAL`, which the geometry never produces). The `mmap` of the
//! rings, though, counts against the process's address-space limit (`RLIMIT_AS`) and fails with
//! `ENOMEM` beyond it. This test lowers that limit just above what the process already uses and
//! checks that the link halves its blocks until the mapping fits, works, and, with no room even
//! for the smallest ring, fails with the kernel's `ENOMEM`.
//!
//! `RLIMIT_AS` is per process, so this file holds a single test: its binary runs nothing else
//! while the limit is lowered.

mod support;

use l2net_core::RawLink;
use l2net_linux::netns::require_privileges;
use l2net_linux::{FrameRingLink, LinkConfig, OpenError, PlainLink, RingLink};

/// The process's mapped address space in bytes (`VmSize`).
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kib * 1024
}

fn get_as_limit() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`, which lives across the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    lim
}

fn set_as_limit(lim: libc::rlimit) {
    // SAFETY: setrlimit reads one rlimit from `lim`, which lives across the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Run `f` with the address space limited to what is mapped now plus `room` bytes, then
/// restore the limit (lowering only the soft limit, so it can be raised back).
fn with_room<R>(room: u64, f: impl FnOnce() -> R) -> R {
    let old = get_as_limit();
    let now = vm_size();
    set_as_limit(libc::rlimit {
        rlim_cur: now + room,
        rlim_max: old.rlim_max,
    });
    let r = f();
    set_as_limit(old);
    r
}

#[test]
fn ring_shrinks_until_the_kernel_maps_it_and_reports_enomem_below_the_smallest() {
    if !require_privileges("ring_shrinks_until_the_kernel_maps_it") {
        return;
    }
    let w = support::Wire::new("em", 1500);
    let name = w.veth.b_name().to_owned();
    let mut cfg = LinkConfig::new(&name);
    cfg.ring_memory = 128 << 20;

    // Unlimited: the whole 128 MiB.
    let full = w.b.run(|| RingLink::open(&cfg)).unwrap().expect("open");
    assert_eq!(full.rx_ring_bytes() + full.tx_ring_bytes(), 128 << 20);
    drop(full);

    // 24 MiB of address space left: 128 -> 64 -> 32 -> 16 MiB.
    let mut ring =
        w.b.run(|| with_room(24 << 20, || RingLink::open(&cfg)))
            .unwrap()
            .expect("the shrunk ring opens");
    let total = ring.rx_ring_bytes() + ring.tx_ring_bytes();
    assert_eq!(total, 16 << 20, "halved until it fit");

    // And it works: frames from a plain link on the other end arrive through the shrunk ring.
    let mut tx =
        w.a.run(|| PlainLink::open(&LinkConfig::new(w.veth.a_name())))
            .unwrap()
            .expect("open sender");
    let sent: Vec<Vec<u8>> = (0..50)
        .map(|i| support::frame(tx.mac().octets(), &[], 500, i))
        .collect();
    support::send_all(&mut tx, &sent);
    let got = support::recv_n(&mut ring, sent.len());
    support::check(&sent, &[], &got);

    // No room even for the smallest ring: the kernel's ENOMEM from the mmap, not a panic.
    let r =
        w.b.run(|| with_room(64 << 10, || RingLink::open(&cfg).map(|_| ())))
            .unwrap();
    assert_eq!(
        r,
        Err(OpenError::OptionRefused {
            option: "mmap",
            errno: libc::ENOMEM
        })
    );

    // The limit is back: a full-size ring opens again.
    let again = w.b.run(|| RingLink::open(&cfg)).unwrap().expect("open");
    assert_eq!(again.rx_ring_bytes() + again.tx_ring_bytes(), 128 << 20);
    drop(again);
    drop(ring);

    // The frame ring (all of ring_memory receives) shrinks the same way.
    let full =
        w.b.run(|| FrameRingLink::open(&cfg))
            .unwrap()
            .expect("open");
    assert_eq!(full.rx_ring_bytes(), 128 << 20);
    drop(full);
    let mut fring =
        w.b.run(|| with_room(24 << 20, || FrameRingLink::open(&cfg)))
            .unwrap()
            .expect("the shrunk frame ring opens");
    assert_eq!(fring.rx_ring_bytes(), 16 << 20, "halved until it fit");
    let sent: Vec<Vec<u8>> = (0..50)
        .map(|i| support::frame(tx.mac().octets(), &[], 500, 100 + i))
        .collect();
    support::send_all(&mut tx, &sent);
    let got = support::recv_n(&mut fring, sent.len());
    support::check(&sent, &[], &got);
    drop(fring);
    // Its smallest ring is one 64 KiB block.
    let r =
        w.b.run(|| with_room(32 << 10, || FrameRingLink::open(&cfg).map(|_| ())))
            .unwrap();
    assert_eq!(
        r,
        Err(OpenError::OptionRefused {
            option: "mmap",
            errno: libc::ENOMEM
        })
    );
}
