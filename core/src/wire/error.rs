//! The error of every wire-format operation.

use core::fmt;

/// Why bytes could not be parsed as (or a value could not be emitted into) an l2net frame.
///
/// Every parser in [`crate::wire`] returns this on malformed input; none of them panics. The
/// engine counts these in its statistics and drops the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WireError {
    /// The input ends before a header, a field or a counted list ends.
    Truncated,
    /// The EtherType after the VLAN tags is not l2net's `0x88B5`.
    NotL2net {
        /// The EtherType found.
        ethertype: u16,
    },
    /// More than two VLAN tags (in the bytes plus the one stripped by the link).
    TooManyTags,
    /// A VLAN tag to be emitted has a TPID other than `0x8100` or `0x88A8`.
    BadTpid(u16),
    /// The l2net header's `version` is not 1.
    UnsupportedVersion(u8),
    /// The l2net header's `kind` is not a known message kind.
    UnknownKind(u8),
    /// A participant id field (the header's `sender` or a body field) is 0.
    ZeroParticipant,
    /// The l2net header's `length` is larger than the bytes after the header.
    BadLength {
        /// The `length` field.
        length: u16,
        /// Bytes actually present after the header.
        available: usize,
    },
    /// A string field (participant name, topic, type name) is not valid UTF-8.
    InvalidUtf8,
    /// A string field is longer than its length field or the protocol allows.
    StringTooLong {
        /// The string's length in bytes.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// An endpoint's `type_hash_len` is neither 0 nor 32.
    BadTypeHashLen(u8),
    /// An endpoint's `endpoint_kind` is not a known kind.
    UnknownEndpointKind(u8),
    /// An endpoint's `liveliness_kind` (HELLO extension record) is not a known kind.
    UnknownLiveliness(u8),
    /// A HELLO's endpoint page is inconsistent (`first_endpoint_index + endpoint_count` exceeds
    /// `total_endpoints`).
    BadEndpointPage,
    /// A DATA_FRAG's fragment fields are inconsistent: zero `frag_size` or `frag_count`,
    /// `frag_index >= frag_count`, a `sample_len` that the fragments do not cover exactly, or a
    /// fragment whose length differs from what the other fields imply.
    BadFragment,
    /// A bitmap's `num_bits` is larger than 256.
    BitmapTooLong(u16),
    /// A sequence number field is invalid: 0 where a sample is named, a HEARTBEAT range with
    /// `last_seq + 1 < first_seq`, or a range that overflows.
    BadSequence,
    /// A list has more entries than its count field can express (more than 255 endpoints in one
    /// HELLO, more than 65535 samples in one BATCH).
    TooManyEntries,
    /// A frame, body or sample of `len` bytes is larger than the limit `max` (the link's MTU,
    /// the 16-bit `length` field, a 16-bit sample length).
    TooLarge {
        /// The length that was asked for.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// The output buffer of `len` bytes is smaller than the `need` bytes to be emitted.
    BufferTooSmall {
        /// The buffer's length.
        len: usize,
        /// The bytes needed (`buffer_len()` of the value).
        need: usize,
    },
    /// A message that follows another in one frame (docs/PROTOCOL.md section 2) names another
    /// sender or domain than the frame's first message.
    ForeignFollower,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WireError::Truncated => f.write_str("truncated: input ends inside a header or field"),
            WireError::NotL2net { ethertype } => {
                write!(f, "EtherType {ethertype:#06x} is not l2net (0x88b5)")
            }
            WireError::TooManyTags => f.write_str("more than two VLAN tags"),
            WireError::BadTpid(t) => write!(f, "TPID {t:#06x} is neither 0x8100 nor 0x88a8"),
            WireError::UnsupportedVersion(v) => write!(f, "unsupported l2net version {v}"),
            WireError::UnknownKind(k) => write!(f, "unknown message kind {k:#04x}"),
            WireError::ZeroParticipant => f.write_str("participant id 0 is invalid"),
            WireError::BadLength { length, available } => write!(
                f,
                "header length {length} exceeds the {available} bytes after the header"
            ),
            WireError::InvalidUtf8 => f.write_str("string field is not valid UTF-8"),
            WireError::StringTooLong { len, max } => {
                write!(f, "string of {len} bytes exceeds the maximum of {max}")
            }
            WireError::BadTypeHashLen(n) => write!(f, "type hash length {n} is neither 0 nor 32"),
            WireError::UnknownEndpointKind(k) => write!(f, "unknown endpoint kind {k}"),
            WireError::UnknownLiveliness(k) => write!(f, "unknown liveliness kind {k}"),
            WireError::BadEndpointPage => {
                f.write_str("endpoint page exceeds the announced total number of endpoints")
            }
            WireError::BadFragment => f.write_str("inconsistent fragment fields"),
            WireError::BitmapTooLong(n) => write!(f, "bitmap of {n} bits exceeds 256"),
            WireError::BadSequence => f.write_str("invalid sequence number or range"),
            WireError::TooManyEntries => f.write_str("more entries than the count field holds"),
            WireError::TooLarge { len, max } => {
                write!(f, "{len} bytes exceed the maximum of {max}")
            }
            WireError::BufferTooSmall { len, need } => {
                write!(
                    f,
                    "buffer of {len} bytes is smaller than the {need} bytes needed"
                )
            }
            WireError::ForeignFollower => {
                f.write_str("a following message names another sender or domain")
            }
        }
    }
}

impl core::error::Error for WireError {}

/// Check that a buffer of `len` bytes can take `need` bytes.
pub(crate) const fn check_buffer(len: usize, need: usize) -> Result<(), WireError> {
    if len < need {
        Err(WireError::BufferTooSmall { len, need })
    } else {
        Ok(())
    }
}
