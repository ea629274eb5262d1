//! The sans-IO protocol engine: a participant that any port drives with frames and the time.
//!
//! [`Participant`] is the engine; [`drive`] runs one bounded round of it over any
//! [`RawLink`](crate::RawLink). Behaviour is specified in `docs/PROTOCOL.md` sections 7 on.
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

mod drive;
mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod history;
mod participant;
pub mod qos;
pub mod reassembly;
mod rx;
pub mod seqset;
mod stats;
mod tx;
pub mod window;

pub use drive::{DriveReport, RX_BURST, TX_BURST, drive};
pub use event::{Event, LocalEndpoint, LostReason, ReaderHandle, RemoteId, WriterHandle};
pub use graph::{EndpointInfo, EndpointKind, Name, TypeHash};
pub use history::{HistoryKind, SampleId};
pub use participant::{
    ClientHandle, Config, ConfigError, EVENT_QUEUE, EndpointError, LinkOp, Participant, SampleInfo,
    ServerHandle, TakeError, WriteError,
};
pub use qos::{Durability, Qos, QosPolicy, Reliability};
pub use stats::Stats;
pub use tx::TransmitError;
