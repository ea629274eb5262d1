//! l2net on macOS, FreeBSD, NetBSD and OpenBSD: a [`RawLink`](l2net_core::RawLink) over
//! `/dev/bpf`.
//!
//! [`BpfLink::open`] attaches a BPF descriptor to one Ethernet interface, installs the core's
//! classic-BPF program so that only l2net frames for this host reach user space, and then:
//!
//! * **RX**: one `read()` brings many capture records; [`RawLink::receive`] hands them out one by
//!   one as zero-copy views into the read buffer (allocated once). Metadata is uniform with the
//!   Linux port: a software (wall-clock) timestamp from the record header, the wire length and
//!   truncation. VLAN tags stay in the frame bytes ([`RxMeta::stripped_vlan`] is `None`).
//! * **TX**: frames are written into a preallocated slot ring and leave on
//!   [`RawLink::flush`], one `write()` each (BPF takes one frame per write). `EAGAIN`/`ENOBUFS`
//!   keep them queued; nothing is dropped for backpressure.
//! * **Multicast**: `SIOCADDMULTI`/`SIOCDELMULTI` on a datagram socket, plus the filter update.
//!
//! The record walker ([`record`]), the ioctl numbers ([`ioccom`]), `ifreq`/`sockaddr_dl` handling
//! ([`ifreq`]) and the RX/TX buffers ([`rxbuf`], [`txpool`]) are plain code compiled and tested on
//! every host; the link itself and its `sys` module exist on the four BSD systems only.
//!
//! [`RawLink::receive`]: l2net_core::RawLink::receive
//! [`RawLink::flush`]: l2net_core::RawLink::flush
//! [`RxMeta::stripped_vlan`]: l2net_core::RxMeta::stripped_vlan
#![warn(missing_docs)]

pub mod error;
pub mod ifreq;
pub mod ioccom;
pub mod record;
pub mod rxbuf;
pub mod txpool;

#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
mod link;
#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
mod sys;

pub use error::OpenError;
pub use ifreq::IfName;
#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
pub use link::{BpfConfig, BpfLink, BpfRx, BpfTx, KernelStats};
pub use rxbuf::RxStats;
pub use txpool::TxStats;
