//! l2net on Linux: `AF_PACKET` links that implement [`l2net_core::RawLink`].
#![cfg(target_os = "linux")]
