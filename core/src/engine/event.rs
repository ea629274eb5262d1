//! What a participant reports to its application.

use super::graph::EndpointKind;
use super::qos::QosPolicy;
use crate::wire::MacAddr;

/// A local writer, as returned by `Participant::create_writer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WriterHandle {
    pub(crate) index: u8,
    pub(crate) entity: u32,
}

/// A local reader, as returned by `Participant::create_reader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReaderHandle {
    pub(crate) index: u8,
    pub(crate) entity: u32,
}

impl WriterHandle {
    /// The writer's entity id on the wire.
    pub const fn entity(&self) -> u32 {
        self.entity
    }
}

impl ReaderHandle {
    /// The reader's entity id on the wire.
    pub const fn entity(&self) -> u32 {
        self.entity
    }
}

/// A local writer or reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LocalEndpoint {
    /// A writer.
    Writer(WriterHandle),
    /// A reader.
    Reader(ReaderHandle),
}

/// A remote endpoint: its participant id and entity id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RemoteId {
    /// Participant id.
    pub participant: u64,
    /// Entity id inside that participant.
    pub entity: u32,
}

/// Why a remote participant is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LostReason {
    /// It said GOODBYE.
    Goodbye,
    /// Nothing was heard from it within its lease.
    LeaseExpired,
    /// The graph cache was full and it was the least recently heard unmatched participant.
    Evicted,
}

/// Something the application may want to react to. Polled with `Participant::poll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// A participant was heard from for the first time.
    ParticipantDiscovered {
        /// Its id.
        participant: u64,
        /// Its MAC address.
        mac: MacAddr,
    },
    /// A participant is gone; its endpoints were reported lost before this event.
    ParticipantLost {
        /// Its id.
        participant: u64,
        /// Why.
        reason: LostReason,
    },
    /// A remote endpoint was announced.
    EndpointDiscovered {
        /// Which.
        remote: RemoteId,
        /// Writer or reader.
        kind: EndpointKind,
    },
    /// A remote endpoint is gone (no longer announced, or its participant left).
    EndpointLost {
        /// Which.
        remote: RemoteId,
        /// Writer or reader.
        kind: EndpointKind,
    },
    /// A local endpoint matched a remote one (same topic and type, compatible QoS), or
    /// another endpoint of this participant (then `remote` is this participant's id and that
    /// endpoint's entity id).
    Matched {
        /// The local endpoint.
        local: LocalEndpoint,
        /// The remote endpoint.
        remote: RemoteId,
    },
    /// A match ended.
    Unmatched {
        /// The local endpoint.
        local: LocalEndpoint,
        /// The remote endpoint.
        remote: RemoteId,
    },
    /// A remote endpoint (or one of this participant) has the same topic and type but
    /// incompatible QoS.
    IncompatibleQos {
        /// The local endpoint.
        local: LocalEndpoint,
        /// The remote endpoint.
        remote: RemoteId,
        /// The first policy that failed.
        policy: QosPolicy,
    },
    /// A reader's queue went from empty to holding samples.
    DataAvailable {
        /// The reader.
        reader: ReaderHandle,
    },
    /// A reader will never receive `count` samples of a writer (best-effort gaps are not
    /// reported; this is a reliable writer that no longer holds them).
    SamplesLost {
        /// The reader.
        reader: ReaderHandle,
        /// The writer.
        remote: RemoteId,
        /// How many sequence numbers were skipped.
        count: u64,
    },
    /// A writer that returned `WouldBlock` can take samples again.
    Writable {
        /// The writer.
        writer: WriterHandle,
    },
    /// A deadline passed without a sample (written by a local writer, or received by a local
    /// reader).
    DeadlineMissed {
        /// The endpoint.
        local: LocalEndpoint,
    },
    /// A matched remote writer became alive (`alive`: on match, and when a manual writer asserts
    /// itself again after its lease ran out) or not alive (its manual lease ran out, or its match
    /// ended while it was alive). Summing +1/-1 per reader gives DDS's `alive_count`.
    LivelinessChanged {
        /// The reader.
        reader: ReaderHandle,
        /// The writer.
        remote: RemoteId,
        /// Alive now, or not.
        alive: bool,
    },
    /// A local writer with [`Liveliness::ManualByTopic`](super::Liveliness) and a lease did
    /// not assert itself (write or `assert_liveliness`) within it. Reported once per lapse.
    LivelinessLost {
        /// The writer.
        writer: WriterHandle,
    },
}
