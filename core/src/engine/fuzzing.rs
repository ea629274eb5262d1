//! The participant fuzz harness, shared by `fuzz/fuzz_targets/participant.rs` and the replay in
//! `core/tests/engine_fuzz.rs`. Not part of the API.
//!
//! The input is a little program: each step is one opcode byte and its operands. Steps feed the
//! participant raw frames, frames with a valid l2net header from one of four known senders and an
//! arbitrary body, well-formed HELLOs that announce endpoints on our topics (so the data paths
//! are reached), time steps, and application calls; after every step all output is drained. The
//! participant must never panic and its memory is fixed by construction.

use core::time::Duration;

use super::{Config, Participant, Qos};
use crate::link::RxMeta;
use crate::time::Instant;
use crate::wire::msg::{EndpointKind, EndpointRepr, Endpoints, HelloRepr};
use crate::wire::{EntityId, HeaderRepr, MacAddr, MsgKind, ParticipantId};

/// Scratch bytes [`participant`] needs.
pub const SCRATCH: usize = 512 * 1024;

const TOPICS: [&str; 2] = ["t0", "t1"];
const SENDERS: [u64; 4] = [0x11, 0x22, 0x33, 0x44];

struct Input<'d> {
    d: &'d [u8],
}

impl<'d> Input<'d> {
    fn u8(&mut self) -> Option<u8> {
        let (b, rest) = self.d.split_first()?;
        self.d = rest;
        Some(*b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }
    fn bytes(&mut self, n: usize) -> &'d [u8] {
        let n = n.min(self.d.len());
        let (a, b) = self.d.split_at(n);
        self.d = b;
        a
    }
}

fn frame_prefix(
    buf: &mut [u8],
    dst: MacAddr,
    sender_idx: u8,
    kind: MsgKind,
    flags: u8,
    body: usize,
) -> usize {
    buf[0..6].copy_from_slice(&dst.0);
    buf[6..12].copy_from_slice(&[0x02, 0, 0, 0, 9, sender_idx]);
    buf[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
    let Some(sender) = ParticipantId::new(SENDERS[usize::from(sender_idx) % 4]) else {
        return 0;
    };
    let h = HeaderRepr {
        kind,
        flags,
        domain: 0,
        length: u16::try_from(body).unwrap_or(u16::MAX),
        sender,
    };
    let _ = h.emit(&mut buf[14..30]);
    30
}

/// Run one fuzz input against a fresh participant. `scratch` must hold [`SCRATCH`] bytes.
pub fn participant(data: &[u8], scratch: &mut [u8]) {
    if scratch.len() < SCRATCH {
        return;
    }
    let (reasm, rest) = scratch.split_at_mut(128 * 1024);
    let (h0, rest) = rest.split_at_mut(64 * 1024);
    let (h1, rest) = rest.split_at_mut(64 * 1024);
    let (q0, rest) = rest.split_at_mut(64 * 1024);
    let (q1, rest) = rest.split_at_mut(64 * 1024);
    let (frame, rest) = rest.split_at_mut(4096);
    let (take, _) = rest.split_at_mut(70 * 1024);

    let mut cfg = Config::new(0, "fuzz");
    cfg.max_sample_len = 100 * 1024;
    cfg.heartbeat_period = Duration::from_millis(5);
    let Ok(mut p) = Participant::<'_, 4, 8, 2, 2, 8, 4, 4>::new(
        cfg,
        0x99,
        MacAddr([0x02, 0, 0, 0, 0, 0x99]),
        reasm,
        Instant::ZERO,
    ) else {
        return;
    };
    let mut now = Instant::from_millis(1);
    let w0 = p
        .create_writer(TOPICS[0], "T", None, Qos::reliable(4), h0)
        .ok();
    let w1 = p
        .create_writer(TOPICS[1], "T", None, Qos::BEST_EFFORT, h1)
        .ok();
    let r0 = p
        .create_reader(TOPICS[0], "T", None, Qos::reliable(4), q0)
        .ok();
    let r1 = p
        .create_reader(TOPICS[1], "T", None, Qos::BEST_EFFORT, q1)
        .ok();
    let me = p.mac();
    let mut input = Input { d: data };
    let mut steps = 0;
    while let Some(op) = input.u8() {
        steps += 1;
        if steps > 4096 {
            break;
        }
        match op % 6 {
            0 => {
                let ms = input.u16().unwrap_or(0) % 2000;
                now += Duration::from_millis(u64::from(ms));
            }
            1 => {
                let n = usize::from(input.u16().unwrap_or(0)) % 1600;
                let f = input.bytes(n);
                p.handle_frame(f, RxMeta::new(f.len()), now);
            }
            2 => {
                // A valid header from a known sender, arbitrary body.
                let (Some(s), Some(k)) = (input.u8(), input.u8()) else {
                    break;
                };
                let kind = MsgKind::ALL[usize::from(k) % MsgKind::ALL.len()];
                let n = usize::from(input.u16().unwrap_or(0)) % 1400;
                let body = input.bytes(n);
                let dst = if s & 0x80 != 0 { me } else { p.discovery_mac() };
                let at = frame_prefix(frame, dst, s & 3, kind, s >> 4 & 7, body.len());
                if at == 0 {
                    continue;
                }
                frame[at..at + body.len()].copy_from_slice(body);
                let len = at + body.len();
                p.handle_frame(&frame[..len], RxMeta::new(len), now);
            }
            3 => {
                // A well-formed HELLO announcing endpoints on our topics.
                let Some(s) = input.u8() else { break };
                let eps = [EndpointRepr {
                    entity: EntityId(u32::from(s & 0x0f)),
                    kind: if s & 0x10 != 0 {
                        EndpointKind::Publisher
                    } else {
                        EndpointKind::Subscriber
                    },
                    qos: super::rx::qos_to_wire(&if s & 0x20 != 0 {
                        Qos::reliable(4)
                    } else {
                        Qos::BEST_EFFORT
                    }),
                    topic: TOPICS[usize::from(s >> 6 & 1)],
                    type_name: "T",
                    type_hash: None,
                }];
                let hello = HelloRepr {
                    reply_requested: s & 0x80 != 0,
                    lease_ms: 1000,
                    graph_epoch: u32::from(s >> 6),
                    first_endpoint_index: 0,
                    total_endpoints: 1,
                    name: "peer",
                    endpoints: Endpoints::List(&eps),
                };
                let body = hello.buffer_len();
                let at = frame_prefix(
                    frame,
                    p.discovery_mac(),
                    s & 3,
                    MsgKind::Hello,
                    hello.flags(),
                    body,
                );
                if at > 0 && hello.emit(&mut frame[at..at + body]).is_ok() {
                    p.handle_frame(&frame[..at + body], RxMeta::new(at + body), now);
                }
            }
            4 => {
                let n = usize::from(input.u16().unwrap_or(0)) % (6 * 1024);
                let fill = input.u8().unwrap_or(0);
                let w = if n % 2 == 0 { w0 } else { w1 };
                if let Some(w) = w {
                    let _ = p.write_with(w, n, now, |b| b.fill(fill));
                }
            }
            _ => {
                for r in [r0, r1].into_iter().flatten() {
                    while let Ok(Some(_)) = p.take(r, take) {}
                }
                if op == 0xff {
                    p.close(now);
                }
            }
        }
        // Drain all output, as a driver would.
        while p.poll_event().is_some() {}
        while p.poll_link_op().is_some() {}
        let mut sent = 0;
        while let Some(len) = p.poll_transmit(now) {
            sent += 1;
            if len > frame.len() || sent > 256 {
                p.abandon_transmit();
                if sent > 256 {
                    break;
                }
                continue;
            }
            let _ = p.write_transmit(&mut frame[..len]);
        }
        p.handle_timeout(now);
        let _ = p.poll_timeout();
    }
}
