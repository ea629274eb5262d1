//! Property tests: every repr emits into exactly `buffer_len()` bytes and parses back equal.

extern crate std;

use std::string::String;
use std::vec::Vec;

use proptest::collection::vec;
use proptest::prelude::*;

use super::frame::{FrameRepr, Messages, emit_message, parse_frame};
use super::header::HeaderRepr;
use super::msg::*;
use super::vlan::{TPID_8021AD, TPID_8021Q};
use super::{EntityId, MacAddr, MsgKind, ParticipantId, TagStack, Tci, VlanTag};

fn pid() -> impl Strategy<Value = ParticipantId> {
    (1..=u64::MAX).prop_map(|v| ParticipantId::new(v).unwrap())
}

fn kind() -> impl Strategy<Value = MsgKind> {
    prop::sample::select(MsgKind::ALL.to_vec())
}

fn tag() -> impl Strategy<Value = VlanTag> {
    (
        prop::sample::select(std::vec![TPID_8021Q, TPID_8021AD]),
        any::<u16>(),
    )
        .prop_map(|(tpid, tci)| VlanTag {
            tpid,
            tci: Tci(tci),
        })
}

fn tags() -> impl Strategy<Value = TagStack> {
    vec(tag(), 0..=2).prop_map(|t| TagStack::from_slice(&t).unwrap())
}

fn related() -> impl Strategy<Value = Option<RelatedSample>> {
    prop::option::of(
        (pid(), any::<u32>(), 1..=u64::MAX).prop_map(|(p, e, s)| RelatedSample {
            participant: p,
            entity: EntityId(e),
            seq: s,
        }),
    )
}

fn qos() -> impl Strategy<Value = Qos> {
    (
        any::<[bool; 4]>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        // Often the default (no extension record), sometimes a lease.
        prop::option::of(any::<u32>()),
    )
        .prop_map(
            |(
                [reliable, transient_local, keep_all, liveliness_manual],
                history_depth,
                deadline_ms,
                lifespan_ms,
                lease,
            )| Qos {
                reliable,
                transient_local,
                keep_all,
                history_depth,
                deadline_ms,
                lifespan_ms,
                liveliness_manual,
                liveliness_lease_ms: lease.unwrap_or(0),
            },
        )
}

/// Owned endpoint data; `EndpointRepr` borrows from it.
#[derive(Debug, Clone)]
struct OwnedEndpoint {
    entity: u32,
    kind: u8,
    qos: Qos,
    topic: String,
    type_name: String,
    hash: Option<[u8; 32]>,
}

fn endpoint() -> impl Strategy<Value = OwnedEndpoint> {
    (
        any::<u32>(),
        0u8..4,
        qos(),
        "\\PC{0,40}",
        "[a-z_/]{0,60}",
        prop::option::of(any::<[u8; 32]>()),
    )
        .prop_map(
            |(entity, kind, qos, topic, type_name, hash)| OwnedEndpoint {
                entity,
                kind,
                qos,
                topic,
                type_name,
                hash,
            },
        )
}

impl OwnedEndpoint {
    fn repr(&self) -> EndpointRepr<'_> {
        EndpointRepr {
            entity: EntityId(self.entity),
            kind: EndpointKind::from_u8(self.kind).unwrap(),
            qos: self.qos,
            topic: &self.topic,
            type_name: &self.type_name,
            type_hash: self.hash.as_ref(),
        }
    }
}

/// Emit `m` into exactly `buffer_len()` bytes and parse it back.
fn round_trip(m: &MessageRepr<'_>) -> Result<(), TestCaseError> {
    let mut buf = std::vec![0u8; m.buffer_len()];
    let n = m
        .emit(&mut buf)
        .map_err(|e| TestCaseError::fail(std::format!("{e}")))?;
    prop_assert_eq!(n, buf.len());
    let back = MessageRepr::parse(m.kind(), m.flags(), &buf);
    prop_assert_eq!(back, Ok(*m));
    Ok(())
}

proptest! {
    #[test]
    fn header_round_trips(kind in kind(), flags: u8, domain: u16, length: u16, sender in pid()) {
        let h = HeaderRepr { kind, flags, domain, length, sender };
        let mut b = [0u8; 16];
        h.emit(&mut b).unwrap();
        prop_assert_eq!(HeaderRepr::parse_bytes(&b), Ok(h));
    }

    #[test]
    fn tag_stacks_round_trip(stack in tags(), ethertype in 0u16..0x8000) {
        let mut b = [0u8; 10];
        let n = stack.emit(ethertype, &mut b).unwrap();
        prop_assert_eq!(TagStack::parse(&b[..n]), Ok((stack, ethertype, n)));
    }

    #[test]
    fn hello_round_trips(
        reply: bool, lease: u32, epoch: u32, first in 0u16..100, extra in 0u16..100,
        name in "\\PC{0,15}", eps in vec(endpoint(), 0..6),
    ) {
        prop_assume!(name.len() <= MAX_NAME_LEN);
        let reprs: Vec<EndpointRepr<'_>> = eps.iter().map(OwnedEndpoint::repr).collect();
        let h = HelloRepr {
            reply_requested: reply,
            lease_ms: lease,
            graph_epoch: epoch,
            first_endpoint_index: first,
            total_endpoints: first + reprs.len() as u16 + extra,
            name: &name,
            endpoints: Endpoints::List(&reprs),
        };
        round_trip(&MessageRepr::Hello(h))?;
    }

    #[test]
    fn data_round_trips(
        writer: u32, seq in 1..=u64::MAX, ts: u64, related in related(),
        payload in vec(any::<u8>(), 0..300),
    ) {
        round_trip(&MessageRepr::Data(DataRepr {
            writer: EntityId(writer), seq, source_timestamp_ns: ts, related, payload: &payload,
        }))?;
    }

    #[test]
    fn data_frag_round_trips(
        sample_len in 1u32..5000, frag_size in 1u16..700, pick: u32, seq in 1..=u64::MAX,
        related in related(),
    ) {
        let layout = FragLayout::new(sample_len, frag_size).unwrap();
        let sample: Vec<u8> = (0..sample_len).map(|i| i as u8).collect();
        // Every fragment of the sample has the right length, and they tile it.
        let mut total = 0u64;
        for i in 0..layout.frag_count {
            prop_assert_eq!(layout.offset(i), total);
            total += layout.frag_len(i).unwrap() as u64;
        }
        prop_assert_eq!(total, u64::from(sample_len));
        let index = pick % layout.frag_count;
        let start = layout.offset(index) as usize;
        let frag = &sample[start..start + layout.frag_len(index).unwrap()];
        round_trip(&MessageRepr::DataFrag(DataFragRepr {
            writer: EntityId(7), seq, source_timestamp_ns: 0, related, layout,
            frag_index: index, fragment: frag,
        }))?;
    }

    #[test]
    fn batch_round_trips(
        first in 1u64..u64::MAX / 2, ts: u64, samples in vec(vec(any::<u8>(), 0..40), 0..20),
    ) {
        let slices: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let b = BatchRepr {
            writer: EntityId(1), first_seq: first, source_timestamp_ns: ts,
            samples: Samples::List(&slices),
        };
        round_trip(&MessageRepr::Batch(b))?;
        let pairs: Vec<(u64, &[u8])> = b.iter().collect();
        for (i, (seq, s)) in pairs.iter().enumerate() {
            prop_assert_eq!(*seq, first + i as u64);
            prop_assert_eq!(*s, slices[i]);
        }
    }

    #[test]
    fn heartbeat_round_trips(
        fin: bool, live: bool, writer: u32, first in 1..=u64::MAX, len: u64, count: u32,
        reader: Option<u32>,
    ) {
        let last = (first - 1).saturating_add(len % 1000);
        round_trip(&MessageRepr::Heartbeat(HeartbeatRepr {
            is_final: fin, liveliness: live, writer: EntityId(writer),
            first_seq: first, last_seq: last, count, reader: reader.map(EntityId),
        }))?;
    }

    #[test]
    fn acknack_round_trips(
        fin: bool, room: bool, wp in pid(), base in 1u64..u64::MAX - 256, bits in 0u16..=256,
        offsets in vec(0u16..256, 0..40), count: u32,
    ) {
        let mut missing = SeqSet::new(base, bits).unwrap();
        for &o in &offsets {
            prop_assert_eq!(missing.insert(base + u64::from(o)), o < bits);
        }
        let mut want: Vec<u64> = offsets.iter().filter(|&&o| o < bits).map(|&o| base + u64::from(o)).collect();
        want.sort_unstable();
        want.dedup();
        prop_assert_eq!(missing.iter().collect::<Vec<_>>(), want.clone());
        prop_assert_eq!(missing.len(), want.len());
        round_trip(&MessageRepr::AckNack(AckNackRepr {
            is_final: fin, room, writer_participant: wp, writer: EntityId(1), reader: EntityId(2),
            count, missing,
        }))?;
    }

    #[test]
    fn nack_frag_round_trips(
        wp in pid(), seq in 1..=u64::MAX, base in 0u32..u32::MAX - 256, bits in 0u16..=256,
        offsets in vec(0u16..256, 0..40),
    ) {
        let mut missing = SeqSet::new(u64::from(base), bits).unwrap();
        for &o in &offsets {
            missing.insert(u64::from(base) + u64::from(o));
        }
        round_trip(&MessageRepr::NackFrag(NackFragRepr {
            writer_participant: wp, writer: EntityId(1), reader: EntityId(2), seq, count: 3,
            missing,
        }))?;
    }

    #[test]
    fn frames_round_trip(
        dst: [u8; 6], src: [u8; 6], tags in tags(), domain: u16, sender in pid(),
        seq in 1..=u64::MAX, payload in vec(any::<u8>(), 0..100), slack in 0usize..8,
    ) {
        let fr = FrameRepr {
            dst: MacAddr(dst), src: MacAddr(src), tags, domain, sender,
            message: MessageRepr::Data(DataRepr {
                writer: EntityId(3), seq, source_timestamp_ns: 0, related: None, payload: &payload,
            }),
        };
        prop_assert!(fr.buffer_len() >= 60);
        let mut buf = std::vec![0xa5u8; fr.buffer_len() + slack];
        let n = fr.emit(&mut buf).unwrap();
        prop_assert_eq!(n, fr.frame_len());
        prop_assert!(buf[n..].iter().all(|&b| b == 0));
        let p = parse_frame(&buf).unwrap();
        prop_assert_eq!((p.dst, p.src, p.tags), (fr.dst, fr.src, fr.tags));
        prop_assert_eq!((p.header.domain, p.header.sender), (domain, sender));
        prop_assert_eq!(p.message(), Ok(fr.message));
    }

    #[test]
    fn following_acknack_round_trips(
        tags in tags(), domain: u16, sender in pid(), seq in 1..=u64::MAX,
        payload in vec(any::<u8>(), 0..100), wp in pid(), base in 1u64..u64::MAX - 256,
        bits in 0u16..=256, missing_at in vec(0u16..256, 0..8), count: u32, pad in 0usize..40,
    ) {
        let fr = FrameRepr {
            dst: MacAddr::BROADCAST, src: MacAddr([2, 0, 0, 0, 0, 1]), tags, domain, sender,
            message: MessageRepr::Data(DataRepr {
                writer: EntityId(3), seq, source_timestamp_ns: 0, related: None, payload: &payload,
            }),
        };
        let mut missing = SeqSet::new(base, bits).unwrap();
        for &o in &missing_at {
            missing.insert(base + u64::from(o));
        }
        let ack = MessageRepr::AckNack(AckNackRepr {
            is_final: false, room: true, writer_participant: wp, writer: EntityId(1),
            reader: EntityId(2), count, missing,
        });
        let first = fr.frame_len();
        let mut buf = std::vec![0u8; first + 16 + ack.buffer_len() + pad];
        fr.emit(&mut buf[..first]).unwrap();
        let n = emit_message(&mut buf[first..], domain, sender, &ack).unwrap();
        prop_assert_eq!(n, 16 + ack.buffer_len());
        // An old receiver sees the DATA alone.
        prop_assert_eq!(parse_frame(&buf).unwrap().message(), Ok(fr.message));
        let start = 14 + 4 * tags.len();
        let got: Vec<_> = Messages::new(&buf[start..]).collect();
        prop_assert_eq!(got.len(), 2);
        let (h, body) = got[1].unwrap();
        prop_assert_eq!((h.domain, h.sender, h.kind), (domain, sender, MsgKind::AckNack));
        prop_assert_eq!(MessageRepr::parse(h.kind, h.flags, body), Ok(ack));
    }

    #[test]
    fn messages_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        let mut n = 0;
        for r in Messages::new(&bytes) {
            n += 1;
            if let Ok((h, body)) = r {
                prop_assert_eq!(body.len(), usize::from(h.length));
                let _ = MessageRepr::parse(h.kind, h.flags, body);
            }
        }
        prop_assert!(n <= super::frame::MAX_MESSAGES);
    }

    #[test]
    fn parsers_never_panic(bytes in vec(any::<u8>(), 0..200), flags: u8) {
        let _ = parse_frame(&bytes);
        for k in MsgKind::ALL {
            if let Ok(MessageRepr::Hello(h)) = MessageRepr::parse(k, flags, &bytes) {
                for e in h.endpoints.iter() {
                    let _ = e;
                }
            }
        }
    }
}
