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
}
