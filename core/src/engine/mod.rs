//! The sans-IO protocol engine: a participant that any port drives with frames and the time.
//!
//! [`Participant`] is the engine; [`drive`] runs one bounded round of it over any
//! [`RawLink`](crate::RawLink). Behaviour is specified in `docs/PROTOCOL.md` sections 7 on.
//!
//! ```
//! use core::time::Duration;
//! use l2net_core::engine::{drive, Config, Participant, Qos};
//! use l2net_core::link::mem::{arena_len, Segment, SegmentConfig};
//! use l2net_core::{Instant, MacAddr};
//!
//! // Capacities: 4 peers, 16 remote endpoints, 2 writers, 2 readers, 16 history slots,
//! // 4 matches per endpoint, 4 samples in reassembly.
//! type Node<'a> = Participant<'a, 4, 16, 2, 2, 16, 4, 4>;
//!
//! let mut seg_arena = vec![0u8; arena_len(64, 1500)];
//! let seg = Segment::<2, 64>::new(&mut seg_arena, SegmentConfig::DEFAULT).unwrap();
//! let (mac_a, mac_b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
//! let (mut link_a, mut link_b) = (seg.link(mac_a, 1500).unwrap(), seg.link(mac_b, 1500).unwrap());
//!
//! let mut now = Instant::from_millis(1);
//! let (mut ra, mut rb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
//! // The ids come from the caller's random source.
//! let mut a = Node::new(Config::new(0, "a"), 0x5eed_0001, mac_a, &mut ra, now).unwrap();
//! let mut b = Node::new(Config::new(0, "b"), 0x5eed_0002, mac_b, &mut rb, now).unwrap();
//!
//! let (mut history, mut queue) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
//! let w = a.create_writer("/chatter", "String", None, Qos::reliable(10), &mut history).unwrap();
//! let r = b.create_reader("/chatter", "String", None, Qos::reliable(10), &mut queue).unwrap();
//!
//! let mut buf = [0u8; 64];
//! let mut written = false;
//! let received = loop {
//!     drive(&mut a, &mut link_a, now).unwrap();
//!     drive(&mut b, &mut link_b, now).unwrap();
//!     while let Some(_event) = b.poll_event() {}
//!     if !written && a.writer_matches(w) == 1 {
//!         a.write(w, b"hello", now).unwrap();
//!         written = true;
//!     }
//!     if let Some(info) = b.take(r, &mut buf).unwrap() {
//!         break &buf[..info.len];
//!     }
//!     now += Duration::from_millis(1); // a real driver sleeps until poll_timeout()
//! };
//! assert_eq!(received, b"hello");
//! ```
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
mod local;
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
pub use qos::{Durability, Liveliness, Qos, QosPolicy, Reliability};
pub use stats::Stats;
pub use tx::TransmitError;
