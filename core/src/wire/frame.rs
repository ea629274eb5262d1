//! Whole l2net frames: building one in a buffer the link lends, and parsing a received one.
//!
//! Building is two steps so that no byte is copied twice and nothing is allocated:
//!
//! 1. [`FrameRepr::buffer_len`] (after [`FrameRepr::check_mtu`]) says how many bytes to ask the
//!    link for ([`RawLink::transmit`](crate::link::RawLink::transmit)); it is never less than
//!    the 60-byte Ethernet minimum.
//! 2. [`FrameRepr::emit`] writes Ethernet header, tags, l2net header and body straight into the
//!    lent buffer (a ring slot) and zeroes the padding.
//!
//! [`FrameHeader`] does step 2 without a [`MessageRepr`] for callers that write the body
//! themselves (for example a serializer writing a sample in place).
//!
//! [`parse_frame`] is the inverse: it checks the Ethernet header, up to two VLAN tags, the l2net
//! EtherType and header, and returns the body with the padding cut off by the header's `length`.
//! [`parse_rx`] also takes the link's [`RxMeta`] so a tag stripped by the kernel or NIC is
//! reported as the outer tag, exactly as if it had stayed in the bytes.

use super::ethernet::{self, ETHERTYPE_L2NET, MIN_FRAME_LEN};
use super::header::{self, HeaderRepr, MAX_BODY_LEN};
use super::msg::MessageRepr;
use super::vlan::{TAG_LEN, TagStack, VlanTag};
use super::{MacAddr, MsgKind, ParticipantId, WireError};
use crate::link::RxMeta;

/// Bytes of a frame before the body: Ethernet header, `tags` VLAN tags, l2net header.
pub const fn header_len(tags: usize) -> usize {
    ethernet::HEADER_LEN + TAG_LEN * tags + header::HEADER_LEN
}

/// Largest body that fits in one frame on a link with this MTU (the link's
/// [`Capabilities::mtu`](crate::link::Capabilities::mtu): bytes after the Ethernet header,
/// VLAN tags not counted). 0 if the MTU cannot even hold the l2net header.
pub const fn max_body_len(mtu: usize) -> usize {
    let room = mtu.saturating_sub(header::HEADER_LEN);
    if room < MAX_BODY_LEN {
        room
    } else {
        MAX_BODY_LEN
    }
}

/// Everything of a frame but its body: addresses, tags and the l2net header (whose `length`
/// is the body length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHeader {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC (the link's own address).
    pub src: MacAddr,
    /// VLAN tags to insert, outermost first.
    pub tags: TagStack,
    /// The l2net header; `length` is the body length.
    pub header: HeaderRepr,
}

impl FrameHeader {
    /// Bytes before the body.
    pub fn header_len(&self) -> usize {
        header_len(self.tags.len())
    }

    /// Frame length without padding.
    pub fn frame_len(&self) -> usize {
        self.header_len() + usize::from(self.header.length)
    }

    /// Bytes to ask the link for: the frame length, at least [`MIN_FRAME_LEN`].
    pub fn buffer_len(&self) -> usize {
        let n = self.frame_len();
        if n < MIN_FRAME_LEN { MIN_FRAME_LEN } else { n }
    }

    /// Fail with [`WireError::TooLarge`] if the frame does not fit a link with this MTU
    /// (l2net header + body must not exceed it).
    pub fn check_mtu(&self, mtu: usize) -> Result<(), WireError> {
        let len = header::HEADER_LEN + usize::from(self.header.length);
        if len > mtu {
            Err(WireError::TooLarge { len, max: mtu })
        } else {
            Ok(())
        }
    }

    /// Write addresses, tags, EtherType and l2net header at the start of `buf`, zero everything
    /// after the body, and return the body (`header.length` bytes) for the caller to fill.
    /// Fails with [`WireError::BufferTooSmall`] if `buf` is shorter than
    /// [`FrameHeader::frame_len`], or [`WireError::BadTpid`] for a tag that is not a VLAN tag.
    pub fn emit<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], WireError> {
        let frame_len = self.frame_len();
        super::error::check_buffer(buf.len(), frame_len)?;
        let (head, rest) = buf.split_at_mut(self.header_len());
        let (eth, after_src) = head.split_at_mut(12);
        let mut frame = ethernet::Frame::new_unchecked(&mut *eth);
        frame.set_dst_addr(self.dst);
        frame.set_src_addr(self.src);
        let used = self.tags.emit(ETHERTYPE_L2NET, after_src)?;
        self.header.emit(&mut after_src[used..])?;
        let (body, padding) = rest.split_at_mut(usize::from(self.header.length));
        padding.fill(0);
        Ok(body)
    }
}

/// A whole frame to send: addresses, tags, the sender's identity and a message.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameRepr<'a> {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC (the link's own address).
    pub src: MacAddr,
    /// VLAN tags to insert, outermost first.
    pub tags: TagStack,
    /// Domain id.
    pub domain: u16,
    /// The sending participant.
    pub sender: ParticipantId,
    /// The message.
    pub message: MessageRepr<'a>,
}

impl FrameRepr<'_> {
    /// Body length, or [`WireError::TooLarge`] if it exceeds the 16-bit `length` field.
    fn body_len(&self) -> Result<u16, WireError> {
        let len = self.message.buffer_len();
        u16::try_from(len).map_err(|_| WireError::TooLarge {
            len,
            max: MAX_BODY_LEN,
        })
    }

    /// The frame's addresses, tags and header; fails with [`WireError::TooLarge`] if the body
    /// exceeds 65535 bytes.
    pub fn frame_header(&self) -> Result<FrameHeader, WireError> {
        Ok(FrameHeader {
            dst: self.dst,
            src: self.src,
            tags: self.tags,
            header: HeaderRepr {
                kind: self.message.kind(),
                flags: self.message.flags(),
                domain: self.domain,
                length: self.body_len()?,
                sender: self.sender,
            },
        })
    }

    /// Frame length without padding.
    pub fn frame_len(&self) -> usize {
        header_len(self.tags.len()) + self.message.buffer_len()
    }

    /// Bytes to ask the link for: the frame length, at least [`MIN_FRAME_LEN`].
    pub fn buffer_len(&self) -> usize {
        let n = self.frame_len();
        if n < MIN_FRAME_LEN { MIN_FRAME_LEN } else { n }
    }

    /// Fail with [`WireError::TooLarge`] if the frame does not fit a link with this MTU or the
    /// body does not fit the 16-bit `length` field.
    pub fn check_mtu(&self, mtu: usize) -> Result<(), WireError> {
        self.frame_header()?.check_mtu(mtu)
    }

    /// Write the whole frame at the start of `buf` and zero the rest of `buf` (the padding).
    /// Returns the frame length without padding. `buf` is usually exactly
    /// [`FrameRepr::buffer_len`] bytes; any length from [`FrameRepr::frame_len`] on works.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let fh = self.frame_header()?;
        let body = fh.emit(buf)?;
        let n = self.message.emit(body)?;
        debug_assert_eq!(n, usize::from(fh.header.length));
        Ok(fh.frame_len())
    }
}

/// A received l2net frame, checked up to and including the l2net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParsedFrame<'a> {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// The frame's VLAN tags, outermost first, including one the link stripped (see
    /// [`parse_frame_stripped`]).
    pub tags: TagStack,
    /// The l2net header.
    pub header: HeaderRepr,
    /// The body: exactly `header.length` bytes, padding removed.
    pub body: &'a [u8],
}

impl<'a> ParsedFrame<'a> {
    /// Parse the body according to the header's kind and flags.
    pub fn message(&self) -> Result<MessageRepr<'a>, WireError> {
        MessageRepr::parse(self.header.kind, self.header.flags, self.body)
    }

    /// The outer VLAN tag, which decides the frame's VLAN.
    pub fn vlan(&self) -> Option<VlanTag> {
        self.tags.outer()
    }

    /// The message kind.
    pub fn kind(&self) -> MsgKind {
        self.header.kind
    }
}

/// Parse a whole frame (destination MAC to the end of the padding, no FCS).
///
/// Fails with [`WireError::Truncated`] if the bytes end inside a header,
/// [`WireError::TooManyTags`] on a third tag, [`WireError::NotL2net`] for another EtherType,
/// the header's own errors (version, kind, zero sender) and [`WireError::BadLength`] if the
/// header's `length` runs past the frame.
pub fn parse_frame(bytes: &[u8]) -> Result<ParsedFrame<'_>, WireError> {
    parse_frame_stripped(bytes, None)
}

/// Parse a frame whose outer tag the link may have stripped: `stripped` is put outside the
/// tags still in the bytes, so [`ParsedFrame::tags`] is the same whether or not the kernel or
/// NIC removed it. Two tags in the bytes plus a stripped one are [`WireError::TooManyTags`].
pub fn parse_frame_stripped(
    bytes: &[u8],
    stripped: Option<VlanTag>,
) -> Result<ParsedFrame<'_>, WireError> {
    let eth = ethernet::Frame::new_checked(bytes)?;
    let (mut tags, ethertype, used) = TagStack::parse(&bytes[12..])?;
    if let Some(tag) = stripped {
        tags.push_outer(tag)?;
    }
    if ethertype != ETHERTYPE_L2NET {
        return Err(WireError::NotL2net { ethertype });
    }
    let packet = header::Packet::new_checked(&bytes[12 + used..])?;
    let header = HeaderRepr::parse(&packet)?;
    let body = packet.into_inner();
    let body = &body[header::HEADER_LEN..header::HEADER_LEN + usize::from(header.length)];
    Ok(ParsedFrame {
        dst: eth.dst_addr(),
        src: eth.src_addr(),
        tags,
        header,
        body,
    })
}

/// Parse a frame received from a link, using its metadata: the stripped VLAN tag is reported
/// as the outer tag, and a frame the link truncated is [`WireError::Truncated`].
pub fn parse_rx<'a>(bytes: &'a [u8], meta: &RxMeta) -> Result<ParsedFrame<'a>, WireError> {
    if meta.truncated {
        return Err(WireError::Truncated);
    }
    parse_frame_stripped(bytes, meta.stripped_vlan)
}

/// Most l2net messages a receiver takes from one frame: the first and up to seven following
/// ones (docs/PROTOCOL.md section 2, "Following messages"). Further bytes are ignored.
pub const MAX_MESSAGES: usize = 8;

/// The l2net messages of one frame: an iterator over `(header, body)` pairs from the bytes
/// after the EtherType (the first l2net header) to the end of the frame, padding included.
///
/// The first item is the frame's first message (`Err` if its header or `length` is bad). A
/// following message starts right after the previous one's body; the bytes there are padding,
/// and the iteration ends, when fewer than 16 are left or the first of them (the `version`
/// byte) is 0. A following message must have the first one's `domain` and `sender`
/// ([`WireError::ForeignFollower`]); any error is yielded once and ends the iteration, as do
/// [`MAX_MESSAGES`] messages. Never panics, whatever the bytes.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
    /// Domain and sender of the first message, once it was read.
    first: Option<(u16, ParticipantId)>,
    left: u8,
}

impl<'a> Messages<'a> {
    /// The messages of `packet`: a frame's bytes from the first l2net header on.
    pub fn new(packet: &'a [u8]) -> Self {
        Messages {
            rest: packet,
            first: None,
            left: MAX_MESSAGES as u8,
        }
    }

    /// The bytes after the messages read so far.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn parse_one(&mut self) -> Result<(HeaderRepr, &'a [u8]), WireError> {
        let header = HeaderRepr::parse_bytes(self.rest)?;
        let end = header::HEADER_LEN + usize::from(header.length);
        let body = self
            .rest
            .get(header::HEADER_LEN..end)
            .ok_or(WireError::BadLength {
                length: header.length,
                available: self.rest.len().saturating_sub(header::HEADER_LEN),
            })?;
        let origin = (header.domain, header.sender);
        match self.first {
            None => self.first = Some(origin),
            Some(first) if first != origin => return Err(WireError::ForeignFollower),
            Some(_) => {}
        }
        self.rest = self.rest.get(end..).unwrap_or_default();
        Ok((header, body))
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<(HeaderRepr, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        // After the first message: fewer than 16 bytes, or a version byte of 0, is padding.
        if self.first.is_some()
            && (self.rest.len() < header::HEADER_LEN || self.rest.first() == Some(&0))
        {
            self.left = 0;
            return None;
        }
        self.left -= 1;
        let r = self.parse_one();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

/// Write one l2net message (header and body) at the start of `buf`, as a message that
/// follows another in a frame (docs/PROTOCOL.md section 2): the caller puts it right after the
/// previous message's body. Returns the bytes written (16 + body).
pub fn emit_message(
    buf: &mut [u8],
    domain: u16,
    sender: ParticipantId,
    message: &MessageRepr<'_>,
) -> Result<usize, WireError> {
    let len = message.buffer_len();
    let length = u16::try_from(len).map_err(|_| WireError::TooLarge {
        len,
        max: MAX_BODY_LEN,
    })?;
    super::error::check_buffer(buf.len(), header::HEADER_LEN + len)?;
    let (head, body) = buf.split_at_mut(header::HEADER_LEN);
    HeaderRepr {
        kind: message.kind(),
        flags: message.flags(),
        domain,
        length,
        sender,
    }
    .emit(head)?;
    message.emit(body)?;
    Ok(header::HEADER_LEN + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::msg::{DataRepr, GoodbyeRepr};
    use crate::wire::{EntityId, Tci, topic_mac};

    // The example of docs/PROTOCOL.md section 4.9.
    #[rustfmt::skip]
    static FRAME: [u8; 60] = [
        0x03, 0x4c, 0x32, 0xf4, 0x52, 0x07, 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0x88, 0xb5,
        0x01, 0x10, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x18,
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xde, 0xad, 0xbe, 0xef,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    const SAMPLE: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

    fn repr(tags: TagStack) -> FrameRepr<'static> {
        FrameRepr {
            dst: topic_mac(42, "/chatter", "std_msgs/msg/String"),
            src: MacAddr([0x02, 0, 0, 0xaa, 0xbb, 0xcc]),
            tags,
            domain: 42,
            sender: ParticipantId::new(0x0123_4567_89ab_cdef).unwrap(),
            message: MessageRepr::Data(DataRepr {
                writer: EntityId(5),
                seq: 42,
                source_timestamp_ns: 0,
                related: None,
                payload: &SAMPLE,
            }),
        }
    }

    fn s_tag() -> VlanTag {
        VlanTag::dot1ad(Tci::new(3, false, 10))
    }
    fn c_tag() -> VlanTag {
        VlanTag::dot1q(Tci::new(6, false, 20))
    }

    /// FRAME with tags inserted after the source MAC.
    fn tagged(tags: &[VlanTag]) -> ([u8; 68], usize) {
        let mut b = [0u8; 68];
        b[..12].copy_from_slice(&FRAME[..12]);
        let mut at = 12;
        for t in tags {
            b[at..at + 2].copy_from_slice(&t.tpid.to_be_bytes());
            b[at + 2..at + 4].copy_from_slice(&t.tci.0.to_be_bytes());
            at += 4;
        }
        b[at..at + 42].copy_from_slice(&FRAME[12..54]);
        (b, (at + 42).max(60))
    }

    #[test]
    fn deconstruct() {
        let p = parse_frame(&FRAME).unwrap();
        let want = repr(TagStack::new());
        assert_eq!(p.dst, want.dst);
        assert_eq!(p.src, want.src);
        assert!(p.tags.is_empty() && p.vlan().is_none());
        assert_eq!(p.kind(), MsgKind::Data);
        assert_eq!(p.header.length, 24);
        assert_eq!(p.header.domain, 42);
        assert_eq!(p.body, &FRAME[30..54]);
        assert_eq!(p.message(), Ok(want.message));
    }

    #[test]
    fn construct() {
        let r = repr(TagStack::new());
        assert_eq!(r.frame_len(), 54);
        assert_eq!(r.buffer_len(), 60);
        let mut buf = [0xa5u8; 60];
        assert_eq!(r.emit(&mut buf), Ok(54));
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn tagged_round_trips() {
        for tags in [&[c_tag()][..], &[s_tag(), c_tag()][..]] {
            let stack = TagStack::from_slice(tags).unwrap();
            let r = repr(stack);
            let (want, len) = tagged(tags);
            let mut buf = [0xa5u8; 68];
            assert_eq!(r.buffer_len(), len);
            r.emit(&mut buf[..len]).unwrap();
            assert_eq!(buf[..len], want[..len]);
            let p = parse_frame(&buf[..len]).unwrap();
            assert_eq!(p.tags, stack);
            assert_eq!(p.vlan(), Some(tags[0]));
            assert_eq!(p.message(), Ok(r.message));
        }
    }

    #[test]
    fn stripped_tag_is_the_outer_tag() {
        // The kernel removed the S-tag of a QinQ frame; the C-tag is still in the bytes.
        let (bytes, len) = tagged(&[c_tag()]);
        let p = parse_frame_stripped(&bytes[..len], Some(s_tag())).unwrap();
        assert_eq!(p.tags, TagStack::double(s_tag(), c_tag()));
        assert_eq!(p.vlan(), Some(s_tag()));
        // Untagged bytes plus a stripped tag.
        let mut meta = RxMeta::new(60);
        meta.stripped_vlan = Some(c_tag());
        let p = parse_rx(&FRAME, &meta).unwrap();
        assert_eq!(p.tags, TagStack::single(c_tag()));
        // Two tags in the bytes plus a stripped one are three.
        let (bytes, len) = tagged(&[s_tag(), c_tag()]);
        assert_eq!(
            parse_frame_stripped(&bytes[..len], Some(s_tag())),
            Err(WireError::TooManyTags)
        );
        meta.truncated = true;
        assert_eq!(parse_rx(&FRAME, &meta), Err(WireError::Truncated));
    }

    #[test]
    fn short_and_malformed_frames() {
        for len in 0..30 {
            assert_eq!(
                parse_frame(&FRAME[..len]),
                Err(WireError::Truncated),
                "{len}"
            );
        }
        for len in 30..54 {
            assert_eq!(
                parse_frame(&FRAME[..len]),
                Err(WireError::BadLength {
                    length: 24,
                    available: len - 30
                }),
                "{len}"
            );
        }
        // No padding at all is fine.
        assert!(parse_frame(&FRAME[..54]).is_ok());
        let mut b = FRAME;
        b[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(
            parse_frame(&b),
            Err(WireError::NotL2net { ethertype: 0x0800 })
        );
        let mut b = FRAME;
        b[14] = 2;
        assert_eq!(parse_frame(&b), Err(WireError::UnsupportedVersion(2)));
        let mut b = FRAME;
        b[15] = 0x7f;
        assert_eq!(parse_frame(&b), Err(WireError::UnknownKind(0x7f)));
        let mut b = FRAME;
        b[22..30].fill(0);
        assert_eq!(parse_frame(&b), Err(WireError::ZeroParticipant));
        let three = [s_tag(), c_tag(), c_tag()];
        let mut b = [0u8; 72];
        b[..12].copy_from_slice(&FRAME[..12]);
        for (i, t) in three.iter().enumerate() {
            b[12 + 4 * i..14 + 4 * i].copy_from_slice(&t.tpid.to_be_bytes());
        }
        b[24..72].copy_from_slice(&FRAME[12..]);
        assert_eq!(parse_frame(&b), Err(WireError::TooManyTags));
        // A body the kind cannot parse: the frame parses, the message does not.
        let mut b = FRAME;
        b[21] = 10;
        assert_eq!(
            parse_frame(&b).unwrap().message(),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn emit_errors() {
        let r = repr(TagStack::new());
        let mut buf = [0u8; 60];
        assert_eq!(
            r.emit(&mut buf[..53]),
            Err(WireError::BufferTooSmall { len: 53, need: 54 })
        );
        assert_eq!(r.check_mtu(1500), Ok(()));
        assert_eq!(r.check_mtu(40), Ok(()));
        assert_eq!(
            r.check_mtu(39),
            Err(WireError::TooLarge { len: 40, max: 39 })
        );
        let big = [0u8; 70_000];
        let mut huge = r;
        if let MessageRepr::Data(d) = &mut huge.message {
            d.payload = &big;
        }
        assert_eq!(
            huge.check_mtu(usize::MAX),
            Err(WireError::TooLarge {
                len: 70_020,
                max: 65_535
            })
        );
        assert_eq!(max_body_len(1500), 1484);
        assert_eq!(max_body_len(10), 0);
        assert_eq!(max_body_len(100_000), 65_535);
    }

    #[test]
    fn frame_header_lends_the_body() {
        let fh = FrameHeader {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            tags: TagStack::single(c_tag()),
            header: HeaderRepr {
                kind: MsgKind::Goodbye,
                flags: 0,
                domain: 7,
                length: 3,
                sender: ParticipantId::new(9).unwrap(),
            },
        };
        assert_eq!(fh.header_len(), 34);
        assert_eq!(fh.buffer_len(), 60);
        let mut buf = [0xa5u8; 60];
        fh.emit(&mut buf).unwrap().copy_from_slice(&[1, 2, 3]);
        assert!(buf[37..].iter().all(|&b| b == 0));
        let p = parse_frame(&buf).unwrap();
        assert_eq!(p.body, &[1, 2, 3]);
        assert_eq!(p.message(), Ok(MessageRepr::Goodbye(GoodbyeRepr)));
        assert_eq!(p.header, fh.header);
    }

    // The example of docs/PROTOCOL.md section 2 ("Following messages"): the DATA of section
    // 4.9 with an ACKNACK after it (writer 0x1122334455667788/7, reader 3, base 10, count 5,
    // ROOM, 32 bits, nothing missing).
    #[rustfmt::skip]
    static DATA_ACK: [u8; 106] = [
        0x03, 0x4c, 0x32, 0xf4, 0x52, 0x07, 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0x88, 0xb5,
        0x01, 0x10, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x18,
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xde, 0xad, 0xbe, 0xef,
        0x01, 0x21, 0x02, 0x00, 0x00, 0x2a, 0x00, 0x24,
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
        0x00, 0x00, 0x00, 0x05, 0x00, 0x20, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    fn ack() -> MessageRepr<'static> {
        MessageRepr::AckNack(crate::wire::msg::AckNackRepr {
            is_final: false,
            room: true,
            writer_participant: ParticipantId::new(0x1122_3344_5566_7788).unwrap(),
            writer: EntityId(7),
            reader: EntityId(3),
            count: 5,
            missing: crate::wire::msg::SeqSet::new(10, 32).unwrap(),
        })
    }

    type Items<'a> = heapless::Vec<Result<(HeaderRepr, &'a [u8]), WireError>, 16>;

    fn all(packet: &[u8]) -> Items<'_> {
        Messages::new(packet).collect()
    }

    #[test]
    fn following_message_deconstruct() {
        // An old receiver's view: the first message, the rest is padding.
        let p = parse_frame(&DATA_ACK).unwrap();
        assert_eq!(p.message(), Ok(repr(TagStack::new()).message));
        let m = all(&DATA_ACK[14..]);
        assert_eq!(m.len(), 2);
        let (h0, b0) = m[0].unwrap();
        assert_eq!(h0, p.header);
        assert_eq!(b0, p.body);
        let (h1, b1) = m[1].unwrap();
        assert_eq!(h1.kind, MsgKind::AckNack);
        assert_eq!((h1.domain, h1.sender, h1.length), (42, p.header.sender, 36));
        assert_eq!(MessageRepr::parse(h1.kind, h1.flags, b1), Ok(ack()));
    }

    #[test]
    fn following_message_construct() {
        let f = repr(TagStack::new());
        let mut buf = [0xa5u8; 106];
        let n = f.emit(&mut buf[..54]).unwrap();
        assert_eq!(n, 54);
        let m = emit_message(&mut buf[54..], 42, f.sender, &ack()).unwrap();
        assert_eq!(m, 52);
        assert_eq!(buf, DATA_ACK);
        assert_eq!(
            emit_message(&mut buf[60..], 42, f.sender, &ack()),
            Err(WireError::BufferTooSmall { len: 46, need: 52 })
        );
    }

    #[test]
    fn padding_ends_the_messages() {
        // The 4.9 example: 6 bytes of zero padding, fewer than a header.
        assert_eq!(all(&FRAME[14..]).len(), 1);
        // 16 and more zero bytes: version 0 is padding.
        let mut b = [0u8; 100];
        b[..54].copy_from_slice(&DATA_ACK[..54]);
        assert_eq!(all(&b[14..]).len(), 1);
        // A version byte of 0 ends it even when other bytes follow.
        let mut b = DATA_ACK;
        b[54] = 0;
        assert_eq!(all(&b[14..]).len(), 1);
        // Trailing bytes after the ACKNACK that are no header.
        let mut b = [0u8; 120];
        b[..106].copy_from_slice(&DATA_ACK);
        b[106] = 1;
        assert_eq!(all(&b[14..]).len(), 2);
    }

    #[test]
    fn bad_following_messages() {
        fn last(b: &[u8]) -> Result<(HeaderRepr, &[u8]), WireError> {
            all(&b[14..]).pop().unwrap()
        }
        // Another sender or domain.
        let mut b = DATA_ACK;
        b[69] ^= 1;
        assert_eq!(last(&b), Err(WireError::ForeignFollower));
        let mut b = DATA_ACK;
        b[59] = 43;
        assert_eq!(last(&b), Err(WireError::ForeignFollower));
        // Another version.
        let mut b = DATA_ACK;
        b[54] = 2;
        assert_eq!(last(&b), Err(WireError::UnsupportedVersion(2)));
        // A length past the frame.
        let mut b = DATA_ACK;
        b[61] = 37;
        assert_eq!(
            last(&b),
            Err(WireError::BadLength {
                length: 37,
                available: 36
            })
        );
        // An unknown kind.
        let mut b = DATA_ACK;
        b[55] = 0x7f;
        assert_eq!(last(&b), Err(WireError::UnknownKind(0x7f)));
        // The first message bad: one error, nothing after it.
        let mut b = DATA_ACK;
        b[14] = 9;
        assert_eq!(all(&b[14..])[..], [Err(WireError::UnsupportedVersion(9))]);
        assert_eq!(all(&[])[..], [Err(WireError::Truncated)]);
    }

    #[test]
    fn at_most_max_messages() {
        // Twenty GOODBYEs back to back: the first MAX_MESSAGES are read.
        let sender = ParticipantId::new(5).unwrap();
        let mut b = [0u8; 20 * 16];
        for i in 0..20 {
            let n = emit_message(
                &mut b[i * 16..],
                1,
                sender,
                &MessageRepr::Goodbye(GoodbyeRepr),
            );
            assert_eq!(n, Ok(16));
        }
        let m = all(&b);
        assert_eq!(m.len(), MAX_MESSAGES);
        assert!(
            m.iter()
                .all(|r| r.is_ok_and(|(h, _)| h.kind == MsgKind::Goodbye))
        );
    }
}
