//! Byte-array fixtures for every message kind: deconstruct, construct, and every way the bytes
//! can be short or inconsistent.

use super::*;

fn pid(v: u64) -> ParticipantId {
    ParticipantId::new(v).unwrap()
}

/// Emit `m` into a fresh buffer and return the buffer and the length written.
fn emit<F: Fn(&mut [u8]) -> Result<usize, WireError>>(need: usize, f: F) -> ([u8; 512], usize) {
    let mut buf = [0xa5u8; 512];
    let n = f(&mut buf).unwrap();
    assert_eq!(n, need, "emit wrote buffer_len bytes");
    // A buffer one byte short is refused with the length needed, without writing past it;
    // what fits is written (nothing else is: the rest stays as it was).
    if need > 0 {
        let mut short = [0u8; 512];
        assert_eq!(
            f(&mut short[..need - 1]),
            Err(WireError::BufferTooSmall {
                len: need - 1,
                need
            })
        );
        assert!(
            short[need - 1..].iter().all(|&b| b == 0),
            "wrote past the buffer"
        );
    }
    (buf, n)
}

// ---- HELLO ---------------------------------------------------------------------------------

static HASH: [u8; 32] = [0x11; 32];

#[rustfmt::skip]
static HELLO: [u8; 113] = [
    0x00, 0x00, 0x0b, 0xb8, // lease_ms 3000
    0x00, 0x00, 0x00, 0x07, // graph_epoch 7
    0x00, 0x00,             // first_endpoint_index 0
    0x00, 0x02,             // total_endpoints 2
    0x03, b'c', b'a', b'm', // name
    0x02,                   // endpoint_count
    // endpoint 0: publisher, reliable + transient-local, depth 10
    0x00, 0x00, 0x01, 0x01, 0x00, 0x03, 0x00, 0x0a,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x08, b'/', b'c', b'h', b'a', b't', b't', b'e', b'r',
    0x0f, b's', b't', b'd', b'_', b'm', b's', b'g', b's', b'/', b'S', b't', b'r', b'i', b'n', b'g',
    0x00,
    // endpoint 1: subscriber, keep-all, deadline 100 ms, lifespan 5000 ms, with type hash
    0x00, 0x00, 0x01, 0x02, 0x01, 0x04, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x13, 0x88,
    0x02, b'/', b'x',
    0x01, b'T',
    0x20,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
];
const HELLO_EP0: usize = 17;
const HELLO_EP1: usize = HELLO_EP0 + 16 + 9 + 16 + 1;

fn endpoints() -> [EndpointRepr<'static>; 2] {
    [
        EndpointRepr {
            entity: EntityId(0x101),
            kind: EndpointKind::Publisher,
            qos: Qos {
                reliable: true,
                transient_local: true,
                keep_all: false,
                history_depth: 10,
                deadline_ms: 0,
                lifespan_ms: 0,
                liveliness_manual: false,
                liveliness_lease_ms: 0,
            },
            topic: "/chatter",
            type_name: "std_msgs/String",
            type_hash: None,
        },
        EndpointRepr {
            entity: EntityId(0x102),
            kind: EndpointKind::Subscriber,
            qos: Qos {
                reliable: false,
                transient_local: false,
                keep_all: true,
                history_depth: 0,
                deadline_ms: 100,
                lifespan_ms: 5000,
                liveliness_manual: false,
                liveliness_lease_ms: 0,
            },
            topic: "/x",
            type_name: "T",
            type_hash: Some(&HASH),
        },
    ]
}

fn hello<'a>(eps: &'a [EndpointRepr<'a>]) -> HelloRepr<'a> {
    HelloRepr {
        reply_requested: true,
        lease_ms: 3000,
        graph_epoch: 7,
        first_endpoint_index: 0,
        total_endpoints: 2,
        name: "cam",
        endpoints: Endpoints::List(eps),
    }
}

#[test]
fn hello_deconstruct() {
    let eps = endpoints();
    let h = HelloRepr::parse(flags::HELLO_REPLY_REQUESTED, &HELLO).unwrap();
    assert_eq!(h, hello(&eps));
    assert_eq!(h.endpoints.len(), 2);
    let mut it = h.endpoints.iter();
    assert_eq!(it.next(), Some(Ok(eps[0])));
    assert_eq!(it.next(), Some(Ok(eps[1])));
    assert_eq!(it.next(), None);
    assert_eq!(h.buffer_len(), HELLO.len());
    assert!(!HelloRepr::parse(0, &HELLO).unwrap().reply_requested);
}

#[test]
fn hello_construct() {
    let eps = endpoints();
    let h = hello(&eps);
    assert_eq!(h.flags(), flags::HELLO_REPLY_REQUESTED);
    let (buf, n) = emit(h.buffer_len(), |b| h.emit(b));
    assert_eq!(&buf[..n], &HELLO[..]);
    // A parsed HELLO re-emits to the same bytes.
    let parsed = HelloRepr::parse(1, &HELLO).unwrap();
    let (buf, n) = emit(parsed.buffer_len(), |b| parsed.emit(b));
    assert_eq!(&buf[..n], &HELLO[..]);
}

#[test]
fn hello_truncated() {
    for len in 0..HELLO.len() {
        match HelloRepr::parse(1, &HELLO[..len]) {
            Err(e) => {
                assert_eq!(e, WireError::Truncated, "{len}");
                assert!(len < HELLO_EP0, "{len}");
            }
            Ok(h) => {
                assert!(len >= HELLO_EP0);
                let results: heapless::Vec<_, 4> = h.endpoints.iter().collect();
                assert_eq!(results.last(), Some(&Err(WireError::Truncated)), "{len}");
                assert!(results.len() <= 2);
                assert!(h.emit(&mut [0u8; 512]).is_err());
            }
        }
    }
}

#[test]
fn hello_trailing_bytes_are_ignored() {
    let mut b = [0u8; 117];
    b[..HELLO.len()].copy_from_slice(&HELLO);
    b[HELLO.len()..].copy_from_slice(&[1, 2, 3, 4]);
    let eps = endpoints();
    assert_eq!(HelloRepr::parse(1, &b), Ok(hello(&eps)));
}

/// The HELLO fixture with endpoint 0 manual-by-topic, lease 500 ms: the same entries, then one
/// extension record per endpoint (flag HELLO_ENDPOINT_EXT).
fn hello_ext() -> ([u8; 125], [EndpointRepr<'static>; 2]) {
    let mut b = [0u8; 125];
    b[..HELLO.len()].copy_from_slice(&HELLO);
    #[rustfmt::skip]
    let records = [
        0x05, 0x01, 0x00, 0x00, 0x01, 0xf4, // endpoint 0: manual by topic, lease 500 ms
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, // endpoint 1: automatic, infinite
    ];
    b[HELLO.len()..].copy_from_slice(&records);
    let mut eps = endpoints();
    eps[0].qos.liveliness_manual = true;
    eps[0].qos.liveliness_lease_ms = 500;
    (b, eps)
}

#[test]
fn hello_extension_deconstruct_construct() {
    let (b, eps) = hello_ext();
    let flags = flags::HELLO_REPLY_REQUESTED | flags::HELLO_ENDPOINT_EXT;
    let h = HelloRepr::parse(flags, &b).unwrap();
    let got: heapless::Vec<_, 4> = h.endpoints.iter().collect();
    assert_eq!(got.as_slice(), &[Ok(eps[0]), Ok(eps[1])]);
    let want = hello(&eps);
    assert_eq!(want.flags(), flags);
    assert_eq!(want.buffer_len(), b.len());
    let (buf, n) = emit(b.len(), |buf| want.emit(buf));
    assert_eq!(&buf[..n], &b[..]);
    // A parsed page re-emits the same bytes.
    assert_eq!(h.buffer_len(), b.len());
    let (buf, n) = emit(b.len(), |buf| h.emit(buf));
    assert_eq!(&buf[..n], &b[..]);
    // Default liveliness everywhere: no records, no flag (the version-1 bytes of before).
    assert_eq!(hello(&endpoints()).flags(), flags::HELLO_REPLY_REQUESTED);
}

#[test]
fn hello_extension_is_ignored_without_its_flag() {
    // What a receiver that predates the extension sees: trailing bytes, ignored.
    let (b, _) = hello_ext();
    let eps = endpoints();
    assert_eq!(HelloRepr::parse(1, &b), Ok(hello(&eps)));
}

#[test]
fn hello_extension_short_or_wrong() {
    let flags = flags::HELLO_ENDPOINT_EXT;
    // Records missing or cut: the entry whose record runs past the body ends the list.
    let (b, eps) = hello_ext();
    for len in [
        HELLO.len(),
        HELLO.len() + 3,
        HELLO.len() + 6,
        HELLO.len() + 9,
    ] {
        let h = HelloRepr::parse(flags, &b[..len]).unwrap();
        let got: heapless::Vec<_, 4> = h.endpoints.iter().collect();
        if len >= HELLO.len() + 6 {
            assert_eq!(got[0], Ok(eps[0]), "{len}");
        }
        assert_eq!(got.last(), Some(&Err(WireError::Truncated)), "{len}");
    }
    // Unknown liveliness kind: that entry fails, the next still parses.
    let (mut b, eps) = hello_ext();
    b[HELLO.len() + 1] = 7;
    let h = HelloRepr::parse(flags, &b).unwrap();
    let mut it = h.endpoints.iter();
    assert_eq!(it.next(), Some(Err(WireError::UnknownLiveliness(7))));
    assert_eq!(it.next(), Some(Ok(eps[1])));
    assert_eq!(it.next(), None);
    // A shorter record (a future sender's could be longer) keeps the defaults it lacks; a
    // longer one's unknown bytes are skipped.
    #[rustfmt::skip]
    let mut c = [0u8; 113 + 2 + 11];
    c[..HELLO.len()].copy_from_slice(&HELLO);
    c[HELLO.len()..].copy_from_slice(&[
        0x01, 0x01, // endpoint 0: manual, no lease field
        0x0a, 0x00, 0x00, 0x00, 0x00, 0x07, 0xde, 0xad, 0xbe, 0xef,
        0x00, // endpoint 1: longer
    ]);
    let h = HelloRepr::parse(flags, &c).unwrap();
    let got: heapless::Vec<_, 4> = h.endpoints.iter().collect();
    let mut e0 = endpoints()[0];
    e0.qos.liveliness_manual = true;
    let mut e1 = endpoints()[1];
    e1.qos.liveliness_lease_ms = 7;
    assert_eq!(got.as_slice(), &[Ok(e0), Ok(e1)]);
}

#[test]
fn hello_bad_content() {
    // Unknown endpoint kind in entry 0: that entry fails, entry 1 still parses.
    let mut b = HELLO;
    b[HELLO_EP0 + 4] = 9;
    let h = HelloRepr::parse(1, &b).unwrap();
    let mut it = h.endpoints.iter();
    assert_eq!(it.next(), Some(Err(WireError::UnknownEndpointKind(9))));
    assert_eq!(it.next(), Some(Ok(endpoints()[1])));
    assert_eq!(it.next(), None);
    assert_eq!(
        h.emit(&mut [0u8; 512]),
        Err(WireError::UnknownEndpointKind(9))
    );

    // Bad UTF-8 topic.
    let mut b = HELLO;
    b[HELLO_EP0 + 17] = 0xff;
    let h = HelloRepr::parse(1, &b).unwrap();
    assert_eq!(h.endpoints.iter().next(), Some(Err(WireError::InvalidUtf8)));

    // Type hash length 0x20 -> 0x1f: framing still holds (31 bytes + 1 left over, ignored
    // as trailing data), but the entry is rejected.
    let mut b = HELLO;
    b[HELLO_EP1 + 16 + 3 + 2] = 0x1f;
    let h = HelloRepr::parse(1, &b).unwrap();
    let mut it = h.endpoints.iter();
    assert_eq!(it.next(), Some(Ok(endpoints()[0])));
    assert_eq!(it.next(), Some(Err(WireError::BadTypeHashLen(0x1f))));

    // Bad UTF-8 name.
    let mut b = HELLO;
    b[13] = 0xc3;
    assert_eq!(HelloRepr::parse(1, &b), Err(WireError::InvalidUtf8));

    // Page beyond total.
    let mut b = HELLO;
    b[9] = 1; // first_endpoint_index 1, count 2, total 2
    assert_eq!(HelloRepr::parse(1, &b), Err(WireError::BadEndpointPage));

    // Name longer than 63 bytes.
    let mut b = [b'n'; 12 + 1 + 64 + 1];
    b[..12].copy_from_slice(&HELLO[..12]);
    b[12] = 64;
    b[12 + 65] = 0;
    assert_eq!(
        HelloRepr::parse(0, &b),
        Err(WireError::StringTooLong { len: 64, max: 63 })
    );
}

#[test]
fn hello_emit_errors() {
    let eps = endpoints();
    let long = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";
    let mut h = hello(&eps);
    h.name = long;
    assert_eq!(
        h.emit(&mut [0u8; 512]),
        Err(WireError::StringTooLong { len: 65, max: 63 })
    );
    let mut h = hello(&eps);
    h.first_endpoint_index = 1;
    assert_eq!(h.emit(&mut [0u8; 512]), Err(WireError::BadEndpointPage));
    let many = [eps[0]; 256];
    let mut h = hello(&many);
    h.total_endpoints = 300;
    assert_eq!(h.emit(&mut [0u8; 512]), Err(WireError::TooManyEntries));
    let topic = core::str::from_utf8(&[b't'; 256]).unwrap();
    let mut ep = eps[0];
    ep.topic = topic;
    let one = [ep];
    let mut h = hello(&one);
    h.total_endpoints = 1;
    assert_eq!(
        h.emit(&mut [0u8; 1024]),
        Err(WireError::StringTooLong { len: 256, max: 255 })
    );
}

// ---- GOODBYE -------------------------------------------------------------------------------

#[test]
fn goodbye() {
    assert_eq!(GoodbyeRepr::parse(0, &[]), Ok(GoodbyeRepr));
    assert_eq!(GoodbyeRepr::parse(0xff, &[1, 2]), Ok(GoodbyeRepr));
    assert_eq!(GoodbyeRepr.buffer_len(), 0);
    assert_eq!(GoodbyeRepr.emit(&mut []), Ok(0));
}

// ---- DATA ----------------------------------------------------------------------------------

#[rustfmt::skip]
static DATA: [u8; 44] = [
    0x00, 0x00, 0x00, 0x05,                         // writer
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // seq 42
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // source timestamp
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, // related participant
    0x00, 0x00, 0x00, 0x07,                         // related entity
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, // related seq
    0xde, 0xad, 0xbe, 0xef,                         // payload
];

fn data() -> DataRepr<'static> {
    DataRepr {
        writer: EntityId(5),
        seq: 42,
        source_timestamp_ns: 0x0102_0304_0506_0708,
        related: Some(RelatedSample {
            participant: pid(0x1111_1111_1111_1111),
            entity: EntityId(7),
            seq: 9,
        }),
        payload: &DATA[40..],
    }
}

#[test]
fn data_deconstruct() {
    assert_eq!(DataRepr::parse(flags::DATA_HAS_RELATED, &DATA), Ok(data()));
    // Without the flag the related fields are payload.
    let plain = DataRepr::parse(0, &DATA).unwrap();
    assert_eq!(plain.related, None);
    assert_eq!(plain.payload, &DATA[20..]);
}

#[test]
fn data_construct() {
    let d = data();
    assert_eq!(d.flags(), flags::DATA_HAS_RELATED);
    let (buf, n) = emit(d.buffer_len(), |b| d.emit(b));
    assert_eq!(&buf[..n], &DATA[..]);
    let d = DataRepr {
        related: None,
        payload: &[],
        ..data()
    };
    let (buf, n) = emit(d.buffer_len(), |b| d.emit(b));
    assert_eq!(&buf[..n], &DATA[..20]);
    assert_eq!(DataRepr::overhead(false), 20);
    assert_eq!(DataRepr::overhead(true), 40);
}

#[test]
fn data_malformed() {
    for len in 0..20 {
        assert_eq!(DataRepr::parse(0, &DATA[..len]), Err(WireError::Truncated));
    }
    for len in 0..40 {
        assert_eq!(DataRepr::parse(1, &DATA[..len]), Err(WireError::Truncated));
    }
    let mut b = DATA;
    b[4..12].fill(0);
    assert_eq!(DataRepr::parse(1, &b), Err(WireError::BadSequence));
    let mut b = DATA;
    b[20..28].fill(0);
    assert_eq!(DataRepr::parse(1, &b), Err(WireError::ZeroParticipant));
    let mut b = DATA;
    b[32..40].fill(0);
    assert_eq!(DataRepr::parse(1, &b), Err(WireError::BadSequence));
    let d = DataRepr { seq: 0, ..data() };
    assert_eq!(d.emit(&mut [0u8; 64]), Err(WireError::BadSequence));
}

// ---- DATA_FRAG -----------------------------------------------------------------------------

#[rustfmt::skip]
static DATA_FRAG: [u8; 38] = [
    0x00, 0x00, 0x00, 0x05,                         // writer
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // seq 42
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // no timestamp
    0x00, 0x00, 0x00, 0x0a,                         // sample_len 10
    0x00, 0x00, 0x00, 0x02,                         // frag_index 2
    0x00, 0x00, 0x00, 0x03,                         // frag_count 3
    0x00, 0x04,                                     // frag_size 4
    0x00, 0x00,                                     // reserved
    0x99, 0x9a,                                     // last fragment: 10 - 2 * 4 bytes
];

fn data_frag() -> DataFragRepr<'static> {
    DataFragRepr {
        writer: EntityId(5),
        seq: 42,
        source_timestamp_ns: 0,
        related: None,
        layout: FragLayout::new(10, 4).unwrap(),
        frag_index: 2,
        fragment: &DATA_FRAG[36..],
    }
}

#[test]
fn data_frag_deconstruct() {
    let f = DataFragRepr::parse(0, &DATA_FRAG).unwrap();
    assert_eq!(f, data_frag());
    assert_eq!(f.layout.frag_count, 3);
    assert_eq!(f.layout.offset(2), 8);
}

#[test]
fn data_frag_construct() {
    let f = data_frag();
    let (buf, n) = emit(f.buffer_len(), |b| f.emit(b));
    assert_eq!(&buf[..n], &DATA_FRAG[..]);
    // With a related sample the fragment header moves back by 20 bytes.
    let rel = DataFragRepr {
        related: data().related,
        ..data_frag()
    };
    let (buf, n) = emit(rel.buffer_len(), |b| rel.emit(b));
    assert_eq!(DataFragRepr::parse(1, &buf[..n]), Ok(rel));
    assert_eq!(&buf[20..40], &DATA[20..40]);
}

#[test]
fn data_frag_malformed() {
    for len in 0..DATA_FRAG.len() {
        assert!(DataFragRepr::parse(0, &DATA_FRAG[..len]).is_err(), "{len}");
    }
    // One byte too many in the fragment.
    let mut long = [0u8; 39];
    long[..38].copy_from_slice(&DATA_FRAG);
    assert_eq!(DataFragRepr::parse(0, &long), Err(WireError::BadFragment));
    let bad = |at: usize, v: &[u8]| {
        let mut b = DATA_FRAG;
        b[at..at + v.len()].copy_from_slice(v);
        DataFragRepr::parse(0, &b).err()
    };
    assert_eq!(bad(24, &[0, 0, 0, 3]), Some(WireError::BadFragment)); // index == count
    assert_eq!(bad(28, &[0, 0, 0, 0]), Some(WireError::BadFragment)); // count 0
    assert_eq!(bad(32, &[0, 0]), Some(WireError::BadFragment)); // frag_size 0
    assert_eq!(bad(20, &[0, 0, 0, 13]), Some(WireError::BadFragment)); // 13 > 3 * 4
    assert_eq!(bad(20, &[0, 0, 0, 8]), Some(WireError::BadFragment)); // 8 <= 2 * 4
    assert_eq!(
        bad(28, &[0xff, 0xff, 0xff, 0xff]),
        Some(WireError::BadFragment)
    );
    // Emit refuses a fragment of the wrong length.
    let f = DataFragRepr {
        fragment: &DATA_FRAG[35..],
        ..data_frag()
    };
    assert_eq!(f.emit(&mut [0u8; 64]), Err(WireError::BadFragment));
    assert_eq!(FragLayout::new(0, 4), Err(WireError::BadFragment));
    assert_eq!(FragLayout::new(4, 0), Err(WireError::BadFragment));
    let l = FragLayout::new(u32::MAX, 1).unwrap();
    assert_eq!(l.frag_count, u32::MAX);
    assert_eq!(l.frag_len(u32::MAX - 1), Ok(1));
}

// ---- BATCH ---------------------------------------------------------------------------------

#[rustfmt::skip]
static BATCH: [u8; 32] = [
    0x00, 0x00, 0x00, 0x05,                         // writer
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, // first_seq 100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // no timestamp
    0x00, 0x03,                                     // count
    0x00, 0x02, 0xaa, 0xbb,                         // sample 100
    0x00, 0x00,                                     // sample 101 (empty)
    0x00, 0x01, 0xcc,                               // sample 102
    0xff,                                           // trailing byte, ignored
];

static SAMPLES: [&[u8]; 3] = [&[0xaa, 0xbb], &[], &[0xcc]];

fn batch() -> BatchRepr<'static> {
    BatchRepr {
        writer: EntityId(5),
        first_seq: 100,
        source_timestamp_ns: 0,
        samples: Samples::List(&SAMPLES),
    }
}

#[test]
fn batch_deconstruct() {
    let b = BatchRepr::parse(0, &BATCH).unwrap();
    assert_eq!(b, batch());
    let mut it = b.iter();
    assert_eq!(it.next(), Some((100, &[0xaa, 0xbb][..])));
    assert_eq!(it.next(), Some((101, &[][..])));
    assert_eq!(it.next(), Some((102, &[0xcc][..])));
    assert_eq!(it.next(), None);
    assert_eq!(b.buffer_len(), BATCH.len() - 1);
}

#[test]
fn batch_construct() {
    let b = batch();
    let (buf, n) = emit(b.buffer_len(), |x| b.emit(x));
    assert_eq!(&buf[..n], &BATCH[..31]);
}

#[test]
fn batch_malformed() {
    for len in 0..31 {
        assert_eq!(
            BatchRepr::parse(0, &BATCH[..len]),
            Err(WireError::Truncated),
            "{len}"
        );
    }
    let mut b = BATCH;
    b[4..12].fill(0);
    assert_eq!(BatchRepr::parse(0, &b), Err(WireError::BadSequence));
    let mut b = BATCH;
    b[4..12].fill(0xff); // first_seq + 2 overflows
    assert_eq!(BatchRepr::parse(0, &b), Err(WireError::BadSequence));
    let big = [0u8; 65536];
    let list: [&[u8]; 1] = [&big];
    let b = BatchRepr {
        samples: Samples::List(&list),
        ..batch()
    };
    let mut out = [0u8; 65600];
    assert_eq!(
        b.emit(&mut out),
        Err(WireError::TooLarge {
            len: 65536,
            max: 65535
        })
    );
}

// ---- HEARTBEAT -----------------------------------------------------------------------------

#[rustfmt::skip]
static HEARTBEAT: [u8; 24] = [
    0x00, 0x00, 0x00, 0x05,                         // writer
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // first_seq
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, // last_seq
    0x00, 0x00, 0x00, 0x4d,                         // count
];

fn heartbeat() -> HeartbeatRepr {
    HeartbeatRepr {
        is_final: true,
        liveliness: true,
        writer: EntityId(5),
        first_seq: 1,
        last_seq: 10,
        count: 77,
        reader: None,
    }
}

#[test]
fn heartbeat_round_trip() {
    assert_eq!(HeartbeatRepr::parse(0x03, &HEARTBEAT), Ok(heartbeat()));
    let h = HeartbeatRepr::parse(0x00, &HEARTBEAT).unwrap();
    assert!(!h.is_final && !h.liveliness);
    let hb = heartbeat();
    assert_eq!(hb.flags(), 0x03);
    let (buf, n) = emit(hb.buffer_len(), |b| hb.emit(b));
    assert_eq!(&buf[..n], &HEARTBEAT[..]);
}

#[test]
fn heartbeat_directed() {
    // The optional reader field: 4 more bytes.
    let mut b = [0u8; 28];
    b[..24].copy_from_slice(&HEARTBEAT);
    b[24..].copy_from_slice(&[0x00, 0x00, 0x01, 0x02]);
    let want = HeartbeatRepr {
        reader: Some(EntityId(0x102)),
        ..heartbeat()
    };
    assert_eq!(HeartbeatRepr::parse(0x03, &b), Ok(want));
    assert_eq!(want.buffer_len(), 28);
    let (buf, n) = emit(28, |x| want.emit(x));
    assert_eq!(&buf[..n], &b[..]);
    // A receiver that predates the field reads the first 24 bytes: the same HEARTBEAT,
    // undirected. Fewer than 4 trailing bytes are no reader field (ignored, as before).
    for len in 24..28 {
        assert_eq!(HeartbeatRepr::parse(0x03, &b[..len]), Ok(heartbeat()));
    }
}

#[test]
fn heartbeat_malformed() {
    for len in 0..HEARTBEAT.len() {
        assert_eq!(
            HeartbeatRepr::parse(0, &HEARTBEAT[..len]),
            Err(WireError::Truncated)
        );
    }
    let mut b = HEARTBEAT;
    b[11] = 0; // first_seq 0
    assert_eq!(HeartbeatRepr::parse(0, &b), Err(WireError::BadSequence));
    let mut b = HEARTBEAT;
    b[11] = 12; // first 12 > last 10 + 1
    assert_eq!(HeartbeatRepr::parse(0, &b), Err(WireError::BadSequence));
    b[11] = 11; // empty range: fine
    assert!(HeartbeatRepr::parse(0, &b).is_ok());
}

// ---- ACKNACK -------------------------------------------------------------------------------

#[rustfmt::skip]
static ACKNACK: [u8; 40] = [
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, // writer participant
    0x00, 0x00, 0x00, 0x05,                         // writer
    0x00, 0x00, 0x00, 0x06,                         // reader
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, // base_seq 11
    0x00, 0x00, 0x00, 0x03,                         // count
    0x00, 0x28,                                     // num_bits 40
    0x00, 0x00,                                     // reserved
    0xa0, 0x00, 0x00, 0x00,                         // 11, 13 missing
    0x81, 0x00, 0x00, 0x00,                         // 43, 50 missing
];

fn acknack() -> AckNackRepr {
    let mut missing = SeqSet::new(11, 40).unwrap();
    for s in [11, 13, 43, 50] {
        assert!(missing.insert(s));
    }
    AckNackRepr {
        is_final: false,
        room: false,
        writer_participant: pid(0x2222_2222_2222_2222),
        writer: EntityId(5),
        reader: EntityId(6),
        count: 3,
        missing,
    }
}

#[test]
fn acknack_round_trip() {
    let a = AckNackRepr::parse(0, &ACKNACK).unwrap();
    assert_eq!(a, acknack());
    let mut it = a.missing.iter();
    assert_eq!(
        [it.next(), it.next(), it.next(), it.next(), it.next()],
        [Some(11), Some(13), Some(43), Some(50), None]
    );
    assert!(AckNackRepr::parse(1, &ACKNACK).unwrap().is_final);
    let r = AckNackRepr::parse(2, &ACKNACK).unwrap();
    assert!(r.room && !r.is_final);
    assert_eq!(r.flags(), 2);
    assert_eq!(
        AckNackRepr {
            is_final: true,
            ..r
        }
        .flags(),
        3
    );
    let a = acknack();
    let (buf, n) = emit(a.buffer_len(), |b| a.emit(b));
    assert_eq!(&buf[..n], &ACKNACK[..]);
}

#[test]
fn acknack_malformed() {
    for len in 0..ACKNACK.len() {
        assert_eq!(
            AckNackRepr::parse(0, &ACKNACK[..len]),
            Err(WireError::Truncated),
            "{len}"
        );
    }
    let mut b = ACKNACK;
    b[..8].fill(0);
    assert_eq!(AckNackRepr::parse(0, &b), Err(WireError::ZeroParticipant));
    let mut b = ACKNACK;
    b[16..24].fill(0);
    assert_eq!(AckNackRepr::parse(0, &b), Err(WireError::BadSequence));
    let mut b = ACKNACK;
    b[28..30].copy_from_slice(&257u16.to_be_bytes());
    assert_eq!(
        AckNackRepr::parse(0, &b),
        Err(WireError::BitmapTooLong(257))
    );
    let mut b = ACKNACK;
    b[16..24].fill(0xff);
    assert_eq!(AckNackRepr::parse(0, &b), Err(WireError::BadSequence));
    // Bits past num_bits are ignored.
    let mut b = ACKNACK;
    b[39] = 0x01;
    assert_eq!(AckNackRepr::parse(0, &b), Ok(acknack()));
}

// ---- NACK_FRAG -----------------------------------------------------------------------------

#[rustfmt::skip]
static NACK_FRAG: [u8; 40] = [
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, // writer participant
    0x00, 0x00, 0x00, 0x05,                         // writer
    0x00, 0x00, 0x00, 0x06,                         // reader
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // seq 42
    0x00, 0x00, 0x00, 0x00,                         // base_frag 0
    0x00, 0x00, 0x00, 0x01,                         // count
    0x00, 0x03,                                     // num_bits 3
    0x00, 0x00,                                     // reserved
    0x60, 0x00, 0x00, 0x00,                         // fragments 1 and 2 missing
];

fn nack_frag() -> NackFragRepr {
    let mut missing = SeqSet::new(0, 3).unwrap();
    missing.insert(1);
    missing.insert(2);
    NackFragRepr {
        writer_participant: pid(0x2222_2222_2222_2222),
        writer: EntityId(5),
        reader: EntityId(6),
        seq: 42,
        count: 1,
        missing,
    }
}

#[test]
fn nack_frag_round_trip() {
    assert_eq!(NackFragRepr::parse(0, &NACK_FRAG), Ok(nack_frag()));
    let n = nack_frag();
    let (buf, len) = emit(n.buffer_len(), |b| n.emit(b));
    assert_eq!(&buf[..len], &NACK_FRAG[..]);
}

#[test]
fn nack_frag_malformed() {
    for len in 0..NACK_FRAG.len() {
        assert_eq!(
            NackFragRepr::parse(0, &NACK_FRAG[..len]),
            Err(WireError::Truncated)
        );
    }
    let mut b = NACK_FRAG;
    b[16..24].fill(0);
    assert_eq!(NackFragRepr::parse(0, &b), Err(WireError::BadSequence));
    let mut b = NACK_FRAG;
    b[24..28].fill(0xff); // base_frag u32::MAX + 3 bits runs past 2^32
    assert_eq!(NackFragRepr::parse(0, &b), Err(WireError::BadFragment));
    let n = NackFragRepr {
        missing: SeqSet::new(1 << 32, 1).unwrap(),
        ..nack_frag()
    };
    assert_eq!(n.emit(&mut [0u8; 64]), Err(WireError::BadFragment));
}

// ---- SeqSet and MessageRepr ----------------------------------------------------------------

#[test]
fn seq_set_operations() {
    let mut s = SeqSet::new(1000, 256).unwrap();
    assert!(s.is_empty());
    assert!(!s.insert(999) && !s.insert(1256));
    for n in [1000, 1031, 1032, 1255] {
        assert!(s.insert(n));
    }
    assert_eq!(s.len(), 4);
    assert!(s.contains(1031) && !s.contains(1030));
    let mut it = s.iter();
    assert_eq!(
        [it.next(), it.next(), it.next(), it.next(), it.next()],
        [Some(1000), Some(1031), Some(1032), Some(1255), None]
    );
    assert!(s.remove(1031) && !s.remove(1031));
    assert_eq!(s.words().len(), 8);
    assert_eq!(SeqSet::new(0, 257), Err(WireError::BitmapTooLong(257)));
    assert_eq!(SeqSet::new(u64::MAX, 1), Err(WireError::BadSequence));
    assert_eq!(SeqSet::new(5, 0).unwrap().iter().next(), None);
    assert!(SeqSet::new(5, 0).unwrap().words().is_empty());
}

#[test]
fn message_dispatch() {
    let eps = endpoints();
    let msgs = [
        (MessageRepr::Hello(hello(&eps)), &HELLO[..]),
        (MessageRepr::Goodbye(GoodbyeRepr), &[][..]),
        (MessageRepr::Data(data()), &DATA[..]),
        (MessageRepr::DataFrag(data_frag()), &DATA_FRAG[..]),
        (MessageRepr::Batch(batch()), &BATCH[..31]),
        (MessageRepr::Heartbeat(heartbeat()), &HEARTBEAT[..]),
        (MessageRepr::AckNack(acknack()), &ACKNACK[..]),
        (MessageRepr::NackFrag(nack_frag()), &NACK_FRAG[..]),
    ];
    for (m, bytes) in msgs {
        let (buf, n) = emit(m.buffer_len(), |b| m.emit(b));
        assert_eq!(&buf[..n], bytes, "{:?}", m.kind());
        assert_eq!(MessageRepr::parse(m.kind(), m.flags(), bytes), Ok(m));
    }
}
