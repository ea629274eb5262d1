//! What a build without some of the core's protocol features does (docs/ARCHITECTURE.md, "Cargo
//! features"): endpoints that need a missing feature are refused, samples that would need
//! fragments are refused, and what remains works. Each test runs only in the builds it is about
//! (`cargo test -p l2net-core --no-default-features`, .ci/check.d/core-features.sh).
#![allow(dead_code, unused_imports)]

use core::time::Duration;

use l2net_core::engine::{
    Config, ConfigError, EndpointError, Liveliness, Participant, Qos, WriteError, drive,
};
use l2net_core::link::mem::{Segment, SegmentConfig, arena_len};
use l2net_core::{Instant, MacAddr};

type Node<'a> = Participant<'a, 2, 8, 2, 2, 8, 2, 2, 16>;

const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

#[cfg(not(feature = "local"))]
#[test]
fn without_local_an_own_pair_is_refused() {
    let mut p = Node::new(Config::new(0, "a"), 1, MAC_A, leak(4096), Instant::ZERO).unwrap();
    p.create_writer("t", "T", None, Qos::reliable(2), leak(1024))
        .unwrap();
    // A reader that would match the participant's own writer: refused, not left unmatched.
    let e = p.create_reader("t", "T", None, Qos::reliable(2), leak(1024));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
    // Another topic or type is no pair.
    p.create_reader("u", "T", None, Qos::reliable(2), leak(1024))
        .unwrap();
    // And the other way round: a writer for that reader.
    let e = p.create_writer("u", "T", None, Qos::reliable(2), leak(1024));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
}

#[cfg(not(feature = "liveliness-manual"))]
#[test]
fn without_liveliness_manual_a_manual_endpoint_is_refused() {
    let mut p = Node::new(Config::new(0, "a"), 1, MAC_A, leak(4096), Instant::ZERO).unwrap();
    let manual = Qos::reliable(2)
        .with_liveliness(Liveliness::ManualByTopic, Some(Duration::from_millis(100)));
    let e = p.create_writer("t", "T", None, manual, leak(1024));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
    let e = p.create_reader("t", "T", None, manual, leak(1024));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
    p.create_writer("t", "T", None, Qos::reliable(2), leak(1024))
        .unwrap();
}

/// Without `fragmentation`: a sample must fit one DATA frame; those that do go through
/// reliably between two reduced participants over an in-memory segment.
#[cfg(not(feature = "fragmentation"))]
#[test]
fn without_fragmentation_samples_fit_one_frame_and_arrive() {
    let mut seg_arena = vec![0u8; arena_len(64, 1500)];
    let seg = Segment::<2, 64>::new(&mut seg_arena, SegmentConfig::DEFAULT).unwrap();
    let (mut link_a, mut link_b) = (
        seg.link(MAC_A, 1500).unwrap(),
        seg.link(MAC_B, 1500).unwrap(),
    );
    let mut now = Instant::from_millis(1);
    let mut a = Node::new(Config::new(0, "a"), 0x5eed_0001, MAC_A, leak(8192), now).unwrap();
    let mut b = Node::new(Config::new(0, "b"), 0x5eed_0002, MAC_B, leak(8192), now).unwrap();
    let w = a
        .create_writer("/big", "Bytes", None, Qos::reliable(4), leak(1 << 14))
        .unwrap();
    let r = b
        .create_reader("/big", "Bytes", None, Qos::reliable(4), leak(1 << 14))
        .unwrap();
    let max = a.max_sample_len(w).unwrap();
    assert!(
        max < 1500 && max > 1400,
        "one DATA frame's payload, got {max}"
    );
    let big = vec![7u8; max + 1];
    assert_eq!(
        a.write(w, &big, now),
        Err(WriteError::TooLarge { len: max + 1, max })
    );
    let mut sent = 0u8;
    let mut got = Vec::new();
    let mut buf = vec![0u8; max];
    for _ in 0..5000 {
        drive(&mut a, &mut link_a, now).unwrap();
        drive(&mut b, &mut link_b, now).unwrap();
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if sent < 3 && a.writer_matches(w) == 1 {
            let sample = vec![sent; max];
            if a.write(w, &sample, now).is_ok() {
                sent += 1;
            }
        }
        while let Some(info) = b.take(r, &mut buf).unwrap() {
            assert_eq!(info.len, max);
            got.push(buf[0]);
        }
        if got.len() == 3 && a.is_acknowledged(w) {
            break;
        }
        now += Duration::from_millis(1);
    }
    assert_eq!(got, [0, 1, 2]);
    assert!(a.is_acknowledged(w));
    assert_eq!(a.stats().rx_unsupported + b.stats().rx_unsupported, 0);
}

#[cfg(not(feature = "services"))]
#[test]
fn without_services_clients_and_servers_are_refused() {
    let mut p = Node::new(Config::new(0, "a"), 1, MAC_A, leak(4096), Instant::ZERO).unwrap();
    let e = p.create_client("s", "T", None, Qos::reliable(2), leak(512), leak(512));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
    let e = p.create_server("s", "T", None, Qos::reliable(2), leak(512), leak(512));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
}

#[cfg(not(feature = "transient-local"))]
#[test]
fn without_transient_local_such_endpoints_are_refused() {
    let mut p = Node::new(Config::new(0, "a"), 1, MAC_A, leak(4096), Instant::ZERO).unwrap();
    let tl = Qos::reliable(2).transient_local();
    let e = p.create_writer("t", "T", None, tl, leak(512));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
    let e = p.create_reader("u", "T", None, tl, leak(512));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
}

#[cfg(not(feature = "batching"))]
#[test]
fn without_batching_a_batch_delay_is_refused() {
    let mut config = Config::new(0, "a");
    config.batch_delay = Duration::from_micros(100);
    let e = Node::new(config, 1, MAC_A, leak(4096), Instant::ZERO).err();
    assert_eq!(e, Some(ConfigError::Unsupported));
}

#[cfg(not(feature = "paged-hello"))]
#[test]
fn without_paged_hello_one_hello_carries_every_endpoint() {
    type Big<'a> = Participant<'a, 2, 8, 9, 8, 8, 2, 2, 16>;
    let mut p = Big::new(Config::new(0, "a"), 1, MAC_A, leak(4096), Instant::ZERO).unwrap();
    for i in 0..8 {
        p.create_writer(&format!("t{i}"), "T", None, Qos::reliable(2), leak(256))
            .unwrap();
    }
    // A ninth would need a second HELLO page: refused, and its slot is free again.
    let e = p.create_reader("t9", "T", None, Qos::reliable(2), leak(256));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
    let e = p.create_writer("t9", "T", None, Qos::reliable(2), leak(256));
    assert_eq!(e.err(), Some(EndpointError::Unsupported));
}

#[cfg(not(any(feature = "deadline", feature = "lifespan")))]
#[test]
fn without_deadline_and_lifespan_such_endpoints_are_refused() {
    let mut p = Node::new(Config::new(0, "a"), 1, MAC_A, leak(4096), Instant::ZERO).unwrap();
    let d = Qos::reliable(2).with_deadline(Duration::from_millis(10));
    let l = Qos::reliable(2).with_lifespan(Duration::from_millis(10));
    for qos in [d, l] {
        let e = p.create_writer("t", "T", None, qos, leak(512));
        assert_eq!(e.err(), Some(EndpointError::Unsupported));
        let e = p.create_reader("u", "T", None, qos, leak(512));
        assert_eq!(e.err(), Some(EndpointError::Unsupported));
    }
}

/// Without `fragmentation`: a DATA_FRAG from a full peer is counted and dropped, and the
/// reliable reader waiting for that sample skips it, so the next sample still arrives; a
/// NACK_FRAG (for fragments this participant never sent) is counted and dropped.
#[cfg(not(feature = "fragmentation"))]
#[test]
fn without_fragmentation_received_fragments_are_counted_and_skipped() {
    use l2net_core::RxMeta;
    use l2net_core::wire::frame::FrameRepr;
    use l2net_core::wire::msg::{
        DataFragRepr, DataRepr, EndpointKind, EndpointRepr, Endpoints, FragLayout, HeartbeatRepr,
        HelloRepr, MessageRepr, NackFragRepr, Qos as WireQos, SeqSet,
    };
    use l2net_core::wire::{EntityId, ParticipantId, TagStack};

    const PEER: u64 = 0x77;
    const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x77]);
    let now = Instant::from_millis(1);
    let mut b = Node::new(Config::new(3, "b"), 0x5eed_0002, MAC_B, leak(4096), now).unwrap();
    let r = b
        .create_reader("/f", "T", None, Qos::reliable(4), leak(1024))
        .unwrap();
    let frame = |msg: MessageRepr<'_>| {
        let f = FrameRepr {
            dst: MAC_B,
            src: PEER_MAC,
            tags: TagStack::new(),
            domain: 3,
            sender: ParticipantId::new(PEER).unwrap(),
            message: msg,
        };
        let mut buf = vec![0u8; f.buffer_len()];
        f.emit(&mut buf).unwrap();
        buf
    };
    let writer = EntityId(5);
    let publisher = [EndpointRepr {
        entity: writer,
        kind: EndpointKind::Publisher,
        qos: WireQos {
            reliable: true,
            history_depth: 4,
            ..WireQos::default()
        },
        topic: "/f",
        type_name: "T",
        type_hash: None,
    }];
    let hello = frame(MessageRepr::Hello(HelloRepr {
        reply_requested: false,
        lease_ms: 10_000,
        graph_epoch: 1,
        first_endpoint_index: 0,
        total_endpoints: 1,
        name: "full",
        endpoints: Endpoints::List(&publisher),
    }));
    b.handle_frame(&hello, RxMeta::default(), now);
    assert_eq!(b.reader_matches(r), 1);
    // The writer tells the reader where its stream starts (sample 1).
    let hb = frame(MessageRepr::Heartbeat(HeartbeatRepr {
        is_final: false,
        liveliness: false,
        writer,
        first_seq: 1,
        last_seq: 2,
        count: 1,
        reader: None,
    }));
    b.handle_frame(&hb, RxMeta::default(), now);
    // Sample 1 comes in fragments: counted, dropped, skipped.
    let big = [9u8; 2000];
    let frag = frame(MessageRepr::DataFrag(DataFragRepr {
        writer,
        seq: 1,
        source_timestamp_ns: 0,
        related: None,
        layout: FragLayout::new(2000, 1000).unwrap(),
        frag_index: 0,
        fragment: &big[..1000],
    }));
    b.handle_frame(&frag, RxMeta::default(), now);
    assert_eq!(b.stats().rx_unsupported, 1);
    // Sample 2 fits a frame and is delivered: the stream did not stall on sample 1.
    let data = frame(MessageRepr::Data(DataRepr {
        writer,
        seq: 2,
        source_timestamp_ns: 0,
        related: None,
        payload: b"two",
    }));
    b.handle_frame(&data, RxMeta::default(), now);
    let mut buf = [0u8; 16];
    let info = b.take(r, &mut buf).unwrap().expect("sample 2");
    assert_eq!((info.seq, &buf[..info.len]), (2, &b"two"[..]));
    // A NACK_FRAG for a writer of ours: nothing to repair here.
    let nack = frame(MessageRepr::NackFrag(NackFragRepr {
        writer_participant: ParticipantId::new(0x5eed_0002).unwrap(),
        writer: EntityId(1),
        reader: writer,
        seq: 1,
        count: 1,
        missing: SeqSet::new(0, 8).unwrap(),
    }));
    b.handle_frame(&nack, RxMeta::default(), now);
    assert_eq!(b.stats().rx_unsupported, 2);
}

/// Without `vlan`: a `Config::vlan` is refused, and a frame that carries a VLAN tag (in its
/// bytes, or stripped by the link) is counted in `rx_unsupported` and dropped; untagged l2net
/// frames are received as usual.
#[cfg(not(feature = "vlan"))]
#[test]
fn without_vlan_a_tag_is_refused_and_tagged_frames_are_counted() {
    use l2net_core::RxMeta;
    use l2net_core::wire::frame::FrameRepr;
    use l2net_core::wire::msg::{Endpoints, HelloRepr, MessageRepr};
    use l2net_core::wire::{ParticipantId, TagStack, Tci, VlanTag};

    let tag = VlanTag::dot1q(Tci::new(0, false, 10));
    let mut config = Config::new(3, "b");
    config.vlan = Some(tag);
    let e = Node::new(config, 1, MAC_B, leak(4096), Instant::ZERO).err();
    assert_eq!(e, Some(ConfigError::Unsupported));

    let now = Instant::from_millis(1);
    let mut b = Node::new(Config::new(3, "b"), 0x5eed_0002, MAC_B, leak(4096), now).unwrap();
    let hello = |tags: TagStack| {
        let f = FrameRepr {
            dst: MAC_B,
            src: MacAddr([2, 0, 0, 0, 0, 0x77]),
            tags,
            domain: 3,
            sender: ParticipantId::new(0x77).unwrap(),
            message: MessageRepr::Hello(HelloRepr {
                reply_requested: false,
                lease_ms: 10_000,
                graph_epoch: 1,
                first_endpoint_index: 0,
                total_endpoints: 0,
                name: "full",
                endpoints: Endpoints::List(&[]),
            }),
        };
        let mut buf = vec![0u8; f.buffer_len()];
        f.emit(&mut buf).unwrap();
        buf
    };
    // A tag in the bytes.
    b.handle_frame(&hello(TagStack::single(tag)), RxMeta::default(), now);
    // A tag the link stripped.
    let mut stripped = RxMeta::default();
    stripped.stripped_vlan = Some(tag);
    b.handle_frame(&hello(TagStack::new()), stripped, now);
    assert_eq!(b.stats().rx_unsupported, 2);
    assert_eq!(b.stats().rx_malformed + b.stats().rx_not_l2net, 0);
    assert!(b.poll_event().is_none(), "a tagged frame discovered a peer");
    // Untagged: received.
    b.handle_frame(&hello(TagStack::new()), RxMeta::default(), now);
    assert_eq!(b.stats().rx_unsupported, 2);
    assert!(
        b.poll_event().is_some(),
        "the untagged HELLO was not received"
    );
}
