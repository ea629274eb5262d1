//! The sans-IO protocol engine: a participant that any port drives with frames and the time.
//!
//! The building blocks are usable on their own and tested in isolation:
//!
//! * [`history`]: a writer's sample history over a byte arena (keep-last / keep-all).
//! * [`reassembly`]: bounded reassembly of fragmented samples over a byte arena.
//! * [`window`]: reliable delivery windows (reader receive window, writer's reader proxy).
//! * [`seqset`]: the sequence-number bitmap that ACKNACK and NACK_FRAG carry.
//! * [`graph`]: the bounded cache of remote participants and endpoints, with leases and flood
//!   protection.
//! * [`qos`]: endpoint policies and the request/offered compatibility rule.

pub mod graph;
pub mod history;
pub mod qos;
pub mod reassembly;
pub mod seqset;
pub mod window;
