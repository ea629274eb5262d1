//! How often an idle context's threads wake up: a measurement, not a check (its numbers depend
//! on the machine), so it is `#[ignore]`d. Run it with
//! `cargo test -p rmw_l2net --test idle -- --ignored --nocapture`: it prints the voluntary
//! context switches of every thread of the process over 3 s of a context with a node and a
//! subscription and nothing to receive, first with no thread waiting, then with one thread
//! blocked in `rmw_wait` (no timeout) on the subscription and a guard condition.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use l2net_linux::netns::require_privileges;
use rmw_l2net_cpp::abi::*;
use rmw_l2net_cpp::sys::error_state::last_error;
use rmw_l2net_cpp::sys::exports::*;
use support::Flavor;
use support::rmw::*;

const SPAN: Duration = Duration::from_secs(3);

/// Voluntary context switches per thread of this process, by thread id (with its name).
fn switches() -> BTreeMap<u32, (String, u64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in dir.flatten() {
        let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        let name = field("Name:").unwrap_or_default();
        let n = field("voluntary_ctxt_switches:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        out.insert(tid, (name, n));
    }
    out
}

fn report(what: &str, before: &BTreeMap<u32, (String, u64)>) {
    let after = switches();
    println!("{what}: voluntary context switches over {SPAN:?}");
    for (tid, (name, n)) in &after {
        if let Some((_, b)) = before.get(tid) {
            println!("  {tid:>7} {name:<16} {}", n - b);
        }
    }
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn idle_context_wakeups() {
    if !require_privileges("idle_context_wakeups") {
        return;
    }
    let (_ns, ctx) = lo_context("rmwidle", 41);
    let ts = support::type_support(Flavor::C, "std_msgs/msg/String");
    // SAFETY: the rmw call sequence of rcl, on live objects.
    unsafe {
        let node = rmw_create_node(ctx.0, c"idle".as_ptr(), c"/".as_ptr());
        assert!(!node.is_null(), "{:?}", last_error());
        let sopts: rmw_subscription_options_t = std::mem::zeroed();
        let sub = rmw_create_subscription(node, ts, c"/idle".as_ptr(), &default_qos(), &sopts);
        assert!(!sub.is_null(), "{:?}", last_error());
        // Let discovery and the graph announcement settle.
        std::thread::sleep(Duration::from_millis(500));

        let before = switches();
        std::thread::sleep(SPAN);
        report("no thread waiting", &before);

        let gc = rmw_create_guard_condition(ctx.0);
        assert!(!gc.is_null(), "{:?}", last_error());
        let ws = rmw_create_wait_set(ctx.0, 2);
        assert!(!ws.is_null(), "{:?}", last_error());
        // Destroyed after the join.
        let waiter = spawn_wait(ws, &[(*sub).data], &[(*gc).data], None);
        std::thread::sleep(Duration::from_millis(100));
        let before = switches();
        std::thread::sleep(SPAN);
        report("one thread in rmw_wait", &before);
        assert_eq!(rmw_trigger_guard_condition(gc), RMW_RET_OK);
        assert_eq!(waiter.join().unwrap().0, RMW_RET_OK);

        assert_eq!(rmw_destroy_wait_set(ws), RMW_RET_OK);
        assert_eq!(rmw_destroy_guard_condition(gc), RMW_RET_OK);
        assert_eq!(rmw_destroy_subscription(node, sub), RMW_RET_OK);
        assert_eq!(rmw_destroy_node(node), RMW_RET_OK);
    }
}
