//! `PACKET_MMAP` rings: the uapi structures of `linux/if_packet.h` for `TPACKET_V3` (the ring
//! backend) and `TPACKET_V2` (the frame-ring backend's receive ring), the ring set-up socket
//! options, the shared `mmap` and every access to the mapped memory.
//!
//! The mapped memory is shared with the kernel. Ownership of each RX block and each TX frame
//! passes back and forth through its status word, which is read with `Acquire` and written with
//! `Release` atomics; the rest of a block or frame is only read (RX) or written (TX) while user
//! space owns it. Every accessor checks its offsets against the mapping, so a bad offset (a
//! corrupted header) yields an empty slice or `None`, never an access outside the mapping.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::cvt;
use super::socket::SOL_PACKET;

pub(crate) const PACKET_RX_RING: libc::c_int = 5;
pub(crate) const PACKET_VERSION: libc::c_int = 10;
pub(crate) const PACKET_TX_RING: libc::c_int = 13;
/// `TPACKET_V2` of `enum tpacket_versions`.
pub(crate) const TPACKET_V2: libc::c_int = 1;
/// `TPACKET_V3` of `enum tpacket_versions`.
pub(crate) const TPACKET_V3: libc::c_int = 2;
/// `TPACKET_ALIGNMENT`: frame sizes and header lengths are multiples of it.
pub(crate) const TPACKET_ALIGNMENT: usize = 16;

// RX block / frame status.
pub(crate) const TP_STATUS_KERNEL: u32 = 0;
pub(crate) const TP_STATUS_USER: u32 = 1 << 0;
/// V1/V2: the kernel dropped frames (ring full) since `PACKET_STATISTICS` was last read.
pub(crate) const TP_STATUS_LOSING: u32 = 1 << 2;
pub(crate) const TP_STATUS_TS_RAW_HARDWARE: u32 = 1 << 31;
// TX frame status.
pub(crate) const TP_STATUS_AVAILABLE: u32 = 0;
pub(crate) const TP_STATUS_SEND_REQUEST: u32 = 1 << 0;
pub(crate) const TP_STATUS_SENDING: u32 = 1 << 1;
pub(crate) const TP_STATUS_WRONG_FORMAT: u32 = 1 << 2;

/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where frame data starts in a TX frame (without
/// `PACKET_TX_HAS_OFF`), and the header room in an RX frame.
pub(crate) const TPACKET3_HDR_ALIGNED: usize = 48;
/// `TPACKET3_HDRLEN`: the aligned header plus a `struct sockaddr_ll`.
pub(crate) const TPACKET3_HDRLEN: usize = TPACKET3_HDR_ALIGNED + 20;

/// `sizeof(struct tpacket2_hdr)`, already a multiple of [`TPACKET_ALIGNMENT`].
pub(crate) const TPACKET2_HDR_ALIGNED: usize = 32;
/// `TPACKET2_HDRLEN`: the aligned V2 header plus a `struct sockaddr_ll`.
pub(crate) const TPACKET2_HDRLEN: usize = TPACKET2_HDR_ALIGNED + 20;

/// `struct tpacket_req`: the geometry of a `TPACKET_V1`/`V2` ring.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TpacketReq {
    pub tp_block_size: u32,
    pub tp_block_nr: u32,
    pub tp_frame_size: u32,
    pub tp_frame_nr: u32,
}

/// `struct tpacket2_hdr`: the header at the start of every frame of a V2 ring.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tpacket2Hdr {
    pub tp_status: u32,
    pub tp_len: u32,
    pub tp_snaplen: u32,
    pub tp_mac: u16,
    pub tp_net: u16,
    pub tp_sec: u32,
    pub tp_nsec: u32,
    pub tp_vlan_tci: u16,
    pub tp_vlan_tpid: u16,
    pub tp_padding: [u8; 4],
}

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TpacketReq3 {
    pub tp_block_size: u32,
    pub tp_block_nr: u32,
    pub tp_frame_size: u32,
    pub tp_frame_nr: u32,
    pub tp_retire_blk_tov: u32,
    pub tp_sizeof_priv: u32,
    pub tp_feature_req_word: u32,
}

/// `struct tpacket_hdr_variant1`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TpacketHdrVariant1 {
    pub tp_rxhash: u32,
    pub tp_vlan_tci: u32,
    pub tp_vlan_tpid: u16,
    pub tp_padding: u16,
}

/// `struct tpacket3_hdr`: the header in front of every frame of a V3 ring.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tpacket3Hdr {
    pub tp_next_offset: u32,
    pub tp_sec: u32,
    pub tp_nsec: u32,
    pub tp_snaplen: u32,
    pub tp_len: u32,
    pub tp_status: u32,
    pub tp_mac: u16,
    pub tp_net: u16,
    pub hv1: TpacketHdrVariant1,
    pub tp_padding: [u8; 8],
}

/// `struct tpacket_bd_ts`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TpacketBdTs {
    pub ts_sec: u32,
    pub ts_nsec: u32,
}

/// `struct tpacket_hdr_v1`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TpacketHdrV1 {
    pub block_status: u32,
    pub num_pkts: u32,
    pub offset_to_first_pkt: u32,
    pub blk_len: u32,
    pub seq_num: u64,
    pub ts_first_pkt: TpacketBdTs,
    pub ts_last_pkt: TpacketBdTs,
}

/// `struct tpacket_block_desc`: the header at the start of every RX block.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TpacketBlockDesc {
    pub version: u32,
    pub offset_to_priv: u32,
    pub hdr: TpacketHdrV1,
}

/// Offset of `block_status` in a block.
const BLOCK_STATUS_OFF: usize = core::mem::offset_of!(TpacketBlockDesc, hdr);
/// Offset of `tp_status` in a frame header.
const FRAME_STATUS_OFF: usize = core::mem::offset_of!(Tpacket3Hdr, tp_status);
/// Offset of `tp_status` in a V2 frame header.
const FRAME2_STATUS_OFF: usize = core::mem::offset_of!(Tpacket2Hdr, tp_status);

fn setsockopt<T: Copy>(fd: BorrowedFd<'_>, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: the pointer and length describe `*value` (an int, a TpacketReq or a
    // TpacketReq3), live across
    // the call and only read by the kernel.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_PACKET,
            name,
            (value as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `PACKET_VERSION = version` ([`TPACKET_V2`] or [`TPACKET_V3`]).
pub(crate) fn set_version(fd: BorrowedFd<'_>, version: libc::c_int) -> io::Result<()> {
    setsockopt(fd, PACKET_VERSION, &version)
}

/// `PACKET_RX_RING` of a `TPACKET_V2` socket.
pub(crate) fn set_rx_ring_v2(fd: BorrowedFd<'_>, req: &TpacketReq) -> io::Result<()> {
    setsockopt(fd, PACKET_RX_RING, req)
}

/// `PACKET_RX_RING` (`tx == false`) or `PACKET_TX_RING`.
pub(crate) fn set_ring(fd: BorrowedFd<'_>, tx: bool, req: &TpacketReq3) -> io::Result<()> {
    setsockopt(fd, if tx { PACKET_TX_RING } else { PACKET_RX_RING }, req)
}

/// The kernel's page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf takes no pointers.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// `send(fd, NULL, 0, MSG_DONTWAIT)`: ask the kernel to transmit every TX frame marked
/// `TP_STATUS_SEND_REQUEST`.
pub(crate) fn kick(fd: BorrowedFd<'_>) -> io::Result<usize> {
    // SAFETY: a zero-length send with a null buffer reads no memory.
    super::cvt_size(unsafe { libc::send(fd.as_raw_fd(), core::ptr::null(), 0, libc::MSG_DONTWAIT) })
}

/// The shared mapping of a socket's rings (RX first, then TX if there is one), unmapped on
/// drop.
#[derive(Debug)]
pub(crate) struct RingMap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving it to another thread moves
// that ownership. Concurrent access by the kernel is synchronised through the status atomics.
unsafe impl Send for RingMap {}

impl RingMap {
    /// Map `len` bytes of the rings set up on `fd`.
    pub(crate) fn new(fd: BorrowedFd<'_>, len: usize) -> io::Result<RingMap> {
        // SAFETY: a fresh shared mapping of the socket's rings; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(RingMap { ptr, len })
    }

    /// The status word at `off` as an atomic, if `off` is in range and 4-aligned.
    fn status_word(&self, off: usize) -> Option<&AtomicU32> {
        if !off.is_multiple_of(4) || off.checked_add(4)? > self.len {
            return None;
        }
        // SAFETY: in bounds and aligned (the mapping is page-aligned and off % 4 == 0); the
        // kernel and we only ever access status words atomically (the kernel with
        // smp_store_release/smp_load_acquire), and the mapping lives as long as `self`.
        Some(unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast::<u32>()) })
    }

    fn load(&self, off: usize) -> u32 {
        self.status_word(off)
            .map_or(u32::MAX, |w| w.load(Ordering::Acquire))
    }

    fn store(&self, off: usize, v: u32) {
        if let Some(w) = self.status_word(off) {
            w.store(v, Ordering::Release);
        }
    }

    /// Copy a plain-old-data header out of the mapping.
    fn read<T: Copy + Default>(&self, off: usize) -> T {
        match off.checked_add(core::mem::size_of::<T>()) {
            // SAFETY: in bounds; T is one of the repr(C) integer structs above, valid for any
            // bits; read_volatile because the memory is shared with the kernel (the status
            // word was read with Acquire before, which orders this read after it).
            Some(end) if end <= self.len => unsafe {
                core::ptr::read_volatile(self.ptr.as_ptr().add(off).cast::<T>())
            },
            _ => T::default(),
        }
    }

    /// RX: the block status at block offset `block`.
    pub(crate) fn block_status(&self, block: usize) -> u32 {
        self.load(block + BLOCK_STATUS_OFF)
    }

    /// RX: the header of a block user space owns.
    pub(crate) fn block_header(&self, block: usize) -> TpacketHdrV1 {
        self.read::<TpacketBlockDesc>(block).hdr
    }

    /// RX: give block `block` back to the kernel.
    pub(crate) fn release_block(&self, block: usize) {
        self.store(block + BLOCK_STATUS_OFF, TP_STATUS_KERNEL);
    }

    /// RX: the header of the frame at `off` (in a user-owned block).
    pub(crate) fn frame_header(&self, off: usize) -> Tpacket3Hdr {
        self.read::<Tpacket3Hdr>(off)
    }

    /// `len` bytes at `off`, or an empty slice if that is outside the mapping. Only called for
    /// user-owned RX blocks (V3) or frames (V2), which the kernel does not write.
    pub(crate) fn bytes(&self, off: usize, len: usize) -> &[u8] {
        match off.checked_add(len) {
            // SAFETY: in bounds of the live mapping; the block (V3) or frame (V2) is owned by
            // user space until release_block / release_frame2, which the views holding this
            // slice call only in their Drop, once the slice is gone.
            Some(end) if end <= self.len => unsafe {
                core::slice::from_raw_parts(self.ptr.as_ptr().add(off), len)
            },
            _ => &[],
        }
    }

    /// V2 RX: the status of the frame at `off` (`Acquire`: the frame's header and bytes, which
    /// the kernel wrote before it stored `TP_STATUS_USER` with release semantics, are visible
    /// after it).
    pub(crate) fn frame2_status(&self, off: usize) -> u32 {
        self.load(off + FRAME2_STATUS_OFF)
    }

    /// V2 RX: the header of the frame at `off` (a frame user space owns).
    pub(crate) fn frame2_header(&self, off: usize) -> Tpacket2Hdr {
        self.read::<Tpacket2Hdr>(off)
    }

    /// V2 RX: give the frame at `off` back to the kernel (`Release`: every read of the frame
    /// happens before the kernel can see it free and overwrite it).
    pub(crate) fn release_frame2(&self, off: usize) {
        self.store(off + FRAME2_STATUS_OFF, TP_STATUS_KERNEL);
    }

    /// TX: the status of the frame at `off`.
    pub(crate) fn tx_status(&self, off: usize) -> u32 {
        self.load(off + FRAME_STATUS_OFF)
    }

    /// TX: set the status of the frame at `off`.
    pub(crate) fn set_tx_status(&self, off: usize, status: u32) {
        self.store(off + FRAME_STATUS_OFF, status);
    }

    /// TX: the data area of the frame at `off` (`len` bytes after the header). Only called for
    /// frames whose status is `TP_STATUS_AVAILABLE` (owned by user space).
    pub(crate) fn tx_data_mut(&mut self, off: usize, len: usize) -> &mut [u8] {
        let start = off + TPACKET3_HDR_ALIGNED;
        match start.checked_add(len) {
            // SAFETY: in bounds of the live mapping; the frame is owned by user space while its
            // status is AVAILABLE, and `&mut self` makes this the only slice into it.
            Some(end) if end <= self.len => unsafe {
                core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(start), len)
            },
            _ => &mut [],
        }
    }

    /// TX: write the header fields of a filled frame (length, no next offset).
    pub(crate) fn tx_set_len(&mut self, off: usize, len: u32) {
        if off
            .checked_add(TPACKET3_HDR_ALIGNED)
            .is_some_and(|e| e <= self.len)
        {
            // SAFETY: the header is in bounds and owned by user space (status AVAILABLE); the
            // fields written are plain u32s that the kernel reads only after the Release store
            // of SEND_REQUEST.
            unsafe {
                let h = self.ptr.as_ptr().add(off).cast::<Tpacket3Hdr>();
                core::ptr::write_volatile(&raw mut (*h).tp_len, len);
                core::ptr::write_volatile(&raw mut (*h).tp_snaplen, len);
                core::ptr::write_volatile(&raw mut (*h).tp_next_offset, 0);
            }
        }
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `new`; no slice into it can outlive
        // `self` (they all borrow it).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn uapi_layouts() {
        assert_eq!(size_of::<TpacketReq3>(), 28);
        assert_eq!(offset_of!(TpacketReq3, tp_retire_blk_tov), 16);
        assert_eq!(offset_of!(TpacketReq3, tp_feature_req_word), 24);

        assert_eq!(size_of::<TpacketHdrVariant1>(), 12);
        assert_eq!(size_of::<Tpacket3Hdr>(), 48);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_sec), 4);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_nsec), 8);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_snaplen), 12);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_len), 16);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_status), 20);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_mac), 24);
        assert_eq!(offset_of!(Tpacket3Hdr, tp_net), 26);
        assert_eq!(
            offset_of!(Tpacket3Hdr, hv1) + offset_of!(TpacketHdrVariant1, tp_vlan_tci),
            32
        );
        assert_eq!(
            offset_of!(Tpacket3Hdr, hv1) + offset_of!(TpacketHdrVariant1, tp_vlan_tpid),
            36
        );
        assert_eq!(
            TPACKET3_HDR_ALIGNED,
            size_of::<Tpacket3Hdr>().next_multiple_of(16)
        );
        assert_eq!(
            TPACKET3_HDRLEN,
            TPACKET3_HDR_ALIGNED + size_of::<libc::sockaddr_ll>()
        );

        assert_eq!(size_of::<TpacketBdTs>(), 8);
        assert_eq!(size_of::<TpacketHdrV1>(), 40);
        assert_eq!(offset_of!(TpacketHdrV1, num_pkts), 4);
        assert_eq!(offset_of!(TpacketHdrV1, offset_to_first_pkt), 8);
        assert_eq!(offset_of!(TpacketHdrV1, seq_num), 16);
        assert_eq!(offset_of!(TpacketHdrV1, ts_last_pkt), 32);
        assert_eq!(size_of::<TpacketBlockDesc>(), 48);
        assert_eq!(BLOCK_STATUS_OFF, 8);
        assert_eq!(FRAME_STATUS_OFF, 20);
    }

    #[test]
    fn uapi_layouts_v2() {
        assert_eq!(size_of::<TpacketReq>(), 16);
        assert_eq!(offset_of!(TpacketReq, tp_frame_nr), 12);
        assert_eq!(size_of::<Tpacket2Hdr>(), 32);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_len), 4);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_snaplen), 8);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_mac), 12);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_net), 14);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_sec), 16);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_nsec), 20);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_vlan_tci), 24);
        assert_eq!(offset_of!(Tpacket2Hdr, tp_vlan_tpid), 26);
        assert_eq!(FRAME2_STATUS_OFF, 0);
        assert_eq!(
            TPACKET2_HDR_ALIGNED,
            size_of::<Tpacket2Hdr>().next_multiple_of(TPACKET_ALIGNMENT)
        );
        assert_eq!(
            TPACKET2_HDRLEN,
            TPACKET2_HDR_ALIGNED + size_of::<libc::sockaddr_ll>()
        );
    }
}
