//! The event status structs of `src/abi.rs` against the C compiler's layout of the same
//! declarations, transcribed from the Jazzy headers (rmw/events_statuses/*.h and
//! rmw/qos_policy_kind.h, rmw/event.h): sizes, alignments, every offset and the enum values.
//! `shared/ros2/jazzy-abi.md` does not list these structs, so the C compiler is the second
//! opinion next to the hand-written numbers of the unit tests in `src/abi.rs`.

use std::mem::{align_of, offset_of, size_of};
use std::process::Command;

use rmw_l2net_cpp::abi::*;

/// The declarations as the headers write them (C enums are `int`-sized on x86_64 Linux).
const C_SOURCE: &str = r#"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum rmw_qos_policy_kind_e {
  RMW_QOS_POLICY_INVALID = 1 << 0,
  RMW_QOS_POLICY_DURABILITY = 1 << 1,
  RMW_QOS_POLICY_DEADLINE = 1 << 2,
  RMW_QOS_POLICY_LIVELINESS = 1 << 3,
  RMW_QOS_POLICY_RELIABILITY = 1 << 4,
  RMW_QOS_POLICY_HISTORY = 1 << 5,
  RMW_QOS_POLICY_LIFESPAN = 1 << 6,
  RMW_QOS_POLICY_DEPTH = 1 << 7,
  RMW_QOS_POLICY_LIVELINESS_LEASE_DURATION = 1 << 8,
  RMW_QOS_POLICY_AVOID_ROS_NAMESPACE_CONVENTIONS = 1 << 9,
} rmw_qos_policy_kind_t;

typedef enum rmw_event_type_e {
  RMW_EVENT_LIVELINESS_CHANGED,
  RMW_EVENT_REQUESTED_DEADLINE_MISSED,
  RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE,
  RMW_EVENT_MESSAGE_LOST,
  RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE,
  RMW_EVENT_SUBSCRIPTION_MATCHED,
  RMW_EVENT_LIVELINESS_LOST,
  RMW_EVENT_OFFERED_DEADLINE_MISSED,
  RMW_EVENT_OFFERED_QOS_INCOMPATIBLE,
  RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE,
  RMW_EVENT_PUBLICATION_MATCHED,
  RMW_EVENT_INVALID
} rmw_event_type_t;

typedef struct rmw_liveliness_changed_status_s {
  int32_t alive_count;
  int32_t not_alive_count;
  int32_t alive_count_change;
  int32_t not_alive_count_change;
} rmw_liveliness_changed_status_t;

typedef struct rmw_liveliness_lost_status_s {
  int32_t total_count;
  int32_t total_count_change;
} rmw_liveliness_lost_status_t;

typedef struct rmw_requested_deadline_missed_status_s {
  int32_t total_count;
  int32_t total_count_change;
} rmw_requested_deadline_missed_status_t;

typedef struct rmw_offered_deadline_missed_status_s {
  int32_t total_count;
  int32_t total_count_change;
} rmw_offered_deadline_missed_status_t;

struct rmw_qos_incompatible_event_status_s {
  int32_t total_count;
  int32_t total_count_change;
  rmw_qos_policy_kind_t last_policy_kind;
};
typedef struct rmw_qos_incompatible_event_status_s rmw_qos_incompatible_event_status_t;

typedef struct rmw_message_lost_status_s {
  size_t total_count;
  size_t total_count_change;
} rmw_message_lost_status_t;

typedef struct rmw_incompatible_type_status_s {
  int32_t total_count;
  int32_t total_count_change;
} rmw_incompatible_type_status_t;

typedef struct rmw_matched_status_s {
  size_t total_count;
  size_t total_count_change;
  size_t current_count;
  int32_t current_count_change;
} rmw_matched_status_t;

#define T(t) printf("%s size %zu align %zu\n", #t, sizeof(t), _Alignof(t));
#define F(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(t, f));
#define V(v) printf("%s = %d\n", #v, (int)(v));

int main(void) {
  T(rmw_liveliness_changed_status_t)
  F(rmw_liveliness_changed_status_t, alive_count)
  F(rmw_liveliness_changed_status_t, not_alive_count)
  F(rmw_liveliness_changed_status_t, alive_count_change)
  F(rmw_liveliness_changed_status_t, not_alive_count_change)
  T(rmw_liveliness_lost_status_t)
  F(rmw_liveliness_lost_status_t, total_count)
  F(rmw_liveliness_lost_status_t, total_count_change)
  T(rmw_requested_deadline_missed_status_t)
  F(rmw_requested_deadline_missed_status_t, total_count)
  F(rmw_requested_deadline_missed_status_t, total_count_change)
  T(rmw_offered_deadline_missed_status_t)
  F(rmw_offered_deadline_missed_status_t, total_count)
  F(rmw_offered_deadline_missed_status_t, total_count_change)
  T(rmw_qos_incompatible_event_status_t)
  F(rmw_qos_incompatible_event_status_t, total_count)
  F(rmw_qos_incompatible_event_status_t, total_count_change)
  F(rmw_qos_incompatible_event_status_t, last_policy_kind)
  T(rmw_message_lost_status_t)
  F(rmw_message_lost_status_t, total_count)
  F(rmw_message_lost_status_t, total_count_change)
  T(rmw_incompatible_type_status_t)
  F(rmw_incompatible_type_status_t, total_count)
  F(rmw_incompatible_type_status_t, total_count_change)
  T(rmw_matched_status_t)
  F(rmw_matched_status_t, total_count)
  F(rmw_matched_status_t, total_count_change)
  F(rmw_matched_status_t, current_count)
  F(rmw_matched_status_t, current_count_change)
  T(rmw_qos_policy_kind_t)
  T(rmw_event_type_t)
  V(RMW_QOS_POLICY_INVALID) V(RMW_QOS_POLICY_DURABILITY) V(RMW_QOS_POLICY_DEADLINE)
  V(RMW_QOS_POLICY_LIVELINESS) V(RMW_QOS_POLICY_RELIABILITY) V(RMW_QOS_POLICY_HISTORY)
  V(RMW_QOS_POLICY_LIFESPAN) V(RMW_QOS_POLICY_DEPTH) V(RMW_QOS_POLICY_LIVELINESS_LEASE_DURATION)
  V(RMW_QOS_POLICY_AVOID_ROS_NAMESPACE_CONVENTIONS)
  V(RMW_EVENT_LIVELINESS_CHANGED) V(RMW_EVENT_REQUESTED_DEADLINE_MISSED)
  V(RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE) V(RMW_EVENT_MESSAGE_LOST)
  V(RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE) V(RMW_EVENT_SUBSCRIPTION_MATCHED)
  V(RMW_EVENT_LIVELINESS_LOST) V(RMW_EVENT_OFFERED_DEADLINE_MISSED)
  V(RMW_EVENT_OFFERED_QOS_INCOMPATIBLE) V(RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE)
  V(RMW_EVENT_PUBLICATION_MATCHED) V(RMW_EVENT_INVALID)
  return 0;
}
"#;

/// What the C program prints, one line per fact.
fn c_layout() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("rmw_l2net_abi_c_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, C_SOURCE).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        out.status.success(),
        "{cc} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn event_statuses_match_the_c_layout() {
    let mut rust = Vec::new();
    macro_rules! t {
        ($t:ty, $name:literal) => {
            rust.push(format!(
                "{} size {} align {}",
                $name,
                size_of::<$t>(),
                align_of::<$t>()
            ))
        };
    }
    macro_rules! f {
        ($t:ty, $name:literal, $($f:ident),*) => {
            $(rust.push(format!("{}.{} {}", $name, stringify!($f), offset_of!($t, $f)));)*
        };
    }
    macro_rules! v {
        ($($v:ident),*) => {
            $(rust.push(format!("{} = {}", stringify!($v), $v));)*
        };
    }
    t!(
        rmw_liveliness_changed_status_t,
        "rmw_liveliness_changed_status_t"
    );
    f!(
        rmw_liveliness_changed_status_t,
        "rmw_liveliness_changed_status_t",
        alive_count,
        not_alive_count,
        alive_count_change,
        not_alive_count_change
    );
    t!(rmw_liveliness_lost_status_t, "rmw_liveliness_lost_status_t");
    f!(
        rmw_liveliness_lost_status_t,
        "rmw_liveliness_lost_status_t",
        total_count,
        total_count_change
    );
    t!(
        rmw_requested_deadline_missed_status_t,
        "rmw_requested_deadline_missed_status_t"
    );
    f!(
        rmw_requested_deadline_missed_status_t,
        "rmw_requested_deadline_missed_status_t",
        total_count,
        total_count_change
    );
    t!(
        rmw_offered_deadline_missed_status_t,
        "rmw_offered_deadline_missed_status_t"
    );
    f!(
        rmw_offered_deadline_missed_status_t,
        "rmw_offered_deadline_missed_status_t",
        total_count,
        total_count_change
    );
    t!(
        rmw_qos_incompatible_event_status_t,
        "rmw_qos_incompatible_event_status_t"
    );
    f!(
        rmw_qos_incompatible_event_status_t,
        "rmw_qos_incompatible_event_status_t",
        total_count,
        total_count_change,
        last_policy_kind
    );
    t!(rmw_message_lost_status_t, "rmw_message_lost_status_t");
    f!(
        rmw_message_lost_status_t,
        "rmw_message_lost_status_t",
        total_count,
        total_count_change
    );
    t!(
        rmw_incompatible_type_status_t,
        "rmw_incompatible_type_status_t"
    );
    f!(
        rmw_incompatible_type_status_t,
        "rmw_incompatible_type_status_t",
        total_count,
        total_count_change
    );
    t!(rmw_matched_status_t, "rmw_matched_status_t");
    f!(
        rmw_matched_status_t,
        "rmw_matched_status_t",
        total_count,
        total_count_change,
        current_count,
        current_count_change
    );
    t!(rmw_qos_policy_kind_t, "rmw_qos_policy_kind_t");
    t!(rmw_event_type_t, "rmw_event_type_t");
    v!(
        RMW_QOS_POLICY_INVALID,
        RMW_QOS_POLICY_DURABILITY,
        RMW_QOS_POLICY_DEADLINE,
        RMW_QOS_POLICY_LIVELINESS,
        RMW_QOS_POLICY_RELIABILITY,
        RMW_QOS_POLICY_HISTORY,
        RMW_QOS_POLICY_LIFESPAN,
        RMW_QOS_POLICY_DEPTH,
        RMW_QOS_POLICY_LIVELINESS_LEASE_DURATION,
        RMW_QOS_POLICY_AVOID_ROS_NAMESPACE_CONVENTIONS
    );
    v!(
        RMW_EVENT_LIVELINESS_CHANGED,
        RMW_EVENT_REQUESTED_DEADLINE_MISSED,
        RMW_EVENT_REQUESTED_QOS_INCOMPATIBLE,
        RMW_EVENT_MESSAGE_LOST,
        RMW_EVENT_SUBSCRIPTION_INCOMPATIBLE_TYPE,
        RMW_EVENT_SUBSCRIPTION_MATCHED,
        RMW_EVENT_LIVELINESS_LOST,
        RMW_EVENT_OFFERED_DEADLINE_MISSED,
        RMW_EVENT_OFFERED_QOS_INCOMPATIBLE,
        RMW_EVENT_PUBLISHER_INCOMPATIBLE_TYPE,
        RMW_EVENT_PUBLICATION_MATCHED,
        RMW_EVENT_INVALID
    );
    assert_eq!(rust, c_layout());
}
