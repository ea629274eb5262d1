//! The transmit side: a preallocated ring of frame slots and the flush loop.
//!
//! BPF takes one frame per `write()`, so a flush writes the queued frames in order, one call
//! each. When the device pushes back (`EAGAIN`, `ENOBUFS`, `EINTR`), the frame stays at the head
//! of the queue and the flush reports how many are pending: nothing is ever dropped for
//! backpressure. All memory is allocated once, when the link opens. Plain code over a write
//! closure, compiled and tested on every host.

use l2net_core::link::{FlushStatus, LinkError};

/// Frames shorter than this are padded with zeros before they are written (the Ethernet minimum
/// without the FCS; BPF writes bypass the stack's padding on some drivers).
pub const MIN_FRAME_LEN: usize = 60;

/// A fixed ring of `slots` frame buffers of `slot_len` bytes each.
#[derive(Debug)]
pub struct TxPool {
    mem: Box<[u8]>,
    lens: Box<[usize]>,
    slot_len: usize,
    head: usize,
    queued: usize,
    stats: TxStats,
}

/// Transmit counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxStats {
    /// Frames handed to the device.
    pub frames: u64,
    /// Flushes that stopped because the device pushed back.
    pub backpressure: u64,
    /// Frames the device refused for good (for example `EMSGSIZE`); each was reported as an
    /// error by the flush that met it and then removed from the queue.
    pub refused: u64,
}

impl TxPool {
    /// A pool of `slots` (at least 1) buffers of `slot_len` (at least [`MIN_FRAME_LEN`]) bytes.
    pub fn new(slots: usize, slot_len: usize) -> TxPool {
        let slots = slots.max(1);
        let slot_len = slot_len.max(MIN_FRAME_LEN);
        TxPool {
            mem: vec![0u8; slots * slot_len].into_boxed_slice(),
            lens: vec![0usize; slots].into_boxed_slice(),
            slot_len,
            head: 0,
            queued: 0,
            stats: TxStats::default(),
        }
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Largest frame a slot holds.
    pub fn slot_len(&self) -> usize {
        self.slot_len
    }

    /// Frames queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Counters.
    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// Reserve the next free slot for a frame of `len` bytes (`len <= slot_len`), or `None` when
    /// every slot is queued.
    pub fn reserve(&mut self, len: usize) -> Option<TxSlot<'_>> {
        if self.queued == self.capacity() || len > self.slot_len {
            return None;
        }
        let idx = (self.head + self.queued) % self.capacity();
        Some(TxSlot {
            pool: self,
            idx,
            len,
        })
    }

    fn slot(&self, idx: usize) -> &[u8] {
        let start = idx * self.slot_len;
        &self.mem[start..start + self.lens[idx]]
    }

    /// Write the queued frames in order with `write` (one call per frame, returning the OS
    /// error number on failure) until the queue is empty or the device pushes back.
    ///
    /// * `EAGAIN`/`EWOULDBLOCK`, `ENOBUFS`, `EINTR`: stop; the frame stays queued.
    /// * `ENETDOWN`: [`LinkError::Down`]; everything stays queued.
    /// * `ENXIO`, `ENODEV`: [`LinkError::Gone`]; everything stays queued.
    /// * Anything else (`EMSGSIZE`, `EINVAL`, ...) refuses that one frame for good: it is removed
    ///   so it cannot block the queue forever, counted in [`TxStats::refused`], and the error is
    ///   returned.
    pub fn flush<F: FnMut(&[u8]) -> Result<(), i32>>(
        &mut self,
        mut write: F,
    ) -> Result<FlushStatus, LinkError> {
        let mut sent = 0;
        while self.queued > 0 {
            let idx = self.head;
            match write(self.slot(idx)) {
                Ok(()) => {
                    self.pop();
                    sent += 1;
                    self.stats.frames += 1;
                }
                Err(errno) if is_backpressure(errno) => {
                    self.stats.backpressure += 1;
                    break;
                }
                Err(libc::ENETDOWN) => return Err(LinkError::Down),
                Err(libc::ENXIO | libc::ENODEV) => return Err(LinkError::Gone),
                Err(errno) => {
                    self.pop();
                    self.stats.refused += 1;
                    return Err(LinkError::Os { op: "write", errno });
                }
            }
        }
        Ok(FlushStatus {
            sent,
            pending: self.queued,
        })
    }

    fn pop(&mut self) {
        self.head = (self.head + 1) % self.capacity();
        self.queued -= 1;
    }
}

/// True for the errors that mean "not now" rather than "never".
pub fn is_backpressure(errno: i32) -> bool {
    errno == libc::EAGAIN
        || errno == libc::EWOULDBLOCK
        || errno == libc::ENOBUFS
        || errno == libc::EINTR
}

/// A reserved slot. Consuming it queues the frame; dropping it frees the slot.
#[derive(Debug)]
pub struct TxSlot<'a> {
    pool: &'a mut TxPool,
    idx: usize,
    len: usize,
}

impl TxSlot<'_> {
    /// Fill the frame (exactly the reserved length) and queue it. Frames shorter than
    /// [`MIN_FRAME_LEN`] are padded with zeros.
    pub fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let pool = self.pool;
        let start = self.idx * pool.slot_len;
        let slot = &mut pool.mem[start..start + pool.slot_len];
        let r = f(&mut slot[..self.len]);
        let wire_len = self.len.max(MIN_FRAME_LEN);
        slot[self.len..wire_len].fill(0);
        pool.lens[self.idx] = wire_len;
        pool.queued += 1;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(pool: &mut TxPool, len: usize, tag: u8) -> bool {
        match pool.reserve(len) {
            Some(slot) => {
                slot.consume(|b| b.fill(tag));
                true
            }
            None => false,
        }
    }

    #[test]
    fn frames_leave_in_order_and_short_ones_are_padded() {
        let mut pool = TxPool::new(4, 1518);
        assert!(queue(&mut pool, 14, 1));
        assert!(queue(&mut pool, 100, 2));
        let mut out = Vec::new();
        let st = pool
            .flush(|f| {
                out.push(f.to_vec());
                Ok(())
            })
            .unwrap();
        assert_eq!(
            st,
            FlushStatus {
                sent: 2,
                pending: 0
            }
        );
        assert_eq!(out[0].len(), 60);
        assert!(out[0][..14].iter().all(|&b| b == 1));
        assert!(out[0][14..].iter().all(|&b| b == 0));
        assert_eq!(out[1], vec![2u8; 100]);
    }

    #[test]
    fn full_pool_is_backpressure_not_loss() {
        let mut pool = TxPool::new(2, 100);
        assert!(queue(&mut pool, 60, 1));
        assert!(queue(&mut pool, 60, 2));
        assert!(!queue(&mut pool, 60, 3), "no third slot");
        assert!(pool.reserve(101).is_none(), "larger than a slot");
        assert_eq!(pool.queued(), 2);
    }

    #[test]
    fn dropped_slot_is_not_queued() {
        let mut pool = TxPool::new(1, 100);
        let unused = pool.reserve(60);
        assert!(unused.is_some());
        let _ = unused;
        assert_eq!(pool.queued(), 0);
        assert!(queue(&mut pool, 60, 1));
    }

    #[test]
    fn device_pushback_keeps_frames_queued() {
        for errno in [libc::EAGAIN, libc::ENOBUFS, libc::EINTR] {
            let mut pool = TxPool::new(4, 100);
            for t in 0..3 {
                assert!(queue(&mut pool, 60, t));
            }
            // The device takes one frame, then pushes back.
            let mut calls = 0;
            let st = pool
                .flush(|_| {
                    calls += 1;
                    if calls == 1 { Ok(()) } else { Err(errno) }
                })
                .unwrap();
            assert_eq!(
                st,
                FlushStatus {
                    sent: 1,
                    pending: 2
                }
            );
            assert_eq!(pool.stats().backpressure, 1);
            // Room for one more frame while two wait; it goes after them.
            assert!(queue(&mut pool, 60, 9));
            let mut tags = Vec::new();
            let st = pool
                .flush(|f| {
                    tags.push(f[0]);
                    Ok(())
                })
                .unwrap();
            assert_eq!(
                st,
                FlushStatus {
                    sent: 3,
                    pending: 0
                }
            );
            assert_eq!(tags, vec![1, 2, 9]);
            assert_eq!(pool.stats().frames, 4);
        }
    }

    #[test]
    fn interface_errors_keep_the_queue() {
        let mut pool = TxPool::new(2, 100);
        assert!(queue(&mut pool, 60, 1));
        assert_eq!(pool.flush(|_| Err(libc::ENETDOWN)), Err(LinkError::Down));
        assert_eq!(pool.flush(|_| Err(libc::ENXIO)), Err(LinkError::Gone));
        assert_eq!(pool.queued(), 1);
    }

    #[test]
    fn a_refused_frame_does_not_block_the_queue() {
        let mut pool = TxPool::new(3, 100);
        assert!(queue(&mut pool, 60, 1));
        assert!(queue(&mut pool, 60, 2));
        let r = pool.flush(|f| {
            if f[0] == 1 {
                Err(libc::EMSGSIZE)
            } else {
                Ok(())
            }
        });
        assert_eq!(
            r,
            Err(LinkError::Os {
                op: "write",
                errno: libc::EMSGSIZE
            })
        );
        assert_eq!(pool.stats().refused, 1);
        let st = pool.flush(|f| {
            assert_eq!(f[0], 2);
            Ok(())
        });
        assert_eq!(
            st,
            Ok(FlushStatus {
                sent: 1,
                pending: 0
            })
        );
    }

    #[test]
    fn ring_wraps_around() {
        let mut pool = TxPool::new(3, 64);
        let mut seen = Vec::new();
        for round in 0..10u8 {
            assert!(queue(&mut pool, 60, round));
            assert!(queue(&mut pool, 61, round.wrapping_add(100)));
            pool.flush(|f| {
                seen.push((f[0], f.len()));
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(seen.len(), 20);
        assert_eq!(seen[19], (109, 61));
    }
}
