//! Fault-injecting link wrapper (being written).
