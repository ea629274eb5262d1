//! [`BpfLink`]: the `RawLink` over a BPF descriptor.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use l2net_core::link::{
    Capabilities, FlushStatus, LinkError, RawLink, RxFrame, RxMeta, TxToken, check_tx_len,
};
use l2net_core::wire::bpf::{BpfError, BpfInsn, MAX_MACS, filter_len, l2net_filter};
use l2net_core::{Instant, MacAddr};

use crate::error::OpenError;
use crate::ifreq::{IfName, IfReq};
use crate::ioccom::{AbiSizes, BPF_T_NANOTIME, DLT_EN10MB, Os, Requests};
use crate::record::HeaderLayout;
use crate::rxbuf::{RxBuffer, RxStats};
use crate::sys::{self, IfLookup};
use crate::txpool::{TxPool, TxSlot, TxStats, is_backpressure};

/// The system this build runs on.
const OS: Os = match Os::NATIVE {
    Some(os) => os,
    None => panic!("l2net-bsd's link is built for macOS, FreeBSD, NetBSD and OpenBSD only"),
};

/// This system's request numbers.
const REQ: Requests = Requests::of(OS, AbiSizes::of(OS, core::mem::size_of::<usize>()));

/// `BPF_MAXINSNS` (512 on all four systems).
const BPF_MAXINSNS: usize = 512;

/// Instructions of the largest filter: our own address plus the most groups one program holds.
const FILTER_CAPACITY: usize = filter_len(MAX_MACS);
const _: () = assert!(FILTER_CAPACITY <= BPF_MAXINSNS);

/// Ethernet header length.
const ETHER_HDR_LEN: usize = 14;

/// Bytes of the two VLAN tags a frame may carry.
const VLAN_ROOM: usize = 8;

/// FreeBSD `BPF_T_NONE`: no timestamps at all.
const BPF_T_NONE: u32 = 0x0003;

/// Reads one `receive` call may make when reads bring no usable frame (only empty or corrupt
/// records), so that each call does bounded work.
const MAX_READS_PER_RECEIVE: usize = 4;

// Cross-check the computed request numbers against the libc crate's, where it has them. (The
// casts are needed: libc's types are `c_ulong`, 32 bits on 32-bit targets, or `c_uint`.)
#[cfg(any(target_os = "macos", target_os = "freebsd", target_os = "openbsd"))]
#[allow(clippy::unnecessary_cast)]
const _: () = {
    assert!(REQ.biocsetif as u64 == libc::BIOCSETIF as u64);
    assert!(REQ.biocsblen as u64 == libc::BIOCSBLEN as u64);
    assert!(REQ.biocgblen as u64 == libc::BIOCGBLEN as u64);
    assert!(REQ.biocgdlt as u64 == libc::BIOCGDLT as u64);
    assert!(REQ.biocimmediate as u64 == libc::BIOCIMMEDIATE as u64);
    assert!(REQ.biocshdrcmplt as u64 == libc::BIOCSHDRCMPLT as u64);
    assert!(REQ.biocgstats as u64 == libc::BIOCGSTATS as u64);
    assert!(REQ.biocflush as u64 == libc::BIOCFLUSH as u64);
};
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
#[allow(clippy::unnecessary_cast)]
const _: () = {
    assert!(REQ.biocsetf as u64 == libc::BIOCSETF as u64);
    let fnr = match REQ.biocsetfnr {
        Some(r) => r,
        None => 0,
    };
    assert!(fnr as u64 == libc::BIOCSETFNR as u64);
};

/// This system's `struct bpf_hdr` (or FreeBSD's `bpf_xhdr` with nanoseconds when `xhdr_nanos`).
#[cfg(target_os = "macos")]
fn native_layout(_xhdr_nanos: bool) -> HeaderLayout {
    HeaderLayout::MACOS
}

/// This system's `struct bpf_hdr` (or FreeBSD's `bpf_xhdr` with nanoseconds when `xhdr_nanos`).
#[cfg(target_os = "freebsd")]
fn native_layout(xhdr_nanos: bool) -> HeaderLayout {
    let long = core::mem::size_of::<libc::c_long>();
    if xhdr_nanos {
        HeaderLayout::xhdr(crate::record::FracUnit::Nanos, long)
    } else {
        HeaderLayout::micros(
            core::mem::size_of::<libc::time_t>(),
            core::mem::offset_of!(libc::timeval, tv_usec),
            core::mem::size_of::<libc::suseconds_t>(),
            long,
        )
    }
}

/// This system's `struct bpf_hdr`: `struct bpf_timeval` is two `long`s.
#[cfg(target_os = "netbsd")]
fn native_layout(_xhdr_nanos: bool) -> HeaderLayout {
    let long = core::mem::size_of::<libc::c_long>();
    HeaderLayout::micros(long, long, long, long)
}

/// This system's `struct bpf_hdr`: `struct bpf_timeval` is two `u_int32_t`s.
#[cfg(target_os = "openbsd")]
fn native_layout(_xhdr_nanos: bool) -> HeaderLayout {
    HeaderLayout::OPENBSD
}

// Cross-check the header layouts against the libc crate's `struct bpf_hdr`, where it has one.
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
const _: () = {
    assert!(core::mem::offset_of!(libc::bpf_hdr, bh_caplen) == layout_offsets().0);
    assert!(core::mem::offset_of!(libc::bpf_hdr, bh_datalen) == layout_offsets().1);
    assert!(core::mem::offset_of!(libc::bpf_hdr, bh_hdrlen) == layout_offsets().2);
};
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
const fn layout_offsets() -> (usize, usize, usize) {
    let l = if cfg!(target_os = "macos") {
        HeaderLayout::MACOS
    } else {
        HeaderLayout::micros(
            core::mem::size_of::<libc::time_t>(),
            core::mem::offset_of!(libc::timeval, tv_usec),
            core::mem::size_of::<libc::suseconds_t>(),
            core::mem::size_of::<libc::c_long>(),
        )
    };
    (l.caplen_offset, l.datalen_offset, l.hdrlen_offset)
}

/// How to open a [`BpfLink`]. Start from [`BpfConfig::default`] and adjust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BpfConfig {
    /// Requested size of the kernel's capture buffer (and of the one read buffer), in bytes.
    /// The kernel lowers it to its limit (`net.bpf.maxbufsize` on FreeBSD,
    /// `debug.bpf_maxbufsize` on macOS); [`BpfLink::buffer_len`] reports the size in use.
    /// Default 512 KiB.
    pub buffer_len: usize,
    /// Number of transmit slots: frames that can be queued before [`RawLink::transmit`] reports
    /// backpressure. Default 64.
    pub tx_slots: usize,
    /// Put the interface in promiscuous mode (off by default). Needed on macOS when the process
    /// may open `/dev/bpf*` but is not root, since joining multicast groups (`SIOCADDMULTI`)
    /// needs root there.
    pub promiscuous: bool,
    /// Report receive timestamps (default on). On FreeBSD the kernel then stamps in
    /// nanoseconds (`BPF_T_NANOTIME`); elsewhere in microseconds.
    pub timestamps: bool,
}

impl Default for BpfConfig {
    fn default() -> Self {
        BpfConfig {
            buffer_len: 512 * 1024,
            tx_slots: 64,
            promiscuous: false,
            timestamps: true,
        }
    }
}

/// The kernel's counters for the descriptor (`BIOCGSTATS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KernelStats {
    /// Frames the descriptor saw (before the filter).
    pub received: u64,
    /// Frames dropped because the capture buffer was full (read too slowly).
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    mac: MacAddr,
    /// True if our `SIOCADDMULTI` created the membership (so we remove it).
    owned: bool,
}

/// A [`RawLink`] over `/dev/bpf` on one Ethernet interface. See the crate docs.
///
/// For readiness, poll the descriptor ([`AsFd`]/[`AsRawFd`]) for reading; the descriptor is
/// non-blocking and in immediate mode.
#[derive(Debug)]
pub struct BpfLink {
    fd: OwnedFd,
    sock: OwnedFd,
    name: IfName,
    device: Option<u16>,
    mac: MacAddr,
    caps: Capabilities,
    /// Largest frame we write: 14 + interface MTU.
    max_frame: usize,
    /// Largest frame we keep on receive: 14 + two tags + interface MTU.
    rx_snap: usize,
    timestamps: bool,
    promiscuous: bool,
    rx: RxBuffer,
    /// The last receive emptied the buffer and its read found nothing: no frame is pending
    /// until the descriptor is readable.
    rx_drained: bool,
    tx: TxPool,
    groups: Vec<Group>,
    filter: Box<[BpfInsn]>,
}

fn os_err(op: &'static str) -> impl Fn(i32) -> OpenError {
    move |errno| OpenError::Os { op, errno }
}

impl BpfLink {
    /// Open interface `name` with the default configuration.
    pub fn open(name: &str) -> Result<BpfLink, OpenError> {
        BpfLink::open_with(name, BpfConfig::default())
    }

    /// Open interface `name` with `config`.
    pub fn open_with(name: &str, config: BpfConfig) -> Result<BpfLink, OpenError> {
        let name = IfName::new(name)?;
        let link_addr = match sys::lookup_interface(&name).map_err(os_err("getifaddrs"))? {
            IfLookup::Missing => return Err(OpenError::NoSuchInterface { name }),
            IfLookup::Found(l) => l,
        };

        let sock = sys::dgram_socket().map_err(os_err("socket"))?;
        let sizes = AbiSizes::of(OS, core::mem::size_of::<usize>());
        let mut ifr = IfReq::new(&name, sizes.ifreq);
        sys::ioctl_ifreq(sock.as_raw_fd(), REQ.siocgifmtu, &mut ifr).map_err(|e| match e {
            libc::ENXIO | libc::ENODEV => OpenError::NoSuchInterface { name },
            errno => OpenError::Os {
                op: "SIOCGIFMTU",
                errno,
            },
        })?;
        let if_mtu = usize::try_from(ifr.mtu()).unwrap_or(0);
        if if_mtu <= VLAN_ROOM {
            return Err(OpenError::Os {
                op: "SIOCGIFMTU",
                errno: libc::EINVAL,
            });
        }

        let (fd, device) = sys::open_bpf()?;
        let blen_req = u32::try_from(config.buffer_len).unwrap_or(u32::MAX);
        sys::ioctl_uint(&fd, REQ.biocsblen, blen_req).map_err(os_err("BIOCSBLEN"))?;
        let mut ifr = IfReq::new(&name, sizes.ifreq);
        sys::ioctl_ifreq(fd.as_raw_fd(), REQ.biocsetif, &mut ifr).map_err(|e| match e {
            libc::ENXIO | libc::ENODEV => OpenError::NoSuchInterface { name },
            errno => OpenError::Os {
                op: "BIOCSETIF",
                errno,
            },
        })?;
        let dlt = sys::ioctl_uint(&fd, REQ.biocgdlt, 0).map_err(os_err("BIOCGDLT"))?;
        if dlt != DLT_EN10MB {
            return Err(OpenError::NotEthernet { name, dlt });
        }
        let mac = link_addr
            .and_then(|l| l.mac)
            .ok_or(OpenError::NoMacAddress { name })?;

        sys::ioctl_uint(&fd, REQ.biocimmediate, 1).map_err(os_err("BIOCIMMEDIATE"))?;
        sys::ioctl_uint(&fd, REQ.biocshdrcmplt, 1).map_err(os_err("BIOCSHDRCMPLT"))?;
        let dir = REQ.direction;
        sys::ioctl_uint(&fd, dir.request, dir.value).map_err(os_err(dir.name))?;
        // FreeBSD can stamp in nanoseconds (struct bpf_xhdr); kernels before 9.1 lack
        // BIOCSTSTAMP and keep the microsecond bpf_hdr, which is still a timestamp.
        let mut xhdr_nanos = false;
        if let Some(req) = REQ.biocststamp {
            let mode = if config.timestamps {
                BPF_T_NANOTIME
            } else {
                BPF_T_NONE
            };
            xhdr_nanos = sys::ioctl_uint(&fd, req, mode).is_ok() && config.timestamps;
        }
        if config.promiscuous {
            sys::ioctl_void(&fd, REQ.biocpromisc).map_err(os_err("BIOCPROMISC"))?;
        }

        // BPF refuses writes longer than the interface MTU after the 14-byte header, VLAN tags
        // included (bpf_movein: EMSGSIZE). The payload limit reported to the core leaves room
        // for the two tags a frame may carry, so every frame the core builds can be written.
        // Receive keeps up to a full MTU payload behind two tags, so tagged frames from hosts
        // whose writes count tags apart (Linux) arrive whole.
        let mut caps = Capabilities::new(if_mtu - VLAN_ROOM);
        caps.max_burst = config.tx_slots.max(1);
        caps.timestamps.rx_software = config.timestamps;
        let max_frame = caps.max_frame_len(2);
        let rx_snap = ETHER_HDR_LEN + VLAN_ROOM + if_mtu;

        let blen = sys::ioctl_uint(&fd, REQ.biocgblen, 0).map_err(os_err("BIOCGBLEN"))? as usize;
        let layout = native_layout(xhdr_nanos);
        let needed = layout
            .word_align(layout.min_header_len() + 16 + rx_snap)
            .unwrap_or(usize::MAX);
        if blen < needed {
            return Err(OpenError::BufferTooSmall {
                granted: blen,
                needed,
            });
        }

        let mut link = BpfLink {
            fd,
            sock,
            name,
            device,
            mac,
            caps,
            max_frame,
            rx_snap,
            timestamps: config.timestamps,
            promiscuous: config.promiscuous,
            rx: RxBuffer::new(blen, layout),
            rx_drained: false,
            tx: TxPool::new(config.tx_slots, max_frame),
            groups: Vec::with_capacity(MAX_MACS),
            filter: vec![BpfInsn::default(); FILTER_CAPACITY].into_boxed_slice(),
        };
        // BIOCSETF (resetting the buffer) on open: nothing captured before the filter survives.
        link.install_filter(REQ.biocsetf).map_err(|e| match e {
            FilterFailure::Build(e) => OpenError::Filter(e),
            FilterFailure::Os(errno) => OpenError::Os {
                op: "BIOCSETF",
                errno,
            },
        })?;
        Ok(link)
    }

    /// The interface's name.
    pub fn name(&self) -> IfName {
        self.name
    }

    /// The BPF device number in use, or `None` for the cloning `/dev/bpf`.
    pub fn device(&self) -> Option<u16> {
        self.device
    }

    /// The kernel capture buffer's size (the read buffer has the same).
    pub fn buffer_len(&self) -> usize {
        self.rx.len()
    }

    /// Receive counters (reads, frames, truncated, skipped empty records, corrupt reads).
    pub fn rx_stats(&self) -> RxStats {
        self.rx.stats()
    }

    /// Transmit counters.
    pub fn tx_stats(&self) -> TxStats {
        self.tx.stats()
    }

    /// The kernel's received/dropped counters for this descriptor.
    pub fn kernel_stats(&self) -> Result<KernelStats, LinkError> {
        let (received, dropped) =
            sys::get_stats(&self.fd, REQ.biocgstats).map_err(|errno| LinkError::Os {
                op: "BIOCGSTATS",
                errno,
            })?;
        Ok(KernelStats { received, dropped })
    }

    /// The multicast groups joined through this link.
    pub fn multicast_groups(&self) -> impl Iterator<Item = MacAddr> + '_ {
        self.groups.iter().map(|g| g.mac)
    }

    /// Rebuild the filter for our MAC and the joined groups and install it with `request`.
    fn install_filter(&mut self, request: u32) -> Result<(), FilterFailure> {
        let mut dst = Vec::with_capacity(1 + self.groups.len());
        dst.push(self.mac);
        dst.extend(self.groups.iter().map(|g| g.mac));
        let accept = u32::try_from(self.rx_snap).unwrap_or(u32::MAX);
        let n = l2net_filter(&dst, accept, &mut self.filter).map_err(FilterFailure::Build)?;
        let prog = self
            .filter
            .get(..n)
            .ok_or(FilterFailure::Build(BpfError::BufferTooSmall {
                len: self.filter.len(),
                need: n,
            }))?;
        sys::set_filter(&self.fd, request, prog).map_err(FilterFailure::Os)
    }

    /// Install the filter after a membership change. FreeBSD and macOS have `BIOCSETFNR`, which
    /// keeps the frames already captured; NetBSD and OpenBSD only have `BIOCSETF`, which resets
    /// the kernel buffer (frames captured but not yet read are lost; the protocol's reliable
    /// mode repairs that, and memberships usually change at start-up).
    fn update_filter(&mut self) -> Result<(), LinkError> {
        let (request, op) = match REQ.biocsetfnr {
            Some(r) => (r, "BIOCSETFNR"),
            None => (REQ.biocsetf, "BIOCSETF"),
        };
        self.install_filter(request).map_err(|e| match e {
            FilterFailure::Build(_) => LinkError::Unsupported(
                "more multicast groups than one BPF filter program holds (63)",
            ),
            FilterFailure::Os(errno) => LinkError::Os { op, errno },
        })
    }

    fn multi_ioctl(&self, request: u32, mac: MacAddr) -> Result<(), i32> {
        let sizes = AbiSizes::of(OS, core::mem::size_of::<usize>());
        let mut ifr = IfReq::new(&self.name, sizes.ifreq);
        ifr.set_multicast_addr(OS, mac);
        sys::ioctl_ifreq(self.sock.as_raw_fd(), request, &mut ifr)
    }
}

#[derive(Debug, Clone, Copy)]
enum FilterFailure {
    Build(BpfError),
    Os(i32),
}

impl Drop for BpfLink {
    fn drop(&mut self) {
        // Memberships made with SIOCADDMULTI belong to the interface, not to our socket: undo
        // ours. Errors cannot be reported from drop; the interface may already be gone.
        for g in self.groups.iter().filter(|g| g.owned) {
            let _ = self.multi_ioctl(REQ.siocdelmulti, g.mac);
        }
    }
}

impl AsFd for BpfLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for BpfLink {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A received frame: a view into the link's read buffer.
#[derive(Debug)]
pub struct BpfRx<'a> {
    data: &'a [u8],
    meta: RxMeta,
}

impl RxFrame for BpfRx<'_> {
    fn data(&self) -> &[u8] {
        self.data
    }
    fn meta(&self) -> RxMeta {
        self.meta
    }
}

/// A transmit slot of a [`BpfLink`].
#[derive(Debug)]
pub struct BpfTx<'a>(TxSlot<'a>);

impl TxToken for BpfTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        self.0.consume(f)
    }
}

fn read_error(errno: i32) -> LinkError {
    match errno {
        libc::ENXIO | libc::ENODEV => LinkError::Gone,
        libc::ENETDOWN => LinkError::Down,
        errno => LinkError::Os { op: "read", errno },
    }
}

impl RawLink for BpfLink {
    type Rx<'a> = BpfRx<'a>;
    type Tx<'a> = BpfTx<'a>;

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn receive(&mut self, _now: Instant) -> Result<Option<BpfRx<'_>>, LinkError> {
        for _ in 0..MAX_READS_PER_RECEIVE {
            if let Some(found) = self.rx.next_frame() {
                let mut meta = found.meta;
                if !self.timestamps {
                    meta.timestamp = None;
                }
                self.rx_drained = false;
                return Ok(Some(BpfRx {
                    data: self.rx.bytes(found.range),
                    meta,
                }));
            }
            let fd = &self.fd;
            match self.rx.refill(|buf| sys::read(fd, buf)) {
                Ok(0) => {
                    self.rx_drained = true;
                    return Ok(None);
                }
                Ok(_) => {}
                Err(e) if is_backpressure(e) => {
                    self.rx_drained = true;
                    return Ok(None);
                }
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(None)
    }

    fn transmit(&mut self, _now: Instant, len: usize) -> Result<Option<BpfTx<'_>>, LinkError> {
        check_tx_len(len, self.max_frame)?;
        Ok(self.tx.reserve(len).map(BpfTx))
    }

    fn flush(&mut self, _now: Instant) -> Result<FlushStatus, LinkError> {
        let fd = &self.fd;
        self.tx.flush(|frame| sys::write(fd, frame))
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        if !mac.is_multicast() {
            return Err(LinkError::Os {
                op: "join_multicast: not a group address",
                errno: libc::EINVAL,
            });
        }
        if self.groups.iter().any(|g| g.mac == mac) {
            return Ok(());
        }
        // Broadcast reaches every station without a membership.
        let owned = if mac.is_broadcast() {
            false
        } else {
            match self.multi_ioctl(REQ.siocaddmulti, mac) {
                Ok(()) => true,
                // FreeBSD: the group is already joined from user space (another l2net process
                // on this host); share it and leave it in place when we go.
                Err(libc::EADDRINUSE) => false,
                // In promiscuous mode the NIC delivers the group's frames anyway; the filter
                // entry alone is enough (this is how an unprivileged macOS user joins groups).
                Err(libc::EPERM | libc::EACCES) if self.promiscuous => false,
                Err(errno @ (libc::EPERM | libc::EACCES)) => {
                    return Err(LinkError::Os {
                        op: "SIOCADDMULTI (joining a group needs root; or open the link with \
                             BpfConfig::promiscuous)",
                        errno,
                    });
                }
                Err(libc::ENXIO | libc::ENODEV) => return Err(LinkError::Gone),
                Err(errno) => {
                    return Err(LinkError::Os {
                        op: "SIOCADDMULTI",
                        errno,
                    });
                }
            }
        };
        self.groups.push(Group { mac, owned });
        if let Err(e) = self.update_filter() {
            self.groups.pop();
            if owned {
                let _ = self.multi_ioctl(REQ.siocdelmulti, mac);
            }
            return Err(e);
        }
        Ok(())
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        let Some(i) = self.groups.iter().position(|g| g.mac == mac) else {
            return Ok(());
        };
        let g = self.groups.remove(i);
        self.update_filter()?;
        if g.owned {
            self.multi_ioctl(REQ.siocdelmulti, mac)
                .map_err(|errno| match errno {
                    libc::ENXIO | libc::ENODEV => LinkError::Gone,
                    errno => LinkError::Os {
                        op: "SIOCDELMULTI",
                        errno,
                    },
                })?;
        }
        Ok(())
    }
    /// `false` after a receive found nothing (its buffer was empty and the read after it found
    /// the device's store empty), until the next receive. A frame that arrived since makes the descriptor readable (immediate mode).
    fn rx_maybe_pending(&self) -> bool {
        !self.rx_drained
    }
}
