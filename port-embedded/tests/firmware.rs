//! The firmware (port-embedded/firmware) on an emulated MPS2 AN386: QEMU `mps2-an386` runs the
//! image with its LAN9118 attached to a TAP device in a network namespace this test creates; an
//! `AF_PACKET` socket (l2net-linux's `PlainLink`) on that TAP receives the firmware's l2net
//! beacons, sends it a command frame, receives the acknowledgement, and the test checks that
//! the firmware then exited through semihosting with status 0.
//!
//! Pass or fail rests on what Linux sees (frames on the TAP, QEMU's exit status); the board's log
//! is only for people: the images log with defmt over semihosting stdout, which this test decodes
//! with the format-string table of the ELF (`defmt-decoder`) and prints with every failure.
//!
//! Needs: root (namespaces, TAP), `qemu-system-arm` (`port-embedded/ci/install-qemu.sh`, found
//! through `L2NET_QEMU`, `/opt/l2net-qemu/bin/qemu-system-arm` or `PATH`), and the firmware ELF
//! (in `L2NET_FIRMWARE_DIR`, or built here with `cargo build --release` for thumbv7em-none-eabihf).
//! Without one of them the test skips with a message; with `L2NET_REQUIRE_FIRMWARE=1` (or
//! `L2NET_REQUIRE_PRIVILEGED=1` for the privileges) a skip is a failure.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use l2net_core::engine::{Config, Event, Participant, Qos, drive};
use l2net_core::wire::frame::{FrameRepr, parse_frame};
use l2net_core::wire::msg::{DataRepr, MessageRepr};
use l2net_core::wire::{EntityId, MacAddr, ParticipantId, TagStack};
use l2net_core::{Instant, LinkError, RawLink, RxFrame, TxToken};
use l2net_linux::netns::{Netns, require_privileges, unique_suffix};
use l2net_linux::{LinkConfig, PlainLink};

const DOMAIN: u16 = 7;
const BEACON: &[u8] = b"l2net mps2-an386 beacon";
const BOOT_WAIT: Duration = Duration::from_secs(30);
const EXIT_WAIT: Duration = Duration::from_secs(30);

fn skip(why: &str) {
    let msg = format!("firmware test skipped: {why}");
    if std::env::var_os("L2NET_REQUIRE_FIRMWARE").is_some_and(|v| v == "1") {
        panic!("{msg} (L2NET_REQUIRE_FIRMWARE=1)");
    }
    eprintln!("{msg}");
}

fn find_qemu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("L2NET_QEMU") {
        return Some(PathBuf::from(p));
    }
    let private = Path::new("/opt/l2net-qemu/bin/qemu-system-arm");
    if private.exists() {
        return Some(private.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("qemu-system-arm"))
            .find(|p| p.exists())
    })
}

/// The firmware ELF `bin`: given (`L2NET_FIRMWARE_DIR` holding the release binaries), or
/// built here. `Err` says why there is none.
fn firmware_elf(bin: &str) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("L2NET_FIRMWARE_DIR") {
        return Ok(PathBuf::from(dir).join(bin));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("firmware"))
        .unwrap_or_else(|| dir.join("target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the firmware failed (is the thumbv7em-none-eabihf target installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join("thumbv7em-none-eabihf/release").join(bin))
}

/// QEMU with its output collected; killed if still running when dropped.
struct Qemu {
    child: Child,
    /// The image's defmt frames (semihosting stdout goes to QEMU's standard output).
    defmt: Arc<Mutex<Vec<u8>>>,
    /// QEMU's own messages.
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The image, for its defmt table.
    elf: PathBuf,
}

impl Qemu {
    /// What a person needs to see: QEMU's messages and the image's decoded log.
    fn output(&self) -> String {
        let stderr = String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned();
        let log = decode_defmt(&self.elf, &self.defmt.lock().unwrap());
        format!("--- QEMU stderr ---\n{stderr}--- firmware log (defmt) ---\n{log}")
    }

    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = StdInstant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for QEMU") {
                return Some(status);
            }
            if StdInstant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The defmt frames in `bytes` as text lines (level, message, source location), decoded with the
/// table in `elf`. Never fails: what cannot be decoded is said in the text, with the byte count.
fn decode_defmt(elf: &Path, bytes: &[u8]) -> String {
    use std::fmt::Write as _;

    use defmt_decoder::{DecodeError, Table};

    let image = match std::fs::read(elf) {
        Ok(image) => image,
        Err(e) => {
            return format!(
                "(cannot read {}: {e}; {} bytes)\n",
                elf.display(),
                bytes.len()
            );
        }
    };
    let table = match Table::parse(&image) {
        Ok(Some(table)) => table,
        Ok(None) => {
            return format!(
                "({} has no defmt table; {} bytes)\n",
                elf.display(),
                bytes.len()
            );
        }
        Err(e) => {
            return format!(
                "(defmt table of {}: {e}; {} bytes)\n",
                elf.display(),
                bytes.len()
            );
        }
    };
    let locations = table.get_locations(&image).unwrap_or_default();
    let mut out = String::new();
    let mut decoder = table.new_stream_decoder();
    decoder.received(bytes);
    loop {
        match decoder.decode() {
            Ok(frame) => {
                let _ = write!(out, "{}", frame.display(false));
                if let Some(at) = locations.get(&frame.index()) {
                    let _ = write!(out, "  ({}:{})", at.file.display(), at.line);
                }
                out.push('\n');
            }
            Err(DecodeError::UnexpectedEof) => break,
            Err(DecodeError::Malformed) => out.push_str("(malformed defmt frame skipped)\n"),
        }
    }
    out
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

fn now() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    Instant::from_nanos(START.get_or_init(StdInstant::now).elapsed().as_nanos() as u64)
}

fn send_command(link: &mut PlainLink, dst: MacAddr, seq: u64, payload: &[u8]) {
    let repr = FrameRepr {
        dst,
        src: link.mac(),
        tags: TagStack::new(),
        domain: DOMAIN,
        sender: ParticipantId::new(0x7E57).unwrap(),
        message: MessageRepr::Data(DataRepr {
            writer: EntityId(9),
            seq,
            source_timestamp_ns: 0,
            related: None,
            payload,
        }),
    };
    let tx = link
        .transmit(now(), repr.buffer_len())
        .expect("transmit")
        .expect("room for one frame");
    tx.consume(|buf| repr.emit(buf).expect("buffer_len bytes"));
    link.flush(now()).expect("flush");
}

/// The next DATA frame of our domain: (source MAC, seq, payload).
fn next_data(link: &mut PlainLink, until: StdInstant) -> Option<(MacAddr, u64, Vec<u8>)> {
    while StdInstant::now() < until {
        match link.receive(now()) {
            Ok(Some(rx)) => {
                if let Ok(frame) = parse_frame(rx.data())
                    && frame.header.domain == DOMAIN
                    && let Ok(MessageRepr::Data(d)) = frame.message()
                {
                    return Some((frame.src, d.seq, d.payload.to_vec()));
                }
            }
            Ok(None) | Err(LinkError::Down) => {
                let _ = link.wait_readable(Some(Duration::from_millis(50)));
            }
            Err(e) => panic!("receive: {e}"),
        }
    }
    None
}

/// Start QEMU on `elf` with its NIC on a TAP in a new namespace; return the namespace, QEMU and
/// an AF_PACKET link on the TAP (up).
fn boot(qemu: &Path, elf: &Path) -> (Netns, Qemu, PlainLink) {
    let ns = Netns::new("l2fw").expect("create namespace");
    let tap = format!("l2f{}", unique_suffix());
    let nic = format!("tap,ifname={tap},script=no,downscript=no,model=lan9118");
    let child = {
        let (qemu, elf) = (qemu.to_path_buf(), elf.to_path_buf());
        ns.run(move || {
            Command::new(qemu)
                .args([
                    "-M",
                    "mps2-an386",
                    "-nographic",
                    "-monitor",
                    "none",
                    "-serial",
                    "none",
                ])
                .args(["-semihosting-config", "enable=on,target=native"])
                .args(["-nic", &nic])
                .arg("-kernel")
                .arg(elf)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .expect("enter namespace")
        .expect("start QEMU")
    };
    let mut qemu = Qemu {
        child,
        defmt: Arc::default(),
        stderr: Arc::default(),
        elf: elf.to_path_buf(),
    };
    collect(qemu.child.stdout.take().unwrap(), qemu.defmt.clone());
    collect(qemu.child.stderr.take().unwrap(), qemu.stderr.clone());

    // QEMU creates the TAP; bring it up and listen on it.
    let deadline = StdInstant::now() + BOOT_WAIT;
    while ns.interface(&tap).is_err() {
        if let Some(status) = qemu.wait(Duration::ZERO) {
            panic!("QEMU exited early ({status}):\n{}", qemu.output());
        }
        assert!(
            StdInstant::now() < deadline,
            "QEMU never created {tap}:\n{}",
            qemu.output()
        );
        thread::sleep(Duration::from_millis(20));
    }
    ns.set_up(&tap).expect("set TAP up");
    let cfg = LinkConfig::new(&tap);
    let host = ns
        .run(move || PlainLink::open(&cfg))
        .expect("enter namespace")
        .expect("AF_PACKET socket on the TAP");
    (ns, qemu, host)
}

#[test]
fn firmware_beacons_acknowledges_a_command_and_exits_zero() {
    let Some(qemu) = find_qemu() else {
        return skip("qemu-system-arm not found (run port-embedded/ci/install-qemu.sh)");
    };
    if !require_privileges("firmware_beacons_acknowledges_a_command_and_exits_zero") {
        return;
    }
    let elf = match firmware_elf("l2net-firmware") {
        Ok(elf) => elf,
        Err(why) => return skip(&why),
    };

    let (_ns, mut qemu, mut host) = boot(&qemu, &elf);
    let deadline = StdInstant::now() + BOOT_WAIT;

    // A beacon tells the firmware's MAC.
    let mut board = None;
    while board.is_none() {
        let Some((src, _, payload)) = next_data(&mut host, deadline) else {
            panic!("no beacon from the firmware:\n{}", qemu.output());
        };
        if payload == BEACON {
            board = Some(src);
        }
    }
    let board = board.unwrap();

    // Command, then its acknowledgement (resent each second until answered).
    let arg = format!("ping-{}", std::process::id());
    let cmd = format!("CMD {arg}");
    let want = format!("ACK {arg}");
    let ack_deadline = StdInstant::now() + BOOT_WAIT;
    let mut acked = false;
    while !acked && StdInstant::now() < ack_deadline {
        send_command(&mut host, board, 42, cmd.as_bytes());
        let until = StdInstant::now() + Duration::from_secs(1);
        while let Some((src, seq, payload)) = next_data(&mut host, until) {
            if src == board && seq == 42 && payload == want.as_bytes() {
                acked = true;
                break;
            }
        }
    }
    assert!(acked, "no acknowledgement:\n{}", qemu.output());

    let status = qemu.wait(EXIT_WAIT);
    let out = qemu.output();
    let status = status.unwrap_or_else(|| panic!("firmware did not exit:\n{out}"));
    assert_eq!(status.code(), Some(0), "semihosting exit status:\n{out}");
    eprintln!("firmware output:\n{out}");
}

/// The host side of the node test: a participant with generous capacities.
type HostNode = Participant<'static, 8, 16, 2, 2, 16, 4, 4>;

fn arena(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

#[test]
fn node_firmware_answers_a_linux_participant_and_exits_zero() {
    let Some(qemu) = find_qemu() else {
        return skip("qemu-system-arm not found (run port-embedded/ci/install-qemu.sh)");
    };
    if !require_privileges("node_firmware_answers_a_linux_participant_and_exits_zero") {
        return;
    }
    let elf = match firmware_elf("l2net-node") {
        Ok(elf) => elf,
        Err(why) => return skip(&why),
    };
    let (_ns, mut qemu, mut link) = boot(&qemu, &elf);

    let mut config = Config::new(DOMAIN, "linux-host");
    config.mtu = link.capabilities().mtu;
    let mac = link.mac();
    let id = 0x4057_0000 | u64::from(std::process::id());
    let mut node = HostNode::new(config, id, mac, arena(64 << 10), now()).unwrap();
    let status = node
        .create_reader("fw/status", "text", None, Qos::reliable(4), arena(4096))
        .unwrap();
    let cmd = node
        .create_writer("fw/cmd", "text", None, Qos::reliable(4), arena(4096))
        .unwrap();

    let arg = format!("ping-{}", std::process::id());
    let want = format!("ACK {arg}");
    let deadline = StdInstant::now() + BOOT_WAIT;
    let mut board_seen = false;
    let mut sent = false;
    let mut answer = None;
    let mut buf = [0u8; 256];
    while answer.is_none() {
        assert!(
            StdInstant::now() < deadline,
            "no answer from the node (board seen: {board_seen}, command sent: {sent}):\n{}",
            qemu.output()
        );
        let t = now();
        if node.poll_timeout().is_some_and(|d| d <= t) {
            node.handle_timeout(t);
        }
        match drive(&mut node, &mut link, t) {
            Ok(_) | Err(LinkError::Down) => {}
            Err(e) => panic!("drive: {e}"),
        }
        while let Some(ev) = node.poll_event() {
            if let Event::ParticipantDiscovered { participant, .. } = ev {
                board_seen |= participant == 0x0386_0000_0000_0002;
            }
        }
        if !sent && node.writer_matches(cmd) > 0 && node.reader_matches(status) > 0 {
            node.write(cmd, format!("CMD {arg}").as_bytes(), t).unwrap();
            sent = true;
        }
        if let Some(info) = node.take(status, &mut buf).unwrap() {
            answer = Some(buf[..info.len].to_vec());
        }
        let _ = link.wait_readable(Some(Duration::from_millis(5)));
    }
    assert_eq!(answer.unwrap(), want.as_bytes());
    assert!(board_seen, "the board was discovered");

    // Keep acknowledging until the node says goodbye and exits.
    let exit_deadline = StdInstant::now() + EXIT_WAIT;
    let status = loop {
        if let Some(status) = qemu.wait(Duration::ZERO) {
            break status;
        }
        assert!(
            StdInstant::now() < exit_deadline,
            "node did not exit:\n{}",
            qemu.output()
        );
        let t = now();
        node.handle_timeout(t);
        let _ = drive(&mut node, &mut link, t);
        while node.poll_event().is_some() {}
        let _ = link.wait_readable(Some(Duration::from_millis(5)));
    };
    let out = qemu.output();
    assert_eq!(status.code(), Some(0), "semihosting exit status:\n{out}");
    eprintln!("node output:\n{out}");
}
