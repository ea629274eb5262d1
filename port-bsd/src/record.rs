//! The capture records in a BPF read buffer, and a walker over them.
//!
//! One `read()` on a BPF descriptor returns many frames. Each starts with a header (the system's
//! `struct bpf_hdr`, or FreeBSD's `struct bpf_xhdr`) whose `bh_hdrlen` says where the frame's
//! bytes start, `bh_caplen` how many were captured and `bh_datalen` how long the frame was on the
//! wire; the next record starts at the next `BPF_WORDALIGN` boundary after the captured bytes.
//! The systems differ in the timestamp at the front of the header and in the alignment:
//!
//! | system  | header            | timestamp                         | `BPF_ALIGNMENT` |
//! |---------|-------------------|-----------------------------------|-----------------|
//! | macOS   | `bpf_hdr`         | `timeval32`: `i32` s, `i32` µs    | 4               |
//! | FreeBSD | `bpf_hdr`         | `timeval`: `time_t` s, `long` µs  | `sizeof(long)`  |
//! | FreeBSD | `bpf_xhdr`        | `bpf_ts`: `i64` s, `u64` fraction | `sizeof(long)`  |
//! | NetBSD  | `bpf_hdr`         | `bpf_timeval`: `long` s, `long` µs| `sizeof(long)`  |
//! | OpenBSD | `bpf_hdr`         | `bpf_timeval`: `u32` s, `u32` µs  | 4               |
//!
//! The walker never trusts the kernel's numbers: a header that does not fit, a `bh_hdrlen` smaller
//! than the header or past the data, a `bh_caplen` past the data or larger than `bh_datalen` is a
//! [`WalkError`], never a panic or an out-of-bounds read. Plain functions over byte slices,
//! compiled and tested on every host.

use core::fmt;
use core::ops::Range;

/// The unit of a header's timestamp fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FracUnit {
    /// Microseconds (`timeval`, `bpf_timeval`, FreeBSD `BPF_T_MICROTIME`).
    Micros,
    /// Nanoseconds (FreeBSD `BPF_T_NANOTIME`).
    Nanos,
    /// Units of 2^-64 s (FreeBSD `BPF_T_BINTIME`).
    Bintime,
}

/// Where the timestamp sits in a header: seconds at offset 0, then a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StampLayout {
    /// Width of the seconds field: 4 or 8 bytes (signed on every system but OpenBSD; values
    /// before 1970 are reported as "no timestamp").
    pub sec_len: usize,
    /// Offset of the fraction field.
    pub frac_offset: usize,
    /// Width of the fraction field: 4 or 8 bytes.
    pub frac_len: usize,
    /// What the fraction counts.
    pub unit: FracUnit,
}

/// The layout of one system's capture header. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderLayout {
    /// The timestamp, or `None` if the header carries none (FreeBSD `BPF_T_NONE`).
    pub stamp: Option<StampLayout>,
    /// Offset of `bh_caplen` (`u32`).
    pub caplen_offset: usize,
    /// Offset of `bh_datalen` (`u32`).
    pub datalen_offset: usize,
    /// Offset of `bh_hdrlen` (`u16`).
    pub hdrlen_offset: usize,
    /// `BPF_ALIGNMENT`: records start at multiples of it.
    pub alignment: usize,
}

impl HeaderLayout {
    /// macOS `struct bpf_hdr` (64-bit processes: `struct timeval32`), `BPF_ALIGNMENT` 4.
    pub const MACOS: HeaderLayout = HeaderLayout::micros(4, 4, 4, 4);
    /// FreeBSD `struct bpf_hdr` on LP64 (amd64, arm64, riscv64, powerpc64): 16-byte `timeval`.
    pub const FREEBSD_LP64: HeaderLayout = HeaderLayout::micros(8, 8, 8, 8);
    /// FreeBSD `struct bpf_xhdr` with `BPF_T_NANOTIME` on LP64: `bpf_ts` is `i64` + `u64`.
    pub const FREEBSD_XHDR_NANO_LP64: HeaderLayout = HeaderLayout::xhdr(FracUnit::Nanos, 8);
    /// FreeBSD `struct bpf_xhdr` with `BPF_T_BINTIME` on LP64.
    pub const FREEBSD_XHDR_BIN_LP64: HeaderLayout = HeaderLayout::xhdr(FracUnit::Bintime, 8);
    /// NetBSD `struct bpf_hdr` on LP64: `bpf_timeval` of two `long`s.
    pub const NETBSD_LP64: HeaderLayout = HeaderLayout::micros(8, 8, 8, 8);
    /// OpenBSD `struct bpf_hdr`: `bpf_timeval` of two `u32`s, `BPF_ALIGNMENT` 4. (Newer OpenBSD
    /// appends `bh_ifidx`, `bh_flowid`, `bh_flags`, `bh_drops` after `bh_hdrlen`; the walker
    /// follows `bh_hdrlen`, so both versions read the same.)
    pub const OPENBSD: HeaderLayout = HeaderLayout::micros(4, 4, 4, 4);

    /// A `bpf_hdr` with a microsecond timestamp of `sec_len` + `usec_len` bytes, the microseconds
    /// at `usec_offset` and the lengths right after the (padded) timestamp.
    pub const fn micros(
        sec_len: usize,
        usec_offset: usize,
        usec_len: usize,
        alignment: usize,
    ) -> HeaderLayout {
        // The C struct pads the timestamp to its alignment: the larger of the two field widths.
        let end = usec_offset + usec_len;
        let align = if sec_len > usec_len {
            sec_len
        } else {
            usec_len
        };
        let stamp_size = end.div_ceil(align) * align;
        HeaderLayout {
            stamp: Some(StampLayout {
                sec_len,
                frac_offset: usec_offset,
                frac_len: usec_len,
                unit: FracUnit::Micros,
            }),
            caplen_offset: stamp_size,
            datalen_offset: stamp_size + 4,
            hdrlen_offset: stamp_size + 8,
            alignment,
        }
    }

    /// FreeBSD's `struct bpf_xhdr` with the given fraction unit (`struct bpf_ts` is 16 bytes on
    /// every architecture).
    pub const fn xhdr(unit: FracUnit, alignment: usize) -> HeaderLayout {
        HeaderLayout {
            stamp: Some(StampLayout {
                sec_len: 8,
                frac_offset: 8,
                frac_len: 8,
                unit,
            }),
            caplen_offset: 16,
            datalen_offset: 20,
            hdrlen_offset: 24,
            alignment,
        }
    }

    /// The smallest header: up to and including `bh_hdrlen`.
    pub const fn min_header_len(&self) -> usize {
        self.hdrlen_offset + 2
    }

    /// `BPF_WORDALIGN(x)`, or `None` on overflow.
    pub const fn word_align(&self, x: usize) -> Option<usize> {
        let a = if self.alignment == 0 {
            1
        } else {
            self.alignment
        };
        match x.checked_add(a - 1) {
            Some(v) => Some(v / a * a),
            None => None,
        }
    }
}

/// One capture record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where the captured bytes are in the buffer.
    pub data: Range<usize>,
    /// `bh_datalen`: the frame's length on the wire.
    pub wire_len: usize,
    /// The timestamp in nanoseconds since the Unix epoch (wall clock), if the header has one and
    /// it is valid.
    pub timestamp_nanos: Option<u64>,
}

impl Record {
    /// Captured length (`bh_caplen`).
    pub fn captured_len(&self) -> usize {
        self.data.len()
    }

    /// True if fewer bytes were captured than the frame had.
    pub fn is_truncated(&self) -> bool {
        self.data.len() < self.wire_len
    }
}

/// Why a buffer's records cannot be walked further. Everything after the offending record is
/// unusable, since the next record's position depends on this one's lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WalkError {
    /// Fewer bytes remain at `offset` than a header needs.
    HeaderTruncated {
        /// Where the record starts.
        offset: usize,
        /// Bytes left in the buffer.
        remaining: usize,
    },
    /// `bh_hdrlen` is smaller than the header itself.
    HdrlenTooSmall {
        /// Where the record starts.
        offset: usize,
        /// The `bh_hdrlen` found.
        hdrlen: usize,
    },
    /// `bh_hdrlen` points past the end of the data read.
    HdrlenPastEnd {
        /// Where the record starts.
        offset: usize,
        /// The `bh_hdrlen` found.
        hdrlen: usize,
    },
    /// `bh_caplen` bytes do not fit in the data read.
    CaplenPastEnd {
        /// Where the record starts.
        offset: usize,
        /// The `bh_caplen` found.
        caplen: usize,
    },
    /// `bh_caplen` is larger than `bh_datalen`: the kernel never captures more than the frame.
    CaplenExceedsDatalen {
        /// Where the record starts.
        offset: usize,
        /// The `bh_caplen` found.
        caplen: usize,
        /// The `bh_datalen` found.
        datalen: usize,
    },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WalkError::HeaderTruncated { offset, remaining } => write!(
                f,
                "BPF record at {offset}: only {remaining} bytes left, too few for a header"
            ),
            WalkError::HdrlenTooSmall { offset, hdrlen } => write!(
                f,
                "BPF record at {offset}: header length {hdrlen} is smaller than the header"
            ),
            WalkError::HdrlenPastEnd { offset, hdrlen } => write!(
                f,
                "BPF record at {offset}: header length {hdrlen} runs past the data read"
            ),
            WalkError::CaplenPastEnd { offset, caplen } => write!(
                f,
                "BPF record at {offset}: capture length {caplen} runs past the data read"
            ),
            WalkError::CaplenExceedsDatalen {
                offset,
                caplen,
                datalen,
            } => write!(
                f,
                "BPF record at {offset}: capture length {caplen} exceeds the frame length {datalen}"
            ),
        }
    }
}

impl core::error::Error for WalkError {}

fn read_uint(buf: &[u8], offset: usize, len: usize) -> Option<u64> {
    let bytes = buf.get(offset..offset.checked_add(len)?)?;
    match len {
        2 => Some(u64::from(u16::from_ne_bytes([bytes[0], bytes[1]]))),
        4 => Some(u64::from(u32::from_ne_bytes(bytes.try_into().ok()?))),
        8 => Some(u64::from_ne_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

fn read_int(buf: &[u8], offset: usize, len: usize) -> Option<i64> {
    let bytes = buf.get(offset..offset.checked_add(len)?)?;
    match len {
        4 => Some(i64::from(i32::from_ne_bytes(bytes.try_into().ok()?))),
        8 => Some(i64::from_ne_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// Decode a header's timestamp into nanoseconds since the epoch. `None` for a missing, negative
/// or malformed (fraction out of range) stamp, and for an all-zero stamp (the kernel writes zero
/// when it did not timestamp, FreeBSD `BPF_T_NONE`).
pub fn decode_timestamp(header: &[u8], stamp: &StampLayout) -> Option<u64> {
    // OpenBSD's seconds are unsigned 32-bit; macOS's are signed. Reading 4-byte seconds as
    // unsigned keeps macOS stamps right past 2038 (the kernel's int32 wraps there) and loses only
    // pre-1970 times, which a capture never has.
    let sec: u64 = if stamp.sec_len == 4 {
        read_uint(header, 0, 4)?
    } else {
        u64::try_from(read_int(header, 0, stamp.sec_len)?).ok()?
    };
    let frac = read_uint(header, stamp.frac_offset, stamp.frac_len)?;
    let frac_nanos = match stamp.unit {
        FracUnit::Micros => {
            // A `long` microsecond field is signed; a negative value reads as huge and fails here.
            if frac >= 1_000_000 {
                return None;
            }
            frac * 1_000
        }
        FracUnit::Nanos => {
            if frac >= 1_000_000_000 {
                return None;
            }
            frac
        }
        // 2^-64 s units: nanos = frac * 1e9 / 2^64, exact in 128 bits, always < 1e9.
        FracUnit::Bintime => ((u128::from(frac) * 1_000_000_000) >> 64) as u64,
    };
    if sec == 0 && frac_nanos == 0 {
        return None;
    }
    sec.checked_mul(1_000_000_000)?.checked_add(frac_nanos)
}

/// Parse the record at `offset` of `buf` (the bytes one `read()` returned).
///
/// Returns the record and the offset of the next one, `Ok(None)` when no record starts at
/// `offset` (it is at or past the end), or the reason the record is corrupt.
pub fn next_record(
    buf: &[u8],
    offset: usize,
    layout: &HeaderLayout,
) -> Result<Option<(Record, usize)>, WalkError> {
    if offset >= buf.len() {
        return Ok(None);
    }
    let rest = &buf[offset..];
    let min = layout.min_header_len();
    if rest.len() < min {
        return Err(WalkError::HeaderTruncated {
            offset,
            remaining: rest.len(),
        });
    }
    // All three reads are inside `min` bytes, which `rest` holds.
    let field = |at: usize, len: usize| read_uint(rest, at, len).unwrap_or(0) as usize;
    let caplen = field(layout.caplen_offset, 4);
    let datalen = field(layout.datalen_offset, 4);
    let hdrlen = field(layout.hdrlen_offset, 2);
    if hdrlen < min {
        return Err(WalkError::HdrlenTooSmall { offset, hdrlen });
    }
    if hdrlen > rest.len() {
        return Err(WalkError::HdrlenPastEnd { offset, hdrlen });
    }
    if caplen > rest.len() - hdrlen {
        return Err(WalkError::CaplenPastEnd { offset, caplen });
    }
    if caplen > datalen {
        return Err(WalkError::CaplenExceedsDatalen {
            offset,
            caplen,
            datalen,
        });
    }
    let start = offset + hdrlen;
    let end = start + caplen;
    let timestamp_nanos = layout
        .stamp
        .as_ref()
        .and_then(|s| decode_timestamp(&rest[..min], s));
    // A record ending within an alignment unit of the end is the last one: the kernel does not
    // pad the final record, so the aligned next offset may lie past the buffer.
    let next = layout.word_align(end).unwrap_or(usize::MAX);
    Ok(Some((
        Record {
            data: start..end,
            wire_len: datalen,
            timestamp_nanos,
        },
        next,
    )))
}

/// An iterator over the records of one read buffer. It stops after the first error.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    buf: &'a [u8],
    offset: usize,
    layout: HeaderLayout,
    failed: bool,
}

impl<'a> Records<'a> {
    /// Walk `buf` (exactly the bytes `read()` returned) with `layout`.
    pub fn new(buf: &'a [u8], layout: HeaderLayout) -> Self {
        Records {
            buf,
            offset: 0,
            layout,
            failed: false,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match next_record(self.buf, self.offset, &self.layout) {
            Ok(Some((record, next))) => {
                self.offset = next;
                Some(Ok(record))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Records<'_> {}

/// Test and fuzz support: write one record the way a kernel with `layout` would, at `offset`
/// (which must be aligned), and return the offset after its (unpadded) data.
///
/// `hdrlen` is the header length to claim (the kernel uses the header size plus padding that
/// aligns the network-layer header). Panics if `buf` is too small; meant for building fixtures.
#[doc(hidden)]
pub fn write_record(
    buf: &mut [u8],
    offset: usize,
    layout: &HeaderLayout,
    hdrlen: u16,
    stamp: (u64, u64),
    data: &[u8],
    datalen: u32,
) -> usize {
    let h = &mut buf[offset..];
    if let Some(s) = layout.stamp {
        let put = |h: &mut [u8], at: usize, len: usize, v: u64| {
            if len == 4 {
                h[at..at + 4].copy_from_slice(&(v as u32).to_ne_bytes());
            } else {
                h[at..at + 8].copy_from_slice(&v.to_ne_bytes());
            }
        };
        put(h, 0, s.sec_len, stamp.0);
        put(h, s.frac_offset, s.frac_len, stamp.1);
    }
    let caplen = data.len() as u32;
    h[layout.caplen_offset..layout.caplen_offset + 4].copy_from_slice(&caplen.to_ne_bytes());
    h[layout.datalen_offset..layout.datalen_offset + 4].copy_from_slice(&datalen.to_ne_bytes());
    h[layout.hdrlen_offset..layout.hdrlen_offset + 2].copy_from_slice(&hdrlen.to_ne_bytes());
    let start = usize::from(hdrlen);
    h[start..start + data.len()].copy_from_slice(data);
    offset + start + data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `bh_hdrlen` each kernel writes for Ethernet: `BPF_WORDALIGN(hdrsize + 14) - 14`.
    fn kernel_hdrlen(layout: &HeaderLayout, hdrsize: usize) -> u16 {
        (layout.word_align(hdrsize + 14).unwrap() - 14) as u16
    }

    fn frame(n: usize, fill: u8) -> Vec<u8> {
        (0..n).map(|i| fill.wrapping_add(i as u8)).collect()
    }

    #[test]
    fn layouts_match_the_c_structs() {
        // offsetof(bh_caplen), offsetof(bh_datalen), offsetof(bh_hdrlen) per system.
        let m = HeaderLayout::MACOS;
        assert_eq!(
            (m.caplen_offset, m.datalen_offset, m.hdrlen_offset),
            (8, 12, 16)
        );
        assert_eq!(m.min_header_len(), 18); // SIZEOF_BPF_HDR on macOS
        let f = HeaderLayout::FREEBSD_LP64;
        assert_eq!(
            (f.caplen_offset, f.datalen_offset, f.hdrlen_offset),
            (16, 20, 24)
        );
        let x = HeaderLayout::FREEBSD_XHDR_NANO_LP64;
        assert_eq!(
            (x.caplen_offset, x.datalen_offset, x.hdrlen_offset),
            (16, 20, 24)
        );
        let n = HeaderLayout::NETBSD_LP64;
        assert_eq!((n.caplen_offset, n.hdrlen_offset, n.alignment), (16, 24, 8));
        let o = HeaderLayout::OPENBSD;
        assert_eq!((o.caplen_offset, o.hdrlen_offset, o.alignment), (8, 16, 4));
        // FreeBSD armv7: 8-byte time_t, 4-byte long, timeval padded to 16.
        let arm = HeaderLayout::micros(8, 8, 4, 4);
        assert_eq!(arm.caplen_offset, 16);
        // FreeBSD i386 / NetBSD ILP32: two 4-byte fields.
        assert_eq!(HeaderLayout::micros(4, 4, 4, 4).caplen_offset, 8);
        // The kernels' header lengths for Ethernet (hdrlen + 14 aligned).
        assert_eq!(kernel_hdrlen(&m, 18), 18);
        assert_eq!(kernel_hdrlen(&f, 26), 26);
        assert_eq!(kernel_hdrlen(&o, 18), 18);
    }

    fn several_records(layout: HeaderLayout, hdrsize: usize) {
        let mut buf = vec![0u8; 4096];
        let hdrlen = kernel_hdrlen(&layout, hdrsize);
        let frames = [frame(60, 1), frame(61, 2), frame(1514, 3), frame(63, 4)];
        let mut off = 0;
        let mut end = 0;
        for (i, f) in frames.iter().enumerate() {
            end = write_record(
                &mut buf,
                off,
                &layout,
                hdrlen,
                (1_700_000_000 + i as u64, 123_456),
                f,
                f.len() as u32,
            );
            off = layout.word_align(end).unwrap();
        }
        let got: Vec<_> = Records::new(&buf[..end], layout).collect();
        assert_eq!(got.len(), frames.len());
        for (i, (r, f)) in got.iter().zip(&frames).enumerate() {
            let r = r.as_ref().unwrap();
            assert_eq!(&buf[r.data.clone()], &f[..]);
            assert_eq!(r.wire_len, f.len());
            assert!(!r.is_truncated());
            assert_eq!(
                r.data.start % layout.alignment,
                usize::from(hdrlen) % layout.alignment
            );
            assert_eq!(
                r.timestamp_nanos,
                Some((1_700_000_000 + i as u64) * 1_000_000_000 + 123_456_000)
            );
        }
    }

    #[test]
    fn several_records_per_read_on_every_system() {
        several_records(HeaderLayout::MACOS, 18);
        several_records(HeaderLayout::FREEBSD_LP64, 26);
        several_records(HeaderLayout::NETBSD_LP64, 26);
        several_records(HeaderLayout::OPENBSD, 18);
        several_records(HeaderLayout::OPENBSD, 24); // newer OpenBSD header with bh_flags etc.
    }

    #[test]
    fn alignment_padding_is_skipped() {
        // 61-byte frame on macOS: data ends at 18 + 61 = 79; the next record starts at 80.
        let l = HeaderLayout::MACOS;
        let mut buf = vec![0xEEu8; 512];
        let end1 = write_record(&mut buf, 0, &l, 18, (1, 0), &frame(61, 9), 61);
        assert_eq!(end1, 79);
        let next = l.word_align(end1).unwrap();
        assert_eq!(next, 80);
        let end2 = write_record(&mut buf, next, &l, 18, (2, 0), &frame(60, 7), 60);
        let mut it = Records::new(&buf[..end2], l);
        assert_eq!(it.next().unwrap().unwrap().data, 18..79);
        assert_eq!(it.next().unwrap().unwrap().data, 98..158);
        assert!(it.next().is_none());
        // Same with 8-byte alignment (FreeBSD): 26 + 61 = 87 -> 88.
        let f = HeaderLayout::FREEBSD_LP64;
        let end1 = write_record(&mut buf, 0, &f, 26, (1, 0), &frame(61, 9), 61);
        let next = f.word_align(end1).unwrap();
        assert_eq!(next, 88);
        let end2 = write_record(&mut buf, next, &f, 26, (2, 0), &frame(60, 7), 60);
        let ranges: Vec<_> = Records::new(&buf[..end2], f)
            .map(|r| r.unwrap().data)
            .collect();
        assert_eq!(ranges, vec![26..87, 114..174]);
    }

    #[test]
    fn truncated_capture_is_reported() {
        let l = HeaderLayout::MACOS;
        let mut buf = vec![0u8; 256];
        let end = write_record(&mut buf, 0, &l, 18, (5, 6), &frame(100, 0), 1514);
        let r = Records::new(&buf[..end], l).next().unwrap().unwrap();
        assert_eq!(r.captured_len(), 100);
        assert_eq!(r.wire_len, 1514);
        assert!(r.is_truncated());
    }

    #[test]
    fn zero_length_capture_is_a_record_without_bytes() {
        let l = HeaderLayout::OPENBSD;
        let mut buf = vec![0u8; 256];
        let end1 = write_record(&mut buf, 0, &l, 18, (1, 0), &[], 60);
        let next = l.word_align(end1).unwrap();
        let end2 = write_record(&mut buf, next, &l, 18, (1, 0), &frame(60, 1), 60);
        let recs: Vec<_> = Records::new(&buf[..end2], l).map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[0].data.is_empty());
        assert!(recs[0].is_truncated());
        assert_eq!(recs[1].captured_len(), 60);
    }

    #[test]
    fn empty_buffer_has_no_records() {
        assert!(Records::new(&[], HeaderLayout::MACOS).next().is_none());
    }

    #[test]
    fn corrupt_headers_are_errors_not_panics() {
        let l = HeaderLayout::FREEBSD_LP64;
        let mut buf = vec![0u8; 256];
        let end = write_record(&mut buf, 0, &l, 26, (1, 0), &frame(60, 0), 60);

        // Too few bytes for a header.
        assert_eq!(
            next_record(&buf[..10], 0, &l),
            Err(WalkError::HeaderTruncated {
                offset: 0,
                remaining: 10
            })
        );
        // bh_hdrlen smaller than the header.
        let mut b = buf.clone();
        b[24..26].copy_from_slice(&3u16.to_ne_bytes());
        assert_eq!(
            next_record(&b[..end], 0, &l),
            Err(WalkError::HdrlenTooSmall {
                offset: 0,
                hdrlen: 3
            })
        );
        // bh_hdrlen past the data.
        let mut b = buf.clone();
        b[24..26].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert!(matches!(
            next_record(&b[..end], 0, &l),
            Err(WalkError::HdrlenPastEnd { .. })
        ));
        // bh_caplen past the data (and a huge one that would overflow naive arithmetic).
        for caplen in [61u32, 4096, u32::MAX] {
            let mut b = buf.clone();
            b[16..20].copy_from_slice(&caplen.to_ne_bytes());
            b[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
            assert!(matches!(
                next_record(&b[..end], 0, &l),
                Err(WalkError::CaplenPastEnd { .. })
            ));
        }
        // bh_caplen larger than bh_datalen.
        let mut b = buf.clone();
        b[20..24].copy_from_slice(&59u32.to_ne_bytes());
        assert!(matches!(
            next_record(&b[..end], 0, &l),
            Err(WalkError::CaplenExceedsDatalen { .. })
        ));
        // A good record followed by a few stray bytes: the good one, then an error, then nothing.
        let mut b = buf.clone();
        b[end + 2] = 1;
        let mut it = Records::new(&b[..end + 7], l);
        assert!(it.next().unwrap().is_ok());
        assert!(matches!(
            it.next(),
            Some(Err(WalkError::HeaderTruncated { .. }))
        ));
        assert!(it.next().is_none());
    }

    #[test]
    fn every_prefix_and_every_byte_flip_is_safe() {
        // Exhaustive robustness check: the walker must never panic or read out of bounds, and
        // every record it returns lies inside the buffer.
        for layout in [HeaderLayout::MACOS, HeaderLayout::FREEBSD_XHDR_NANO_LP64] {
            let hdrlen = if layout.alignment == 4 { 18 } else { 26 };
            let mut buf = vec![0u8; 512];
            let e1 = write_record(&mut buf, 0, &layout, hdrlen, (9, 9), &frame(70, 1), 70);
            let o2 = layout.word_align(e1).unwrap();
            let e2 = write_record(&mut buf, o2, &layout, hdrlen, (9, 9), &frame(64, 2), 80);
            for len in 0..=e2 {
                for r in Records::new(&buf[..len], layout).flatten() {
                    assert!(r.data.end <= len);
                }
            }
            for i in 0..e2 {
                for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                    let mut b = buf[..e2].to_vec();
                    b[i] = v;
                    for r in Records::new(&b, layout).flatten() {
                        assert!(r.data.end <= b.len());
                        assert!(r.data.start <= r.data.end);
                    }
                }
            }
        }
    }

    #[test]
    fn timestamps_per_format() {
        let mut h = [0u8; 32];
        // macOS timeval32.
        h[0..4].copy_from_slice(&1_700_000_000u32.to_ne_bytes());
        h[4..8].copy_from_slice(&999_999u32.to_ne_bytes());
        let s = HeaderLayout::MACOS.stamp.unwrap();
        assert_eq!(
            decode_timestamp(&h, &s),
            Some(1_700_000_000 * 1_000_000_000 + 999_999_000)
        );
        // Past 2038 a 4-byte unsigned read keeps going.
        h[0..4].copy_from_slice(&3_000_000_000u32.to_ne_bytes());
        assert_eq!(
            decode_timestamp(&h, &s),
            Some(3_000_000_000 * 1_000_000_000 + 999_999_000)
        );
        // Microseconds out of range: no timestamp.
        h[4..8].copy_from_slice(&1_000_000u32.to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), None);
        // All zero: the kernel did not stamp.
        assert_eq!(decode_timestamp(&[0u8; 32], &s), None);

        // FreeBSD / NetBSD LP64 timeval with 8-byte fields; negative seconds are rejected.
        let s = HeaderLayout::FREEBSD_LP64.stamp.unwrap();
        let mut h = [0u8; 32];
        h[0..8].copy_from_slice(&5i64.to_ne_bytes());
        h[8..16].copy_from_slice(&7i64.to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), Some(5_000_007_000));
        h[0..8].copy_from_slice(&(-5i64).to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), None);
        h[0..8].copy_from_slice(&5i64.to_ne_bytes());
        h[8..16].copy_from_slice(&(-1i64).to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), None);
        // Seconds so large that nanoseconds overflow u64: no timestamp, no panic.
        h[0..8].copy_from_slice(&i64::MAX.to_ne_bytes());
        h[8..16].copy_from_slice(&0i64.to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), None);

        // FreeBSD bpf_xhdr: nanoseconds and bintime.
        let s = HeaderLayout::FREEBSD_XHDR_NANO_LP64.stamp.unwrap();
        h[0..8].copy_from_slice(&3i64.to_ne_bytes());
        h[8..16].copy_from_slice(&123_456_789u64.to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), Some(3_123_456_789));
        h[8..16].copy_from_slice(&1_000_000_000u64.to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), None);
        let s = HeaderLayout::FREEBSD_XHDR_BIN_LP64.stamp.unwrap();
        h[8..16].copy_from_slice(&(1u64 << 63).to_ne_bytes()); // half a second
        assert_eq!(decode_timestamp(&h, &s), Some(3_500_000_000));
        h[8..16].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert_eq!(decode_timestamp(&h, &s), Some(3_999_999_999));
    }

    #[test]
    fn word_align() {
        let l = HeaderLayout::MACOS;
        assert_eq!(l.word_align(0), Some(0));
        assert_eq!(l.word_align(1), Some(4));
        assert_eq!(l.word_align(4), Some(4));
        assert_eq!(l.word_align(usize::MAX), None);
        let f = HeaderLayout::FREEBSD_LP64;
        assert_eq!(f.word_align(87), Some(88));
    }

    proptest::proptest! {
        /// Any bytes at all, walked with any of the layouts: no panic, and every record lies
        /// inside the buffer with a header before it.
        #[test]
        fn arbitrary_buffers_never_escape(
            buf in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            which in 0usize..5,
        ) {
            let layout = [
                HeaderLayout::MACOS,
                HeaderLayout::FREEBSD_LP64,
                HeaderLayout::FREEBSD_XHDR_BIN_LP64,
                HeaderLayout::NETBSD_LP64,
                HeaderLayout::OPENBSD,
            ][which];
            let mut last_end = 0;
            for r in Records::new(&buf, layout).flatten() {
                proptest::prop_assert!(r.data.start >= last_end + layout.min_header_len());
                proptest::prop_assert!(r.data.end <= buf.len());
                proptest::prop_assert!(r.data.len() <= r.wire_len);
                last_end = r.data.end;
            }
        }

        /// Well-formed buffers of random frames read back exactly.
        #[test]
        fn random_frames_round_trip(
            lens in proptest::collection::vec((0usize..200, 0u32..300), 0..12),
            which in 0usize..4,
        ) {
            let (layout, hdrlen) = [
                (HeaderLayout::MACOS, 18u16),
                (HeaderLayout::FREEBSD_XHDR_NANO_LP64, 26),
                (HeaderLayout::NETBSD_LP64, 26),
                (HeaderLayout::OPENBSD, 24),
            ][which];
            let mut buf = vec![0u8; 4096];
            let mut off = 0;
            let mut end = 0;
            let mut want = Vec::new();
            for (i, (cap, extra)) in lens.iter().enumerate() {
                let data = frame(*cap, i as u8);
                let wire = *cap as u32 + extra;
                end = write_record(&mut buf, off, &layout, hdrlen, (7, 7), &data, wire);
                off = layout.word_align(end).unwrap();
                want.push((data, wire as usize));
            }
            let got: Vec<_> = Records::new(&buf[..end], layout).map(Result::unwrap).collect();
            proptest::prop_assert_eq!(got.len(), want.len());
            for (r, (data, wire)) in got.iter().zip(&want) {
                proptest::prop_assert_eq!(&buf[r.data.clone()], &data[..]);
                proptest::prop_assert_eq!(r.wire_len, *wire);
            }
        }
    }
}
