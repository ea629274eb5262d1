//! Two l2net processes in two network namespaces joined by a veth pair: they discover each
//! other, exchange a reliable and a best-effort topic, a 4 MiB sample and a service call.
//!
//! The parent test makes the namespaces and the veth pair (removed by their drop guards) and
//! runs this same test binary twice, once per namespace (`ip netns exec NS <this binary>
//! two_process_peer --ignored`), with the role in the environment. Each child checks what it
//! receives and exits non-zero on the first thing that is wrong; the parent fails with both
//! children's output if either does, or if either outlives its time limit.

#![cfg(target_os = "linux")]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use l2net::node::{Event, Node, NodeConfig, Qos};
use l2net_linux::netns::{Netns, VethPair, require_privileges};

const ROLE: &str = "L2NET_TWO_PROCESS_ROLE";
const IFACE: &str = "L2NET_TWO_PROCESS_IFACE";
const DOMAIN: u16 = 21;
/// Reliable samples on `/counter`.
const COUNT: u32 = 2000;
/// Best-effort samples on `/scan`.
const SCAN: u32 = 300;
const BIG: usize = 4 << 20;
/// Every wait inside a child.
const T: Duration = Duration::from_secs(15);
/// The parent's limit for a child.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

fn big_payload() -> Vec<u8> {
    (0..BIG as u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn two_processes_discover_exchange_and_call() {
    if !require_privileges("two_processes_discover_exchange_and_call") {
        return;
    }
    let a = Netns::new("twoproc").unwrap();
    let b = Netns::new("twoproc").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let listener = spawn_peer(&b, veth.b_name(), "listener");
    let talker = spawn_peer(&a, veth.a_name(), "talker");
    let (ok_l, out_l) = finish(listener);
    let (ok_t, out_t) = finish(talker);
    assert!(
        ok_l && ok_t,
        "a peer process failed\n--- listener ---\n{out_l}\n--- talker ---\n{out_t}"
    );
    println!("--- listener ---\n{out_l}\n--- talker ---\n{out_t}");
    // Both sides said what they proved.
    assert!(out_l.contains("listener: done"), "{out_l}");
    assert!(out_t.contains("talker: done"), "{out_t}");
}

fn spawn_peer(ns: &Netns, iface: &str, role: &str) -> Child {
    let exe = std::env::current_exe().unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(exe)
        .args([
            "two_process_peer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(IFACE, iface)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run `ip netns exec` (iproute2 is installed by .ci/run)")
}

/// Wait for a child (killing it past [`CHILD_LIMIT`]); its success and its output.
fn finish(mut child: Child) -> (bool, String) {
    let start = Instant::now();
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = format!(
        "status: {}\n{}{}",
        status.map_or("killed after the time limit".to_string(), |s| s.to_string()),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    (status.is_some_and(|s| s.success()), text)
}

/// One side of the exchange; runs only when the parent test starts it with a role.
#[test]
#[ignore = "a child of two_processes_discover_exchange_and_call, which runs it in a namespace"]
fn two_process_peer() {
    let (Ok(role), Ok(iface)) = (std::env::var(ROLE), std::env::var(IFACE)) else {
        eprintln!("two_process_peer: started without {ROLE}/{IFACE}; nothing to do");
        return;
    };
    match role.as_str() {
        "talker" => talker(&iface),
        "listener" => listener(&iface),
        other => panic!("unknown role {other:?}"),
    }
}

/// Publishes `/counter` (reliable), `/scan` (best effort) and `/map` (4 MiB, reliable), serves
/// `/add`, and stays until the listener says goodbye.
fn talker(iface: &str) {
    let node = Node::open(iface, NodeConfig::new(DOMAIN, "talker")).unwrap();
    let counter = node
        .publisher("/counter", "test/Counter", Qos::reliable(64))
        .unwrap();
    let scan = node
        .publisher("/scan", "test/Scan", Qos::BEST_EFFORT)
        .unwrap();
    let map = node
        .publisher("/map", "test/Map", Qos::reliable(1))
        .unwrap();
    let server = node.server("/add", "test/Add").unwrap();

    counter.wait_for_subscribers(1, T).unwrap();
    scan.wait_for_subscribers(1, T).unwrap();
    map.wait_for_subscribers(1, T).unwrap();
    println!("talker: matched the listener's three subscriptions");

    for i in 0..COUNT {
        counter.publish(&i.to_be_bytes()).unwrap();
    }
    counter.wait_for_acks(T).unwrap();
    println!("talker: {COUNT} reliable samples acknowledged");

    for i in 0..SCAN {
        let mut s = [0u8; 200];
        s[..4].copy_from_slice(&i.to_be_bytes());
        s[4..].fill(i as u8);
        scan.publish(&s).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    println!("talker: {SCAN} best-effort samples sent");

    map.publish(&big_payload()).unwrap();
    map.wait_for_acks(T).unwrap();
    println!("talker: 4 MiB sample acknowledged");

    let mut req = [0u8; 64];
    let (id, len) = server.next_request(&mut req, Some(T)).unwrap();
    assert_eq!(len, 8, "request length");
    let x = u32::from_be_bytes(req[..4].try_into().unwrap());
    let y = u32::from_be_bytes(req[4..8].try_into().unwrap());
    server.reply(id, &(x + y).to_be_bytes()).unwrap();
    println!("talker: answered {x} + {y}");

    // Stay (so the reply is retransmitted if need be) until the listener leaves.
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the listener never said goodbye");
        if let Ok(Event::ParticipantLost { .. }) = node.next_event(Some(left)) {
            break;
        }
    }
    node.close();
    println!("talker: done");
}

/// Checks everything the talker sends, calls `/add`, and says goodbye.
fn listener(iface: &str) {
    let node = Node::open(iface, NodeConfig::new(DOMAIN, "listener")).unwrap();
    let counter = node
        .subscriber("/counter", "test/Counter", Qos::reliable(64))
        .unwrap();
    let scan = node
        .subscriber("/scan", "test/Scan", Qos::BEST_EFFORT)
        .unwrap();
    let map = node
        .subscriber("/map", "test/Map", Qos::reliable(1))
        .unwrap();
    let mut client = node.client("/add", "test/Add").unwrap();

    // Discovery: the talker shows up by name with its endpoints.
    let deadline = Instant::now() + T;
    let talker = loop {
        if let Some(p) = node
            .peers()
            .into_iter()
            .find(|p| p.name == "talker" && p.endpoints.len() >= 4)
        {
            break p;
        }
        assert!(Instant::now() < deadline, "the talker was never discovered");
        std::thread::sleep(Duration::from_millis(10));
    };
    println!(
        "listener: discovered talker {:016x} at {} with {} endpoints",
        talker.id,
        talker.mac,
        talker.endpoints.len()
    );

    let mut buf = vec![0u8; 8 << 20];
    for i in 0..COUNT {
        let info = counter.recv_timeout(&mut buf, Some(T)).unwrap();
        assert_eq!(info.len, 4);
        let got = u32::from_be_bytes(buf[..4].try_into().unwrap());
        assert_eq!(got, i, "reliable: in order, no gaps, no duplicates");
        assert_eq!(info.writer.participant, talker.id);
    }
    println!("listener: {COUNT} reliable samples in order");

    let mut last: Option<u32> = None;
    let mut got = 0u32;
    while let Ok(info) = scan.recv_timeout(&mut buf, Some(Duration::from_millis(500))) {
        assert_eq!(info.len, 200);
        let i = u32::from_be_bytes(buf[..4].try_into().unwrap());
        assert!(buf[4..200].iter().all(|&b| b == i as u8), "intact");
        assert!(last.is_none_or(|l| i > l), "no duplicates, no reordering");
        last = Some(i);
        got += 1;
    }
    assert!(got > 0, "best effort delivered nothing on a clean veth");
    println!("listener: {got} of {SCAN} best-effort samples, intact and in order");

    let info = map.recv_timeout(&mut buf, Some(T)).unwrap();
    assert_eq!(info.len, BIG);
    assert!(buf[..BIG] == big_payload()[..], "4 MiB sample intact");
    println!("listener: 4 MiB sample intact");

    client.wait_for_server(T).unwrap();
    let mut req = [0u8; 8];
    req[..4].copy_from_slice(&40u32.to_be_bytes());
    req[4..].copy_from_slice(&2u32.to_be_bytes());
    let mut reply = [0u8; 16];
    let len = client.call(&req, &mut reply, T).unwrap();
    assert_eq!(len, 4);
    assert_eq!(u32::from_be_bytes(reply[..4].try_into().unwrap()), 42);
    println!("listener: 40 + 2 = 42 from the talker's service");

    node.close();
    println!("listener: done");
}
