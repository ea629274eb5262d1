//! l2net: messaging straight over Ethernet frames (EtherType 0x88B5).
//!
//! This facade re-exports the protocol core ([`core`]) and the host's port ([`host`]), so that
//! applications use one crate on every platform.

pub use l2net_core as core;

/// The port for the host operating system.
#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
pub use l2net_bsd as host;
/// The port for the host operating system.
#[cfg(target_os = "linux")]
pub use l2net_linux as host;

#[cfg(unix)]
pub mod node;
