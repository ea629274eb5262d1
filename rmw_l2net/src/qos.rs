//! QoS compatibility between a publisher and a subscription, as DDS request/offer rules
//! decide it: the rules of rmw/qos_profiles.h, checked in the order and with the reasons of
//! rmw_dds_common (which rmw_cyclonedds_cpp uses).
//!
//! Errors: best-effort offered to a reliable request; volatile offered to transient-local;
//! no deadline offered when one is requested, or a longer one; automatic liveliness offered
//! to manual-by-topic; no liveliness lease offered when one is requested, or a longer one.
//! Warnings (only looked for when there is no error): a reliability, durability or liveliness
//! policy left to "system default" on one side where the other side's value, or the same
//! unknown on both sides, leaves the outcome open. A policy set to "unknown" is not a
//! profile at all: the check refuses it, as the header says.

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

/// `rmw_qos_*_policy_to_str` for the values a warning can name.
fn policy_str(v: i32) -> &'static str {
    match v {
        0 => "system_default",
        _ => "unknown",
    }
}

/// Which policy of a profile is "unknown", if any (history, reliability, durability,
/// liveliness).
fn unknown_policy(p: &rmw_qos_profile_t) -> Option<&'static str> {
    if p.history == RMW_QOS_POLICY_HISTORY_UNKNOWN {
        Some("history")
    } else if p.reliability == RMW_QOS_POLICY_RELIABILITY_UNKNOWN {
        Some("reliability")
    } else if p.durability == RMW_QOS_POLICY_DURABILITY_UNKNOWN {
        Some("durability")
    } else if p.liveliness == RMW_QOS_POLICY_LIVELINESS_UNKNOWN {
        Some("liveliness")
    } else {
        None
    }
}

/// Checks a publisher profile against a subscription profile; returns the verdict and the
/// reasons (errors, or else warnings), each ending with `;`, or why the profiles cannot be
/// checked (a policy is "unknown").
pub fn check_compatible(
    publisher: &rmw_qos_profile_t,
    subscription: &rmw_qos_profile_t,
) -> Result<(Compatibility, String), String> {
    for (side, p) in [("publisher", publisher), ("subscription", subscription)] {
        if let Some(policy) = unknown_policy(p) {
            return Err(format!(
                "the {side} profile's {policy} policy is UNKNOWN, which cannot be checked"
            ));
        }
    }
    let mut errors = String::new();

    if publisher.reliability == RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT
        && subscription.reliability == RMW_QOS_POLICY_RELIABILITY_RELIABLE
    {
        errors.push_str("ERROR: Best effort publisher and reliable subscription;");
    }
    if publisher.durability == RMW_QOS_POLICY_DURABILITY_VOLATILE
        && subscription.durability == RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL
    {
        errors.push_str("ERROR: Volatile publisher and transient local subscription;");
    }

    let (pd, sd) = (publisher.deadline, subscription.deadline);
    if is_unspecified(pd) && !is_unspecified(sd) {
        errors.push_str("ERROR: Subscription has a deadline, but publisher does not;");
    }
    if !is_unspecified(pd) && !is_unspecified(sd) && nanos(sd) < nanos(pd) {
        errors.push_str("ERROR: Subscription deadline is less than publisher deadline;");
    }

    if publisher.liveliness == RMW_QOS_POLICY_LIVELINESS_AUTOMATIC
        && subscription.liveliness == RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC
    {
        errors.push_str(
            "ERROR: Publisher's liveliness is automatic and subscription's is manual by topic;",
        );
    }

    let (pl, sl) = (
        publisher.liveliness_lease_duration,
        subscription.liveliness_lease_duration,
    );
    if is_unspecified(pl) && !is_unspecified(sl) {
        errors.push_str(
            "ERROR: Subscription has a liveliness lease duration, but publisher does not;",
        );
    }
    if !is_unspecified(pl) && !is_unspecified(sl) && nanos(sl) < nanos(pl) {
        errors.push_str("ERROR: Subscription liveliness lease duration is less than publisher;");
    }

    if !errors.is_empty() {
        return Ok((Compatibility::Error, errors));
    }

    // Warnings: "system default" leaves the policy to the middleware of each side.
    let mut warnings = String::new();
    let (pr, sr) = (publisher.reliability, subscription.reliability);
    let (pr_open, sr_open) = (
        pr == RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT,
        sr == RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT,
    );
    if pr_open && sr_open {
        warnings.push_str(&format!(
            "WARNING: Publisher reliability is {} and subscription reliability is {};",
            policy_str(pr),
            policy_str(sr)
        ));
    } else if pr_open && sr == RMW_QOS_POLICY_RELIABILITY_RELIABLE {
        warnings.push_str(&format!(
            "WARNING: Reliable subscription, but publisher is {};",
            policy_str(pr)
        ));
    } else if pr == RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT && sr_open {
        warnings.push_str(&format!(
            "WARNING: Best effort publisher, but subscription is {};",
            policy_str(sr)
        ));
    }

    let (pd, sd) = (publisher.durability, subscription.durability);
    let (pd_open, sd_open) = (
        pd == RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT,
        sd == RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT,
    );
    if pd_open && sd_open {
        // (sic: rmw_dds_common spells it so.)
        warnings.push_str(&format!(
            "WARNING: Publisher durabilty is {} and subscription durability is {};",
            policy_str(pd),
            policy_str(sd)
        ));
    } else if pd_open && sd == RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL {
        warnings.push_str(&format!(
            "WARNING: Transient local subscription, but publisher is {};",
            policy_str(pd)
        ));
    } else if pd == RMW_QOS_POLICY_DURABILITY_VOLATILE && sd_open {
        warnings.push_str(&format!(
            "WARNING: Volatile publisher, but subscription is {};",
            policy_str(sd)
        ));
    }

    let (pl, sl) = (publisher.liveliness, subscription.liveliness);
    let (pl_open, sl_open) = (
        pl == RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT,
        sl == RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT,
    );
    if pl_open && sl_open {
        warnings.push_str(&format!(
            "WARNING: Publisher liveliness is {} and subscription liveliness is {};",
            policy_str(pl),
            policy_str(sl)
        ));
    } else if pl_open && sl == RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC {
        warnings.push_str(&format!(
            "WARNING: Subscription's liveliness is manual by topic, but publisher's is {};",
            policy_str(pl)
        ));
    } else if pl == RMW_QOS_POLICY_LIVELINESS_AUTOMATIC && sl_open {
        warnings.push_str(&format!(
            "WARNING: Publisher's liveliness is automatic, but subscription's is {};",
            policy_str(sl)
        ));
    }

    if warnings.is_empty() {
        Ok((Compatibility::Ok, String::new()))
    } else {
        Ok((Compatibility::Warning, warnings))
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

/// `RMW_DURATION_UNSPECIFIED`: the default of deadline, lifespan and lease ("none").
pub const DURATION_UNSPECIFIED: rmw_time_t = rmw_time_t { sec: 0, nsec: 0 };

/// `RMW_QOS_DEADLINE_BEST_AVAILABLE` and `RMW_QOS_LIVELINESS_LEASE_DURATION_BEST_AVAILABLE`.
pub const DURATION_BEST_AVAILABLE: rmw_time_t = rmw_time_t {
    sec: 9_223_372_036,
    nsec: 854_775_806,
};

/// A deadline, lifespan or lease: `None` for unspecified, infinite and best available (which,
/// without knowing the other endpoints yet, resolves to the default: no deadline, infinite
/// lease, as rmw_dds_common resolves it when no endpoint of the other side has one).
fn duration(what: &str, t: rmw_time_t) -> Result<Option<core::time::Duration>, String> {
    if is_unspecified(t) || nanos(t) >= nanos(DURATION_BEST_AVAILABLE) {
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
/// 1 (the DDS default); deadline, lifespan and liveliness lease `{0, 0}`, infinite or best
/// available mean none (best available is reported as `{0, 0}`). Liveliness: system default and best available
/// are automatic (a writer is alive while its participant is), manual-by-topic is the
/// engine's manual-by-topic (the writer asserts itself by publishing or with
/// `rmw_publisher_assert_liveliness` within its lease), the deprecated manual-by-node is
/// refused.
pub fn to_engine(
    p: &rmw_qos_profile_t,
    role: Role,
) -> Result<(l2net_core::engine::Qos, rmw_qos_profile_t), String> {
    use l2net_core::engine::{Durability, HistoryKind, Liveliness, Qos, Reliability};
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
    if p.deadline == DURATION_BEST_AVAILABLE {
        actual.deadline = DURATION_UNSPECIFIED;
    }
    let liveliness = match p.liveliness {
        RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT
        | RMW_QOS_POLICY_LIVELINESS_AUTOMATIC
        | RMW_QOS_POLICY_LIVELINESS_BEST_AVAILABLE => Liveliness::Automatic,
        RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC => Liveliness::ManualByTopic,
        RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_NODE => {
            return Err(
                "liveliness MANUAL_BY_NODE is deprecated in rmw and not supported by \
                 rmw_l2net_cpp; use MANUAL_BY_TOPIC (rmw_publisher_assert_liveliness) or \
                 AUTOMATIC"
                    .into(),
            );
        }
        l => return Err(format!("unknown liveliness policy {l}")),
    };
    actual.liveliness = match liveliness {
        Liveliness::Automatic => RMW_QOS_POLICY_LIVELINESS_AUTOMATIC,
        Liveliness::ManualByTopic => RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC,
    };
    let lease = duration("liveliness lease duration", p.liveliness_lease_duration)?;
    if p.liveliness_lease_duration == DURATION_BEST_AVAILABLE {
        actual.liveliness_lease_duration = DURATION_UNSPECIFIED;
    }
    // Built from a constant and assigned field by field, so that policies the engine adds
    // later keep their defaults instead of breaking this mapping.
    let mut q = Qos::BEST_EFFORT;
    q.reliability = reliability;
    q.durability = durability;
    q.history = history;
    q.deadline = deadline;
    q.lifespan = lifespan;
    q.liveliness = liveliness;
    q.liveliness_lease = lease;
    Ok((q, actual))
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

    fn check(p: &rmw_qos_profile_t, s: &rmw_qos_profile_t) -> Compatibility {
        check_compatible(p, s).unwrap().0
    }

    #[test]
    fn request_offer_rules() {
        assert_eq!(check(&profile(R, V), &profile(R, V)), Compatibility::Ok);
        assert_eq!(check(&profile(R, TL), &profile(BE, V)), Compatibility::Ok);
        let (c, why) = check_compatible(&profile(BE, V), &profile(R, TL)).unwrap();
        assert_eq!(c, Compatibility::Error);
        assert_eq!(
            why,
            "ERROR: Best effort publisher and reliable subscription;\
             ERROR: Volatile publisher and transient local subscription;"
        );
    }

    #[test]
    fn system_default_warns_unknown_is_refused() {
        let (c, why) = check_compatible(&profile(0, V), &profile(R, V)).unwrap();
        assert_eq!(c, Compatibility::Warning);
        assert_eq!(
            why,
            "WARNING: Reliable subscription, but publisher is system_default;"
        );
        let (c, why) = check_compatible(&profile(BE, 0), &profile(0, 0)).unwrap();
        assert_eq!(c, Compatibility::Warning);
        assert_eq!(
            why,
            "WARNING: Best effort publisher, but subscription is system_default;\
             WARNING: Publisher durabilty is system_default and subscription durability is \
             system_default;"
        );
        let mut p = profile(R, V);
        p.liveliness = RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT;
        let mut s = profile(R, V);
        s.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        assert_eq!(
            check_compatible(&p, &s).unwrap().1,
            "WARNING: Subscription's liveliness is manual by topic, but publisher's is \
             system_default;"
        );
        s.liveliness = RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT;
        p.liveliness = RMW_QOS_POLICY_LIVELINESS_AUTOMATIC;
        assert_eq!(
            check_compatible(&p, &s).unwrap().1,
            "WARNING: Publisher's liveliness is automatic, but subscription's is system_default;"
        );
        // Errors hide the warnings.
        assert_eq!(check(&profile(BE, 0), &profile(R, 0)), Compatibility::Error);

        for f in [
            (|p: &mut rmw_qos_profile_t| p.history = RMW_QOS_POLICY_HISTORY_UNKNOWN)
                as fn(&mut rmw_qos_profile_t),
            |p| p.reliability = RMW_QOS_POLICY_RELIABILITY_UNKNOWN,
            |p| p.durability = RMW_QOS_POLICY_DURABILITY_UNKNOWN,
            |p| p.liveliness = RMW_QOS_POLICY_LIVELINESS_UNKNOWN,
        ] {
            let mut u = profile(R, V);
            f(&mut u);
            assert!(
                check_compatible(&u, &profile(R, V))
                    .unwrap_err()
                    .contains("UNKNOWN")
            );
            assert!(
                check_compatible(&profile(R, V), &u)
                    .unwrap_err()
                    .contains("subscription")
            );
        }
    }

    #[test]
    fn deadline_and_lease() {
        let mut p = profile(R, V);
        let mut s = profile(R, V);
        s.deadline = rmw_time_t { sec: 1, nsec: 0 };
        let (c, why) = check_compatible(&p, &s).unwrap();
        assert_eq!(c, Compatibility::Error);
        assert_eq!(
            why,
            "ERROR: Subscription has a deadline, but publisher does not;"
        );
        p.deadline = rmw_time_t {
            sec: 0,
            nsec: 500_000_000,
        };
        assert_eq!(check(&p, &s), Compatibility::Ok);
        p.deadline = s.deadline;
        assert_eq!(check(&p, &s), Compatibility::Ok, "equal deadlines");
        p.deadline = rmw_time_t {
            sec: 1,
            nsec: 500_000_000,
        };
        assert_eq!(
            check_compatible(&p, &s).unwrap().1,
            "ERROR: Subscription deadline is less than publisher deadline;"
        );
        // An offered deadline with none requested is fine.
        s.deadline = rmw_time_t { sec: 0, nsec: 0 };
        assert_eq!(check(&p, &s), Compatibility::Ok);
        p.deadline = s.deadline;

        s.liveliness_lease_duration = rmw_time_t { sec: 2, nsec: 0 };
        assert_eq!(
            check_compatible(&p, &s).unwrap().1,
            "ERROR: Subscription has a liveliness lease duration, but publisher does not;"
        );
        p.liveliness_lease_duration = rmw_time_t { sec: 3, nsec: 0 };
        assert_eq!(
            check_compatible(&p, &s).unwrap().1,
            "ERROR: Subscription liveliness lease duration is less than publisher;"
        );
        p.liveliness_lease_duration = rmw_time_t { sec: 1, nsec: 0 };
        assert_eq!(check(&p, &s), Compatibility::Ok);
        s.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        assert_eq!(
            check_compatible(&p, &s).unwrap().1,
            "ERROR: Publisher's liveliness is automatic and subscription's is manual by topic;"
        );
        p.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        assert_eq!(check(&p, &s), Compatibility::Ok);
        s.liveliness = RMW_QOS_POLICY_LIVELINESS_AUTOMATIC;
        assert_eq!(
            check(&p, &s),
            Compatibility::Ok,
            "manual offered to automatic"
        );
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
            bad(&|b| b.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_NODE)
                .contains("MANUAL_BY_NODE is deprecated")
        );
        assert!(bad(&|b| b.liveliness = RMW_QOS_POLICY_LIVELINESS_UNKNOWN).contains("unknown"));
        assert!(
            bad(&|b| b.liveliness_lease_duration = rmw_time_t {
                sec: 1,
                nsec: 1_000_000_000
            })
            .contains("lease")
        );
    }

    #[test]
    fn liveliness_and_best_available_durations() {
        use l2net_core::engine::Liveliness;
        let mut p = profile(R, V);
        p.liveliness = RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC;
        p.liveliness_lease_duration = rmw_time_t {
            sec: 0,
            nsec: 300_000_000,
        };
        let (q, a) = to_engine(&p, Role::Publisher).unwrap();
        assert_eq!(q.liveliness, Liveliness::ManualByTopic);
        assert_eq!(
            q.liveliness_lease,
            Some(core::time::Duration::from_millis(300))
        );
        assert_eq!(a.liveliness, RMW_QOS_POLICY_LIVELINESS_MANUAL_BY_TOPIC);
        assert_eq!(a.liveliness_lease_duration, p.liveliness_lease_duration);

        for l in [
            RMW_QOS_POLICY_LIVELINESS_SYSTEM_DEFAULT,
            RMW_QOS_POLICY_LIVELINESS_BEST_AVAILABLE,
        ] {
            p.liveliness = l;
            let (q, a) = to_engine(&p, Role::Subscription).unwrap();
            assert_eq!(q.liveliness, Liveliness::Automatic);
            assert_eq!(a.liveliness, RMW_QOS_POLICY_LIVELINESS_AUTOMATIC);
        }

        for none in [
            DURATION_UNSPECIFIED,
            DURATION_INFINITE,
            DURATION_BEST_AVAILABLE,
        ] {
            p.deadline = none;
            p.liveliness_lease_duration = none;
            let (q, a) = to_engine(&p, Role::Publisher).unwrap();
            assert_eq!((q.deadline, q.liveliness_lease), (None, None));
            let reported = if none == DURATION_BEST_AVAILABLE {
                DURATION_UNSPECIFIED
            } else {
                none
            };
            assert_eq!(a.deadline, reported);
            assert_eq!(a.liveliness_lease_duration, reported);
        }
    }
}
