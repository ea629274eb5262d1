//! In-memory Ethernet segment (being written).
