//! l2net on Linux: `AF_PACKET` links that implement [`l2net_core::RawLink`].
#![cfg(target_os = "linux")]
#![warn(missing_docs)]
// The packet backends that use the remaining sys helpers land in the next commit.
#![allow(dead_code)]

pub mod error;
pub mod ethtool;
pub mod iface;
pub mod netlink;
#[cfg(feature = "netns")]
pub mod netns;
mod sys;
pub mod timestamp;

pub use error::{IfName, OpenError};
pub use iface::InterfaceInfo;
