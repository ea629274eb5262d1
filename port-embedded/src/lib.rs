//! l2net on microcontrollers (and on a Linux host running the same code).
//!
//! * [`NicLink`] is the [`RawLink`](l2net_core::RawLink) over any [`Nic`]; [`EmbassyLink`] and
//!   `SmoltcpLink` (feature `smoltcp`) name it for embassy-net drivers and smoltcp devices.
//! * [`Splitter`] lets one NIC serve l2net (EtherType 0x88B5) and an IP stack at the same time.
//! * [`lan9118`] drives the SMSC LAN9118 / LAN9220 family (Arm MPS2 boards, QEMU's `mps2-an385`
//!   and `mps2-an386`) as an embassy-net driver.
//! * `host` (feature `host`, Linux): a TAP-backed embassy-net driver, so this crate's code runs and
//!   is tested on a Linux machine.
//!
//! `#![no_std]` without an allocator. Logging goes to `defmt` (feature `defmt`) or `log` (feature
//! `log`), never both. All `unsafe` lives in `sys` modules (`lan9118::mmio`, `host::sys`).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod fmt;

pub mod lan9118;
mod link;
pub mod nic;
pub mod split;
#[cfg(test)]
mod testutil;

#[cfg(all(feature = "host", target_os = "linux"))]
pub mod host;

#[cfg(feature = "smoltcp")]
pub use link::SmoltcpLink;
pub use link::{DEFAULT_RX_BUF, EmbassyLink, LinkStats, NicLink, NicLinkTx, NicRx, Readiness};
pub use nic::{AllMulticast, EmbassyNic, MulticastFilter, Nic, NicError, NicTx};
pub use split::{IpHalf, L2Half, SplitStats, Splitter, is_l2net_frame};
