//! l2net-core: the part of l2net that every platform shares.
//!
//! * [`wire`]: the bytes on the wire (Ethernet II, 802.1Q/802.1ad tags, the l2net header and
//!   messages, classic-BPF filter generation). Zero-copy views over caller buffers.
//! * [`link`]: the [`RawLink`](link::RawLink) contract that every port implements, plus an
//!   in-memory segment ([`link::mem`]) and a fault-injecting wrapper ([`link::fault`]).
//! * [`time`]: the engine's notion of time. The core never reads a clock: callers pass `now`.
//!
//! The crate is `#![no_std]`, uses no allocator and no `unsafe`.
//!
//! Cargo features: every protocol feature is on by default (`local`, `fragmentation`,
//! `liveliness-manual`, `batching`, `services`, `transient-local`, `paged-hello`, `deadline`,
//! `lifespan`). A small node turns off what it does not use (`default-features = false`): what a
//! build leaves out is refused where it is asked for (`engine::EndpointError::Unsupported`,
//! `engine::ConfigError::Unsupported`, `engine::WriteError::TooLarge`) and counted where it
//! arrives (`engine::Stats::rx_unsupported`), and the participant stays wire compatible.
//! docs/ARCHITECTURE.md ("Cargo features of `l2net-core`") says what each one adds; `std` and
//! `defmt` are the other two features.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod engine;
pub mod link;
pub mod time;
pub mod wire;

pub use link::{Capabilities, LinkError, RawLink, RxFrame, RxMeta, TxToken};
pub use time::Instant;
pub use wire::MacAddr;
