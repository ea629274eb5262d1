//! QoS compatibility between a publisher and a subscription, as DDS request/offer rules
//! decide it (the rules rmw_dds_common applies for the DDS-based middlewares).
//!
//! Errors: best-effort offered to a reliable request; volatile offered to transient-local;
//! an offered deadline or liveliness lease longer than the requested one (or none offered when
//! one is requested); automatic liveliness offered to manual-by-topic. Warnings: a policy set
//! to "system default" or "unknown" on one side where the other side's value would conflict
//! with some possible resolution.

#![forbid(unsafe_code)]

use crate::abi::*;

/// The verdict of [`check_compatible`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compatibility {
    Ok,
    Warning,
    Error,
}

impl Compatibility {
    /// The `rmw_qos_compatibility_type_t` value.
    pub fn to_rmw(self) -> rmw_qos_compatibility_type_t {
        match self {
            Self::Ok => RMW_QOS_COMPATIBILITY_OK,
            Self::Warning => RMW_QOS_COMPATIBILITY_WARNING,
            Self::Error => RMW_QOS_COMPATIBILITY_ERROR,
        }
    }
}

/// `{0, 0}`: the policy's default, meaning "no deadline / infinite lease".
fn is_unspecified(t: rmw_time_t) -> bool {
    t.sec == 0 && t.nsec == 0
}

fn nanos(t: rmw_time_t) -> u128 {
    u128::from(t.sec) * 1_000_000_000 + u128::from(t.nsec)
}

/// Checks a publisher profile against a subscription profile; returns the verdict and the
/// reasons, each ending with `;`.
pub fn check_compatible(
    publisher: &rmw_qos_profile_t,
    subscription: &rmw_qos_profile_t,
) -> (Compatibility, String) {
    let mut errors = String::new();
    let mut warnings = String::new();

    let (pr, sr) = (publisher.reliability, subscription.reliability);
    if pr == RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT && sr == RMW_QOS_POLICY_RELIABILITY_RELIABLE {
        errors.push_str("ERROR: Best effort publisher and reliable subscription;");
    }
    let undecided_r = |r| {
        r == RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT || r == RMW_QOS_POLICY_RELIABILITY_UNKNOWN
    };
    if undecided_r(pr) && sr == RMW_QOS_POLICY_RELIABILITY_RELIABLE {
        warnings.push_str(
            "WARNING: Publisher reliability is SYSTEM_DEFAULT or UNKNOWN and subscription \
             reliability is RELIABLE;",
        );
    }
    if pr == RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT && undecided_r(sr) {
        warnings.push_str(
            "WARNING: Publisher reliability is BEST_EFFORT and subscription reliability is \
             SYSTEM_DEFAULT or UNKNOWN;",
        );
    }

    let (pd, sd) = (publisher.durability, subscription.durability);
    if pd == RMW_QOS_POLICY_DURABILITY_VOLATILE && sd == RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL {
        errors.push_str("ERROR: Volatile publisher and transient local subscription;");
    }
    let undecided_d =
        |d| d == RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT || d == RMW_QOS_POLICY_DURABILITY_UNKNOWN;
    if undecided_d(pd) && sd == RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL {
        warnings.push_str(
            "WARNING: Publisher durability is SYSTEM_DEFAULT or UNKNOWN and subscription \
             durability is TRANSIENT_LOCAL;",
        );
    }
    if pd == RMW_QOS_POLICY_DURABILITY_VOLATILE && undecided_d(sd) {
        warnings.push_str(
            "WARNING: Publisher durability is VOLATILE and subscription durability is \
             SYSTEM_DEFAULT or UNKNOWN;",
        );
    }

    if !is_unspecified(subscription.deadline) {
        if is_unspecified(publisher.deadline) {
            errors.push_str("ERROR: Subscription has a deadline, but publisher does not;");
        } else if nanos(publisher.deadline) > nanos(subscription.deadline) {
            errors.push_str("ERROR: Subscription deadline is less than publisher deadline;");
        }
    }

    let (pl, sl) = (publisher.liveliness, subscription.liveliness);
    if pl == RMW_QOS_POLICY_LIVELINESS_AUTOMATIC && sl == RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC
    {
        errors.push_str(
            "ERROR: Publisher's liveliness is automatic and subscription's is manual by topic;",
        );
    }
    let undecided_l =
        |l| l == RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT || l == RMW_QOS_POLICY_LIVELINESS_UNKNOWN;
    if undecided_l(pl) && sl == RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC {
        warnings.push_str(
            "WARNING: Publisher liveliness is SYSTEM_DEFAULT or UNKNOWN and subscription \
             liveliness is MANUAL_BY_TOPIC;",
        );
    }
    if pl == RMW_QOS_POLICY_LIVELINESS_AUTOMATIC && undecided_l(sl) {
        warnings.push_str(
            "WARNING: Publisher liveliness is AUTOMATIC and subscription liveliness is \
             SYSTEM_DEFAULT or UNKNOWN;",
        );
    }

    let (plead, slead) = (
        publisher.liveliness_lease_duration,
        subscription.liveliness_lease_duration,
    );
    if !is_unspecified(slead) {
        if is_unspecified(plead) {
            errors.push_str(
                "ERROR: Subscription has a liveliness lease duration, but publisher does not;",
            );
        } else if nanos(plead) > nanos(slead) {
            errors
                .push_str("ERROR: Subscription liveliness lease duration is less than publisher;");
        }
    }

    if !errors.is_empty() {
        (Compatibility::Error, errors)
    } else if !warnings.is_empty() {
        (Compatibility::Warning, warnings)
    } else {
        (Compatibility::Ok, String::new())
    }
}

/// Copies `reason` into a C buffer of `cap` bytes, truncating, always NUL-terminated when
/// `cap > 0`.
pub fn write_reason(reason: &str, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    let n = reason.len().min(out.len() - 1);
    out[..n].copy_from_slice(&reason.as_bytes()[..n]);
    out[n] = 0;
}

/// Which side of a topic a profile is for (`BEST_AVAILABLE` resolves differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Subscription,
}

/// `RMW_DURATION_INFINITE`.
pub const DURATION_INFINITE: rmw_time_t = rmw_time_t {
    sec: 9_223_372_036,
    nsec: 854_775_807,
};

/// History slots of an endpoint (`l2net::node::HISTORY_SLOTS`): the largest keep-last depth.
pub const MAX_DEPTH: usize = l2net::node::HISTORY_SLOTS;

fn duration(what: &str, t: rmw_time_t) -> Result<Option<core::time::Duration>, String> {
    if is_unspecified(t) || nanos(t) >= nanos(DURATION_INFINITE) {
        return Ok(None);
    }
    if t.nsec >= 1_000_000_000 {
        return Err(format!("{what} has {} ns (must be below 1 s)", t.nsec));
    }
    Ok(Some(core::time::Duration::new(t.sec, t.nsec as u32)))
}

/// Maps an rmw profile to the engine's QoS. Returns the QoS and the profile with every
/// "system default" and "best available" resolved (what `get_actual_qos` reports), or why
/// the profile cannot be honoured.
///
/// Resolution: reliability and durability default to reliable / volatile; best available is
/// reliable / transient-local for a publisher (the strongest offer) and best effort / volatile
/// for a subscription (matches every publisher); history defaults to keep-last, depth 0 means
/// 1 (the DDS default); deadline and lifespan `{0, 0}` or infinite mean none. Liveliness is
/// automatic (the participant lease): manual-by-topic and finite lease durations are refused.
pub fn to_engine(
    p: &rmw_qos_profile_t,
    role: Role,
) -> Result<(l2net_core::engine::Qos, rmw_qos_profile_t), String> {
    use l2net_core::engine::{Durability, HistoryKind, Qos, Reliability};
    let mut actual = *p;
    let pubr = role == Role::Publisher;
    let reliability = match p.reliability {
        RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT | RMW_QOS_POLICY_RELIABILITY_RELIABLE => {
            Reliability::Reliable
        }
        RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT => Reliability::BestEffort,
        RMW_QOS_POLICY_RELIABILITY_BEST_AVAILABLE if pubr => Reliability::Reliable,
        RMW_QOS_POLICY_RELIABILITY_BEST_AVAILABLE => Reliability::BestEffort,
        r => return Err(format!("unknown reliability policy {r}")),
    };
    actual.reliability = match reliability {
        Reliability::Reliable => RMW_QOS_POLICY_RELIABILITY_RELIABLE,
        Reliability::BestEffort => RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT,
    };
    let durability = match p.durability {
        RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT | RMW_QOS_POLICY_DURABILITY_VOLATILE => {
            Durability::Volatile
        }
        RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL => Durability::TransientLocal,
        RMW_QOS_POLICY_DURABILITY_BEST_AVAILABLE if pubr => Durability::TransientLocal,
        RMW_QOS_POLICY_DURABILITY_BEST_AVAILABLE => Durability::Volatile,
        d => return Err(format!("unknown durability policy {d}")),
    };
    actual.durability = match durability {
        Durability::Volatile => RMW_QOS_POLICY_DURABILITY_VOLATILE,
        Durability::TransientLocal => RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL,
    };
    let history = match p.history {
        RMW_QOS_POLICY_HISTORY_SYSTEM_DEFAULT | RMW_QOS_POLICY_HISTORY_KEEP_LAST => {
            let depth = p.depth.max(1);
            if depth > MAX_DEPTH {
                return Err(format!(
                    "history depth {depth} exceeds the {MAX_DEPTH} history slots of an l2net \
                     endpoint"
                ));
            }
            actual.history = RMW_QOS_POLICY_HISTORY_KEEP_LAST;
            actual.depth = depth;
            HistoryKind::KeepLast(depth as u16)
        }
        RMW_QOS_POLICY_HISTORY_KEEP_ALL => HistoryKind::KeepAll,
        h => return Err(format!("unknown history policy {h}")),
    };
    let deadline = duration("deadline", p.deadline)?;
    let lifespan = duration("lifespan", p.lifespan)?;
    match p.liveliness {
        RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT
        | RMW_QOS_POLICY_LIVELINESS_AUTOMATIC
        | RMW_QOS_POLICY_LIVELINESS_BEST_AVAILABLE => {
            actual.liveliness = RMW_QOS_POLICY_LIVELINESS_AUTOMATIC;
        }
        RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC => {
            return Err(
                "liveliness MANUAL_BY_TOPIC is not supported by rmw_l2net_cpp \
                        (liveliness is the participant's lease)"
                    .into(),
            );
        }
        l => return Err(format!("unknown liveliness policy {l}")),
    }
    if duration("liveliness lease duration", p.liveliness_lease_duration)?.is_some() {
        return Err(
            "a finite liveliness lease duration is not supported by rmw_l2net_cpp \
                    (the participant lease is fixed at 10 s)"
                .into(),
        );
    }
    Ok((
        Qos {
            reliability,
            durability,
            history,
            deadline,
            lifespan,
        },
        actual,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(reliability: i32, durability: i32) -> rmw_qos_profile_t {
        rmw_qos_profile_t {
            history: 1,
            depth: 10,
            reliability,
            durability,
            deadline: rmw_time_t { sec: 0, nsec: 0 },
            lifespan: rmw_time_t { sec: 0, nsec: 0 },
            liveliness: RMW_QOS_POLICY_LIVELINESS_AUTOMATIC,
            liveliness_lease_duration: rmw_time_t { sec: 0, nsec: 0 },
            avoid_ros_namespace_conventions: false,
        }
    }

    const R: i32 = RMW_QOS_POLICY_RELIABILITY_RELIABLE;
    const BE: i32 = RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT;
    const V: i32 = RMW_QOS_POLICY_DURABILITY_VOLATILE;
    const TL: i32 = RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL;

    #[test]
    fn request_offer_rules() {
        assert_eq!(
            check_compatible(&profile(R, V), &profile(R, V)).0,
            Compatibility::Ok
        );
        assert_eq!(
            check_compatible(&profile(R, TL), &profile(BE, V)).0,
            Compatibility::Ok
        );
        let (c, why) = check_compatible(&profile(BE, V), &profile(R, TL));
        assert_eq!(c, Compatibility::Error);
        assert!(
            why.contains("Best effort") && why.contains("transient local"),
            "{why}"
        );
        assert_eq!(
            check_compatible(&profile(0, V), &profile(R, V)).0,
            Compatibility::Warning
        );
    }

    #[test]
    fn deadline_and_lease() {
        let mut p = profile(R, V);
        let mut s = profile(R, V);
        s.deadline = rmw_time_t { sec: 1, nsec: 0 };
        assert_eq!(check_compatible(&p, &s).0, Compatibility::Error);
        p.deadline = rmw_time_t {
            sec: 0,
            nsec: 500_000_000,
        };
        assert_eq!(check_compatible(&p, &s).0, Compatibility::Ok);
        p.deadline = rmw_time_t {
            sec: 0,
            nsec: 1_500_000_000,
        };
        assert_eq!(check_compatible(&p, &s).0, Compatibility::Error);
        p.deadline = s.deadline;
        s.liveliness_lease_duration = rmw_time_t { sec: 2, nsec: 0 };
        p.liveliness_lease_duration = rmw_time_t { sec: 3, nsec: 0 };
        assert_eq!(check_compatible(&p, &s).0, Compatibility::Error);
        s.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        p.liveliness_lease_duration = rmw_time_t { sec: 1, nsec: 0 };
        assert_eq!(check_compatible(&p, &s).0, Compatibility::Error);
    }

    #[test]
    fn reason_truncates_and_terminates() {
        let mut buf = [0xffu8; 4];
        write_reason("abcdef", &mut buf);
        assert_eq!(&buf, b"abc\0");
        write_reason("x", &mut []);
    }

    #[test]
    fn mapping_to_the_engine() {
        use l2net_core::engine::{Durability, HistoryKind, Reliability};
        let mut p = profile(
            RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT,
            RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT,
        );
        p.history = RMW_QOS_POLICY_HISTORY_SYSTEM_DEFAULT;
        p.depth = 0;
        let (q, a) = to_engine(&p, Role::Publisher).unwrap();
        assert_eq!(q.reliability, Reliability::Reliable);
        assert_eq!(q.durability, Durability::Volatile);
        assert_eq!(q.history, HistoryKind::KeepLast(1));
        assert_eq!((q.deadline, q.lifespan), (None, None));
        assert_eq!(a.reliability, RMW_QOS_POLICY_RELIABILITY_RELIABLE);
        assert_eq!(a.durability, RMW_QOS_POLICY_DURABILITY_VOLATILE);
        assert_eq!((a.history, a.depth), (RMW_QOS_POLICY_HISTORY_KEEP_LAST, 1));
        assert_eq!(a.liveliness, RMW_QOS_POLICY_LIVELINESS_AUTOMATIC);

        p.reliability = RMW_QOS_POLICY_RELIABILITY_BEST_AVAILABLE;
        p.durability = RMW_QOS_POLICY_DURABILITY_BEST_AVAILABLE;
        let (qp, _) = to_engine(&p, Role::Publisher).unwrap();
        let (qs, _) = to_engine(&p, Role::Subscription).unwrap();
        assert_eq!(
            (qp.reliability, qp.durability),
            (Reliability::Reliable, Durability::TransientLocal)
        );
        assert_eq!(
            (qs.reliability, qs.durability),
            (Reliability::BestEffort, Durability::Volatile)
        );

        p.history = RMW_QOS_POLICY_HISTORY_KEEP_ALL;
        p.deadline = rmw_time_t { sec: 1, nsec: 5 };
        p.lifespan = DURATION_INFINITE;
        let (q, _) = to_engine(&p, Role::Subscription).unwrap();
        assert_eq!(q.history, HistoryKind::KeepAll);
        assert_eq!(q.deadline, Some(core::time::Duration::new(1, 5)));
        assert_eq!(q.lifespan, None);

        let bad = |f: &dyn Fn(&mut rmw_qos_profile_t)| {
            let mut b = p;
            f(&mut b);
            to_engine(&b, Role::Publisher).unwrap_err()
        };
        assert!(bad(&|b| b.reliability = RMW_QOS_POLICY_RELIABILITY_UNKNOWN).contains("reliab"));
        assert!(bad(&|b| b.durability = 99).contains("durability"));
        assert!(bad(&|b| b.history = RMW_QOS_POLICY_HISTORY_UNKNOWN).contains("history"));
        assert!(
            bad(&|b| {
                b.history = RMW_QOS_POLICY_HISTORY_KEEP_LAST;
                b.depth = MAX_DEPTH + 1
            })
            .contains("slots")
        );
        assert!(
            bad(&|b| b.deadline = rmw_time_t {
                sec: 0,
                nsec: 2_000_000_000
            })
            .contains("ns")
        );
        assert!(
            bad(&|b| b.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC).contains("MANUAL")
        );
        assert!(
            bad(&|b| b.liveliness_lease_duration = rmw_time_t { sec: 1, nsec: 0 })
                .contains("lease")
        );
    }
}
