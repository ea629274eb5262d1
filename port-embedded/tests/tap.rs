//! The embedded port's link code on a real kernel path: an `EmbassyLink` over the TAP driver,
//! inside a network namespace this test creates, exchanges l2net frames with an `AF_PACKET`
//! socket (l2net-linux's `PlainLink`) on the TAP's interface, reports link down when the
//! interface goes down, and carries traffic again once it is back up.
//!
//! A second test runs the core engine on both ends: a participant over the `EmbassyLink` and one
//! over the `PlainLink` discover each other and exchange reliable samples both ways.
//!
//! Needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN); skips with a message otherwise, and
//! fails instead when `L2NET_REQUIRE_PRIVILEGED=1`.

#![cfg(target_os = "linux")]

use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant as StdInstant};

use l2net_core::engine::{Config, Event, Participant, Qos, drive};
use l2net_core::wire::frame::{FrameRepr, parse_frame};
use l2net_core::wire::msg::{DataRepr, MessageRepr};
use l2net_core::wire::{EntityId, MacAddr, ParticipantId, TagStack, discovery_mac};
use l2net_core::{Instant, LinkError, RawLink, RxFrame, TxToken};
use l2net_embedded::host::TapDriver;
use l2net_embedded::{EmbassyLink, Readiness};
use l2net_linux::netns::{Netns, require_privileges, unique_suffix};
use l2net_linux::{LinkConfig, PlainLink};

const BOARD_MAC: MacAddr = MacAddr([0x02, 0x4C, 0x32, 0xE0, 0x00, 0x01]);
const DOMAIN: u16 = 7;
const WAIT: Duration = Duration::from_secs(5);

fn now() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(StdInstant::now);
    Instant::from_nanos(start.elapsed().as_nanos() as u64)
}

/// Build a DATA frame carrying `payload` and send it on `link`.
fn send_data(
    link: &mut impl RawLink,
    src: MacAddr,
    sender: u64,
    seq: u64,
    payload: &[u8],
) -> Result<(), LinkError> {
    let repr = FrameRepr {
        dst: discovery_mac(DOMAIN),
        src,
        tags: TagStack::new(),
        domain: DOMAIN,
        sender: ParticipantId::new(sender).unwrap(),
        message: MessageRepr::Data(DataRepr {
            writer: EntityId(1),
            seq,
            source_timestamp_ns: 0,
            related: None,
            payload,
        }),
    };
    let len = repr.buffer_len();
    let deadline = StdInstant::now() + WAIT;
    loop {
        if let Some(tx) = link.transmit(now(), len)? {
            tx.consume(|buf| repr.emit(buf).expect("buffer of buffer_len bytes"));
            break;
        }
        assert!(StdInstant::now() < deadline, "no transmit room");
        link.flush(now())?;
        thread::sleep(Duration::from_millis(1));
    }
    while !link.flush(now())?.is_complete() {
        assert!(StdInstant::now() < deadline, "flush stuck");
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Receive frames on `link` until a DATA frame with `seq` arrives (other traffic, such as IPv6
/// router solicitations the kernel sends on a new interface, is skipped). Returns its payload.
fn recv_data(link: &mut impl RawLink, seq: u64, wait: impl Fn(Duration)) -> Vec<u8> {
    let deadline = StdInstant::now() + WAIT;
    loop {
        let got = match link.receive(now()) {
            Ok(got) => got,
            // An AF_PACKET socket reports the interface's earlier down once (ENETDOWN).
            Err(LinkError::Down) => None,
            Err(e) => panic!("receive failed: {e}"),
        };
        if let Some(rx) = got {
            if let Ok(frame) = parse_frame(rx.data())
                && let Ok(MessageRepr::Data(d)) = frame.message()
                && d.seq == seq
            {
                return d.payload.to_vec();
            }
            continue;
        }
        assert!(
            StdInstant::now() < deadline,
            "no DATA frame with seq {seq} within {WAIT:?}"
        );
        wait(Duration::from_millis(50));
    }
}

/// Wait until the link reports `up`.
fn wait_link(link: &mut EmbassyLink<TapDriver>, up: bool) {
    let deadline = StdInstant::now() + WAIT;
    while link.link_is_up() != up {
        assert!(StdInstant::now() < deadline, "link never became up={up}");
        thread::sleep(Duration::from_millis(10));
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Poll `fut` on this thread, parking between polls, until it is ready or `timeout` passes.
fn block_on<F: Future>(fut: F, timeout: Duration) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let deadline = StdInstant::now() + timeout;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let left = deadline.checked_duration_since(StdInstant::now())?;
        thread::park_timeout(left);
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

#[test]
fn tap_link_talks_to_af_packet_and_survives_down_up() {
    if !require_privileges("tap_link_talks_to_af_packet_and_survives_down_up") {
        return;
    }
    let ns = Netns::new("l2emb").expect("create namespace");
    let name = format!("l2e{}", unique_suffix());
    let tap_name = name.clone();
    let driver = ns
        .run(move || TapDriver::<1514>::open(&tap_name, BOARD_MAC))
        .expect("enter namespace")
        .expect("open TAP");
    assert_eq!(driver.name(), name);
    ns.set_up(&name).expect("set TAP up");
    ns.wait_running(&name, WAIT).expect("TAP running");

    let mut board = EmbassyLink::from_driver(driver).expect("Ethernet driver");
    assert_eq!(board.mac(), BOARD_MAC);
    assert_eq!(board.capabilities().mtu, 1500);
    let cfg = LinkConfig::new(&name);
    let mut host = ns
        .run(move || PlainLink::open(&cfg))
        .expect("enter namespace")
        .expect("open AF_PACKET socket on the TAP interface");
    let host_mac = host.mac();

    let board_wait = |d: Duration| thread::sleep(d);
    let host_wait = |d: Duration| thread::sleep(d);

    // Board to host and back.
    send_data(&mut board, BOARD_MAC, 0xB0A2D, 1, b"hello from the board").unwrap();
    assert_eq!(recv_data(&mut host, 1, host_wait), b"hello from the board");
    send_data(&mut host, host_mac, 0x4057, 2, b"command: ack").unwrap();
    assert_eq!(recv_data(&mut board, 2, board_wait), b"command: ack");

    // The async path: wait_ready sleeps until the waiter thread sees the frame.
    send_data(&mut host, host_mac, 0x4057, 3, b"async").unwrap();
    let ready = block_on(board.wait_ready(), WAIT).expect("wait_ready woke");
    assert_eq!(ready, Readiness::Receive);
    assert_eq!(recv_data(&mut board, 3, board_wait), b"async");

    // Interface down (from outside, like an operator): link down is reported, transmit refuses.
    ip(&["-n", ns.name(), "link", "set", "dev", &name, "down"]);
    wait_link(&mut board, false);
    assert_eq!(board.stats().link_down_events, 1);
    assert_eq!(board.transmit(now(), 60).err(), Some(LinkError::Down));

    // Up again: the same driver, descriptor and link carry traffic both ways.
    ns.set_up(&name).expect("set TAP up again");
    ns.wait_running(&name, WAIT).expect("TAP running again");
    wait_link(&mut board, true);
    send_data(&mut board, BOARD_MAC, 0xB0A2D, 4, b"back").unwrap();
    assert_eq!(recv_data(&mut host, 4, host_wait), b"back");
    send_data(&mut host, host_mac, 0x4057, 5, b"welcome back").unwrap();
    assert_eq!(recv_data(&mut board, 5, board_wait), b"welcome back");

    // The driver's own admin control, and wait_ready reporting the change.
    board.nic().driver().set_admin_up(false).expect("set down");
    let ready = block_on(board.wait_ready(), WAIT).expect("wait_ready woke on link change");
    assert_eq!(ready, Readiness::LinkChanged { up: false });
    board.nic().driver().set_admin_up(true).expect("set up");
    wait_link(&mut board, true);
    assert_eq!(board.stats().link_down_events, 2);
    let st = board.nic().driver().stats();
    assert!(st.rx_frames >= 3 && st.tx_frames >= 2, "{st:?}");
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let err = TapDriver::<1514>::open("", BOARD_MAC).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = TapDriver::<1514>::open("a/b", BOARD_MAC).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = TapDriver::<1514>::open("much-too-long-name", BOARD_MAC).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = TapDriver::<1514>::open("l2ok", MacAddr::BROADCAST).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

type Part = Participant<'static, 8, 16, 2, 2, 16, 4, 4>;

fn arena(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

fn participant(name: &'static str, id: u64, link: &impl RawLink) -> Part {
    let mut config = Config::new(DOMAIN, name);
    config.mtu = link.capabilities().mtu;
    Part::new(config, id, link.mac(), arena(64 << 10), now()).unwrap()
}

/// One round of a participant over its link: timers, drive, events dropped.
fn step(p: &mut Part, link: &mut impl RawLink) {
    let t = now();
    if p.poll_timeout().is_some_and(|d| d <= t) {
        p.handle_timeout(t);
    }
    match drive(p, link, t) {
        Ok(_) | Err(LinkError::Down) => {}
        Err(e) => panic!("drive: {e}"),
    }
}

#[test]
fn participants_on_the_embedded_link_and_on_af_packet_exchange_reliable_samples() {
    if !require_privileges(
        "participants_on_the_embedded_link_and_on_af_packet_exchange_reliable_samples",
    ) {
        return;
    }
    let ns = Netns::new("l2emb").expect("create namespace");
    let name = format!("l2e{}", unique_suffix());
    let tap_name = name.clone();
    let driver = ns
        .run(move || TapDriver::<1514>::open(&tap_name, BOARD_MAC))
        .expect("enter namespace")
        .expect("open TAP");
    ns.set_up(&name).expect("set TAP up");
    ns.wait_running(&name, WAIT).expect("TAP running");
    let mut board_link: EmbassyLink<TapDriver> =
        EmbassyLink::from_driver(driver).expect("Ethernet driver");
    let cfg = LinkConfig::new(&name);
    let mut host_link = ns
        .run(move || PlainLink::open(&cfg))
        .expect("enter namespace")
        .expect("AF_PACKET socket on the TAP interface");

    // The board: the embedded port's code path (EmbassyLink over an embassy driver).
    let mut board = participant("board", 0xB0A2D, &board_link);
    let board_out = board
        .create_writer(
            "board/out",
            "text",
            None,
            Qos::reliable(16),
            arena(16 << 10),
        )
        .unwrap();
    let board_in = board
        .create_reader("board/in", "text", None, Qos::reliable(16), arena(16 << 10))
        .unwrap();
    // The host: a Linux participant on AF_PACKET.
    let mut host = participant("host", 0x4057, &host_link);
    let host_in = host
        .create_reader(
            "board/out",
            "text",
            None,
            Qos::reliable(16),
            arena(16 << 10),
        )
        .unwrap();
    let host_out = host
        .create_writer("board/in", "text", None, Qos::reliable(16), arena(16 << 10))
        .unwrap();

    let deadline = StdInstant::now() + WAIT;
    let mut discovered = false;
    while !(board.writer_matches(board_out) > 0
        && board.reader_matches(board_in) > 0
        && host.writer_matches(host_out) > 0
        && host.reader_matches(host_in) > 0)
    {
        assert!(StdInstant::now() < deadline, "no match within {WAIT:?}");
        step(&mut board, &mut board_link);
        step(&mut host, &mut host_link);
        while let Some(e) = board.poll_event() {
            if let Event::ParticipantDiscovered { participant, .. } = e {
                discovered |= participant == 0x4057;
            }
        }
        while host.poll_event().is_some() {}
        thread::sleep(Duration::from_millis(1));
    }
    assert!(discovered, "the board discovered the host");

    // Ten samples each way, reliable, in order.
    for i in 0..10u32 {
        board
            .write(board_out, format!("to host {i}").as_bytes(), now())
            .unwrap();
        host.write(host_out, format!("to board {i}").as_bytes(), now())
            .unwrap();
    }
    let (mut at_host, mut at_board) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 256];
    let deadline = StdInstant::now() + WAIT;
    while at_host.len() < 10 || at_board.len() < 10 {
        assert!(
            StdInstant::now() < deadline,
            "samples missing: host got {at_host:?}, board got {at_board:?}"
        );
        step(&mut board, &mut board_link);
        step(&mut host, &mut host_link);
        while let Some(info) = host.take(host_in, &mut buf).unwrap() {
            at_host.push(String::from_utf8_lossy(&buf[..info.len]).into_owned());
        }
        while let Some(info) = board.take(board_in, &mut buf).unwrap() {
            at_board.push(String::from_utf8_lossy(&buf[..info.len]).into_owned());
        }
        thread::sleep(Duration::from_millis(1));
    }
    let want = |dir: &str| (0..10).map(|i| format!("to {dir} {i}")).collect::<Vec<_>>();
    assert_eq!(at_host, want("host"));
    assert_eq!(at_board, want("board"));
}
