//! Plain CDR (XCDR1) byte streams as rmw_cyclonedds_cpp writes them for the `"cdr"` format.
//!
//! A stream is the 4-byte encapsulation header `00 01 00 00` (CDR_LE, options 0) followed by
//! the payload. Every primitive is aligned to its own size (at most 8), counted from the first
//! byte after the header; padding bytes are zero and only come before a value that needs them.
//! Nothing pads the end of a stream.
//!
//! This module knows bytes only: the walk over a message's fields, driven by the rosidl
//! introspection tables, lives in `sys::introspection`. Writing goes through [`Sink`] so the
//! same walk first measures a message ([`Counter`]) and then writes it into a buffer the caller
//! owns ([`SliceWriter`]); reading goes through [`Reader`], whose every accessor is checked.

#![forbid(unsafe_code)]

use core::fmt;

/// Length of the encapsulation header.
pub const HEADER_LEN: usize = 4;
/// The encapsulation header written by this library: CDR_LE with zero options.
pub const HEADER_LE: [u8; 4] = [0x00, 0x01, 0x00, 0x00];
/// Encapsulation identifier of big-endian plain CDR (read only).
const ENCAPSULATION_CDR_BE: [u8; 2] = [0x00, 0x00];
/// Encapsulation identifier of little-endian plain CDR.
const ENCAPSULATION_CDR_LE: [u8; 2] = [0x00, 0x01];

/// Why a message could not be serialized or deserialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CdrError {
    /// The stream ended before the value being read.
    Truncated,
    /// The encapsulation header is not plain CDR (XCDR1) in either byte order.
    UnsupportedEncapsulation,
    /// A length prefix promises more elements or bytes than the stream can still hold.
    LengthTooLong,
    /// A bounded string or sequence holds more than its bound (in memory or on the wire).
    BoundExceeded,
    /// A boolean byte other than 0 or 1.
    InvalidBool,
    /// A string whose last byte (included in its length) is not NUL.
    MissingNul,
    /// A wide character that does not fit in one UTF-16 code unit.
    InvalidWchar,
    /// The message does not fit in the destination buffer, or is larger than 4 GiB.
    Overflow,
    /// Allocating message memory (string, sequence) failed.
    BadAlloc,
    /// The introspection tables are unusable (missing function, unknown type id, null pointer).
    BadTypeSupport(&'static str),
}

impl fmt::Display for CdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("CDR stream is truncated"),
            Self::UnsupportedEncapsulation => {
                f.write_str("unsupported CDR encapsulation (expected plain CDR)")
            }
            Self::LengthTooLong => f.write_str("CDR length prefix exceeds the remaining bytes"),
            Self::BoundExceeded => f.write_str("bounded string or sequence exceeds its bound"),
            Self::InvalidBool => f.write_str("boolean byte is neither 0 nor 1"),
            Self::MissingNul => f.write_str("CDR string is not NUL-terminated"),
            Self::InvalidWchar => f.write_str("wide character is not a UTF-16 code unit"),
            Self::Overflow => f.write_str("serialized message does not fit its buffer"),
            Self::BadAlloc => f.write_str("failed to allocate message memory"),
            Self::BadTypeSupport(what) => write!(f, "unusable type support: {what}"),
        }
    }
}

impl core::error::Error for CdrError {}

/// Offset of `pos` within the payload, for alignment.
fn padding(pos: usize, align: usize) -> usize {
    let rel = pos.wrapping_sub(HEADER_LEN);
    (align - rel % align) % align
}

/// Destination of a serialization walk.
pub trait Sink {
    /// Current absolute position in the stream (the header counts).
    fn pos(&self) -> usize;
    /// Writes zero padding up to the next multiple of `align` in the payload.
    fn align(&mut self, align: usize) -> Result<(), CdrError>;
    /// Writes raw bytes.
    fn put(&mut self, bytes: &[u8]) -> Result<(), CdrError>;

    /// Aligns to `bytes.len()` (capped at 8) and writes `bytes`.
    fn put_aligned(&mut self, bytes: &[u8]) -> Result<(), CdrError> {
        self.align(bytes.len().min(8))?;
        self.put(bytes)
    }

    /// Writes a uint32 length prefix.
    fn put_len(&mut self, len: usize) -> Result<(), CdrError> {
        let len = u32::try_from(len).map_err(|_| CdrError::Overflow)?;
        self.put_aligned(&len.to_le_bytes())
    }
}

/// Measures a stream without writing it.
#[derive(Debug)]
pub struct Counter {
    pos: usize,
}

impl Counter {
    /// A counter positioned after the header.
    pub fn new() -> Self {
        Self { pos: HEADER_LEN }
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for Counter {
    fn pos(&self) -> usize {
        self.pos
    }
    fn align(&mut self, align: usize) -> Result<(), CdrError> {
        self.pos += padding(self.pos, align);
        Ok(())
    }
    fn put(&mut self, bytes: &[u8]) -> Result<(), CdrError> {
        self.pos = self
            .pos
            .checked_add(bytes.len())
            .ok_or(CdrError::Overflow)?;
        Ok(())
    }
}

/// Writes a stream into a caller-owned buffer; never writes past its end.
#[derive(Debug)]
pub struct SliceWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceWriter<'a> {
    /// Writes the header into `buf` and positions the writer after it.
    pub fn new(buf: &'a mut [u8]) -> Result<Self, CdrError> {
        let head = buf.get_mut(..HEADER_LEN).ok_or(CdrError::Overflow)?;
        head.copy_from_slice(&HEADER_LE);
        Ok(Self {
            buf,
            pos: HEADER_LEN,
        })
    }
}

impl Sink for SliceWriter<'_> {
    fn pos(&self) -> usize {
        self.pos
    }
    fn align(&mut self, align: usize) -> Result<(), CdrError> {
        let pad = padding(self.pos, align);
        let end = self.pos + pad;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(CdrError::Overflow)?
            .fill(0);
        self.pos = end;
        Ok(())
    }
    fn put(&mut self, bytes: &[u8]) -> Result<(), CdrError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(CdrError::Overflow)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(CdrError::Overflow)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
}

/// Checked reader over a whole stream (header included).
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Reader<'a> {
    /// Checks the encapsulation header (plain CDR, either byte order) and positions the
    /// reader at the payload.
    pub fn new(buf: &'a [u8]) -> Result<Self, CdrError> {
        let head = buf.get(..HEADER_LEN).ok_or(CdrError::Truncated)?;
        let big_endian = match [head[0], head[1]] {
            ENCAPSULATION_CDR_LE => false,
            ENCAPSULATION_CDR_BE => true,
            _ => return Err(CdrError::UnsupportedEncapsulation),
        };
        Ok(Self {
            buf,
            pos: HEADER_LEN,
            big_endian,
        })
    }

    /// True when the stream's byte order differs from little endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Skips padding up to the next multiple of `align` in the payload.
    pub fn align(&mut self, align: usize) -> Result<(), CdrError> {
        let pad = padding(self.pos, align);
        if pad > self.remaining() {
            return Err(CdrError::Truncated);
        }
        self.pos += pad;
        Ok(())
    }

    /// Takes `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        if n > self.remaining() {
            return Err(CdrError::Truncated);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Aligns to `N` (capped at 8) and reads one primitive as little-endian bytes, whatever
    /// the stream's byte order.
    pub fn prim<const N: usize>(&mut self) -> Result<[u8; N], CdrError> {
        self.align(N.min(8))?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        if self.big_endian {
            out.reverse();
        }
        Ok(out)
    }

    /// Reads a uint32 length prefix.
    pub fn length_prefix(&mut self) -> Result<usize, CdrError> {
        Ok(u32::from_le_bytes(self.prim::<4>()?) as usize)
    }

    /// Reads a sequence count and checks that `count` elements of at least `min_wire` bytes
    /// each can still be in the stream, so no allocation is ever sized by a lying prefix.
    pub fn count(&mut self, min_wire: usize) -> Result<usize, CdrError> {
        let n = self.length_prefix()?;
        if n.checked_mul(min_wire.max(1))
            .is_none_or(|bytes| bytes > self.remaining())
        {
            return Err(CdrError::LengthTooLong);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_counts_from_payload() {
        let mut c = Counter::new();
        c.put(&[1]).unwrap();
        c.put_aligned(&[0; 8]).unwrap();
        assert_eq!(c.pos(), 4 + 8 + 8);
    }

    #[test]
    fn writer_never_overruns() {
        let mut buf = [0xAAu8; 9];
        let mut w = SliceWriter::new(&mut buf).unwrap();
        w.put(&[7]).unwrap();
        assert_eq!(w.put_aligned(&[1, 2, 3, 4]), Err(CdrError::Overflow));
        let mut tiny = [0u8; 3];
        assert!(SliceWriter::new(&mut tiny).is_err());
        let mut exact = [0xAAu8; 12];
        let mut w = SliceWriter::new(&mut exact).unwrap();
        w.put(&[7]).unwrap();
        w.put_len(0x0102).unwrap();
        assert_eq!(w.pos(), 12);
        assert_eq!(exact, [0, 1, 0, 0, 7, 0, 0, 0, 2, 1, 0, 0]);
    }

    #[test]
    fn reader_checks_everything() {
        assert_eq!(Reader::new(&[0, 1, 0]).err(), Some(CdrError::Truncated));
        assert_eq!(
            Reader::new(&[0, 7, 0, 0]).err(),
            Some(CdrError::UnsupportedEncapsulation)
        );
        let mut r = Reader::new(&[0, 1, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 1, 2]).unwrap();
        assert_eq!(r.take(1).unwrap(), &[9]);
        assert_eq!(r.count(1), Err(CdrError::LengthTooLong));
        let mut r = Reader::new(&[0, 1, 0, 0, 2, 0, 0, 0, 1, 2]).unwrap();
        assert_eq!(r.count(1), Ok(2));
        assert_eq!(r.prim::<4>(), Err(CdrError::Truncated));
        let mut r = Reader::new(&[0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!(r.count(8), Err(CdrError::LengthTooLong));
    }

    #[test]
    fn reader_big_endian() {
        let mut r = Reader::new(&[0, 0, 0, 0, 0, 0, 0, 5]).unwrap();
        assert!(r.big_endian());
        assert_eq!(r.length_prefix(), Ok(5));
    }
}
