//! `rmw_l2net_cpp`: a ROS 2 (Jazzy) middleware on top of the l2net raw-Ethernet stack.
//!
//! The crate builds `librmw_l2net_cpp.so`, which `rmw_implementation` loads when
//! `RMW_IMPLEMENTATION=rmw_l2net_cpp`. What it exports today is the part of the rmw API that
//! needs no protocol engine: identification, CDR (de)serialization driven by the rosidl
//! introspection type supports (byte-compatible with rmw_cyclonedds_cpp), init options, QoS
//! compatibility, GID comparison, feature queries, log severity and guard conditions.
//!
//! Layout:
//! * [`abi`]: hand-written `#[repr(C)]` declarations of the Jazzy C types, with layout tests;
//! * [`cdr`]: the CDR byte stream (safe code only);
//! * [`qos`]: QoS compatibility rules (safe code only);
//! * [`guard`]: guard condition state (safe code only);
//! * [`sys`]: every `unsafe` block: the introspection walk, the C++ string shim, the rcutils
//!   error state and the exported C functions, each behind a panic boundary.
//!
//! The exported `rmw_*` symbols are listed in `exported_symbols.txt`; a test compares it with
//! the dynamic symbol table of the built library.

#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod abi;
pub mod cdr;
pub mod guard;
pub mod qos;
#[allow(unsafe_code)]
pub mod sys;

/// The implementation identifier, also the value of `RMW_IMPLEMENTATION` that selects us.
pub static IDENTIFIER: &core::ffi::CStr = c"rmw_l2net_cpp";
/// The serialization format of serialized messages.
pub static SERIALIZATION_FORMAT: &core::ffi::CStr = c"cdr";
