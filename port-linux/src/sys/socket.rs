//! `AF_PACKET` sockets: creation, binding, socket options, `recvmsg` with `PACKET_AUXDATA`,
//! `send`, `recvmmsg`/`sendmmsg` batches, `poll`, classic BPF filters and statistics.
//!
//! Constants and structures are those of the Linux uapi header `linux/if_packet.h`; each
//! structure has a layout test below.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::{cvt, cvt_size};

/// `SOL_PACKET`.
pub(crate) const SOL_PACKET: libc::c_int = 263;
/// `ETH_P_ALL`: every protocol.
pub(crate) const ETH_P_ALL: u16 = 0x0003;

// Packet socket options (`if_packet.h`).
pub(crate) const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
pub(crate) const PACKET_DROP_MEMBERSHIP: libc::c_int = 2;
pub(crate) const PACKET_STATISTICS: libc::c_int = 6;
pub(crate) const PACKET_AUXDATA: libc::c_int = 8;
pub(crate) const PACKET_FANOUT: libc::c_int = 18;
pub(crate) const PACKET_QDISC_BYPASS: libc::c_int = 20;
pub(crate) const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// `PACKET_MR_MULTICAST` for `packet_mreq::mr_type`.
pub(crate) const PACKET_MR_MULTICAST: u16 = 0;

// Fanout modes and flags.
pub(crate) const PACKET_FANOUT_HASH: u16 = 0;
pub(crate) const PACKET_FANOUT_LB: u16 = 1;
pub(crate) const PACKET_FANOUT_CPU: u16 = 2;
pub(crate) const PACKET_FANOUT_ROLLOVER: u16 = 3;
pub(crate) const PACKET_FANOUT_RND: u16 = 4;
pub(crate) const PACKET_FANOUT_QM: u16 = 5;

// `tp_status` bits shared by auxdata and the rings.
pub(crate) const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub(crate) const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct tpacket_auxdata`: per-frame metadata delivered as a `PACKET_AUXDATA` control message.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TpacketAuxdata {
    pub tp_status: u32,
    pub tp_len: u32,
    pub tp_snaplen: u32,
    pub tp_mac: u16,
    pub tp_net: u16,
    pub tp_vlan_tci: u16,
    pub tp_vlan_tpid: u16,
}

/// `struct packet_mreq`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PacketMreq {
    pub mr_ifindex: libc::c_int,
    pub mr_type: u16,
    pub mr_alen: u16,
    pub mr_address: [u8; 8],
}

/// `struct tpacket_stats_v3` (its first two fields are `struct tpacket_stats`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TpacketStatsV3 {
    pub tp_packets: u32,
    pub tp_drops: u32,
    pub tp_freeze_q_cnt: u32,
}

/// Control buffer of a received frame, aligned for `cmsghdr`: room for its `PACKET_AUXDATA`
/// message and an `SCM_TIMESTAMPING` message (`crate::timestamp::RX_CONTROL_SPACE`, 112 bytes
/// on 64-bit Linux), so batched receives keep the VLAN tag and the stamp of every frame.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub(crate) struct CmsgBuf([u8; CMSG_BUF_LEN]);

/// Bytes of a [`CmsgBuf`].
pub(crate) const CMSG_BUF_LEN: usize = crate::timestamp::RX_CONTROL_SPACE;

impl core::fmt::Debug for CmsgBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CmsgBuf")
    }
}

impl Default for CmsgBuf {
    fn default() -> Self {
        CmsgBuf([0; CMSG_BUF_LEN])
    }
}

/// A new non-blocking `AF_PACKET`/`SOCK_RAW` socket with protocol 0: it receives nothing until
/// [`bind`] names a protocol, so options and filters are in place before the first frame.
pub(crate) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; the returned descriptor is fresh and owned by us.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket() and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Bind to interface `ifindex`, receiving `protocol` (host order, for example [`ETH_P_ALL`]).
pub(crate) fn bind(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: the pointer and length describe `sll`, which lives across the call.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `setsockopt` with a plain-old-data value. Only called with the `repr(C)` structures of this
/// module and integers, whose every bit pattern is valid.
fn setsockopt_raw<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: the pointer and length describe `*value`, which lives across the call; the kernel
    // only reads it.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `setsockopt` with an `int`.
pub(crate) fn set_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    setsockopt_raw(fd, level, name, &value)
}

/// `getsockopt` of an `int`.
pub(crate) fn get_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointers describe `value` and `len`, both live across the call; the kernel
    // writes at most `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// `SO_RCVTIMEO`: blocking receives on `fd` fail with `EAGAIN` after `timeout`.
pub(crate) fn set_recv_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    setsockopt_raw(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// Join (`add`) or leave the link-layer multicast group `mac` on `ifindex`.
pub(crate) fn membership(
    fd: BorrowedFd<'_>,
    ifindex: u32,
    mac: [u8; 6],
    add: bool,
) -> io::Result<()> {
    let mut mreq = PacketMreq {
        mr_ifindex: ifindex as libc::c_int,
        mr_type: PACKET_MR_MULTICAST,
        mr_alen: 6,
        mr_address: [0; 8],
    };
    mreq.mr_address[..6].copy_from_slice(&mac);
    let name = if add {
        PACKET_ADD_MEMBERSHIP
    } else {
        PACKET_DROP_MEMBERSHIP
    };
    setsockopt_raw(fd, SOL_PACKET, name, &mreq)
}

/// Attach a classic BPF program (`SO_ATTACH_FILTER`).
pub(crate) fn attach_filter(fd: BorrowedFd<'_>, prog: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        filter: prog.as_ptr().cast_mut(),
    };
    // The kernel copies the program during the call; `prog` outlives it.
    setsockopt_raw(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Read and reset the socket's `PACKET_STATISTICS` (the third field is only filled for
/// `TPACKET_V3` sockets).
pub(crate) fn packet_stats(fd: BorrowedFd<'_>) -> io::Result<TpacketStatsV3> {
    let mut st = TpacketStatsV3::default();
    let mut len = core::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
    // SAFETY: the pointers describe `st` and `len`, both live across the call; the kernel
    // writes at most `len` bytes of a structure whose every bit pattern is valid.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            SOL_PACKET,
            PACKET_STATISTICS,
            (&mut st as *mut TpacketStatsV3).cast(),
            &mut len,
        )
    })?;
    Ok(st)
}

/// Wait until `fd` has any of `events` (`POLLIN`, `POLLOUT`) or `timeout` passes (`None`:
/// forever). Returns whether it became ready. `EINTR` is reported as not ready.
pub(crate) fn poll(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        Some(t) => {
            libc::c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX)
        }
    };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd that lives across the call.
    match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
        Ok(n) => Ok(n > 0),
        Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Find the `PACKET_AUXDATA` control message in a received `msghdr`.
fn find_auxdata(msg: &libc::msghdr) -> Option<TpacketAuxdata> {
    // SAFETY: `msg` was filled by recvmsg/recvmmsg: msg_control points to our live control
    // buffer and msg_controllen says how much of it the kernel wrote, which is all the CMSG_*
    // macros look at. The payload is copied out with read_unaligned after checking its length.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let data_len = (c.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            if c.cmsg_level == SOL_PACKET
                && c.cmsg_type == PACKET_AUXDATA
                && data_len >= core::mem::size_of::<TpacketAuxdata>()
            {
                return Some(core::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<TpacketAuxdata>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// One received frame: its length on the wire (larger than the buffer if truncated) and its
/// auxiliary data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub wire_len: usize,
    pub aux: Option<TpacketAuxdata>,
}

/// `recvmsg(MSG_DONTWAIT | MSG_TRUNC)` of one frame into `buf`.
pub(crate) fn recv_aux(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    cmsg: &mut CmsgBuf,
) -> io::Result<Received> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.0.len() as _;
    // SAFETY: msg points to one iovec describing `buf` and to the control buffer `cmsg`, all of
    // which outlive the call; the kernel writes within the given lengths.
    let n = cvt_size(unsafe {
        libc::recvmsg(
            fd.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    })?;
    Ok(Received {
        wire_len: n,
        aux: find_auxdata(&msg),
    })
}

/// `send(MSG_DONTWAIT)` of one frame on a bound packet socket.
pub(crate) fn send(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `frame`, which outlives the call.
    cvt_size(unsafe {
        libc::send(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            libc::MSG_DONTWAIT,
        )
    })
}

/// Preallocated `recvmmsg` state: `n` frame buffers of `slot` bytes, one iovec, one header
/// and one control buffer each.
pub(crate) struct MmsgRx {
    data: Box<[u8]>,
    slot: usize,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
    cmsgs: Box<[CmsgBuf]>,
    /// Headers the kernel may have written since they were last set: the first `dirty` get
    /// their lengths back before the next call (all of them, with their pointers, the first
    /// time), instead of rewriting every header on every call.
    dirty: usize,
}

// SAFETY: the raw pointers inside `iovs` and `hdrs` point only into this struct's own heap
// buffers (boxed slices, which stay put when the struct moves); nothing is shared.
unsafe impl Send for MmsgRx {}

impl MmsgRx {
    pub(crate) fn new(n: usize, slot: usize) -> Self {
        MmsgRx {
            data: vec![0u8; n * slot].into_boxed_slice(),
            slot,
            iovs: (0..n)
                .map(|_| libc::iovec {
                    iov_base: core::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
            // SAFETY: all-zero is a valid mmsghdr.
            hdrs: (0..n).map(|_| unsafe { core::mem::zeroed() }).collect(),
            cmsgs: vec![CmsgBuf::default(); n].into_boxed_slice(),
            dirty: usize::MAX,
        }
    }

    /// Receive up to `n` frames without blocking (`MSG_DONTWAIT | MSG_TRUNC`); returns how
    /// many arrived.
    pub(crate) fn recv(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        if self.dirty == usize::MAX {
            let base = self.data.as_mut_ptr();
            for (i, ((iov, hdr), cmsg)) in self
                .iovs
                .iter_mut()
                .zip(self.hdrs.iter_mut())
                .zip(self.cmsgs.iter_mut())
                .enumerate()
            {
                // SAFETY: i * slot + slot <= data.len() by construction, so the pointer stays
                // in the allocation.
                iov.iov_base = unsafe { base.add(i * self.slot) }.cast();
                iov.iov_len = self.slot;
                hdr.msg_hdr.msg_name = core::ptr::null_mut();
                hdr.msg_hdr.msg_namelen = 0;
                hdr.msg_hdr.msg_iov = iov;
                hdr.msg_hdr.msg_iovlen = 1;
                hdr.msg_hdr.msg_control = cmsg.0.as_mut_ptr().cast();
            }
            self.dirty = self.hdrs.len();
        }
        // The kernel writes back the lengths and flags of the messages it filled (of none when
        // the call fails); the pointers stay as set above.
        let dirty = self.dirty.min(self.hdrs.len());
        for (hdr, cmsg) in self.hdrs[..dirty].iter_mut().zip(self.cmsgs.iter()) {
            hdr.msg_hdr.msg_namelen = 0;
            hdr.msg_hdr.msg_controllen = cmsg.0.len() as _;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        // A failing call writes nothing back; count its first header anyway.
        self.dirty = 1;
        // SAFETY: every header points at its own iovec, frame slot and control buffer, all
        // owned by `self` and alive across the call; the kernel writes within their lengths.
        let n = cvt(unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                self.hdrs.len() as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                core::ptr::null_mut(),
            )
        })?;
        // Those it filled, and the one it tried next, to be safe.
        self.dirty = (n as usize).saturating_add(1);
        Ok(n as usize)
    }

    /// Frame `i` of the last batch: its buffer (the whole slot), its length on the wire and
    /// the control messages the kernel wrote for it (parsed by the caller in safe code).
    pub(crate) fn frame(&self, i: usize) -> (&[u8], usize, &[u8]) {
        let hdr = &self.hdrs[i];
        // `size_t` on glibc, `socklen_t` on musl.
        #[allow(clippy::unnecessary_cast)]
        let control_len = (hdr.msg_hdr.msg_controllen as usize).min(CMSG_BUF_LEN);
        (
            &self.data[i * self.slot..(i + 1) * self.slot],
            hdr.msg_len as usize,
            &self.cmsgs[i].0[..control_len],
        )
    }
}

/// Preallocated `sendmmsg` headers for up to `n` frames.
pub(crate) struct MmsgTx {
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
}

// SAFETY: the raw pointers inside are rewritten from borrowed frames before every call and
// never dereferenced outside it.
unsafe impl Send for MmsgTx {}

impl MmsgTx {
    pub(crate) fn new(n: usize) -> Self {
        MmsgTx {
            iovs: (0..n)
                .map(|_| libc::iovec {
                    iov_base: core::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
            // SAFETY: all-zero is a valid mmsghdr.
            hdrs: (0..n).map(|_| unsafe { core::mem::zeroed() }).collect(),
        }
    }

    /// Send `frames` (at most `n`), each with its control messages (empty: none), with one
    /// `sendmmsg(MSG_DONTWAIT)`; returns how many the kernel took (they are taken in order).
    pub(crate) fn send<'f>(
        &mut self,
        fd: BorrowedFd<'_>,
        frames: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    ) -> io::Result<usize> {
        let mut count = 0;
        for ((iov, hdr), (frame, control)) in
            self.iovs.iter_mut().zip(self.hdrs.iter_mut()).zip(frames)
        {
            iov.iov_base = frame.as_ptr().cast_mut().cast();
            iov.iov_len = frame.len();
            // SAFETY: all-zero is a valid msghdr.
            hdr.msg_hdr = unsafe { core::mem::zeroed() };
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            if !control.is_empty() {
                hdr.msg_hdr.msg_control = control.as_ptr().cast_mut().cast();
                hdr.msg_hdr.msg_controllen = control.len() as _;
            }
            hdr.msg_len = 0;
            count += 1;
        }
        if count == 0 {
            return Ok(0);
        }
        // SAFETY: the first `count` headers point at iovecs describing frames, and at control
        // buffers, borrowed for 'f, which outlives the call; the kernel only reads them (and
        // writes msg_len).
        let n = cvt(unsafe {
            libc::sendmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        })?;
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn uapi_layouts() {
        assert_eq!(size_of::<TpacketAuxdata>(), 20);
        assert_eq!(offset_of!(TpacketAuxdata, tp_len), 4);
        assert_eq!(offset_of!(TpacketAuxdata, tp_snaplen), 8);
        assert_eq!(offset_of!(TpacketAuxdata, tp_mac), 12);
        assert_eq!(offset_of!(TpacketAuxdata, tp_net), 14);
        assert_eq!(offset_of!(TpacketAuxdata, tp_vlan_tci), 16);
        assert_eq!(offset_of!(TpacketAuxdata, tp_vlan_tpid), 18);
        assert_eq!(size_of::<PacketMreq>(), 16);
        assert_eq!(offset_of!(PacketMreq, mr_type), 4);
        assert_eq!(offset_of!(PacketMreq, mr_alen), 6);
        assert_eq!(offset_of!(PacketMreq, mr_address), 8);
        assert_eq!(size_of::<TpacketStatsV3>(), 12);
        assert_eq!(offset_of!(TpacketStatsV3, tp_drops), 4);
        assert_eq!(offset_of!(TpacketStatsV3, tp_freeze_q_cnt), 8);
        // Room for the auxdata and SCM_TIMESTAMPING (three timespecs) together.
        assert!(
            size_of::<CmsgBuf>()
                >= (unsafe_free_cmsg_space(size_of::<TpacketAuxdata>() as u32)
                    + unsafe_free_cmsg_space(3 * size_of::<libc::timespec>() as u32))
                    as usize
        );
    }

    fn unsafe_free_cmsg_space(len: u32) -> u32 {
        // CMSG_SPACE is a const computation; libc marks it unsafe only for uniformity.
        // SAFETY: it reads no memory.
        unsafe { libc::CMSG_SPACE(len) }
    }
}
