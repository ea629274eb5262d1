//! The bytes on the wire. See `docs/PROTOCOL.md` for the byte-by-byte reference.
//!
//! Every header has a view type over caller bytes (`Frame<T: AsRef<[u8]>>` style, checked once,
//! then infallible accessors) and a `Repr` with `parse`, `emit` and `buffer_len`; emitting writes
//! into a buffer the caller lends (a ring slot) and never allocates.

pub mod ethernet;
mod mac;
pub mod vlan;

pub use ethernet::ETHERTYPE_L2NET;
pub use mac::{MacAddr, MacParseError};
pub use vlan::{Tci, VlanTag};
