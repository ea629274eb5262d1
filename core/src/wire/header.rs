//! The 16-byte l2net header that starts every message (`docs/PROTOCOL.md` section 2).
//!
//! ```text
//! 0        1      2       3          4        6        8                 16
//! +--------+------+-------+----------+--------+--------+-----------------+
//! |version | kind | flags | reserved | domain | length | sender          |
//! +--------+------+-------+----------+--------+--------+-----------------+
//! ```
//!
//! [`Packet`] is a view over the header and the body after it; [`HeaderRepr`] is the parsed
//! header. [`ParticipantId`], [`EntityId`] and [`MsgKind`] are the identifiers every message uses.

use core::fmt;
use core::num::NonZeroU64;

use zerocopy::byteorder::network_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Ref, Unaligned};

use super::WireError;

/// Length of the l2net header.
pub const HEADER_LEN: usize = 16;
/// The protocol version this implementation speaks.
pub const VERSION: u8 = 1;
/// Largest body the 16-bit `length` field can describe.
pub const MAX_BODY_LEN: usize = u16::MAX as usize;

/// A participant's id: random, fixed for the participant's lifetime, never 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParticipantId(NonZeroU64);

impl ParticipantId {
    /// The id `raw`, or `None` for 0 (which no participant may use).
    pub const fn new(raw: u64) -> Option<Self> {
        match NonZeroU64::new(raw) {
            Some(v) => Some(ParticipantId(v)),
            None => None,
        }
    }

    /// Parse a wire field: 0 is [`WireError::ZeroParticipant`].
    pub const fn from_wire(raw: u64) -> Result<Self, WireError> {
        match NonZeroU64::new(raw) {
            Some(v) => Ok(ParticipantId(v)),
            None => Err(WireError::ZeroParticipant),
        }
    }

    /// The id as a number (never 0).
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParticipantId({:#018x})", self.get())
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.get())
    }
}

/// The id of a writer or reader inside its participant. The pair (participant id, entity id)
/// is globally unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EntityId(pub u32);

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The message kinds of `docs/PROTOCOL.md` section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum MsgKind {
    /// Participant announcement and liveliness (`0x01`).
    Hello = 0x01,
    /// Participant leaves (`0x02`).
    Goodbye = 0x02,
    /// One sample (`0x10`).
    Data = 0x10,
    /// One fragment of a large sample (`0x11`).
    DataFrag = 0x11,
    /// Several small samples of one writer (`0x12`).
    Batch = 0x12,
    /// A reliable writer's available range (`0x20`).
    Heartbeat = 0x20,
    /// A reliable reader's acknowledgement and request (`0x21`).
    AckNack = 0x21,
    /// A reliable reader's request for missing fragments (`0x22`).
    NackFrag = 0x22,
}

impl MsgKind {
    /// Every kind, in wire order.
    pub const ALL: [MsgKind; 8] = [
        MsgKind::Hello,
        MsgKind::Goodbye,
        MsgKind::Data,
        MsgKind::DataFrag,
        MsgKind::Batch,
        MsgKind::Heartbeat,
        MsgKind::AckNack,
        MsgKind::NackFrag,
    ];

    /// The kind with wire value `v`, or [`WireError::UnknownKind`].
    pub const fn from_u8(v: u8) -> Result<MsgKind, WireError> {
        Ok(match v {
            0x01 => MsgKind::Hello,
            0x02 => MsgKind::Goodbye,
            0x10 => MsgKind::Data,
            0x11 => MsgKind::DataFrag,
            0x12 => MsgKind::Batch,
            0x20 => MsgKind::Heartbeat,
            0x21 => MsgKind::AckNack,
            0x22 => MsgKind::NackFrag,
            other => return Err(WireError::UnknownKind(other)),
        })
    }

    /// The kind's name as in the protocol document (`"DATA_FRAG"`).
    pub const fn name(self) -> &'static str {
        match self {
            MsgKind::Hello => "HELLO",
            MsgKind::Goodbye => "GOODBYE",
            MsgKind::Data => "DATA",
            MsgKind::DataFrag => "DATA_FRAG",
            MsgKind::Batch => "BATCH",
            MsgKind::Heartbeat => "HEARTBEAT",
            MsgKind::AckNack => "ACKNACK",
            MsgKind::NackFrag => "NACK_FRAG",
        }
    }
}

impl TryFrom<u8> for MsgKind {
    type Error = WireError;
    fn try_from(v: u8) -> Result<Self, WireError> {
        MsgKind::from_u8(v)
    }
}

impl From<MsgKind> for u8 {
    fn from(k: MsgKind) -> u8 {
        k as u8
    }
}

impl fmt::Display for MsgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod field {
    use core::ops::Range;

    pub const VERSION: usize = 0;
    pub const KIND: usize = 1;
    pub const FLAGS: usize = 2;
    pub const RESERVED: usize = 3;
    pub const DOMAIN: Range<usize> = 4..6;
    pub const LENGTH: Range<usize> = 6..8;
    pub const SENDER: Range<usize> = 8..16;
}

/// The header as a zerocopy struct, used by [`HeaderRepr::parse_bytes`] and [`HeaderRepr::emit`].
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RawHeader {
    version: u8,
    kind: u8,
    flags: u8,
    reserved: u8,
    domain: U16,
    length: U16,
    sender: U64,
}

// The struct and the field table describe the same bytes.
const _: () = {
    assert!(core::mem::size_of::<RawHeader>() == HEADER_LEN);
    assert!(core::mem::offset_of!(RawHeader, version) == field::VERSION);
    assert!(core::mem::offset_of!(RawHeader, kind) == field::KIND);
    assert!(core::mem::offset_of!(RawHeader, flags) == field::FLAGS);
    assert!(core::mem::offset_of!(RawHeader, reserved) == field::RESERVED);
    assert!(core::mem::offset_of!(RawHeader, domain) == field::DOMAIN.start);
    assert!(core::mem::offset_of!(RawHeader, length) == field::LENGTH.start);
    assert!(core::mem::offset_of!(RawHeader, sender) == field::SENDER.start);
};

/// A read/write view of an l2net header and the body after it.
///
/// After [`Packet::new_checked`] (which also checks that `length` body bytes follow the header)
/// no accessor can panic; with [`Packet::new_unchecked`] accessors panic on short buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Packet::check_len) it.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Ensure the buffer holds the header ([`WireError::Truncated`]) and the `length` body bytes
    /// it announces ([`WireError::BadLength`]). Bytes after the body (padding) are allowed.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let length = self.length();
        if HEADER_LEN + usize::from(length) > len {
            return Err(WireError::BadLength {
                length,
                available: len - HEADER_LEN,
            });
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The `version` field.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }
    /// The raw `kind` field (see [`MsgKind::from_u8`]).
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }
    /// The `flags` field.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// The `reserved` field (written 0, ignored on receive).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::RESERVED]
    }
    /// The `domain` field.
    pub fn domain(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DOMAIN])
    }
    /// The `length` field: body bytes after the header.
    pub fn length(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }
    /// The raw `sender` field (see [`ParticipantId::from_wire`]).
    pub fn sender(&self) -> u64 {
        let b = &self.buffer.as_ref()[field::SENDER];
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    /// The body: `length` bytes after the header, padding excluded.
    pub fn body(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.length());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the `version` field.
    pub fn set_version(&mut self, v: u8) {
        self.buffer.as_mut()[field::VERSION] = v;
    }
    /// Set the `kind` field.
    pub fn set_kind(&mut self, k: u8) {
        self.buffer.as_mut()[field::KIND] = k;
    }
    /// Set the `flags` field.
    pub fn set_flags(&mut self, f: u8) {
        self.buffer.as_mut()[field::FLAGS] = f;
    }
    /// Set the `reserved` field.
    pub fn set_reserved(&mut self, r: u8) {
        self.buffer.as_mut()[field::RESERVED] = r;
    }
    /// Set the `domain` field.
    pub fn set_domain(&mut self, d: u16) {
        self.buffer.as_mut()[field::DOMAIN].copy_from_slice(&d.to_be_bytes());
    }
    /// Set the `length` field.
    pub fn set_length(&mut self, l: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&l.to_be_bytes());
    }
    /// Set the `sender` field.
    pub fn set_sender(&mut self, s: u64) {
        self.buffer.as_mut()[field::SENDER].copy_from_slice(&s.to_be_bytes());
    }
    /// Mutable body: `length` bytes after the header.
    pub fn body_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.length());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A parsed l2net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeaderRepr {
    /// Message kind.
    pub kind: MsgKind,
    /// Per-kind flags (see [`crate::wire::msg::flags`]).
    pub flags: u8,
    /// Domain id.
    pub domain: u16,
    /// Body bytes after the header.
    pub length: u16,
    /// The sending participant.
    pub sender: ParticipantId,
}

impl HeaderRepr {
    /// Parse the header at the start of `bytes` (body bytes may follow; they are not checked
    /// here: see [`Packet::check_len`]). Fails on short input, a version other than
    /// [`VERSION`], an unknown kind and a zero sender.
    pub fn parse_bytes(bytes: &[u8]) -> Result<HeaderRepr, WireError> {
        let (raw, _) = Ref::<_, RawHeader>::from_prefix(bytes).map_err(|_| WireError::Truncated)?;
        if raw.version != VERSION {
            return Err(WireError::UnsupportedVersion(raw.version));
        }
        Ok(HeaderRepr {
            kind: MsgKind::from_u8(raw.kind)?,
            flags: raw.flags,
            domain: raw.domain.get(),
            length: raw.length.get(),
            sender: ParticipantId::from_wire(raw.sender.get())?,
        })
    }

    /// Parse the header of a packet view, checking that the body fits
    /// ([`Packet::check_len`]).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<HeaderRepr, WireError> {
        packet.check_len()?;
        Self::parse_bytes(packet.buffer.as_ref())
    }

    /// Bytes needed to emit the header ([`HEADER_LEN`]).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header (version [`VERSION`], reserved 0) at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let raw = RawHeader {
            version: VERSION,
            kind: self.kind as u8,
            flags: self.flags,
            reserved: 0,
            domain: U16::new(self.domain),
            length: U16::new(self.length),
            sender: U64::new(self.sender.get()),
        };
        raw.write_to_prefix(buf)
            .map_err(|_| WireError::BufferTooSmall {
                len: buf.len(),
                need: HEADER_LEN,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BYTES: [u8; 20] = [
        0x01, // version
        0x10, // kind DATA
        0x01, // flags
        0x00, // reserved
        0x00, 0x2a, // domain 42
        0x00, 0x03, // length 3
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // sender
        0xaa, 0xbb, 0xcc, // body
        0x00, // padding
    ];

    fn repr() -> HeaderRepr {
        HeaderRepr {
            kind: MsgKind::Data,
            flags: 0x01,
            domain: 42,
            length: 3,
            sender: ParticipantId::new(0x0123_4567_89ab_cdef).unwrap(),
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&BYTES[..]).unwrap();
        assert_eq!(p.version(), 1);
        assert_eq!(p.kind(), 0x10);
        assert_eq!(p.flags(), 1);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.domain(), 42);
        assert_eq!(p.length(), 3);
        assert_eq!(p.sender(), 0x0123_4567_89ab_cdef);
        assert_eq!(p.body(), &[0xaa, 0xbb, 0xcc]);
        assert_eq!(HeaderRepr::parse(&p), Ok(repr()));
    }

    #[test]
    fn construct() {
        let mut b = [0xffu8; 20];
        repr().emit(&mut b).unwrap();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.body_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc]);
        b[19] = 0;
        assert_eq!(b, BYTES);

        let mut b = [0u8; 19];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version(1);
        p.set_kind(0x10);
        p.set_flags(1);
        p.set_reserved(0);
        p.set_domain(42);
        p.set_length(3);
        p.set_sender(0x0123_4567_89ab_cdef);
        p.body_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc]);
        assert_eq!(b, BYTES[..19]);
    }

    #[test]
    fn reserved_is_ignored() {
        let mut b = BYTES;
        b[3] = 0x5a;
        assert_eq!(HeaderRepr::parse_bytes(&b), Ok(repr()));
    }

    #[test]
    fn short_and_inconsistent() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&BYTES[..len]),
                Err(WireError::Truncated)
            );
            assert_eq!(
                HeaderRepr::parse_bytes(&BYTES[..len]),
                Err(WireError::Truncated)
            );
        }
        for len in HEADER_LEN..HEADER_LEN + 3 {
            assert_eq!(
                Packet::new_checked(&BYTES[..len]),
                Err(WireError::BadLength {
                    length: 3,
                    available: len - HEADER_LEN
                })
            );
        }
        let mut b = BYTES;
        b[0] = 2;
        assert_eq!(
            HeaderRepr::parse_bytes(&b),
            Err(WireError::UnsupportedVersion(2))
        );
        let mut b = BYTES;
        b[1] = 0x13;
        assert_eq!(
            HeaderRepr::parse_bytes(&b),
            Err(WireError::UnknownKind(0x13))
        );
        let mut b = BYTES;
        b[8..16].fill(0);
        assert_eq!(HeaderRepr::parse_bytes(&b), Err(WireError::ZeroParticipant));
        let mut out = [0u8; 15];
        assert_eq!(
            repr().emit(&mut out),
            Err(WireError::BufferTooSmall { len: 15, need: 16 })
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in MsgKind::ALL {
            assert_eq!(MsgKind::try_from(u8::from(k)), Ok(k));
        }
        let known = MsgKind::ALL.map(u8::from);
        for v in 0..=u8::MAX {
            if !known.contains(&v) {
                assert_eq!(MsgKind::from_u8(v), Err(WireError::UnknownKind(v)));
            }
        }
        assert_eq!(ParticipantId::new(0), None);
        assert_eq!(ParticipantId::from_wire(0), Err(WireError::ZeroParticipant));
    }
}
