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
    assert!(text(&out.stderr).contains("expected auto, ring, uring, mmsg or plain"));
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
