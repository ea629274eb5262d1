//! Counters of everything a participant did and everything it refused.

/// Counters. Every input that is dropped increments exactly one `rx_*` drop counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Frames handed to `handle_frame`.
    pub rx_frames: u64,
    /// Frames that are not l2net (other EtherType).
    pub rx_not_l2net: u64,
    /// Frames the link truncated.
    pub rx_truncated: u64,
    /// Frames or messages that failed to parse.
    pub rx_malformed: u64,
    /// Frames of another protocol version.
    pub rx_bad_version: u64,
    /// Frames of another domain.
    pub rx_other_domain: u64,
    /// Frames of another VLAN, or untagged, while `Config::vlan` is set.
    pub rx_other_vlan: u64,
    /// Our own frames looped back.
    pub rx_own: u64,
    /// Messages from a participant we do not know (not admitted, or already gone).
    pub rx_unknown_sender: u64,
    /// Messages about an endpoint we do not have, or from a writer/reader we are not matched with.
    pub rx_unmatched: u64,
    /// Samples or fragments received again.
    pub rx_duplicate: u64,
    /// Best-effort samples older than one already delivered.
    pub rx_out_of_order: u64,
    /// Reliable samples outside the receive window (resent later).
    pub rx_out_of_window: u64,
    /// Samples refused because the reader's queue is full (reliable: resent later).
    pub rx_queue_full: u64,
    /// Fragments refused because the reassembly arena or its slots are full.
    pub rx_reassembly_full: u64,
    /// Fragments whose fields disagree with earlier fragments of the same sample.
    pub rx_fragment_inconsistent: u64,
    /// Samples larger than the configured maximum.
    pub rx_too_large: u64,
    /// Incomplete samples dropped after the reassembly timeout.
    pub reassembly_expired: u64,
    /// ACKNACK/NACK_FRAG/HEARTBEAT with a count not newer than the last one (duplicate, replay).
    pub rx_stale_control: u64,
    /// ACKNACKs acknowledging samples never sent, or HEARTBEATs with impossible ranges.
    pub rx_forged_control: u64,
    /// New participants refused because every graph slot holds a matched or static peer.
    pub graph_full: u64,
    /// Unmatched participants evicted to make room for new ones.
    pub graph_evictions: u64,
    /// Endpoints refused because the endpoint table (or the participant's share) is full.
    pub endpoints_full: u64,
    /// Matches refused because a local endpoint's match table is full.
    pub matches_full: u64,
    /// Samples a reliable reader will never get (the writer no longer holds them).
    pub samples_lost: u64,
    /// Samples delivered into reader queues.
    pub samples_delivered: u64,
    /// Unsent best-effort samples pushed out of a keep-last history by newer ones.
    pub tx_overwritten: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// DATA, DATA_FRAG and BATCH frames that were retransmissions.
    pub tx_resent: u64,
    /// Samples sent in BATCH frames.
    pub tx_batched_samples: u64,
    /// ACKNACKs sent in the frame of this participant's own DATA or BATCH rather than alone
    /// (docs/PROTOCOL.md section 10, "Acknowledgement with data").
    pub tx_acks_with_data: u64,
    /// Frames the link refused permanently (too large); the frame was dropped.
    pub tx_errors: u64,
    /// Events dropped because the application did not poll them.
    pub events_dropped: u64,
    /// NACK_FRAG requests dropped because the writer's queue of fragment requests was full
    /// (the reader asks again after the next HEARTBEAT).
    pub nack_frag_overflow: u64,
    /// HELLO replies not sent because of the reply rate limit.
    pub hello_replies_limited: u64,
    /// Frames, or parts of frames, that need a feature this build of `l2net-core` leaves out
    /// (docs/ARCHITECTURE.md, "Cargo features"), dropped; 0 with the default features.
    pub rx_unsupported: u64,
}
