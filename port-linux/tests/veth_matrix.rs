//! Every transmit backend against every receive backend over a veth pair with a 9000-byte MTU:
//! frames from 64 bytes to jumbo, untagged, with one tag and with two; every frame counted and
//! every byte checked.

mod support;

use l2net_linux::netns::require_privileges;
use l2net_linux::{Backend, LinuxLink};
use support::{Tag, check, contract, frame, recv_n, send_all};

const MTU: usize = 9000;

#[test]
fn every_backend_pair_carries_every_size_and_tag_stack() {
    if !require_privileges("every_backend_pair_carries_every_size_and_tag_stack") {
        return;
    }
    let _serial = support::serial();
    let w = support::Wire::new("mx", MTU as u32);
    let tag_stacks: [&[Tag]; 3] = [
        &[],
        &[(0x8100, 5, false, 1234)],
        &[(0x88A8, 3, true, 100), (0x8100, 7, false, 4094)],
    ];
    let mut total = 0u64;
    for tx_backend in Backend::CONCRETE {
        for rx_backend in Backend::CONCRETE {
            let mut tx: LinuxLink = contract::open(&w.a, w.veth.a_name(), |c| {
                c.backend = tx_backend;
                c.sndbuf = Some(4 << 20);
            });
            let mut rx: LinuxLink =
                contract::open(&w.b, w.veth.b_name(), |c| c.backend = rx_backend);
            assert_eq!((tx.backend(), rx.backend()), (tx_backend, rx_backend));
            let mut frames = 0u64;
            for (t, tags) in tag_stacks.iter().enumerate() {
                // Whole-frame sizes from the 64-byte minimum to the largest this stack allows.
                let max_len = 14 + MTU + if tags.len() == 1 { 4 } else { 0 };
                let head = 14 + 4 * tags.len();
                for (s, len) in [64, 65, 128, 1514, 1518, 4096, 8999, max_len]
                    .into_iter()
                    .filter(|&l| l <= max_len)
                    .enumerate()
                {
                    let seed = (t * 1000 + s * 10) as u32;
                    let sent: Vec<Vec<u8>> = (0..8)
                        .map(|i| frame(tx.interface().mac.octets(), tags, len - head, seed + i))
                        .collect();
                    assert!(sent.iter().all(|f| f.len() == len));
                    send_all(&mut tx, &sent);
                    let got = recv_n(&mut rx, sent.len());
                    check(&sent, tags, &got);
                    frames += sent.len() as u64;
                }
            }
            support::assert_silent(&mut rx, std::time::Duration::from_millis(5));
            let tx_stats = tx.stats().unwrap();
            let rx_stats = rx.stats().unwrap();
            assert_eq!(
                tx_stats.tx_frames, frames,
                "{tx_backend} -> {rx_backend}: sent"
            );
            assert_eq!(
                rx_stats.rx_frames, frames,
                "{tx_backend} -> {rx_backend}: received"
            );
            assert_eq!(
                rx_stats.kernel_drops, 0,
                "{tx_backend} -> {rx_backend}: drops"
            );
            total += frames;
        }
    }
    // 25 pairs x 3 tag stacks x 8 sizes x 8 frames.
    assert_eq!(total, 25 * 3 * 8 * 8);
}
