//! Run the embedded code paths on Linux: [`TapDriver`], an [`embassy_net_driver::Driver`] over a
//! TAP device (`/dev/net/tun`, `IFF_TAP | IFF_NO_PI`). Feature `host`, Linux only.
//!
//! The driver plays the NIC of a virtual board whose wire is the TAP interface: frames the driver
//! transmits arrive on the interface (where an `AF_PACKET` socket, a bridge or the kernel's stack
//! sees them), frames the kernel sends out of the interface are the driver's receive path.
//!
//! * **Link state** is the interface's: up when it is administratively up and running (`IFF_UP`
//!   and `IFF_RUNNING`, read with `SIOCGIFFLAGS`). When it goes down, transmitted frames are
//!   dropped and counted (the kernel refuses them, as a NIC without link drops), and the driver
//!   keeps its descriptor: when the interface comes back up, traffic flows again.
//! * **Waking**: a small thread `poll`s the TAP descriptor while a task waits for a frame, and
//!   watches the interface flags every 100 ms, waking the registered waker on a frame or a link
//!   change. The [`RawLink`](l2net_core::RawLink) path (`NicLink` polling with a no-op waker)
//!   never involves it; [`TapDriver::wait_readable`] blocks a plain thread instead.
//! * **MAC**: the driver's own address is the one given to [`TapDriver::open`] (the board's),
//!   distinct from the TAP interface's (the host side's).
//!
//! All system calls are in `sys`.

mod sys;

use std::boxed::Box;
use std::format;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::string::String;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::thread::JoinHandle;
use std::time::Duration;
use std::vec;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use l2net_core::{LinkError, MacAddr};

use crate::nic::MulticastFilter;
use sys::IfName;

/// How often the waiter thread looks at the interface flags.
const FLAG_POLL_MS: i32 = 100;

/// Counters kept by a [`TapDriver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TapStats {
    /// Frames read from the TAP.
    pub rx_frames: u64,
    /// Frames longer than the driver's MTU, dropped.
    pub rx_oversize: u64,
    /// Reads that failed with something other than "nothing waiting".
    pub rx_errors: u64,
    /// Frames written to the TAP.
    pub tx_frames: u64,
    /// Frames the kernel refused (interface down: `EIO`), dropped.
    pub tx_dropped: u64,
    /// The errno of the last failed read or write.
    pub last_errno: Option<i32>,
}

struct Shared {
    waker: Mutex<Option<Waker>>,
    stop: AtomicBool,
}

impl Shared {
    fn register(&self, waker: &Waker) -> bool {
        if waker.will_wake(Waker::noop()) {
            return false;
        }
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some(w) if w.will_wake(waker) => false,
            _ => {
                *slot = Some(waker.clone());
                true
            }
        }
    }

    fn wake(&self) {
        let w = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = w {
            w.wake();
        }
    }

    fn waiting(&self) -> bool {
        self.waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// An embassy-net driver over a Linux TAP device. See the module docs.
pub struct TapDriver<const MTU: usize = 1514> {
    tap: Arc<OwnedFd>,
    ctl: Arc<OwnedFd>,
    kick: Arc<OwnedFd>,
    name: String,
    ifname: IfName,
    mac: MacAddr,
    /// One byte more than `MTU`, so that a longer frame shows up as a full buffer.
    rx_buf: Box<[u8]>,
    rx_len: Option<usize>,
    tx_buf: Box<[u8]>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    stats: TapStats,
}

impl<const MTU: usize> std::fmt::Debug for TapDriver<MTU> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapDriver")
            .field("name", &self.name)
            .field("mac", &self.mac)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<const MTU: usize> TapDriver<MTU> {
    /// Create (or attach to) the TAP device `name` in the calling thread's network namespace,
    /// acting as a NIC with address `mac`. The interface is left as it is (a new TAP is down:
    /// set it up with [`TapDriver::set_admin_up`] or `ip link set NAME up`).
    ///
    /// Errors: `InvalidInput` for a bad name or a multicast/zero `mac`, `PermissionDenied`
    /// without `CAP_NET_ADMIN`, `Busy` if another process holds the TAP's queue.
    pub fn open(name: &str, mac: MacAddr) -> io::Result<Self> {
        if mac.is_multicast() || mac == MacAddr::ZERO {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{mac} is not a unicast MAC address"),
            ));
        }
        let ifname = IfName::new(name)?;
        let (tap, name) = sys::open_tap(&ifname)?;
        let ifname = IfName::new(&name)?;
        let ctl = Arc::new(sys::control_socket()?);
        let tap = Arc::new(tap);
        let kick = Arc::new(sys::eventfd()?);
        let shared = Arc::new(Shared {
            waker: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let (tap, ctl, kick, shared) = (tap.clone(), ctl.clone(), kick.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("tap-waker-{name}"))
                .spawn(move || waiter(&tap, &ctl, &kick, &shared, ifname))?
        };
        Ok(TapDriver {
            tap,
            ctl,
            kick,
            name,
            ifname,
            mac,
            rx_buf: vec![0; MTU + 1].into_boxed_slice(),
            rx_len: None,
            tx_buf: vec![0; MTU].into_boxed_slice(),
            shared,
            thread: Some(thread),
            stats: TapStats::default(),
        })
    }

    /// The TAP interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counters.
    pub fn stats(&self) -> TapStats {
        self.stats
    }

    /// Whether the interface is up and running now.
    pub fn is_link_up(&self) -> io::Result<bool> {
        let flags = sys::if_flags(self.ctl.as_fd(), &self.ifname)?;
        Ok(link_up(flags))
    }

    /// Set the interface administratively up or down (`SIOCSIFFLAGS`, needs `CAP_NET_ADMIN`).
    pub fn set_admin_up(&self, up: bool) -> io::Result<()> {
        let flags = sys::if_flags(self.ctl.as_fd(), &self.ifname)?;
        let want = if up {
            flags | libc::IFF_UP
        } else {
            flags & !libc::IFF_UP
        };
        if want != flags {
            sys::set_if_flags(self.ctl.as_fd(), &self.ifname, want)?;
        }
        Ok(())
    }

    /// Block the calling thread until a frame can be read or `timeout` passes. True if readable.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        if self.rx_len.is_some() {
            return Ok(true);
        }
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let [ready] = sys::poll_readable([Some(self.tap.as_fd())], ms)?;
        Ok(ready)
    }

    /// Read the next frame into the receive buffer, if one is waiting.
    fn fetch(&mut self) -> bool {
        if self.rx_len.is_some() {
            return true;
        }
        loop {
            match sys::read(self.tap.as_fd(), &mut self.rx_buf) {
                Ok(n) if n > MTU => {
                    self.stats.rx_oversize += 1;
                    debug!("tap: dropped frame longer than {}", MTU);
                }
                Ok(n) => {
                    self.stats.rx_frames += 1;
                    self.rx_len = Some(n);
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stats.rx_errors += 1;
                    self.stats.last_errno = e.raw_os_error();
                    return false;
                }
            }
        }
    }

    fn register(&self, cx: &Context<'_>) {
        if self.shared.register(cx.waker()) {
            // Let the waiter thread add the TAP descriptor to its poll set now.
            sys::eventfd_signal(self.kick.as_fd());
        }
    }
}

fn link_up(flags: libc::c_int) -> bool {
    flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0
}

/// The waiter thread: wake the registered waker when the TAP is readable or the flags change.
fn waiter(tap: &OwnedFd, ctl: &OwnedFd, kick: &OwnedFd, shared: &Shared, ifname: IfName) {
    let mut last_flags = sys::if_flags(ctl.as_fd(), &ifname).ok();
    while !shared.stop.load(Ordering::Acquire) {
        let tap_fd = shared.waiting().then(|| tap.as_fd());
        let ready = match sys::poll_readable([Some(kick.as_fd()), tap_fd], FLAG_POLL_MS) {
            Ok(r) => r,
            Err(_) => {
                // poll itself failing (EINVAL, ENOMEM) leaves only a slow fallback: wake
                // the task so it polls the driver, and retry after a pause.
                shared.wake();
                std::thread::sleep(Duration::from_millis(FLAG_POLL_MS as u64));
                continue;
            }
        };
        if ready[0] {
            sys::eventfd_drain(kick.as_fd());
        }
        let flags = sys::if_flags(ctl.as_fd(), &ifname).ok();
        let changed = flags != last_flags;
        last_flags = flags;
        if ready[1] || changed {
            shared.wake();
        }
    }
}

impl<const MTU: usize> Drop for TapDriver<MTU> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        sys::eventfd_signal(self.kick.as_fd());
        if let Some(t) = self.thread.take() {
            // The thread only polls with a bounded timeout and cannot panic on its own inputs.
            let _ = t.join();
        }
    }
}

impl<const MTU: usize> AsFd for TapDriver<MTU> {
    /// The TAP queue descriptor, readable when a frame is waiting (for an external event loop).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.tap.as_fd()
    }
}

/// Receive token of a [`TapDriver`].
pub struct TapRx<'a> {
    buf: &'a mut [u8],
    len: &'a mut Option<usize>,
}

impl embassy_net_driver::RxToken for TapRx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let n = self.len.take().unwrap_or(0).min(self.buf.len());
        f(&mut self.buf[..n])
    }
}

/// Transmit token of a [`TapDriver`].
pub struct TapTx<'a> {
    tap: &'a OwnedFd,
    buf: &'a mut [u8],
    stats: &'a mut TapStats,
}

impl embassy_net_driver::TxToken for TapTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(self.buf.len());
        let r = f(&mut self.buf[..len]);
        match sys::write(self.tap.as_fd(), &self.buf[..len]) {
            Ok(_) => self.stats.tx_frames += 1,
            Err(e) => {
                // EIO: the interface is down. The frame is dropped, as on a NIC without link.
                self.stats.tx_dropped += 1;
                self.stats.last_errno = e.raw_os_error();
                debug!("tap: frame dropped on write");
            }
        }
        r
    }
}

impl<const MTU: usize> embassy_net_driver::Driver for TapDriver<MTU> {
    type RxToken<'a>
        = TapRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TapTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context) -> Option<(TapRx<'_>, TapTx<'_>)> {
        if !self.fetch() {
            self.register(cx);
            // A frame may have arrived between the read and the registration.
            if !self.fetch() {
                return None;
            }
        }
        Some((
            TapRx {
                buf: &mut self.rx_buf,
                len: &mut self.rx_len,
            },
            TapTx {
                tap: &self.tap,
                buf: &mut self.tx_buf,
                stats: &mut self.stats,
            },
        ))
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<TapTx<'_>> {
        // Writes to a TAP never block: the kernel takes the frame or refuses it at once.
        Some(TapTx {
            tap: &self.tap,
            buf: &mut self.tx_buf,
            stats: &mut self.stats,
        })
    }

    fn link_state(&mut self, cx: &mut Context) -> LinkState {
        self.register(cx);
        match self.is_link_up() {
            Ok(true) => LinkState::Up,
            // An interface that vanished or cannot be queried is no usable link.
            Ok(false) | Err(_) => LinkState::Down,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac.0)
    }
}

impl<const MTU: usize> MulticastFilter for TapDriver<MTU> {
    /// A TAP device hands the driver every frame the kernel sends out of the interface,
    /// multicast included: nothing to filter.
    fn join_multicast(&mut self, _mac: MacAddr) -> Result<(), LinkError> {
        Ok(())
    }
    fn leave_multicast(&mut self, _mac: MacAddr) -> Result<(), LinkError> {
        Ok(())
    }
}
