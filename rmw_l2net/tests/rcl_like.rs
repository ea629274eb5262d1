//! `tests/fixtures/rcl_like.c`, a C program that loads librmw_l2net_cpp.so like
//! rmw_implementation and calls it like rcl: first two contexts in one process (over a veth
//! pair with both ends in one namespace, and over the loopback interface), then a publisher
//! and a subscriber process in two namespaces joined by a veth pair. Needs root: skipped with a
//! message otherwise, a failure when L2NET_REQUIRE_PRIVILEGED=1. The child processes join
//! the namespaces with setns(2) before exec.

#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use l2net_linux::netns::{Netns, VethPair, require_privileges};

const PROGRAM: &str = concat!(env!("OUT_DIR"), "/rcl_like");
const FIXTURES: &str = concat!(env!("OUT_DIR"), "/libl2net_fixtures_c.so");

fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for dir in [deps, deps.parent().unwrap()] {
        let p = dir.join("librmw_l2net_cpp.so");
        if p.exists() {
            return p;
        }
    }
    panic!("librmw_l2net_cpp.so not found beside {}", exe.display());
}

/// The program inside network namespace `ns`: the child joins it (setns) before exec.
fn command(ns: &Netns, args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::open(ns.path()).expect("open the namespace file");
    let mut c = Command::new(PROGRAM);
    // SAFETY: between fork and exec only setns(2), an async-signal-safe system call, runs; the
    // namespace file stays open in the parent (moved into the closure) until the command is
    // dropped.
    unsafe {
        c.pre_exec(move || {
            use std::os::fd::AsRawFd;
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.arg(args[0])
        .arg(library())
        .arg(FIXTURES)
        .args(&args[1..])
        .env_remove("RMW_L2NET_CONFIG")
        .env_remove("ROS_AUTOMATIC_DISCOVERY_RANGE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A child process killed if the test fails before it ends.
struct Kid(Option<Child>);

impl Kid {
    fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.0.take().unwrap();
        let end = Instant::now() + limit;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > end {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn c_program_two_contexts_one_process_over_veth() {
    if !require_privileges("c_program_two_contexts_one_process_over_veth") {
        return;
    }
    let ns = Netns::new("rmwc").unwrap();
    let veth = VethPair::new(&ns, &ns).unwrap();
    let out = command(&ns, &["both", veth.a_name(), veth.b_name()])
        .output()
        .unwrap();
    check("rcl_like both (veth)", &out);
}

#[test]
fn c_program_two_contexts_one_process_over_loopback() {
    if !require_privileges("c_program_two_contexts_one_process_over_loopback") {
        return;
    }
    // A fresh namespace has only `lo` (brought up by Netns::new). LOCALHOST selects it over the
    // interface names given, which do not exist.
    let ns = Netns::new("rmwl").unwrap();
    let out = command(&ns, &["both", "l2net-none0", "l2net-none1"])
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .output()
        .unwrap();
    check("rcl_like both (lo)", &out);
}

#[test]
fn c_program_two_processes_in_two_namespaces() {
    if !require_privileges("c_program_two_processes_in_two_namespaces") {
        return;
    }
    let a = Netns::new("rmwp").unwrap();
    let b = Netns::new("rmws").unwrap();
    let veth = VethPair::new(&a, &b).unwrap();
    let sub = Kid(Some(command(&b, &["sub", veth.b_name()]).spawn().unwrap()));
    let publ = Kid(Some(command(&a, &["pub", veth.a_name()]).spawn().unwrap()));
    let s = sub.wait(Duration::from_secs(30));
    check("rcl_like sub", &s);
    let p = publ.wait(Duration::from_secs(30));
    check("rcl_like pub", &p);
}
