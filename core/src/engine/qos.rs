//! Quality-of-service policies of an endpoint, and the rule that says whether a writer's offer
//! satisfies a reader's request.

use core::time::Duration;

use super::history::HistoryKind;

/// Delivery guarantee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reliability {
    /// Fire and forget: lost samples stay lost; never a retransmission.
    BestEffort,
    /// Every sample reaches every matched reader exactly once, in order (or the writer blocks).
    Reliable,
}

/// What a reader that matches late gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Durability {
    /// Only samples written after the match.
    Volatile,
    /// The writer's history (the last N samples) too.
    TransientLocal,
}

/// Who keeps a writer alive in its readers' eyes (DDS `LIVELINESS` kind). Ordered: a reader
/// asking for a kind needs a writer offering that kind or a greater one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Liveliness {
    /// The writer is alive while its participant is (the participant's lease, kept by HELLOs).
    Automatic,
    /// The writer must assert itself within its lease: by writing a sample or by
    /// `Participant::assert_liveliness` (a HEARTBEAT with the LIVELINESS flag).
    ManualByTopic,
}

/// The policies of one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Qos {
    /// Delivery guarantee.
    pub reliability: Reliability,
    /// Late-joiner behaviour.
    pub durability: Durability,
    /// How many samples the writer keeps / the reader queues.
    pub history: HistoryKind,
    /// A writer promises (a reader expects) a sample at least this often.
    pub deadline: Option<Duration>,
    /// Samples older than this are not delivered (writer side: dropped from the history).
    pub lifespan: Option<Duration>,
    /// Who asserts the writer's liveliness.
    pub liveliness: Liveliness,
    /// A writer promises (a reader expects) a liveliness assertion at least this often; `None`:
    /// infinite. For [`Liveliness::Automatic`] the participant's lease governs in practice.
    pub liveliness_lease: Option<Duration>,
}

impl Qos {
    /// Best effort, volatile, keep-last(1): sensor streams.
    pub const BEST_EFFORT: Qos = Qos {
        reliability: Reliability::BestEffort,
        durability: Durability::Volatile,
        history: HistoryKind::KeepLast(1),
        deadline: None,
        lifespan: None,
        liveliness: Liveliness::Automatic,
        liveliness_lease: None,
    };
    /// Reliable, volatile, keep-last(`depth`): the ROS 2 default profile.
    pub const fn reliable(depth: u16) -> Qos {
        Qos {
            reliability: Reliability::Reliable,
            durability: Durability::Volatile,
            history: HistoryKind::KeepLast(depth),
            deadline: None,
            lifespan: None,
            liveliness: Liveliness::Automatic,
            liveliness_lease: None,
        }
    }
    /// This QoS with transient-local durability.
    pub const fn transient_local(mut self) -> Qos {
        self.durability = Durability::TransientLocal;
        self
    }
    /// This QoS with a keep-all history.
    pub const fn keep_all(mut self) -> Qos {
        self.history = HistoryKind::KeepAll;
        self
    }
    /// This QoS with a deadline.
    pub const fn with_deadline(mut self, d: Duration) -> Qos {
        self.deadline = Some(d);
        self
    }
    /// This QoS with a lifespan.
    pub const fn with_lifespan(mut self, d: Duration) -> Qos {
        self.lifespan = Some(d);
        self
    }
    /// This QoS with a liveliness kind and lease (`None`: infinite).
    pub const fn with_liveliness(mut self, kind: Liveliness, lease: Option<Duration>) -> Qos {
        self.liveliness = kind;
        self.liveliness_lease = lease;
        self
    }
}

/// The policy that made a writer and a reader incompatible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QosPolicy {
    /// The reader asks for reliable delivery, the writer offers best effort.
    Reliability,
    /// The reader asks for transient-local durability, the writer offers volatile.
    Durability,
    /// The reader expects samples more often than the writer promises.
    Deadline,
    /// The reader asks for a stronger liveliness kind (manual) than the writer offers, or a
    /// shorter liveliness lease.
    Liveliness,
}

/// Does `writer`'s offer satisfy `reader`'s request? (Request/offered, as in DDS.)
pub fn compatible(writer: &Qos, reader: &Qos) -> Result<(), QosPolicy> {
    if reader.reliability > writer.reliability {
        return Err(QosPolicy::Reliability);
    }
    if reader.durability > writer.durability {
        return Err(QosPolicy::Durability);
    }
    match (writer.deadline, reader.deadline) {
        (_, None) => {}
        (Some(w), Some(r)) if w <= r => {}
        _ => return Err(QosPolicy::Deadline),
    }
    if reader.liveliness > writer.liveliness {
        return Err(QosPolicy::Liveliness);
    }
    match (writer.liveliness_lease, reader.liveliness_lease) {
        (_, None) => {}
        (Some(w), Some(r)) if w <= r => {}
        _ => return Err(QosPolicy::Liveliness),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_offered() {
        let be = Qos::BEST_EFFORT;
        let rel = Qos::reliable(10);
        assert_eq!(compatible(&rel, &be), Ok(()));
        assert_eq!(compatible(&be, &rel), Err(QosPolicy::Reliability));
        assert_eq!(
            compatible(&rel, &rel.transient_local()),
            Err(QosPolicy::Durability)
        );
        assert_eq!(compatible(&rel.transient_local(), &rel), Ok(()));
        let ms = Duration::from_millis;
        assert_eq!(
            compatible(&rel, &rel.with_deadline(ms(10))),
            Err(QosPolicy::Deadline)
        );
        assert_eq!(
            compatible(&rel.with_deadline(ms(20)), &rel.with_deadline(ms(10))),
            Err(QosPolicy::Deadline)
        );
        assert_eq!(
            compatible(&rel.with_deadline(ms(5)), &rel.with_deadline(ms(10))),
            Ok(())
        );
        let manual = |l| rel.with_liveliness(Liveliness::ManualByTopic, l);
        let auto = |l| rel.with_liveliness(Liveliness::Automatic, l);
        // Kind: a manual reader needs a manual writer; an automatic reader takes either.
        assert_eq!(
            compatible(&auto(None), &manual(None)),
            Err(QosPolicy::Liveliness)
        );
        assert_eq!(compatible(&manual(None), &auto(None)), Ok(()));
        assert_eq!(compatible(&manual(None), &manual(None)), Ok(()));
        // Lease: the reader's must be at least the writer's; infinite is the longest.
        assert_eq!(
            compatible(&manual(Some(ms(5))), &manual(Some(ms(10)))),
            Ok(())
        );
        assert_eq!(
            compatible(&manual(Some(ms(10))), &manual(Some(ms(10)))),
            Ok(())
        );
        assert_eq!(
            compatible(&manual(Some(ms(20))), &manual(Some(ms(10)))),
            Err(QosPolicy::Liveliness)
        );
        assert_eq!(
            compatible(&manual(None), &manual(Some(ms(10)))),
            Err(QosPolicy::Liveliness)
        );
        assert_eq!(compatible(&manual(Some(ms(10))), &auto(None)), Ok(()));
    }
}
