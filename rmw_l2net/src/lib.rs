//! `rmw_l2net_cpp`: a ROS 2 (Jazzy) middleware on top of the l2net raw-Ethernet stack.
//!
//! The crate builds `librmw_l2net_cpp.so`, which `rmw_implementation` loads when
//! `RMW_IMPLEMENTATION=rmw_l2net_cpp`. It exports identification, CDR (de)serialization driven
//! by the rosidl introspection type supports (byte-compatible with rmw_cyclonedds_cpp), init
//! options, contexts (one l2net participant each), nodes, publishers, subscriptions, guard
//! conditions and wait sets, QoS compatibility, GID comparison and feature queries.
//!
//! Layout:
//! * [`abi`]: hand-written `#[repr(C)]` declarations of the Jazzy C types, with layout tests;
//! * [`cdr`]: the CDR byte stream (safe code only);
//! * [`qos`]: QoS compatibility rules (safe code only);
//! * [`config`]: interface and domain from the init options and the environment;
//! * [`context`]: a context's node, its hub (what `rmw_wait` waits on, event routing, the
//!   background thread), subscription queues (Linux);
//! * [`events`]: QoS event statuses (deadline, incompatible QoS, lost messages) per endpoint;
//! * [`wait`]: the process-wide wake-up of waiting threads (guard conditions, QoS counts);
//! * [`graph`]: the ROS graph (nodes and their endpoints) and its wire description;
//! * [`guard`]: guard condition state (safe code only);
//! * [`listener`]: the EventsExecutor's listener callbacks (safe code only);
//! * [`sys`]: every `unsafe` block: the introspection walk, the C++ string shim, the rcutils
//!   error state and the exported C functions, each behind a panic boundary.
//!
//! The exported `rmw_*` symbols are listed in `exported_symbols.txt`; a test compares it with
//! the dynamic symbol table of the built library.

#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod abi;
pub mod cdr;
pub mod config;
#[cfg(target_os = "linux")]
pub mod context;
pub mod events;
pub mod graph;
pub mod guard;
pub mod listener;
pub mod qos;
#[allow(unsafe_code)]
pub mod sys;
pub mod wait;

/// The implementation identifier, also the value of `RMW_IMPLEMENTATION` that selects us.
pub static IDENTIFIER: &core::ffi::CStr = c"rmw_l2net_cpp";
/// The serialization format of serialized messages.
pub static SERIALIZATION_FORMAT: &core::ffi::CStr = c"cdr";
