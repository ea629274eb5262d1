//! l2net on Linux: `AF_PACKET` links that implement [`l2net_core::RawLink`].
//!
//! This crate is thin glue between the Linux kernel and the protocol core: it moves whole
//! Ethernet frames and never reads the l2net protocol. Everything here follows the
//! [`RawLink`](l2net_core::RawLink) contract: zero-copy tokens both ways, batches sent on
//! `flush`, backpressure reported (never a silent drop), non-blocking calls plus a readiness
//! descriptor to sleep on.
//!
//! # Opening a link
//!
//! One [`LinkConfig`] describes a link; [`LinuxLink::open`] opens it on the configured
//! [`Backend`] and returns a [`Selection`] that says which backend it uses and why:
//!
//! ```no_run
//! use l2net_linux::{LinkConfig, LinuxLink};
//! let (link, selection) = LinuxLink::open(&LinkConfig::new("eth0"))?;
//! println!("using {selection}"); // "ring (auto: TPACKET_V3 rings accepted (...))"
//! # Ok::<(), l2net_linux::OpenError>(())
//! ```
//!
//! Links open in the network namespace of the calling thread and stay there. Opening needs
//! `CAP_NET_RAW`; without it the error says so ([`OpenError::NeedsCapNetRaw`]).
//!
//! # Backends
//!
//! | backend | module | receive | transmit |
//! |---|---|---|---|
//! | `plain` | [`plain`] | one `recvmsg` per frame into a preallocated buffer | one `send` per frame from a preallocated slot pool |
//! | `mmsg` | [`mmsg`] | one `recvmmsg` per batch, per-message auxdata | one `sendmmsg` per flush |
//! | `ring` | [`ring`] | `TPACKET_V3` RX ring, views point into ring blocks | `PACKET_TX_RING` frames filled in place, one `send` kick per flush |
//! | `frame-ring` | [`frame_ring`] | `TPACKET_V2` RX ring, every frame handed over at once, views point into its slot | as mmsg: one `sendmmsg` per flush |
//! | `uring` | [`uring`] | io_uring submissions on the packet socket | linked send chains |
//!
//! `auto` takes the ring when the kernel accepts it, then io_uring, then mmsg, then plain (never
//! the frame ring, which is for latency: see [`frame_ring`] and `docs/BENCHMARKS.md`). All
//! backends share the socket set-up in [`link`]: the socket is created with protocol 0 (it
//! receives nothing yet), gets `PACKET_AUXDATA`, `PACKET_IGNORE_OUTGOING`, the optional qdisc bypass, buffer
//! sizes, busy polling and a classic-BPF EtherType filter, and is only then bound to the
//! interface with `ETH_P_ALL` (and joined to a fanout group if configured). Binding `ETH_P_ALL`
//! rather than `0x88B5` is what keeps VLAN tags: the kernel reports a tag it stripped only to
//! `ETH_P_ALL` sockets, see [`link`]. Every option the kernel refuses fails the open with
//! [`OpenError::OptionRefused`].
//!
//! # What the link does to frames
//!
//! * Receive: the outermost VLAN tag is usually stripped by the kernel (veth) or the NIC and
//!   comes back in [`RxMeta::stripped_vlan`](l2net_core::RxMeta) with its TPID, PCP, DEI and
//!   VID; inner tags stay in the bytes. Frames longer than the receive buffer are reported
//!   truncated with their real length. The ring backends timestamp every frame (software,
//!   CLOCK_REALTIME, or hardware when the NIC stamped it); every backend does with
//!   [`LinkConfig::timestamps`], which also gives transmit stamps for the frames that ask.
//! * Transmit: frames up to `14 + MTU` bytes, or `18 + MTU` with an outer 802.1Q tag (what
//!   `AF_PACKET` accepts); frames shorter than 60 bytes are padded with zeros to 60, as a NIC
//!   would. A filled token too large for its tags is refused and reported by the next flush.
//!
//! # Other modules
//!
//! * [`iface`]: interface facts (index, MAC, MTU, flags, carrier) by ioctl, with errors such as
//!   "no interface named X".
//! * [`netns`] (feature `netns`, on by default): network namespaces, veth pairs and TAP devices
//!   made with rtnetlink, removed on drop, for tests and demos; [`netns::require_privileges`]
//!   for privileged tests.
//! * [`netlink`]: link-state monitoring; [`timestamp`] and [`ethtool`]: transmit/receive
//!   timestamping; [`filter`]: kernel-side MAC + EtherType filters from the core's generator.
//!
//! All `unsafe` code lives in the private `sys` module, one file per concern, each block with a
//! `// SAFETY:` comment. File descriptors are `OwnedFd`s and mappings are unmapped on drop.
#![cfg(target_os = "linux")]
#![warn(missing_docs)]

pub mod error;
pub mod ethtool;
pub mod filter;
pub mod frame_ring;
pub mod iface;
pub mod link;
pub mod mmsg;
pub mod netlink;
#[cfg(feature = "netns")]
pub mod netns;
pub mod plain;
pub mod ring;
mod sys;
pub mod timestamp;
pub mod uring;

pub use error::{IfName, OpenError};
pub use frame_ring::FrameRingLink;
pub use iface::InterfaceInfo;
pub use link::{Backend, LinkConfig, LinkStats, LinuxLink, Selection};
pub use mmsg::MmsgLink;
pub use plain::PlainLink;
pub use ring::RingLink;
pub use uring::UringLink;
