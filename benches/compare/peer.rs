//! The baselines written in the benchmark itself: a raw AF_PACKET ping-pong and flood (the floor
//! any raw-Ethernet stack pays: one send and one recv system call per frame) and the same over
//! UDP (what many users would pick instead). Each peer runs in one namespace, started by the
//! orchestrator, and prints one JSON line of results.
//!
//! ```text
//! peer raw-pong IFACE [busy|poll|ring]   peer udp-pong BIND_ADDR [busy]
//! peer raw-ping IFACE SIZE SECS [busy|poll|ring]
//!                                        peer udp-ping BIND_ADDR PEER_ADDR SIZE SECS [busy]
//! peer raw-sink IFACE SECS               peer udp-sink BIND_ADDR SECS
//! peer raw-flood IFACE SIZE SECS         peer udp-flood BIND_ADDR PEER_ADDR SIZE SECS
//! ```

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use l2net_core::{Instant as Instant0, RawLink, RxFrame, TxToken};
use l2net_linux::{Backend, LinkConfig, LinuxLink};

use crate::harness::{arg, num};
use crate::stats::{Latencies, cpu_time};

/// The floor uses IEEE local experimental EtherType 2, so it can never be confused with l2net.
const ETHERTYPE_FLOOR: u16 = 0x88B6;
const HDR: usize = 14;
/// Sequence number + padding up to the requested payload size.
const MIN_PAYLOAD: usize = 8;

type Res<T> = Result<T, String>;

fn busy(args: &[String], i: usize) -> bool {
    args.get(i).map(String::as_str) == Some("busy")
}

/// How a raw ping or pong waits for its frame.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// One blocking `recv`.
    Block,
    /// Non-blocking `recv` in a loop.
    Busy,
    /// `ppoll` on the socket and a wake-up socket, then a non-blocking `recv`.
    Poll,
    /// The `ppoll` wait on the link the l2net Node runs on (port-linux's [`LinuxLink`] with the
    /// frame-ring backend: frames read from a TPACKET_V2 ring, sent with `send`), without the
    /// engine and the Node: the floor of l2net's blocking round trip.
    Ring,
}

impl Wait {
    /// Whether the peer sleeps in `ppoll` (and so needs the wake-up socket and its watchdog).
    fn polls(self) -> bool {
        matches!(self, Wait::Poll | Wait::Ring)
    }
}

fn wait_mode(args: &[String], i: usize) -> Res<Wait> {
    match args.get(i).map(String::as_str) {
        None => Ok(Wait::Block),
        Some("busy") => Ok(Wait::Busy),
        Some("poll") => Ok(Wait::Poll),
        Some("ring") => Ok(Wait::Ring),
        Some(other) => Err(format!("bad wait mode {other:?} (busy, poll or ring)")),
    }
}

pub fn run(args: &[String]) -> Res<()> {
    let mode = arg(args, 0, "peer mode")?;
    let a = &args[1..];
    match mode {
        "raw-pong" => raw_pong(arg(a, 0, "IFACE")?, wait_mode(a, 1)?),
        "raw-ping" => raw_ping(
            arg(a, 0, "IFACE")?,
            num(a, 1, "SIZE")?,
            num(a, 2, "SECS")?,
            wait_mode(a, 3)?,
        ),
        "raw-sink" => raw_sink(arg(a, 0, "IFACE")?, num(a, 1, "SECS")?),
        "raw-flood" => raw_flood(arg(a, 0, "IFACE")?, num(a, 1, "SIZE")?, num(a, 2, "SECS")?),
        "udp-pong" => udp_pong(num(a, 0, "BIND_ADDR")?, busy(a, 1)),
        "udp-ping" => udp_ping(
            num(a, 0, "BIND_ADDR")?,
            num(a, 1, "PEER_ADDR")?,
            num(a, 2, "SIZE")?,
            num(a, 3, "SECS")?,
            busy(a, 4),
        ),
        "udp-sink" => udp_sink(num(a, 0, "BIND_ADDR")?, num(a, 1, "SECS")?),
        "udp-flood" => udp_flood(
            num(a, 0, "BIND_ADDR")?,
            num(a, 1, "PEER_ADDR")?,
            num(a, 2, "SIZE")?,
            num(a, 3, "SECS")?,
        ),
        other => Err(format!("unknown peer mode {other:?}")),
    }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

/// A raw AF_PACKET socket bound to one interface and the floor's EtherType.
struct Raw {
    fd: OwnedFd,
    mac: [u8; 6],
}

impl Raw {
    fn open(iface: &str) -> Res<Raw> {
        let name = CString::new(iface).map_err(|_| "interface name contains NUL".to_string())?;
        // SAFETY: if_nametoindex reads the NUL-terminated name only.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(format!("no interface named {iface}"));
        }
        let proto = ETHERTYPE_FLOOR.to_be();
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as i32) };
        if fd < 0 {
            return Err(os_err("socket(AF_PACKET) (needs CAP_NET_RAW: run as root)"));
        }
        // SAFETY: fd is a fresh, owned descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a valid sockaddr_ll of the size we pass.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(os_err("bind(AF_PACKET)"));
        }
        let mac = read_mac(iface)?;
        Ok(Raw { fd, mac })
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: frame is a valid buffer of frame.len() bytes.
            let n =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // The device queue is full: wait for it rather than drop the frame.
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) => std::thread::yield_now(),
                Some(libc::EINTR) => {}
                _ => return Err(e),
            }
        }
    }

    /// Receive one frame; `nonblock` returns `Ok(None)` at once when nothing is waiting.
    fn recv(&self, buf: &mut [u8], nonblock: bool) -> io::Result<Option<usize>> {
        let flags = if nonblock { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags,
            )
        };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(e),
        }
    }

    fn set_timeout(&self, d: Duration) -> Res<()> {
        let tv = libc::timeval {
            tv_sec: d.as_secs() as _,
            tv_usec: d.subsec_micros() as _,
        };
        // SAFETY: tv is a valid timeval of the size we pass.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        if rc < 0 {
            Err(os_err("setsockopt(SO_RCVTIMEO)"))
        } else {
            Ok(())
        }
    }
}

/// What a raw ping or pong sends and receives with: its own AF_PACKET socket, or the link the
/// l2net Node runs on ([`Wait::Ring`]).
enum Floor {
    Raw(Raw),
    Ring(Box<LinuxLink>),
}

impl Floor {
    fn open(iface: &str, wait: Wait) -> Res<Floor> {
        if wait != Wait::Ring {
            return Raw::open(iface).map(Floor::Raw);
        }
        let mut cfg = LinkConfig::new(iface).with_backend(Backend::FrameRing);
        cfg.ethertype = Some(ETHERTYPE_FLOOR);
        let (link, _) = LinuxLink::open(&cfg).map_err(|e| format!("open {iface}: {e}"))?;
        Ok(Floor::Ring(Box::new(link)))
    }

    fn fd(&self) -> RawFd {
        match self {
            Floor::Raw(r) => r.fd.as_raw_fd(),
            Floor::Ring(l) => l.as_raw_fd(),
        }
    }

    fn mac(&self) -> [u8; 6] {
        match self {
            Floor::Raw(r) => r.mac,
            Floor::Ring(l) => l.mac().0,
        }
    }

    fn send(&mut self, frame: &[u8]) -> Res<()> {
        match self {
            Floor::Raw(r) => r.send(frame).map_err(|e| format!("send: {e}")),
            Floor::Ring(l) => {
                let now = Instant0::from_nanos(0);
                let tx = l
                    .transmit(now, frame.len())
                    .map_err(|e| format!("transmit: {e}"))?
                    .ok_or("transmit: no free slot")?;
                tx.consume(|b| b.copy_from_slice(frame));
                // As `Raw::send`: wait for a device that pushed back rather than drop the frame.
                while !l
                    .flush(now)
                    .map_err(|e| format!("flush: {e}"))?
                    .is_complete()
                {
                    std::thread::yield_now();
                }
                Ok(())
            }
        }
    }

    /// Receive one frame into `buf` (the ring's view copied out, as the engine copies a
    /// sample); `nonblock` returns `Ok(None)` at once when nothing is waiting (the ring never
    /// blocks).
    fn recv(&mut self, buf: &mut [u8], nonblock: bool) -> Res<Option<usize>> {
        match self {
            Floor::Raw(r) => r.recv(buf, nonblock).map_err(|e| format!("recv: {e}")),
            Floor::Ring(l) => {
                let rx = l
                    .receive(Instant0::from_nanos(0))
                    .map_err(|e| format!("receive: {e}"))?;
                Ok(rx.map(|f| {
                    let d = f.data();
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    n
                }))
            }
        }
    }
}

/// A frame of the floor's EtherType from `src` to `dst` with `size` payload bytes (at least
/// the sequence number; padded to Ethernet's minimum).
fn floor_frame(src: [u8; 6], dst: [u8; 6], size: usize) -> Vec<u8> {
    let mut f = vec![0u8; (HDR + size.max(MIN_PAYLOAD)).max(60)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&ETHERTYPE_FLOOR.to_be_bytes());
    f
}

/// A wake-up socket pair, as a receiver that another thread can wake sleeps on beside its
/// packet socket.
struct Waker {
    rx: UnixStream,
    tx: UnixStream,
}

impl Waker {
    fn new() -> Res<Waker> {
        let (rx, tx) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        rx.set_nonblocking(true).map_err(|e| e.to_string())?;
        tx.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Waker { rx, tx })
    }

    /// `ppoll` on the wake-up socket and `raw` without a timeout; empties the wake-up socket
    /// if it was written.
    fn sleep(&self, fd: RawFd) -> Res<()> {
        let mut fds = [
            libc::pollfd {
                fd: self.rx.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of two pollfd structs for the duration of the call; a
        // null timeout sleeps until a descriptor is ready, a null mask keeps the thread's.
        let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, std::ptr::null(), std::ptr::null()) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("ppoll: {e}"));
            }
        }
        if fds[0].revents != 0 {
            let mut b = [0u8; 64];
            while matches!((&self.rx).read(&mut b), Ok(n) if n == b.len()) {}
        }
        Ok(())
    }
}

fn read_mac(iface: &str) -> Res<[u8; 6]> {
    let path = format!("/sys/class/net/{iface}/address");
    let s = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(format!("{path}: not a MAC address"));
    }
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).map_err(|_| format!("{path}: not a MAC address"))?;
    }
    Ok(mac)
}

fn raw_pong(iface: &str, wait: Wait) -> Res<()> {
    let mut s = Floor::open(iface, wait)?;
    let waker = Waker::new()?;
    let mut buf = vec![0u8; 65536];
    loop {
        if wait.polls() {
            waker.sleep(s.fd())?;
        }
        let Some(n) = s.recv(&mut buf, wait != Wait::Block)? else {
            continue;
        };
        if n < HDR {
            continue;
        }
        // Answer to the sender, from us: swap the addresses in place.
        let mut src = [0u8; 6];
        src.copy_from_slice(&buf[6..12]);
        buf[0..6].copy_from_slice(&src);
        buf[6..12].copy_from_slice(&s.mac());
        s.send(&buf[..n])?;
    }
}

fn raw_ping(iface: &str, size: usize, secs: f64, wait: Wait) -> Res<()> {
    let mut s = Floor::open(iface, wait)?;
    if let Floor::Raw(r) = &s {
        r.set_timeout(Duration::from_millis(200))?;
    }
    let waker = Waker::new()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = wait
        .polls()
        .then(|| {
            let tx = waker.tx.try_clone().map_err(|e| e.to_string())?;
            let stop = std::sync::Arc::clone(&stop);
            Ok::<_, String>(std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let _ = (&tx).write(&[1]);
                }
            }))
        })
        .transpose()?;

    let mut frame = floor_frame(s.mac(), [0xff; 6], size);
    let mut buf = vec![0u8; 65536];
    let mut lat = Latencies::with_capacity(4_000_000);
    let mut lost = 0u64;
    let warmup_end = Instant::now() + Duration::from_millis(300);
    let end = warmup_end + Duration::from_secs_f64(secs);
    let mut seq = 0u64;
    let cpu0 = cpu_time();
    while Instant::now() < end {
        seq += 1;
        frame[HDR..HDR + 8].copy_from_slice(&seq.to_be_bytes());
        let t0 = Instant::now();
        s.send(&frame)?;
        loop {
            if wait.polls() {
                waker.sleep(s.fd())?;
            }
            match s.recv(&mut buf, wait != Wait::Block)? {
                Some(n) if n >= HDR + 8 && buf[HDR..HDR + 8] == seq.to_be_bytes() => {
                    if t0 >= warmup_end {
                        lat.record(t0.elapsed());
                    }
                    break;
                }
                Some(_) => {}
                None if wait == Wait::Block || t0.elapsed() > Duration::from_millis(200) => {
                    lost += 1;
                    break;
                }
                None => {}
            }
        }
    }
    let cpu = cpu_time() - cpu0;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(w) = watchdog {
        let _ = w.join();
    }
    let sum = lat.summary();
    println!(
        "{{\"kind\":\"latency\",\"lost\":{lost},\"cpu_ns_per_rt\":{:.0},\"lat\":{}}}",
        cpu.as_nanos() as f64 / sum.count.max(1) as f64,
        sum.to_json()
    );
    Ok(())
}

/// Counts frames for `secs` after the first one arrives (or until 2 s pass with nothing).
fn sink_loop(mut recv_one: impl FnMut() -> Res<bool>, secs: f64) -> Res<()> {
    let start_wait = Instant::now();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut count = 0u64;
    let cpu0 = cpu_time();
    loop {
        let now = Instant::now();
        match first {
            None if now - start_wait > Duration::from_secs(10) => break,
            Some(f) if now - f > Duration::from_secs_f64(secs) => break,
            Some(_) if now - last > Duration::from_secs(2) => break,
            _ => {}
        }
        if recv_one()? {
            last = Instant::now();
            first.get_or_insert(last);
            count += 1;
        }
    }
    let cpu = cpu_time() - cpu0;
    let span = first.map_or(0.0, |f| (last - f).as_secs_f64());
    println!(
        "{{\"kind\":\"sink\",\"delivered\":{count},\"per_sec\":{:.0},\"cpu_ns_per_sample\":{:.0}}}",
        if span > 0.0 { count as f64 / span } else { 0.0 },
        cpu.as_nanos() as f64 / count.max(1) as f64
    );
    Ok(())
}

fn raw_sink(iface: &str, secs: f64) -> Res<()> {
    let s = Raw::open(iface)?;
    s.set_timeout(Duration::from_millis(100))?;
    let mut buf = vec![0u8; 65536];
    sink_loop(
        || {
            Ok(s.recv(&mut buf, false)
                .map_err(|e| format!("recv: {e}"))?
                .is_some())
        },
        secs,
    )
}

fn flood_loop(mut send_one: impl FnMut(u64) -> Res<()>, secs: f64) -> Res<()> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    while Instant::now() < end {
        // Check the clock once per 64 sends to keep it out of the measurement.
        for _ in 0..64 {
            sent += 1;
            send_one(sent)?;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu0;
    println!(
        "{{\"kind\":\"flood\",\"sent\":{sent},\"per_sec\":{:.0},\"cpu_ns_per_sample\":{:.0}}}",
        sent as f64 / elapsed,
        cpu.as_nanos() as f64 / sent.max(1) as f64
    );
    Ok(())
}

fn raw_flood(iface: &str, size: usize, secs: f64) -> Res<()> {
    let s = Raw::open(iface)?;
    let mut frame = floor_frame(s.mac, [0xff; 6], size);
    flood_loop(
        |seq| {
            frame[HDR..HDR + 8].copy_from_slice(&seq.to_be_bytes());
            s.send(&frame).map_err(|e| format!("send: {e}"))
        },
        secs,
    )
}

fn udp_bind(addr: SocketAddr) -> Res<UdpSocket> {
    UdpSocket::bind(addr).map_err(|e| format!("bind {addr}: {e}"))
}

fn udp_pong(bind: SocketAddr, busy: bool) -> Res<()> {
    let s = udp_bind(bind)?;
    s.set_nonblocking(busy).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65536];
    loop {
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                s.send_to(&buf[..n], from)
                    .map_err(|e| format!("send_to: {e}"))?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("recv_from: {e}")),
        }
    }
}

fn udp_ping(bind: SocketAddr, peer: SocketAddr, size: usize, secs: f64, busy: bool) -> Res<()> {
    let s = udp_bind(bind)?;
    s.connect(peer)
        .map_err(|e| format!("connect {peer}: {e}"))?;
    s.set_nonblocking(busy).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let mut msg = vec![0u8; size.max(MIN_PAYLOAD)];
    let mut buf = vec![0u8; 65536];
    let mut lat = Latencies::with_capacity(4_000_000);
    let mut lost = 0u64;
    let warmup_end = Instant::now() + Duration::from_millis(300);
    let end = warmup_end + Duration::from_secs_f64(secs);
    let mut seq = 0u64;
    let cpu0 = cpu_time();
    while Instant::now() < end {
        seq += 1;
        msg[..8].copy_from_slice(&seq.to_be_bytes());
        let t0 = Instant::now();
        s.send(&msg).map_err(|e| format!("send: {e}"))?;
        loop {
            match s.recv(&mut buf) {
                Ok(n) if n >= 8 && buf[..8] == seq.to_be_bytes() => {
                    if t0 >= warmup_end {
                        lat.record(t0.elapsed());
                    }
                    break;
                }
                Ok(_) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    if !busy || t0.elapsed() > Duration::from_millis(200) {
                        lost += 1;
                        break;
                    }
                }
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
    }
    let cpu = cpu_time() - cpu0;
    let sum = lat.summary();
    println!(
        "{{\"kind\":\"latency\",\"lost\":{lost},\"cpu_ns_per_rt\":{:.0},\"lat\":{}}}",
        cpu.as_nanos() as f64 / sum.count.max(1) as f64,
        sum.to_json()
    );
    Ok(())
}

fn udp_sink(bind: SocketAddr, secs: f64) -> Res<()> {
    let s = udp_bind(bind)?;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65536];
    sink_loop(
        || match s.recv(&mut buf) {
            Ok(_) => Ok(true),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Ok(false)
            }
            Err(e) => Err(format!("recv: {e}")),
        },
        secs,
    )
}

fn udp_flood(bind: SocketAddr, peer: SocketAddr, size: usize, secs: f64) -> Res<()> {
    let s = udp_bind(bind)?;
    s.connect(peer)
        .map_err(|e| format!("connect {peer}: {e}"))?;
    let mut msg = vec![0u8; size.max(MIN_PAYLOAD)];
    flood_loop(
        |seq| {
            msg[..8].copy_from_slice(&seq.to_be_bytes());
            loop {
                match s.send(&msg) {
                    Ok(_) => return Ok(()),
                    // The socket or device queue is full: wait, never drop.
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => std::thread::yield_now(),
                    // Nobody listening yet (ICMP port unreachable came back): keep going.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(()),
                    Err(e) => return Err(format!("send: {e}")),
                }
            }
        },
        secs,
    )
}
