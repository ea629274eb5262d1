//! l2net on Linux: `AF_PACKET` links that implement [`l2net_core::RawLink`].
#![cfg(target_os = "linux")]
#![warn(missing_docs)]

pub mod error;
pub mod ethtool;
pub mod filter;
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
pub use iface::InterfaceInfo;
pub use link::{Backend, LinkConfig, LinkStats, LinuxLink, Selection};
pub use mmsg::MmsgLink;
pub use plain::PlainLink;
pub use ring::RingLink;
pub use uring::UringLink;
