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
mod sys;
pub mod timestamp;
pub mod uring;

pub use error::{IfName, OpenError};
pub use iface::InterfaceInfo;
pub use link::{Backend, LinkConfig, LinkStats};
pub use mmsg::MmsgLink;
pub use plain::PlainLink;
pub use uring::UringLink;
