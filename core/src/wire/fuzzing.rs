//! Round-trip checks shared by the fuzz targets (`fuzz/`) and the corpus replay test
//! (`core/tests/fuzz_corpus.rs`). Not part of the API.
//!
//! Each check feeds arbitrary bytes to a parser. Parsers must never panic; whatever parses must
//! emit without error into a buffer of exactly `buffer_len()` bytes, and the emitted bytes must
//! parse back to an equal value and re-emit identically. A failed check panics (that is how a
//! fuzzer learns about it), so these functions are for tests only.

use super::frame::{self, FrameHeader, FrameRepr};
use super::header::{HEADER_LEN, HeaderRepr, Packet};
use super::msg::MessageRepr;
use super::vlan::{Tag, TagStack, VlanTag};
use super::{MsgKind, Tci, WireError};

/// Largest frame or body the checks handle (bigger inputs are cut).
const MAX: usize = 66 * 1024;

/// A round-trip check over arbitrary bytes; panics when the wire code misbehaves.
pub type Check = fn(&[u8]);

/// The fuzz targets, each with the check that drives it. The corpus directory of a target is
/// `fuzz/corpus/<name>/`.
pub const TARGETS: [(&str, Check); 11] = [
    ("frame", check_frame),
    ("vlan", check_vlan),
    ("header", check_header),
    ("msg_hello", |d| check_message(MsgKind::Hello, d)),
    ("msg_goodbye", |d| check_message(MsgKind::Goodbye, d)),
    ("msg_data", |d| check_message(MsgKind::Data, d)),
    ("msg_data_frag", |d| check_message(MsgKind::DataFrag, d)),
    ("msg_batch", |d| check_message(MsgKind::Batch, d)),
    ("msg_heartbeat", |d| check_message(MsgKind::Heartbeat, d)),
    ("msg_acknack", |d| check_message(MsgKind::AckNack, d)),
    ("msg_nack_frag", |d| check_message(MsgKind::NackFrag, d)),
];

fn cut(data: &[u8]) -> &[u8] {
    &data[..data.len().min(MAX)]
}

/// Emit `m`, check the length, parse it back, compare, and re-emit identically.
fn round_trip_message(kind: MsgKind, m: &MessageRepr<'_>) {
    let mut a = [0u8; MAX];
    let need = m.buffer_len();
    assert!(need <= MAX);
    if let MessageRepr::Hello(h) = m {
        // A received endpoint list may hold bad entries; then emitting must fail.
        if h.endpoints.iter().any(|e| e.is_err()) {
            assert!(m.emit(&mut a).is_err(), "HELLO with bad endpoints emitted");
            return;
        }
    }
    let n = m.emit(&mut a[..need]).expect("parsed message must emit");
    assert_eq!(n, need, "emit wrote buffer_len bytes");
    if need > 0 {
        assert!(matches!(
            m.emit(&mut a[..need - 1]),
            Err(WireError::BufferTooSmall { .. })
        ));
        let _ = m.emit(&mut a[..need]);
    }
    assert_eq!(m.kind(), kind);
    let again = MessageRepr::parse(kind, m.flags(), &a[..n]).expect("emitted message must parse");
    assert_eq!(&again, m, "parse(emit(m)) == m");
    let mut b = [0u8; MAX];
    let n2 = again.emit(&mut b).expect("re-emit");
    assert_eq!(a[..n], b[..n2], "emit is deterministic");
}

/// `data[0]` is the header flags, the rest the body of a message of `kind`.
pub fn check_message(kind: MsgKind, data: &[u8]) {
    let data = cut(data);
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    if let Ok(m) = MessageRepr::parse(kind, flags, body) {
        round_trip_message(kind, &m);
    }
}

/// A whole frame, also parsed as if the link had stripped an outer tag.
pub fn check_frame(data: &[u8]) {
    let data = cut(data);
    let parsed = frame::parse_frame(data);
    let stripped = VlanTag::dot1ad(Tci::new(1, true, 7));
    let with_stripped = frame::parse_frame_stripped(data, Some(stripped));
    match (&parsed, &with_stripped) {
        (Ok(p), Ok(s)) => {
            let mut tags = p.tags;
            tags.push_outer(stripped)
                .expect("room for the stripped tag");
            assert_eq!(s.tags, tags);
            assert_eq!((s.header, s.body), (p.header, p.body));
        }
        (Ok(p), Err(e)) => {
            assert_eq!(p.tags.len(), 2);
            assert_eq!(*e, WireError::TooManyTags);
        }
        (Err(e), Ok(_)) => panic!("only the stripped parse succeeded: {e}"),
        (Err(_), Err(_)) => {}
    }
    let Ok(p) = parsed else { return };
    assert_eq!(p.body.len(), usize::from(p.header.length));

    // The header and body alone, as FrameHeader writes them.
    let fh = FrameHeader {
        dst: p.dst,
        src: p.src,
        tags: p.tags,
        header: p.header,
    };
    let mut a = [0u8; MAX];
    let len = fh.buffer_len();
    fh.emit(&mut a[..len])
        .expect("parsed header must emit")
        .copy_from_slice(p.body);
    let q = frame::parse_frame(&a[..len]).expect("emitted frame must parse");
    assert_eq!(q, p, "parse(emit(frame)) == frame");

    // Every message of the frame: the first, then those that follow it (section 2).
    check_messages(
        &p,
        data.get(12 + 4 * p.tags.len() + 2..).unwrap_or_default(),
    );

    // And the whole frame through the message repr, if the body parses.
    let Ok(m) = p.message() else { return };
    round_trip_message(p.header.kind, &m);
    let fr = FrameRepr {
        dst: p.dst,
        src: p.src,
        tags: p.tags,
        domain: p.header.domain,
        sender: p.header.sender,
        message: m,
    };
    if let MessageRepr::Hello(h) = &m
        && h.endpoints.iter().any(|e| e.is_err())
    {
        return;
    }
    let len = fr.buffer_len();
    let n = fr.emit(&mut a[..len]).expect("parsed frame must emit");
    assert_eq!(n, fr.frame_len());
    assert!(
        len >= 60 && a[n..len].iter().all(|&b| b == 0),
        "zero padding"
    );
    let q = frame::parse_frame(&a[..len]).expect("emitted frame must parse");
    assert_eq!((q.dst, q.src, q.tags), (p.dst, p.src, p.tags));
    assert_eq!(q.header.domain, p.header.domain);
    assert_eq!(q.header.sender, p.header.sender);
    assert_eq!(q.message(), Ok(m));
}

/// The messages of a parsed frame's `packet` (its bytes from the l2net header on): the first is
/// the frame's own, each one that follows has its domain and sender, lies right after the one
/// before, and re-emits (with [`frame::emit_message`]) to bytes that read back the same.
fn check_messages(p: &frame::ParsedFrame<'_>, packet: &[u8]) {
    let mut at = 0;
    for (i, r) in frame::Messages::new(packet).enumerate() {
        assert!(i < frame::MAX_MESSAGES, "at most MAX_MESSAGES");
        let Ok((h, body)) = r else {
            assert!(i > 0, "the first message parsed as a frame");
            return;
        };
        if i == 0 {
            assert_eq!(
                (h, body),
                (p.header, p.body),
                "the first message is the frame's"
            );
        }
        assert_eq!((h.domain, h.sender), (p.header.domain, p.header.sender));
        let end = at + HEADER_LEN + body.len();
        assert_eq!(packet.get(at + HEADER_LEN..end), Some(body), "back to back");
        at = end;
        let Ok(m) = MessageRepr::parse(h.kind, h.flags, body) else {
            continue;
        };
        if let MessageRepr::Hello(hello) = &m
            && hello.endpoints.iter().any(|e| e.is_err())
        {
            continue;
        }
        let mut a = [0u8; MAX];
        let n = frame::emit_message(&mut a, h.domain, h.sender, &m).expect("message emits");
        let mut again = frame::Messages::new(&a[..n]);
        let (h2, b2) = again
            .next()
            .expect("one message")
            .expect("emitted message parses");
        assert_eq!(
            (h2.kind, h2.domain, h2.sender),
            (h.kind, h.domain, h.sender)
        );
        assert_eq!(MessageRepr::parse(h2.kind, h2.flags, b2), Ok(m));
        assert!(again.next().is_none(), "nothing after it");
    }
}

/// A tag stack and EtherType, starting at frame offset 12.
pub fn check_vlan(data: &[u8]) {
    let data = cut(data);
    if let Ok(tag) = Tag::new_checked(data)
        && let Ok(t) = VlanTag::parse(&tag)
    {
        let mut b = [0u8; 4];
        t.emit(&mut Tag::new_unchecked(&mut b[..]))
            .expect("tag emits");
        assert_eq!(b, data[..4]);
    }
    let Ok((stack, ethertype, used)) = TagStack::parse(data) else {
        return;
    };
    assert!(stack.len() <= 2 && used == stack.buffer_len());
    let mut b = [0u8; 10];
    let n = stack.emit(ethertype, &mut b).expect("stack emits");
    assert_eq!(b[..n], data[..used], "tags re-emit byte for byte");
    assert_eq!(TagStack::parse(&b[..n]), Ok((stack, ethertype, used)));
}

/// An l2net header and whatever follows.
pub fn check_header(data: &[u8]) {
    let data = cut(data);
    let Ok(h) = HeaderRepr::parse_bytes(data) else {
        return;
    };
    let mut b = [0u8; HEADER_LEN];
    h.emit(&mut b).expect("header emits");
    let mut want = [0u8; HEADER_LEN];
    want.copy_from_slice(&data[..HEADER_LEN]);
    want[3] = 0; // reserved is written as 0
    assert_eq!(b, want);
    assert_eq!(HeaderRepr::parse_bytes(&b), Ok(h));
    match Packet::new_checked(data) {
        Ok(p) => {
            assert_eq!(HeaderRepr::parse(&p), Ok(h));
            assert_eq!(p.body().len(), usize::from(h.length));
        }
        Err(e) => assert!(matches!(e, WireError::BadLength { .. })),
    }
}
