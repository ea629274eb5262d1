//! Network namespaces, veth pairs and TAP devices for tests and demos, made without shelling out.
//!
//! * [`Netns::new`] does what `ip netns add` does: a helper thread calls
//!   `unshare(CLONE_NEWNET)` and bind-mounts its `/proc/self/task/TID/ns/net` at
//!   `/run/netns/NAME`, so `ip netns exec NAME ...` works for debugging while it lives. The
//!   namespace keeps an rtnetlink socket opened inside it, so links are configured with netlink
//!   messages (built with `netlink-packet-route`) and no thread switch.
//! * [`Netns::run`] runs a closure on a dedicated thread that has `setns`-ed into the
//!   namespace. Sockets opened there stay in the namespace after the thread ends, so a test opens
//!   its links with `ns.run(|| PlainLink::open(...))` and uses them from its own thread.
//! * [`VethPair::new`] makes a veth pair with one end in each of two namespaces (one
//!   `RTM_NEWLINK` with `IFLA_NET_NS_FD` for both ends) and sets both ends up.
//! * [`Tap::new`] makes a TAP device (`IFF_TAP | IFF_NO_PI`) that [`Tap::move_to`] moves into a
//!   namespace.
//! * [`require_privileges`] lets a test skip cleanly without `CAP_NET_ADMIN`, `CAP_NET_RAW` and
//!   `CAP_SYS_ADMIN`, and turns the skip into a failure when `L2NET_REQUIRE_PRIVILEGED=1`.
//!
//! Every name is unique (it holds the process id and a counter), and everything is removed on
//! drop: the veth pair is deleted, the namespace unmounted (the kernel destroys it, and any
//! device left in it, when the last descriptor closes), the TAP device vanishes with its queue
//! descriptor.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netlink_packet_core::{
    DefaultNla, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkBuffer,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// `TCA_OPTIONS` (`linux/rtnetlink.h`).
const TCA_OPTIONS: u16 = 2;

use crate::error::{IfName, OpenError};
use crate::iface::{self, InterfaceInfo};
use crate::sys;

/// How long helpers wait for a link they set up to start running.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(10);

/// Directory where named network namespaces are mounted (as iproute2 does).
pub const NETNS_RUN_DIR: &str = "/run/netns";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A short suffix unique within this machine for the life of this process: the process id and
/// a counter, both in hex (`"1a2b-3"`), short enough for 15-byte interface names.
pub fn unique_suffix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{:x}", std::process::id(), n)
}

/// An rtnetlink socket bound in the namespace of the thread that opened it.
struct Rtnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    fn open() -> Result<Self, OpenError> {
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(|e| OpenError::os("socket(NETLINK_ROUTE)", &e))?;
        sock.bind_auto()
            .map_err(|e| OpenError::os("bind(NETLINK_ROUTE)", &e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| OpenError::os("connect(NETLINK_ROUTE)", &e))?;
        // The kernel answers at once; never hang a test on a lost reply.
        sys::socket::set_recv_timeout(sock.as_fd(), Duration::from_secs(10))
            .map_err(|e| OpenError::os("SO_RCVTIMEO", &e))?;
        Ok(Rtnl {
            sock,
            seq: 0,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Send one request with `NLM_F_ACK` and wait for its acknowledgement.
    fn request(
        &mut self,
        op: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<(), OpenError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut nl = NetlinkMessage::from(msg);
        nl.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nl.header.sequence_number = seq;
        nl.finalize();
        let mut out = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock.send(&out, 0).map_err(|e| OpenError::os(op, &e))?;
        loop {
            self.buf.clear();
            let n = self
                .sock
                .recv(&mut self.buf, 0)
                .map_err(|e| OpenError::os(op, &e))?;
            let mut data = &self.buf[..n.min(self.buf.len())];
            while !data.is_empty() {
                let Ok(hdr) = NetlinkBuffer::new_checked(data) else {
                    break;
                };
                let len = (hdr.length() as usize).min(data.len());
                if len < 16 {
                    break;
                }
                let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[..len]);
                data = &data[((len + 3) & !3usize).min(data.len())..];
                let Ok(msg) = parsed else { continue };
                if msg.header.sequence_number != seq {
                    continue;
                }
                if let NetlinkPayload::Error(e) = msg.payload {
                    return match e.code {
                        None => Ok(()),
                        Some(code) => {
                            let errno = -code.get();
                            Err(match errno {
                                libc::EPERM | libc::EACCES => {
                                    OpenError::NeedsCapNetAdmin { op, errno }
                                }
                                _ => OpenError::Os { op, errno },
                            })
                        }
                    };
                }
            }
        }
    }

    fn set_link(
        &mut self,
        op: &'static str,
        name: &str,
        attrs: Vec<LinkAttribute>,
        up: bool,
    ) -> Result<(), OpenError> {
        self.set_link_flags(op, name, attrs, if up { Some(true) } else { None })
    }

    fn set_link_flags(
        &mut self,
        op: &'static str,
        name: &str,
        attrs: Vec<LinkAttribute>,
        up: Option<bool>,
    ) -> Result<(), OpenError> {
        let mut msg = LinkMessage::default();
        if let Some(up) = up {
            msg.header.flags = if up {
                LinkFlags::Up
            } else {
                LinkFlags::empty()
            };
            msg.header.change_mask = LinkFlags::Up;
        }
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        msg.attributes.extend(attrs);
        self.request(op, RouteNetlinkMessage::NewLink(msg), 0)
    }

    fn delete_link(&mut self, name: &str) -> Result<(), OpenError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        self.request("RTM_DELLINK", RouteNetlinkMessage::DelLink(msg), 0)
    }
}

struct NsInner {
    name: String,
    path: CString,
    fd: OwnedFd,
    rtnl: Mutex<Rtnl>,
    /// A datagram socket in the namespace, for interface ioctls.
    query: OwnedFd,
}

impl Drop for NsInner {
    fn drop(&mut self) {
        // Nothing useful can be done with a failure here: the namespace dies with `fd` either way
        // once the mount is gone, and a stale mount point is harmless and visible to the operator.
        let _ = sys::netns::unmount_detach(&self.path);
        let _ = fs::remove_file(Path::new(self.path.to_str().unwrap_or("")));
    }
}

/// A named network namespace, removed when the last clone is dropped.
#[derive(Clone)]
pub struct Netns(Arc<NsInner>);

impl std::fmt::Debug for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netns").field("name", &self.0.name).finish()
    }
}

impl Netns {
    /// Create a namespace named `l2net-{prefix}-{pid}-{counter}`, mounted under
    /// [`NETNS_RUN_DIR`], with its loopback interface up.
    pub fn new(prefix: &str) -> Result<Netns, OpenError> {
        if prefix.is_empty() || prefix.contains('/') || prefix.contains('\0') {
            return Err(OpenError::InvalidConfig(
                "namespace prefix must be non-empty without '/' or NUL",
            ));
        }
        let name = format!("l2net-{prefix}-{}", unique_suffix());
        fs::create_dir_all(NETNS_RUN_DIR).map_err(|e| OpenError::os("mkdir /run/netns", &e))?;
        let path_str = format!("{NETNS_RUN_DIR}/{name}");
        let path = CString::new(path_str.clone())
            .map_err(|_| OpenError::InvalidConfig("namespace name contains NUL"))?;
        // The mount point: an empty file, as iproute2 makes it.
        File::options()
            .write(true)
            .create_new(true)
            .open(&path_str)
            .map_err(|e| OpenError::os("create /run/netns/NAME", &e))?;
        let made = std::thread::scope(|s| {
            s.spawn(|| -> Result<(OwnedFd, Rtnl, OwnedFd), OpenError> {
                sys::netns::unshare_net()
                    .map_err(|e| OpenError::os("unshare(CLONE_NEWNET)", &e))?;
                let tid = sys::netns::gettid();
                let src = CString::new(format!("/proc/self/task/{tid}/ns/net"))
                    .map_err(|_| OpenError::InvalidConfig("bad /proc path"))?;
                let fd: OwnedFd = File::open(src.to_str().unwrap_or(""))
                    .map_err(|e| OpenError::os("open ns/net", &e))?
                    .into();
                sys::netns::bind_mount(&src, &path)
                    .map_err(|e| OpenError::os("mount --bind ns/net", &e))?;
                let mut rtnl = Rtnl::open()?;
                rtnl.set_link("set lo up", "lo", Vec::new(), true)?;
                let query = sys::ioctl::query_socket().map_err(|e| OpenError::os("socket", &e))?;
                Ok((fd, rtnl, query))
            })
            .join()
        });
        match made {
            Ok(Ok((fd, rtnl, query))) => Ok(Netns(Arc::new(NsInner {
                name,
                path,
                fd,
                rtnl: Mutex::new(rtnl),
                query,
            }))),
            other => {
                let _ = sys::netns::unmount_detach(&path);
                let _ = fs::remove_file(&path_str);
                match other {
                    Ok(Err(e)) => Err(e),
                    _ => Err(OpenError::Os {
                        op: "namespace helper thread",
                        errno: libc::EIO,
                    }),
                }
            }
        }
    }

    /// The namespace's name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Where the namespace is mounted.
    pub fn path(&self) -> &Path {
        Path::new(self.0.path.to_str().unwrap_or(""))
    }

    /// Run `f` on a dedicated thread inside this namespace and return its result. Sockets and
    /// devices `f` opens belong to the namespace for their whole life. A panic in `f` is
    /// re-raised in the caller.
    pub fn run<F, R>(&self, f: F) -> Result<R, OpenError>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let fd = self.0.fd.as_fd();
        let joined = std::thread::scope(|s| {
            s.spawn(move || -> Result<R, OpenError> {
                sys::netns::setns_net(fd).map_err(|e| OpenError::os("setns(CLONE_NEWNET)", &e))?;
                Ok(f())
            })
            .join()
        });
        match joined {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    fn rtnl(&self) -> std::sync::MutexGuard<'_, Rtnl> {
        // A poisoned lock only means another thread panicked mid-request; the socket is still
        // usable (a stale reply is skipped by its sequence number).
        self.0.rtnl.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Set interface `ifname` (in this namespace) administratively up.
    pub fn set_up(&self, ifname: &str) -> Result<(), OpenError> {
        IfName::new(ifname)?;
        self.rtnl()
            .set_link("set link up", ifname, Vec::new(), true)
    }

    /// Set interface `ifname` (in this namespace) administratively down.
    pub fn set_down(&self, ifname: &str) -> Result<(), OpenError> {
        IfName::new(ifname)?;
        self.rtnl()
            .set_link_flags("set link down", ifname, Vec::new(), Some(false))
    }

    /// Give interface `ifname` a root `pfifo` qdisc holding at most `limit` frames (what
    /// `tc qdisc replace dev IFNAME root pfifo limit LIMIT` does). With `limit` 0 the qdisc
    /// refuses every frame with `ENOBUFS`: tests use it to provoke transmit backpressure.
    pub fn set_pfifo_qdisc(&self, ifname: &str, limit: u32) -> Result<(), OpenError> {
        let index = self.interface(ifname)?.index;
        let mut msg = TcMessage::default();
        msg.header.index = index as i32;
        msg.header.parent = TcHandle::ROOT;
        msg.header.handle = TcHandle { major: 1, minor: 0 };
        msg.attributes.push(TcAttribute::Kind("pfifo".into()));
        // struct tc_fifo_qopt { __u32 limit; } as raw TCA_OPTIONS.
        msg.attributes.push(TcAttribute::Other(DefaultNla::new(
            TCA_OPTIONS,
            limit.to_ne_bytes().to_vec(),
        )));
        self.rtnl().request(
            "RTM_NEWQDISC",
            RouteNetlinkMessage::NewQueueDiscipline(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
    }

    /// Remove interface `ifname`'s root qdisc, restoring the default.
    pub fn delete_root_qdisc(&self, ifname: &str) -> Result<(), OpenError> {
        let index = self.interface(ifname)?.index;
        let mut msg = TcMessage::default();
        msg.header.index = index as i32;
        msg.header.parent = TcHandle::ROOT;
        self.rtnl().request(
            "RTM_DELQDISC",
            RouteNetlinkMessage::DelQueueDiscipline(msg),
            0,
        )
    }

    /// Set the MTU of interface `ifname` (in this namespace).
    pub fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<(), OpenError> {
        IfName::new(ifname)?;
        self.rtnl()
            .set_link("set link mtu", ifname, vec![LinkAttribute::Mtu(mtu)], false)
    }

    /// What the kernel says about interface `ifname` in this namespace.
    pub fn interface(&self, ifname: &str) -> Result<InterfaceInfo, OpenError> {
        iface::query_on(self.0.query.as_fd(), &IfName::new(ifname)?)
    }

    /// Wait until interface `ifname` is operationally up (`IFF_RUNNING`). The kernel turns a
    /// link on asynchronously (its link watcher runs up to a second after the carrier comes
    /// up) and drops frames sent before that, so tests wait here before sending.
    pub fn wait_running(&self, ifname: &str, timeout: Duration) -> Result<(), OpenError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.interface(ifname)?.is_usable() {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(OpenError::Os {
                    op: "wait for link to run",
                    errno: libc::ETIMEDOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Delete interface `ifname` (in this namespace).
    pub fn delete_link(&self, ifname: &str) -> Result<(), OpenError> {
        IfName::new(ifname)?;
        self.rtnl().delete_link(ifname)
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

/// A veth pair with end `a` in one namespace and end `b` in another (or the same), deleted on
/// drop.
#[derive(Debug)]
pub struct VethPair {
    a_ns: Netns,
    b_ns: Netns,
    a_name: String,
    b_name: String,
}

impl VethPair {
    /// Create a veth pair `l2a-{pid}-{n}` (in `a`) / `l2b-{pid}-{n}` (in `b`), both ends up.
    pub fn new(a: &Netns, b: &Netns) -> Result<VethPair, OpenError> {
        let suffix = unique_suffix();
        let a_name = format!("l2a{suffix}");
        let b_name = format!("l2b{suffix}");
        IfName::new(&a_name)?;
        IfName::new(&b_name)?;
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName(b_name.clone()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(b.as_fd().as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(a_name.clone()));
        msg.attributes
            .push(LinkAttribute::NetNsFd(a.as_fd().as_raw_fd()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        a.rtnl().request(
            "RTM_NEWLINK veth",
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        let pair = VethPair {
            a_ns: a.clone(),
            b_ns: b.clone(),
            a_name,
            b_name,
        };
        a.set_up(&pair.a_name)?;
        b.set_up(&pair.b_name)?;
        a.wait_running(&pair.a_name, RUNNING_TIMEOUT)?;
        b.wait_running(&pair.b_name, RUNNING_TIMEOUT)?;
        Ok(pair)
    }

    /// Name of end `a`.
    pub fn a_name(&self) -> &str {
        &self.a_name
    }

    /// Name of end `b`.
    pub fn b_name(&self) -> &str {
        &self.b_name
    }

    /// Namespace of end `a`.
    pub fn a_ns(&self) -> &Netns {
        &self.a_ns
    }

    /// Namespace of end `b`.
    pub fn b_ns(&self) -> &Netns {
        &self.b_ns
    }

    /// Set the MTU of both ends (for example 9000 for jumbo frames) and wait until both run.
    pub fn set_mtu(&self, mtu: u32) -> Result<(), OpenError> {
        self.a_ns.set_mtu(&self.a_name, mtu)?;
        self.b_ns.set_mtu(&self.b_name, mtu)?;
        self.a_ns.wait_running(&self.a_name, RUNNING_TIMEOUT)?;
        self.b_ns.wait_running(&self.b_name, RUNNING_TIMEOUT)
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end deletes both. If it fails, the namespaces' destruction removes the
        // pair anyway.
        let _ = self.a_ns.delete_link(&self.a_name);
    }
}

/// A TAP device (`IFF_TAP | IFF_NO_PI`): frames the kernel sends out of the interface are read
/// from it, frames written to it arrive at the interface. The device exists while this value
/// lives.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
    ns: Option<Netns>,
}

impl Tap {
    /// Create a TAP device `l2t{pid}-{n}` in the calling thread's namespace. Its queue
    /// descriptor is non-blocking.
    pub fn new() -> Result<Tap, OpenError> {
        let name = format!("l2t{}", unique_suffix());
        let ifname = IfName::new(&name)?;
        let fd = sys::ioctl::tap_open(&ifname).map_err(|e| OpenError::os("TUNSETIFF", &e))?;
        Ok(Tap {
            file: File::from(fd),
            name,
            ns: None,
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace the device was moved to, if any.
    pub fn netns(&self) -> Option<&Netns> {
        self.ns.as_ref()
    }

    /// Move the device into `ns` and set it up there.
    pub fn move_to(&mut self, ns: &Netns) -> Result<(), OpenError> {
        let attrs = vec![LinkAttribute::NetNsFd(ns.as_fd().as_raw_fd())];
        match &self.ns {
            Some(cur) => cur
                .rtnl()
                .set_link("move link to netns", &self.name, attrs, false)?,
            None => Rtnl::open()?.set_link("move link to netns", &self.name, attrs, false)?,
        }
        self.ns = Some(ns.clone());
        ns.set_up(&self.name)?;
        ns.wait_running(&self.name, RUNNING_TIMEOUT)
    }

    /// Read one frame the kernel sent out of the interface. `WouldBlock` if none is waiting.
    pub fn read_frame(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Inject one frame so that the interface receives it.
    pub fn write_frame(&self, frame: &[u8]) -> io::Result<()> {
        let n = (&self.file).write(frame)?;
        if n == frame.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to TAP",
            ))
        }
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Run `f` on a dedicated thread whose effective capabilities are all dropped (the permitted
/// set is kept, so nothing else changes), to test how code behaves without privileges. The
/// thread shares the caller's network namespace.
pub fn without_capabilities<F, R>(f: F) -> Result<R, OpenError>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let joined = std::thread::scope(|s| {
        s.spawn(|| -> Result<R, OpenError> {
            sys::netns::clear_effective_caps().map_err(|e| OpenError::os("capset", &e))?;
            Ok(f())
        })
        .join()
    });
    match joined {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Linux capability numbers (`linux/capability.h`).
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// True if this process's effective capabilities include all the given ones.
fn has_caps(caps: &[u32]) -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let Some(eff) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    else {
        return false;
    };
    caps.iter().all(|&c| eff & (1u64 << c) != 0)
}

/// For privileged tests: `true` if this process may create namespaces, interfaces and raw
/// sockets (`CAP_NET_ADMIN`, `CAP_NET_RAW`, `CAP_SYS_ADMIN`). Otherwise it prints why `test`
/// is skipped and returns `false`, or panics (failing the test) when the environment has
/// `L2NET_REQUIRE_PRIVILEGED=1`, so that CI never passes by skipping.
pub fn require_privileges(test: &str) -> bool {
    if has_caps(&[CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN]) {
        return true;
    }
    let msg = format!(
        "{test}: needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN (run the tests as root) \
         to create network namespaces and veth pairs"
    );
    if std::env::var_os("L2NET_REQUIRE_PRIVILEGED").is_some_and(|v| v == "1") {
        panic!("{msg}; L2NET_REQUIRE_PRIVILEGED=1 forbids skipping");
    }
    eprintln!("SKIPPED {msg}");
    false
}
