//! The receive side: one read buffer, allocated once, handed out record by record.
//!
//! A `read()` fills the buffer with many capture records; [`RxBuffer::next_frame`] walks them
//! one at a time and gives back where the frame's bytes are. The link lends those bytes as a view
//! that borrows the link, so the buffer cannot be refilled while any view is alive: the next
//! `read()` only happens once the last view of the previous one was dropped and the walker
//! reached the end. Empty records are skipped; a corrupt header discards the rest of that read
//! (its records cannot be located any more) and is counted. Plain code, tested on every host.

use core::ops::Range;

use l2net_core::link::{RxMeta, Timestamp, TimestampSource};

use crate::record::{HeaderLayout, WalkError, next_record};

/// Receive counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RxStats {
    /// `read()` calls that returned data.
    pub reads: u64,
    /// Frames handed out.
    pub frames: u64,
    /// Frames handed out with fewer bytes than they had on the wire.
    pub truncated: u64,
    /// Records with no captured bytes, skipped.
    pub empty: u64,
    /// Reads whose records could not be walked to the end (a corrupt header); the rest of such
    /// a read is dropped.
    pub corrupt_reads: u64,
    /// The last walk error met, for diagnostics.
    pub last_error: Option<WalkError>,
}

/// A frame found by [`RxBuffer::next_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFrame {
    /// Where its bytes are; read them with [`RxBuffer::bytes`].
    pub range: Range<usize>,
    /// Its metadata.
    pub meta: RxMeta,
}

/// The read buffer and the walk position in it.
#[derive(Debug)]
pub struct RxBuffer {
    buf: Box<[u8]>,
    filled: usize,
    pos: usize,
    layout: HeaderLayout,
    stats: RxStats,
}

impl RxBuffer {
    /// A buffer of exactly `len` bytes (BPF's `read()` insists on the descriptor's buffer size)
    /// whose records have `layout`.
    pub fn new(len: usize, layout: HeaderLayout) -> RxBuffer {
        RxBuffer {
            buf: vec![0u8; len].into_boxed_slice(),
            filled: 0,
            pos: 0,
            layout,
            stats: RxStats::default(),
        }
    }

    /// The buffer's size.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if the buffer has zero size.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The record layout in use.
    pub fn layout(&self) -> HeaderLayout {
        self.layout
    }

    /// Counters.
    pub fn stats(&self) -> RxStats {
        self.stats
    }

    /// True when every record of the last read has been handed out.
    pub fn is_drained(&self) -> bool {
        self.pos >= self.filled
    }

    /// Forget what is left of the current read.
    pub fn clear(&mut self) {
        self.filled = 0;
        self.pos = 0;
    }

    /// Refill the buffer with `read`, which receives the whole buffer and returns the number of
    /// bytes it wrote (or its error, passed through). Only call when [`RxBuffer::is_drained`]:
    /// unread records would be lost.
    pub fn refill<E>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        self.clear();
        let n = read(&mut self.buf)?;
        self.filled = n.min(self.buf.len());
        if self.filled > 0 {
            self.stats.reads += 1;
        }
        Ok(self.filled)
    }

    /// The next frame of the current read, or `None` when the read is used up.
    pub fn next_frame(&mut self) -> Option<FoundFrame> {
        loop {
            match next_record(&self.buf[..self.filled], self.pos, &self.layout) {
                Ok(None) => {
                    self.pos = self.filled;
                    return None;
                }
                Err(e) => {
                    self.stats.corrupt_reads += 1;
                    self.stats.last_error = Some(e);
                    self.pos = self.filled;
                    return None;
                }
                Ok(Some((rec, next))) => {
                    self.pos = next;
                    if rec.data.is_empty() {
                        self.stats.empty += 1;
                        continue;
                    }
                    let mut meta = RxMeta::new(rec.wire_len);
                    meta.truncated = rec.is_truncated();
                    meta.timestamp = rec.timestamp_nanos.map(|nanos| Timestamp {
                        nanos,
                        source: TimestampSource::Software,
                    });
                    self.stats.frames += 1;
                    if meta.truncated {
                        self.stats.truncated += 1;
                    }
                    return Some(FoundFrame {
                        range: rec.data,
                        meta,
                    });
                }
            }
        }
    }

    /// The bytes of a frame returned by [`RxBuffer::next_frame`] since the last refill. Ranges
    /// outside the buffer give an empty slice.
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.buf[..self.filled].get(range).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::write_record;

    fn fill_records(dst: &mut [u8], layout: &HeaderLayout, frames: &[(&[u8], u32)]) -> usize {
        let mut off = 0;
        let mut end = 0;
        for (data, wire) in frames {
            end = write_record(dst, off, layout, 18, (1_000, 5), data, *wire);
            off = layout.word_align(end).unwrap();
        }
        end
    }

    #[test]
    fn hands_out_every_frame_of_a_read_then_asks_for_more() {
        let l = HeaderLayout::MACOS;
        let mut rx = RxBuffer::new(4096, l);
        assert!(rx.is_drained());
        assert_eq!(rx.next_frame(), None);
        let a = [1u8; 60];
        let b = [2u8; 61];
        let c = [3u8; 70];
        let n = rx
            .refill(|buf| {
                Ok::<_, ()>(fill_records(
                    buf,
                    &l,
                    &[(&a, 60), (&[], 60), (&b, 61), (&c, 1514)],
                ))
            })
            .unwrap();
        assert!(n > 0);
        let f1 = rx.next_frame().unwrap();
        assert_eq!(rx.bytes(f1.range.clone()), &a);
        assert_eq!(f1.meta.wire_len, 60);
        assert!(!f1.meta.truncated);
        let ts = f1.meta.timestamp.unwrap();
        assert_eq!(ts.nanos, 1_000_000_005_000);
        assert_eq!(ts.source, TimestampSource::Software);
        assert_eq!(f1.meta.stripped_vlan, None, "tags stay in-band on BPF");
        let f2 = rx.next_frame().unwrap();
        assert_eq!(rx.bytes(f2.range), &b, "the empty record was skipped");
        let f3 = rx.next_frame().unwrap();
        assert!(f3.meta.truncated);
        assert_eq!(f3.meta.wire_len, 1514);
        assert_eq!(rx.next_frame(), None);
        assert!(rx.is_drained());
        let s = rx.stats();
        assert_eq!(
            (s.reads, s.frames, s.truncated, s.empty, s.corrupt_reads),
            (1, 3, 1, 1, 0)
        );
    }

    #[test]
    fn corrupt_header_drops_the_rest_of_the_read() {
        let l = HeaderLayout::OPENBSD;
        let mut rx = RxBuffer::new(1024, l);
        let a = [7u8; 64];
        rx.refill(|buf| {
            let end = fill_records(buf, &l, &[(&a, 64), (&a, 64)]);
            // Corrupt the second record's bh_hdrlen.
            let second = l.word_align(18 + 64).unwrap();
            buf[second + 16..second + 18].copy_from_slice(&1u16.to_ne_bytes());
            Ok::<_, ()>(end)
        })
        .unwrap();
        assert!(rx.next_frame().is_some());
        assert_eq!(rx.next_frame(), None);
        assert!(rx.is_drained());
        assert_eq!(rx.stats().corrupt_reads, 1);
        assert!(matches!(
            rx.stats().last_error,
            Some(WalkError::HdrlenTooSmall { .. })
        ));
    }

    #[test]
    fn read_errors_pass_through_and_oversized_counts_are_clamped() {
        let mut rx = RxBuffer::new(128, HeaderLayout::MACOS);
        assert_eq!(rx.refill(|_| Err::<usize, _>(35)), Err(35));
        assert!(rx.is_drained());
        // A (buggy) read claiming more bytes than the buffer holds never leads past it.
        rx.refill(|_| Ok::<_, ()>(10_000)).unwrap();
        while let Some(f) = rx.next_frame() {
            assert!(f.range.end <= rx.len());
        }
        assert_eq!(rx.bytes(1000..2000), &[] as &[u8]);
    }
}
