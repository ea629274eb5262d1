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
}

impl Qos {
    /// Best effort, volatile, keep-last(1): sensor streams.
    pub const BEST_EFFORT: Qos = Qos {
        reliability: Reliability::BestEffort,
        durability: Durability::Volatile,
        history: HistoryKind::KeepLast(1),
        deadline: None,
        lifespan: None,
    };
    /// Reliable, volatile, keep-last(`depth`): the ROS 2 default profile.
    pub const fn reliable(depth: u16) -> Qos {
        Qos {
            reliability: Reliability::Reliable,
            durability: Durability::Volatile,
            history: HistoryKind::KeepLast(depth),
            deadline: None,
            lifespan: None,
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
    }
}
