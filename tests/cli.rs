//! Integration tests of the `l2net` command, run as a user would run it.

#![cfg(target_os = "linux")]

use std::process::{Command, Output};

use l2net_linux::netns::{Netns, VethPair, require_privileges};

fn l2net() -> Command {
    Command::new(env!("CARGO_BIN_EXE_l2net"))
}

/// Run `l2net ARGS` inside namespace `ns` (through `ip netns exec`, as a user would).
fn l2net_in(ns: &Netns, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_l2net")])
        .args(args)
        .output()
        .expect("run ip netns exec")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = l2net().args(["link"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--interface"),
        "{}",
        text(&out.stderr)
    );
    let out = l2net()
        .args(["link", "-i", "lo", "--backend", "warp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected auto, ring, frame-ring, uring, mmsg or plain"));
    let out = l2net().args(["no-such-command"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn link_reports_a_missing_interface_clearly() {
    let out = l2net().args(["link", "-i", "l2nope0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    // Without CAP_NET_RAW the error says how to get it; with it, that the interface is missing.
    assert!(
        err.contains("no interface named") || err.contains("CAP_NET_RAW"),
        "unexpected error: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn link_describes_a_veth_end() {
    if !require_privileges("link_describes_a_veth_end") {
        return;
    }
    let a = Netns::new("clilink").unwrap();
    let b = Netns::new("clilink").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let out = l2net_in(&a, &["link", "-i", veth.a_name(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["interface"], veth.a_name());
    assert_eq!(v["mtu"], 1500);
    assert_eq!(v["admin_up"], true);
    assert!(v["backend_reason"].as_str().unwrap().starts_with("auto"));
    assert_eq!(
        v["vlan_rx_offload"], true,
        "veth strips VLAN tags on receive"
    );
    assert_eq!(v["rx_timestamps"], "software");

    for backend in ["plain", "mmsg", "ring"] {
        let out = l2net_in(&a, &["link", "-i", veth.a_name(), "--backend", backend]);
        assert!(out.status.success(), "{backend}: {}", text(&out.stderr));
        let t = text(&out.stdout);
        assert!(
            t.contains(&format!("backend        {backend} (requested)")),
            "{t}"
        );
    }
}

/// Two namespaces joined by a veth pair, for the subcommands that need a peer.
struct Wire {
    a: Netns,
    b: Netns,
    veth: VethPair,
}

fn wire(prefix: &str) -> Wire {
    let a = Netns::new(prefix).unwrap();
    let b = Netns::new(prefix).unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    Wire { a, b, veth }
}

/// Start `l2net ARGS` in `ns` in the background (killed on drop).
struct Bg(std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_in(ns: &Netns, args: &[&str]) -> Bg {
    Bg(Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_l2net")])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap())
}

fn finish(bg: Bg) -> Output {
    let mut bg = bg;
    let child = std::mem::replace(&mut bg.0, Command::new("true").spawn().expect("spawn true"));
    child.wait_with_output().unwrap()
}

#[test]
fn ping_measures_round_trips_to_pong() {
    if !require_privileges("ping_measures_round_trips_to_pong") {
        return;
    }
    let w = wire("cliping");
    let _pong = spawn_in(&w.b, &["pong", "-i", w.veth.b_name(), "--secs", "20"]);
    let out = l2net_in(
        &w.a,
        &[
            "ping",
            "-i",
            w.veth.a_name(),
            "--size",
            "100",
            "--secs",
            "0.5",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "latency");
    assert!(v["lat"]["count"].as_u64().unwrap() > 10, "{v}");
    assert!(v["lat"]["p50_us"].as_f64().unwrap() > 0.0);
    // Text mode prints percentiles and a histogram.
    let out = l2net_in(&w.a, &["ping", "-i", w.veth.a_name(), "--count", "50"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("p99.9") && t.contains(" us "), "{t}");
}

#[test]
fn ping_without_a_peer_fails_clearly() {
    if !require_privileges("ping_without_a_peer_fails_clearly") {
        return;
    }
    let w = wire("clinopeer");
    let _ = &w.b;
    let out = l2net_in(&w.a, &["ping", "-i", w.veth.a_name(), "--secs", "0.2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no `l2net pong` answered"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn perf_counts_delivered_samples() {
    if !require_privileges("perf_counts_delivered_samples") {
        return;
    }
    let w = wire("cliperf");
    // Defaults (bursts of 64, ring for best effort, mmsg and a 2 ms heartbeat for reliable),
    // then one sample per publish on mmsg, reliable with a named heartbeat.
    for (reliable, extra) in [
        (false, &[][..]),
        (true, &[][..]),
        (false, &["--burst", "1", "--backend", "mmsg"][..]),
        (true, &["--burst", "1", "--heartbeat-ms", "50"][..]),
    ] {
        let mut recv_args = vec![
            "perf",
            "-i",
            w.veth.b_name(),
            "--role",
            "recv",
            "--secs",
            "1",
            "--json",
        ];
        let mut send_args = vec![
            "perf",
            "-i",
            w.veth.a_name(),
            "--role",
            "send",
            "--secs",
            "0.5",
        ];
        if reliable {
            recv_args.push("--reliable");
            send_args.push("--reliable");
        }
        send_args.extend_from_slice(extra);
        // The receiver takes the options both sides share (backend, heartbeat).
        recv_args.extend(extra.chunks(2).filter(|o| o[0] != "--burst").flatten());
        let recv = spawn_in(&w.b, &recv_args);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let sent = l2net_in(&w.a, &send_args);
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let out = finish(recv);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["delivered"].as_u64().unwrap() > 100, "{v}");
        assert!(v["per_sec"].as_f64().unwrap() > 0.0, "{v}");
        if reliable {
            assert_eq!(v["lost"], 0, "reliable perf lost samples: {v}");
        }
    }
}

#[test]
fn perf_refuses_a_zero_burst() {
    let run = |a: &[&str]| l2net().args(a).output().unwrap();
    let out = run(&["perf", "-i", "lo", "--role", "send", "--burst", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--burst"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["perf", "-i", "lo", "--role", "send", "--heartbeat-ms", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--heartbeat-ms"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn pub_and_echo_carry_text() {
    if !require_privileges("pub_and_echo_carry_text") {
        return;
    }
    let w = wire("clipub");
    let echo = spawn_in(
        &w.b,
        &[
            "echo",
            "-i",
            w.veth.b_name(),
            "/chatter",
            "--reliable",
            "--count",
            "3",
            "--timeout",
            "10",
        ],
    );
    let out = l2net_in(
        &w.a,
        &[
            "pub",
            "-i",
            w.veth.a_name(),
            "/chatter",
            "--data",
            "hello l2net",
            "--reliable",
            "--count",
            "3",
            "--rate",
            "20",
            "--wait-subscribers",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = finish(echo);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello l2net\nhello l2net\nhello l2net\n");

    // Hex output of generated payloads.
    let echo = spawn_in(
        &w.b,
        &[
            "echo",
            "-i",
            w.veth.b_name(),
            "/bytes",
            "--reliable",
            "--format",
            "hex",
            "--count",
            "1",
            "--timeout",
            "10",
        ],
    );
    let out = l2net_in(
        &w.a,
        &[
            "pub",
            "-i",
            w.veth.a_name(),
            "/bytes",
            "--size",
            "20",
            "--reliable",
            "--count",
            "1",
            "--wait-subscribers",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = finish(echo);
    let t = text(&out.stdout);
    assert!(
        t.contains("(20 B)") && t.contains("000000  00 01 02 03"),
        "{t}"
    );
}

#[test]
fn discover_lists_peers_and_their_topics() {
    if !require_privileges("discover_lists_peers_and_their_topics") {
        return;
    }
    let w = wire("clidisc");
    let _pub = spawn_in(
        &w.b,
        &[
            "pub",
            "-i",
            w.veth.b_name(),
            "/odom",
            "--type",
            "nav/Odometry",
            "--reliable",
            "--rate",
            "5",
        ],
    );
    let out = l2net_in(
        &w.a,
        &[
            "discover",
            "-i",
            w.veth.a_name(),
            "--secs",
            "1",
            "--interval",
            "0.5",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let peers = v.as_array().unwrap();
    assert_eq!(peers.len(), 1, "{v}");
    assert_eq!(peers[0]["name"], "l2net-pub");
    let eps = peers[0]["endpoints"].as_array().unwrap();
    assert!(
        eps.iter()
            .any(|e| e["topic"] == "/odom" && e["type"] == "nav/Odometry"),
        "{v}"
    );
    assert!(peers[0]["lease_left_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn demo_runs_in_memory() {
    let out = l2net()
        .args(["demo", "--in-memory", "--pings", "200"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let t = text(&out.stdout);
    for want in [
        "discovered",
        "delivered in order",
        "add(40, 2) = 42",
        "4194304 bytes intact",
        "round trips",
        "demo-a leave",
    ] {
        assert!(t.contains(want), "missing {want:?} in demo output:\n{t}");
    }
}

#[test]
fn demo_runs_on_veth_and_cleans_up() {
    if !require_privileges("demo_runs_on_veth_and_cleans_up") {
        return;
    }
    let out = l2net().args(["demo", "--pings", "200"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let t = text(&out.stdout);
    assert!(t.contains("veth pair") && t.contains("removed"), "{t}");
    let ns = std::fs::read_dir("/run/netns")
        .map(|d| d.count())
        .unwrap_or(0);
    let _ = ns;
    // The demo's namespaces are named l2net-demo-<pid>-N: none may be left behind.
    let left: Vec<_> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("l2net-demo-"))
        .collect();
    assert!(left.is_empty(), "demo left namespaces behind: {left:?}");
}
