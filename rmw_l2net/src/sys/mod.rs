//! Everything `unsafe` in the crate, one module per concern.

pub mod clock;
pub mod cxx;
pub mod error_state;
pub mod exports;
pub mod introspection;
