//! The bytes on the wire. See `docs/PROTOCOL.md` for the byte-by-byte reference.
//!
//! Every header has a view type over caller bytes (`Frame<T: AsRef<[u8]>>` style, checked once,
//! then infallible accessors) and a `Repr` with `parse`, `emit` and `buffer_len`; emitting writes
//! into a buffer the caller lends (a ring slot) and never allocates. Every parser returns a
//! [`WireError`] on malformed input and never panics.
//!
//! * [`ethernet`], [`vlan`]: Ethernet II and 802.1Q/802.1ad tags.
//! * [`header`]: the 16-byte l2net header and the identifiers ([`ParticipantId`], [`EntityId`],
//!   [`MsgKind`]).
//! * [`msg`]: the body of every message kind.
//! * [`frame`]: whole frames: build one in a lent TX buffer, parse a received one.
//! * [`bpf`]: classic-BPF receive filters that let only l2net frames for our MACs through.
//! * [`discovery_mac`], [`topic_mac`]: the multicast addresses of section 5.

pub mod bpf;
mod error;
pub mod ethernet;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
mod mac;
pub mod msg;
pub mod vlan;

pub use error::WireError;
pub use ethernet::ETHERTYPE_L2NET;
pub use header::{EntityId, HeaderRepr, MsgKind, ParticipantId};
pub use mac::{L2NET_MAC_PREFIX, MacAddr, MacParseError, discovery_mac, topic_mac};
pub use vlan::{TPID_8021AD, TPID_8021Q, TagStack, Tci, VlanTag};

#[cfg(test)]
mod proptests;

/// Copy `src` into the start of `dst`, as much as both hold; returns the bytes copied.
///
/// `copy_from_slice` panics when the lengths differ, and slice indexing when a range is out of
/// bounds: even where the code rules that out, a panic site keeps `core::fmt`'s integer
/// formatting (its messages print lengths and indices) in a firmware image. The engine's and the
/// wire's copies go through this and `get`/`get_mut` instead (docs/BENCHMARKS.md, "Embedded
/// firmware size").
#[inline]
pub(crate) fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
    n
}
