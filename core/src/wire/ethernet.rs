//! Ethernet II header.

/// Length of an Ethernet II header: destination MAC, source MAC, EtherType.
pub const HEADER_LEN: usize = 14;
/// l2net's EtherType (IEEE local experimental EtherType 1).
pub const ETHERTYPE_L2NET: u16 = 0x88B5;
/// Smallest Ethernet frame without FCS; shorter frames are padded to this length.
pub const MIN_FRAME_LEN: usize = 60;
