//! One NIC for l2net and an IP stack at the same time: the EtherType [`Splitter`].
//!
//! The splitter owns the device ([`Nic`]) and sorts received frames by EtherType (looking through
//! up to two VLAN tags): l2net frames (0x88B5) go to the [`L2Half`], everything else to the
//! [`IpHalf`]. Each half has a bounded receive queue of fixed slots; when a queue is full, further
//! frames for it are dropped and counted ([`SplitStats`]), as a NIC drops when its ring is full,
//! so a slow IP stack never starves l2net and the other way round.
//!
//! * The [`IpHalf`] is itself an [`embassy_net_driver::Driver`] (and, with feature `smoltcp`, a
//!   `smoltcp::phy::Device`): give it to embassy-net or to a smoltcp `Interface`.
//! * The [`L2Half`] is a [`Nic`], so `NicLink::new(l2_half)` is the [`RawLink`](l2net_core::RawLink)
//!   for the l2net engine.
//!
//! Transmit from either half goes straight to the device when it has room. A half hands out a
//! transmit token only while its one-frame *spill slot* is free: if the device lost its room
//! between the token and its use (another half took it), the frame waits in the spill slot and
//! leaves before any later frame of that half. So a token, once given, never fails.
//!
//! **Who talks to the device**: one task runs [`Splitter::run`] (async, sleeps on the device's
//! waker) or the application calls [`Splitter::pump`] from its loop or the NIC interrupt. Only the
//! pump reads the device; the halves wake when their queue fills or the link changes.
//!
//! **Locking**: state sits in an `embassy_sync` blocking mutex of the caller's choice:
//! `NoopRawMutex` when everything runs in one executor, `CriticalSectionRawMutex` when the halves
//! run at different interrupt priorities. No caller code runs under that lock except the
//! transmit closures (which fill a device buffer): the IP half moves each frame into its own
//! buffer first, because IP stacks transmit from inside their receive closure.
//!
//! RAM: `(L2Q + IPQ + 2) * MTU` bytes in the splitter, `MTU` more in the IP half.

use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Context, Poll, Waker};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::waitqueue::WakerRegistration;
use l2net_core::wire::ETHERTYPE_L2NET;
use l2net_core::{Instant, LinkError, MacAddr};

use crate::nic::{Nic, NicTx};

/// Most frames one pump round moves before yielding, so the pump never monopolises a core.
const PUMP_BURST: usize = 8;

/// True if `frame` is an l2net frame: EtherType 0x88B5, directly or behind one or two VLAN tags
/// (802.1Q 0x8100, 802.1ad 0x88A8). Short or malformed frames are not l2net.
pub fn is_l2net_frame(frame: &[u8]) -> bool {
    let mut at = 12;
    for _ in 0..3 {
        let (Some(&hi), Some(&lo)) = (frame.get(at), frame.get(at + 1)) else {
            return false;
        };
        match u16::from_be_bytes([hi, lo]) {
            ETHERTYPE_L2NET => return true,
            0x8100 | 0x88A8 => at += 4,
            _ => return false,
        }
    }
    false
}

/// Counters kept by a [`Splitter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct SplitStats {
    /// Frames queued for the l2net half.
    pub rx_l2net: u64,
    /// Frames queued for the IP half.
    pub rx_ip: u64,
    /// l2net frames dropped because the l2net queue was full.
    pub drop_l2net_full: u64,
    /// Other frames dropped because the IP queue was full.
    pub drop_ip_full: u64,
    /// Frames longer than a queue slot, queued truncated (l2net) or dropped (IP).
    pub rx_oversize: u64,
    /// Frames that had to wait in a spill slot because the device lost its room.
    pub tx_spilled: u64,
}

/// A bounded queue of `Q` frame slots of `MTU` bytes.
struct FrameQueue<const MTU: usize, const Q: usize> {
    slots: [[u8; MTU]; Q],
    lens: [usize; Q],
    head: usize,
    len: usize,
}

impl<const MTU: usize, const Q: usize> FrameQueue<MTU, Q> {
    const fn new() -> Self {
        FrameQueue {
            slots: [[0; MTU]; Q],
            lens: [0; Q],
            head: 0,
            len: 0,
        }
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn is_full(&self) -> bool {
        self.len == Q
    }
    /// Copy `frame` (at most `MTU` bytes of it) into the tail slot. The caller checked `is_full`.
    fn push(&mut self, frame: &[u8]) {
        let idx = (self.head + self.len) % Q;
        let n = frame.len().min(MTU);
        self.slots[idx][..n].copy_from_slice(&frame[..n]);
        self.lens[idx] = n;
        self.len += 1;
    }
    fn front_mut(&mut self) -> Option<&mut [u8]> {
        if self.len == 0 {
            return None;
        }
        let n = self.lens[self.head];
        Some(&mut self.slots[self.head][..n])
    }
    fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % Q;
            self.len -= 1;
        }
    }
}

/// One half's state: receive queue, spill slot, wakers.
struct Side<const MTU: usize, const Q: usize> {
    rx: FrameQueue<MTU, Q>,
    spill: [u8; MTU],
    spill_len: Option<usize>,
    rx_waker: WakerRegistration,
    tx_waker: WakerRegistration,
    tx_waiting: bool,
}

impl<const MTU: usize, const Q: usize> Side<MTU, Q> {
    const fn new() -> Self {
        Side {
            rx: FrameQueue::new(),
            spill: [0; MTU],
            spill_len: None,
            rx_waker: WakerRegistration::new(),
            tx_waker: WakerRegistration::new(),
            tx_waiting: false,
        }
    }
}

/// Register `cx`'s waker unless it is the no-op waker that the non-blocking calls poll with
/// (registering it would only evict, and spuriously wake, a task that really waits).
fn register(reg: &mut WakerRegistration, cx: &Context<'_>) {
    if !cx.waker().will_wake(Waker::noop()) {
        reg.register(cx.waker());
    }
}

/// Send a half's spilled frame if the device has room. True if the spill slot is free afterwards.
fn drain_spill<N: Nic, const MTU: usize, const Q: usize>(
    nic: &mut N,
    side: &mut Side<MTU, Q>,
    waker: &Waker,
    now: Instant,
) -> bool {
    let Some(len) = side.spill_len else {
        return true;
    };
    let mut cx = Context::from_waker(waker);
    match nic.transmit(&mut cx, now) {
        Some(token) => {
            token.consume(len, |buf| {
                let n = buf.len().min(len);
                buf[..n].copy_from_slice(&side.spill[..n]);
            });
            side.spill_len = None;
            true
        }
        None => false,
    }
}

struct Inner<N, const MTU: usize, const L2Q: usize, const IPQ: usize> {
    nic: N,
    l2: Side<MTU, L2Q>,
    ip: Side<MTU, IPQ>,
    /// The waker of the task running [`Splitter::run`]; every device call made by a half passes
    /// it, so the device always wakes the pump and never a half directly.
    pump_waker: Option<Waker>,
    link_up: bool,
    halves_taken: bool,
    last_now: Instant,
    stats: SplitStats,
}

impl<N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize> Inner<N, MTU, L2Q, IPQ> {
    /// One pump round; true if it stopped early and should run again soon.
    fn pump(&mut self, now: Instant) -> bool {
        self.last_now = now;
        let Inner {
            nic,
            l2,
            ip,
            pump_waker,
            link_up,
            stats,
            ..
        } = self;
        let waker = pump_waker.as_ref().unwrap_or(Waker::noop());

        if l2.spill_len.is_some() && drain_spill(nic, l2, waker, now) {
            l2.tx_waker.wake();
        }
        if ip.spill_len.is_some() && drain_spill(nic, ip, waker, now) {
            ip.tx_waker.wake();
        }

        let mut cx = Context::from_waker(waker);
        let mut moved = 0;
        while moved < PUMP_BURST {
            let got = nic.receive(&mut cx, now, |frame| {
                if is_l2net_frame(frame) {
                    if l2.rx.is_full() {
                        stats.drop_l2net_full += 1;
                    } else {
                        if frame.len() > MTU {
                            stats.rx_oversize += 1;
                        }
                        l2.rx.push(frame);
                        stats.rx_l2net += 1;
                        l2.rx_waker.wake();
                    }
                } else if frame.len() > MTU {
                    // A truncated IP packet is garbage to the stack: drop it.
                    stats.rx_oversize += 1;
                } else if ip.rx.is_full() {
                    stats.drop_ip_full += 1;
                } else {
                    ip.rx.push(frame);
                    stats.rx_ip += 1;
                    ip.rx_waker.wake();
                }
            });
            if got.is_none() {
                break;
            }
            moved += 1;
        }

        let up = nic.link_up(&mut cx);
        if up != *link_up {
            *link_up = up;
            if up {
                info!("splitter: link up");
            } else {
                warn!("splitter: link down");
            }
            for reg in [
                &mut l2.rx_waker,
                &mut l2.tx_waker,
                &mut ip.rx_waker,
                &mut ip.tx_waker,
            ] {
                reg.wake();
            }
        }

        if (l2.tx_waiting || ip.tx_waiting) && nic.transmit(&mut cx, now).is_some() {
            // Room appeared; the token is dropped unused (nothing is sent) and the halves retry.
            for side_waiting in [
                (&mut l2.tx_waiting, &mut l2.tx_waker),
                (&mut ip.tx_waiting, &mut ip.tx_waker),
            ] {
                if *side_waiting.0 {
                    *side_waiting.0 = false;
                    side_waiting.1.wake();
                }
            }
        }
        moved == PUMP_BURST
    }
}

/// Shares one NIC between l2net and an IP stack. See the module docs.
///
/// `MTU` is the slot size in bytes (a whole frame; default 1522), `L2Q` and `IPQ` the receive
/// queue depths of the two halves. RAM use is about `(L2Q + IPQ + 2) * MTU` bytes, plus `MTU`
/// in the [`IpHalf`].
pub struct Splitter<
    M: RawMutex,
    N,
    const MTU: usize = 1522,
    const L2Q: usize = 2,
    const IPQ: usize = 4,
> {
    inner: Mutex<M, RefCell<Inner<N, MTU, L2Q, IPQ>>>,
}

impl<M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    Splitter<M, N, MTU, L2Q, IPQ>
{
    /// A splitter over `nic`.
    pub fn new(nic: N) -> Self {
        let mut nic = nic;
        let link_up = nic.link_up(&mut Context::from_waker(Waker::noop()));
        Splitter {
            inner: Mutex::new(RefCell::new(Inner {
                nic,
                l2: Side::new(),
                ip: Side::new(),
                pump_waker: None,
                link_up,
                halves_taken: false,
                last_now: Instant::ZERO,
                stats: SplitStats::default(),
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner<N, MTU, L2Q, IPQ>) -> R) -> R {
        self.inner.lock(|cell| f(&mut cell.borrow_mut()))
    }

    /// The two halves. Returns `None` if they were already taken: each queue has one reader.
    pub fn split(
        &self,
    ) -> Option<(
        L2Half<'_, M, N, MTU, L2Q, IPQ>,
        IpHalf<'_, M, N, MTU, L2Q, IPQ>,
    )> {
        self.with(|inner| {
            if inner.halves_taken {
                return None;
            }
            inner.halves_taken = true;
            Some((
                L2Half { split: self },
                IpHalf {
                    split: self,
                    rx_buf: [0; MTU],
                    rx_len: None,
                },
            ))
        })
    }

    /// Counters.
    pub fn stats(&self) -> SplitStats {
        self.with(|inner| inner.stats)
    }

    /// One pump round without sleeping: send spilled frames, sort up to a burst of received
    /// frames into the queues, note link changes. Returns true if frames are still waiting in the
    /// device (call again). For loops and interrupt handlers that do not run [`Splitter::run`].
    pub fn pump(&self, now: Instant) -> bool {
        self.with(|inner| inner.pump(now))
    }

    /// Pump forever, sleeping on the device's waker between rounds. Run it in its own task.
    /// `now` reads the caller's monotonic clock (only smoltcp devices look at it).
    pub async fn run(&self, mut now: impl FnMut() -> Instant) -> ! {
        loop {
            poll_fn(|cx| {
                let again = self.with(|inner| {
                    match &inner.pump_waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => inner.pump_waker = Some(cx.waker().clone()),
                    }
                    inner.pump(now())
                });
                if again {
                    cx.waker().wake_by_ref();
                }
                Poll::<()>::Pending
            })
            .await;
        }
    }
}

/// Hand out a transmit token for `side` if its spill slot is free (draining it first if needed);
/// otherwise register interest.
fn tx_available<N: Nic, const MTU: usize, const Q: usize>(
    nic: &mut N,
    side: &mut Side<MTU, Q>,
    pump_waker: &Option<Waker>,
    cx: &Context<'_>,
    now: Instant,
) -> bool {
    let waker = pump_waker.as_ref().unwrap_or(Waker::noop());
    if drain_spill(nic, side, waker, now) {
        return true;
    }
    side.tx_waiting = true;
    register(&mut side.tx_waker, cx);
    false
}

/// Send `len` bytes written by `f` through the device, or into the spill slot if the device has
/// no room. The slot was free when the token was handed out and only this half uses it.
fn send_or_spill<N: Nic, const MTU: usize, const Q: usize, R>(
    nic: &mut N,
    side: &mut Side<MTU, Q>,
    pump_waker: &Option<Waker>,
    stats: &mut SplitStats,
    now: Instant,
    len: usize,
    f: impl FnOnce(&mut [u8]) -> R,
) -> R {
    let waker = pump_waker.as_ref().unwrap_or(Waker::noop());
    let mut cx = Context::from_waker(waker);
    if side.spill_len.is_none()
        && let Some(token) = nic.transmit(&mut cx, now)
    {
        return token.consume(len, f);
    }
    // The device has no room (another half took it after this token was handed out). The spill
    // slot was free when the token was handed out, only this half uses it, and the token borrows
    // the half, so the slot is still free: the frame waits there for the pump.
    stats.tx_spilled += 1;
    let n = len.min(MTU);
    let r = f(&mut side.spill[..n]);
    side.spill_len = Some(n);
    r
}

/// The l2net side of a [`Splitter`]: a [`Nic`] that sees only l2net frames.
/// Wrap it in [`NicLink`](crate::NicLink) for a [`RawLink`](l2net_core::RawLink).
pub struct L2Half<'a, M: RawMutex, N, const MTU: usize, const L2Q: usize, const IPQ: usize> {
    split: &'a Splitter<M, N, MTU, L2Q, IPQ>,
}

/// Transmit token of the [`L2Half`].
pub struct L2Tx<'a, M: RawMutex, N, const MTU: usize, const L2Q: usize, const IPQ: usize> {
    split: &'a Splitter<M, N, MTU, L2Q, IPQ>,
    now: Instant,
}

impl<M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize> NicTx
    for L2Tx<'_, M, N, MTU, L2Q, IPQ>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.split.with(|inner| {
            let Inner {
                nic,
                l2,
                pump_waker,
                stats,
                ..
            } = inner;
            send_or_spill(nic, l2, pump_waker, stats, self.now, len, f)
        })
    }
}

impl<'s, M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize> Nic
    for L2Half<'s, M, N, MTU, L2Q, IPQ>
{
    type Tx<'a>
        = L2Tx<'a, M, N, MTU, L2Q, IPQ>
    where
        Self: 'a;

    fn receive<R, F: FnOnce(&[u8]) -> R>(
        &mut self,
        cx: &mut Context<'_>,
        _now: Instant,
        f: F,
    ) -> Option<R> {
        self.split.with(|inner| match inner.l2.rx.front_mut() {
            Some(frame) => {
                let r = f(frame);
                inner.l2.rx.pop();
                Some(r)
            }
            None => {
                register(&mut inner.l2.rx_waker, cx);
                None
            }
        })
    }

    fn transmit(&mut self, cx: &mut Context<'_>, now: Instant) -> Option<Self::Tx<'_>> {
        let ok = self.split.with(|inner| {
            let Inner {
                nic,
                l2,
                pump_waker,
                ..
            } = inner;
            tx_available(nic, l2, pump_waker, cx, now)
        });
        ok.then_some(L2Tx {
            split: self.split,
            now,
        })
    }

    fn poll_rx_ready(&mut self, cx: &mut Context<'_>) -> bool {
        self.split.with(|inner| {
            if inner.l2.rx.is_empty() {
                register(&mut inner.l2.rx_waker, cx);
                false
            } else {
                true
            }
        })
    }

    fn link_up(&mut self, cx: &mut Context<'_>) -> bool {
        self.split.with(|inner| {
            register(&mut inner.l2.rx_waker, cx);
            inner.link_up
        })
    }

    fn mac(&self) -> MacAddr {
        self.split.with(|inner| inner.nic.mac())
    }

    fn max_frame_len(&self) -> usize {
        self.split.with(|inner| inner.nic.max_frame_len().min(MTU))
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.split.with(|inner| inner.nic.join_multicast(mac))
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.split.with(|inner| inner.nic.leave_multicast(mac))
    }
}

/// The IP side of a [`Splitter`]: an embassy-net driver (and smoltcp device) that sees every
/// frame except l2net's.
///
/// A frame is moved out of the shared queue into the half's own buffer before the stack reads
/// it, outside the splitter's lock: IP stacks transmit from inside their receive closure
/// (smoltcp answers an ARP request that way), which must not find the lock taken.
pub struct IpHalf<'a, M: RawMutex, N, const MTU: usize, const L2Q: usize, const IPQ: usize> {
    split: &'a Splitter<M, N, MTU, L2Q, IPQ>,
    rx_buf: [u8; MTU],
    /// Length of the frame waiting in `rx_buf` (its token was dropped unconsumed).
    rx_len: Option<usize>,
}

/// Receive token of the [`IpHalf`]: lends the half's receive buffer.
pub struct IpRx<'a> {
    buf: &'a mut [u8],
    len: &'a mut Option<usize>,
}

/// Transmit token of the [`IpHalf`].
pub struct IpTx<'a, M: RawMutex, N, const MTU: usize, const L2Q: usize, const IPQ: usize> {
    split: &'a Splitter<M, N, MTU, L2Q, IPQ>,
}

impl IpRx<'_> {
    fn consume_frame<R>(self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let n = self.len.take().unwrap_or(0).min(self.buf.len());
        f(&mut self.buf[..n])
    }
}

impl<M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    IpTx<'_, M, N, MTU, L2Q, IPQ>
{
    fn consume_frame<R>(self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        self.split.with(|inner| {
            let now = inner.last_now;
            let Inner {
                nic,
                ip,
                pump_waker,
                stats,
                ..
            } = inner;
            send_or_spill(nic, ip, pump_waker, stats, now, len, f)
        })
    }
}

impl embassy_net_driver::RxToken for IpRx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        self.consume_frame(f)
    }
}

impl<M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    embassy_net_driver::TxToken for IpTx<'_, M, N, MTU, L2Q, IPQ>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.consume_frame(len, f)
    }
}

impl<'s, M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    IpHalf<'s, M, N, MTU, L2Q, IPQ>
{
    /// A frame is in `rx_buf` and a transmit token can be given: move the front of the queue
    /// into `rx_buf` if needed, or register interest.
    fn rx_ready(&mut self, cx: Option<&Context<'_>>) -> bool {
        let (split, buf, len) = (self.split, &mut self.rx_buf, &mut self.rx_len);
        split.with(|inner| {
            let Inner {
                nic,
                ip,
                pump_waker,
                last_now,
                ..
            } = inner;
            if len.is_none() && ip.rx.is_empty() {
                if let Some(cx) = cx {
                    register(&mut ip.rx_waker, cx);
                }
                return false;
            }
            let noop = Context::from_waker(Waker::noop());
            if !tx_available(nic, ip, pump_waker, cx.unwrap_or(&noop), *last_now) {
                return false;
            }
            if len.is_none()
                && let Some(frame) = ip.rx.front_mut()
            {
                let n = frame.len().min(buf.len());
                buf[..n].copy_from_slice(&frame[..n]);
                *len = Some(n);
                ip.rx.pop();
            }
            len.is_some()
        })
    }

    fn tx_ready(&self, cx: Option<&Context<'_>>) -> bool {
        self.split.with(|inner| {
            let Inner {
                nic,
                ip,
                pump_waker,
                last_now,
                ..
            } = inner;
            let noop = Context::from_waker(Waker::noop());
            tx_available(nic, ip, pump_waker, cx.unwrap_or(&noop), *last_now)
        })
    }

    fn max_frame(&self) -> usize {
        self.split.with(|inner| inner.nic.max_frame_len().min(MTU))
    }
}

impl<'s, M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    embassy_net_driver::Driver for IpHalf<'s, M, N, MTU, L2Q, IPQ>
{
    type RxToken<'a>
        = IpRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = IpTx<'a, M, N, MTU, L2Q, IPQ>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if !self.rx_ready(Some(cx)) {
            return None;
        }
        Some((
            IpRx {
                buf: &mut self.rx_buf,
                len: &mut self.rx_len,
            },
            IpTx { split: self.split },
        ))
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        self.tx_ready(Some(cx))
            .then_some(IpTx { split: self.split })
    }

    fn link_state(&mut self, cx: &mut Context) -> embassy_net_driver::LinkState {
        self.split.with(|inner| {
            register(&mut inner.ip.rx_waker, cx);
            if inner.link_up {
                embassy_net_driver::LinkState::Up
            } else {
                embassy_net_driver::LinkState::Down
            }
        })
    }

    fn capabilities(&self) -> embassy_net_driver::Capabilities {
        let mut caps = embassy_net_driver::Capabilities::default();
        caps.max_transmission_unit = self.max_frame();
        caps
    }

    fn hardware_address(&self) -> embassy_net_driver::HardwareAddress {
        embassy_net_driver::HardwareAddress::Ethernet(self.split.with(|inner| inner.nic.mac()).0)
    }
}

#[cfg(feature = "smoltcp")]
impl smoltcp::phy::RxToken for IpRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.consume_frame(|frame| f(frame))
    }
}

#[cfg(feature = "smoltcp")]
impl<M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    smoltcp::phy::TxToken for IpTx<'_, M, N, MTU, L2Q, IPQ>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.consume_frame(len, f)
    }
}

#[cfg(feature = "smoltcp")]
impl<'s, M: RawMutex, N: Nic, const MTU: usize, const L2Q: usize, const IPQ: usize>
    smoltcp::phy::Device for IpHalf<'s, M, N, MTU, L2Q, IPQ>
{
    type RxToken<'a>
        = IpRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = IpTx<'a, M, N, MTU, L2Q, IPQ>
    where
        Self: 'a;

    fn receive(
        &mut self,
        _timestamp: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if !self.rx_ready(None) {
            return None;
        }
        Some((
            IpRx {
                buf: &mut self.rx_buf,
                len: &mut self.rx_len,
            },
            IpTx { split: self.split },
        ))
    }

    fn transmit(&mut self, _timestamp: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        self.tx_ready(None).then_some(IpTx { split: self.split })
    }

    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        let mut caps = smoltcp::phy::DeviceCapabilities::default();
        caps.medium = smoltcp::phy::Medium::Ethernet;
        caps.max_transmission_unit = self.max_frame();
        caps
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::vec::Vec;

    use embassy_net_driver::{Driver, RxToken as _, TxToken as _};
    use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    use l2net_core::{RawLink, RxFrame, TxToken as _};

    use super::*;
    use crate::NicLink;
    use crate::nic::{EmbassyNic, noop_context};
    use crate::testutil::{MockDev, counting_waker, frame};

    type Split = Splitter<NoopRawMutex, EmbassyNic<MockDev>, 1522, 2, 3>;

    fn splitter(dev: MockDev) -> Split {
        Splitter::new(EmbassyNic::new(dev).unwrap())
    }

    fn nic_sent(s: &Split) -> Vec<Vec<u8>> {
        s.with(|inner| inner.nic.driver().sent.clone())
    }

    fn push_rx(s: &Split, f: Vec<u8>) {
        s.with(|inner| inner.nic.driver_mut().rx.push_back(f));
    }

    const B: [u8; 6] = [0xFF; 6];

    #[test]
    fn classifies_by_ethertype_through_vlan_tags() {
        assert!(is_l2net_frame(&frame(B, &[], 0x88B5, 60)));
        assert!(is_l2net_frame(&frame(B, &[(0x8100, 5)], 0x88B5, 60)));
        assert!(is_l2net_frame(&frame(
            B,
            &[(0x88A8, 5), (0x8100, 6)],
            0x88B5,
            60
        )));
        assert!(!is_l2net_frame(&frame(
            B,
            &[(0x88A8, 5), (0x8100, 6), (0x8100, 7)],
            0x88B5,
            60
        )));
        assert!(!is_l2net_frame(&frame(B, &[], 0x0800, 60)));
        assert!(!is_l2net_frame(&frame(B, &[(0x8100, 5)], 0x0806, 60)));
        assert!(!is_l2net_frame(&[0xFF; 13]));
        assert!(!is_l2net_frame(&frame(B, &[(0x8100, 5)], 0x88B5, 60)[..17]));
    }

    #[test]
    fn sorts_frames_to_the_halves() {
        let mut dev = MockDev::new();
        let l2 = frame(B, &[(0x8100, 3)], 0x88B5, 80);
        let ip = frame(B, &[], 0x0800, 90);
        let arp = frame(B, &[], 0x0806, 60);
        dev.rx.extend([ip.clone(), l2.clone(), arp.clone()]);
        let s = splitter(dev);
        let (l2h, mut iph) = s.split().unwrap();
        assert!(s.split().is_none(), "halves are handed out once");
        assert!(!s.pump(Instant::ZERO));

        let mut link: NicLink<_> = NicLink::new(l2h);
        assert_eq!(
            link.receive(Instant::ZERO).unwrap().unwrap().data(),
            &l2[..]
        );
        assert!(link.receive(Instant::ZERO).unwrap().is_none());

        let mut cx = noop_context();
        let (rx, _tx) = iph.receive(&mut cx).unwrap();
        assert_eq!(rx.consume(|b| b.to_vec()), ip);
        let (rx, _tx) = iph.receive(&mut cx).unwrap();
        assert_eq!(rx.consume(|b| b.to_vec()), arp);
        assert!(iph.receive(&mut cx).is_none());
        let st = s.stats();
        assert_eq!((st.rx_l2net, st.rx_ip), (1, 2));
    }

    #[test]
    fn a_full_queue_drops_only_its_own_frames() {
        let mut dev = MockDev::new();
        for i in 0..4 {
            dev.rx.push_back(frame(B, &[], 0x88B5, 60 + i));
        }
        let ip = frame(B, &[], 0x0800, 70);
        dev.rx.push_back(ip.clone());
        let s = splitter(dev);
        let (_l2h, mut iph) = s.split().unwrap();
        s.pump(Instant::ZERO);
        let st = s.stats();
        assert_eq!((st.rx_l2net, st.drop_l2net_full, st.rx_ip), (2, 2, 1));
        let (rx, _) = iph.receive(&mut noop_context()).unwrap();
        assert_eq!(rx.consume(|b| b.to_vec()), ip);
    }

    #[test]
    fn pump_moves_a_bounded_burst() {
        let mut dev = MockDev::new();
        for _ in 0..(PUMP_BURST + 2) {
            dev.rx.push_back(frame(B, &[], 0x0806, 60));
        }
        let s = splitter(dev);
        assert!(s.pump(Instant::ZERO), "more is waiting after one burst");
    }

    #[test]
    fn both_halves_transmit_through_the_nic() {
        let s = splitter(MockDev::new());
        let (l2h, mut iph) = s.split().unwrap();
        let mut link: NicLink<_> = NicLink::new(l2h);
        let l2 = frame(B, &[], 0x88B5, 64);
        link.transmit(Instant::ZERO, 64)
            .unwrap()
            .unwrap()
            .consume(|b| b.copy_from_slice(&l2));
        let ip = frame(B, &[], 0x0800, 100);
        iph.transmit(&mut noop_context())
            .unwrap()
            .consume(100, |b| b.copy_from_slice(&ip));
        assert_eq!(nic_sent(&s), [l2, ip]);
        assert_eq!(iph.capabilities().max_transmission_unit, 1514);
        assert_eq!(link.capabilities().mtu, 1500);
    }

    #[test]
    fn a_token_whose_room_vanished_spills_and_keeps_order() {
        let s = splitter(MockDev::new());
        let (l2h, _iph) = s.split().unwrap();
        let mut link: NicLink<_> = NicLink::new(l2h);
        let first = frame(B, &[], 0x88B5, 60);
        let second = frame(B, &[], 0x88B5, 61);
        let tx = link.transmit(Instant::ZERO, 60).unwrap().unwrap();
        // Another user (the IP half, an interrupt) takes the device's last room meanwhile.
        s.with(|inner| inner.nic.driver_mut().tx_room = Some(0));
        tx.consume(|b| b.copy_from_slice(&first));
        assert_eq!(s.stats().tx_spilled, 1);
        assert!(nic_sent(&s).is_empty());
        // The spill slot is busy and the device full: no token, no loss.
        assert!(link.transmit(Instant::ZERO, 61).unwrap().is_none());
        s.with(|inner| inner.nic.driver_mut().tx_room = None);
        // The next token drains the spilled frame first.
        link.transmit(Instant::ZERO, 61)
            .unwrap()
            .unwrap()
            .consume(|b| b.copy_from_slice(&second));
        assert_eq!(nic_sent(&s), [first, second]);
    }

    #[test]
    fn run_sleeps_on_the_device_and_wakes_the_right_half() {
        let s = splitter(MockDev::new());
        let (mut l2h, mut iph) = s.split().unwrap();
        let (pump_count, pump_waker) = counting_waker();
        let (ip_count, ip_waker) = counting_waker();
        let (l2_count, l2_waker) = counting_waker();

        // The IP stack finds nothing and sleeps; so does the l2net task.
        assert!(iph.receive(&mut Context::from_waker(&ip_waker)).is_none());
        assert!(!l2h.poll_rx_ready(&mut Context::from_waker(&l2_waker)));

        let mut run = core::pin::pin!(s.run(|| Instant::ZERO));
        let mut pcx = Context::from_waker(&pump_waker);
        assert!(run.as_mut().poll(&mut pcx).is_pending());
        // The device holds the pump's waker, not a half's.
        s.with(|inner| {
            let w = inner.nic.driver().waker.clone().unwrap();
            assert!(w.will_wake(&pump_waker));
        });

        push_rx(&s, frame(B, &[], 0x0800, 60));
        s.with(|inner| inner.nic.driver_mut().wake());
        assert_eq!(pump_count.0.load(Ordering::SeqCst), 1);
        assert!(run.as_mut().poll(&mut pcx).is_pending());
        assert_eq!(ip_count.0.load(Ordering::SeqCst), 1, "IP half woken");
        assert_eq!(
            l2_count.0.load(Ordering::SeqCst),
            0,
            "l2net half left asleep"
        );

        push_rx(&s, frame(B, &[], 0x88B5, 60));
        assert!(run.as_mut().poll(&mut pcx).is_pending());
        assert_eq!(l2_count.0.load(Ordering::SeqCst), 1, "l2net half woken");
    }

    #[test]
    fn link_changes_reach_both_halves() {
        let s = splitter(MockDev::new());
        let (mut l2h, mut iph) = s.split().unwrap();
        let (ip_count, ip_waker) = counting_waker();
        let mut cx = Context::from_waker(&ip_waker);
        assert!(iph.link_state(&mut cx) == embassy_net_driver::LinkState::Up);
        s.with(|inner| inner.nic.driver_mut().link_down = true);
        s.pump(Instant::ZERO);
        assert_eq!(ip_count.0.load(Ordering::SeqCst), 1);
        assert!(iph.link_state(&mut cx) == embassy_net_driver::LinkState::Down);
        assert!(!l2h.link_up(&mut noop_context()));
        let mut link: NicLink<_> = NicLink::new(l2h);
        assert_eq!(
            link.transmit(Instant::ZERO, 60).err(),
            Some(LinkError::Down)
        );
    }

    #[test]
    fn multicast_goes_to_the_nic() {
        let s = splitter(MockDev::new());
        let (l2h, _) = s.split().unwrap();
        let mut link: NicLink<_> = NicLink::new(l2h);
        let g = MacAddr([0x03, 0x4C, 0x32, 0, 0, 9]);
        link.join_multicast(g).unwrap();
        assert_eq!(s.with(|inner| inner.nic.driver().joined.clone()), [g]);
    }

    #[cfg(feature = "smoltcp")]
    #[test]
    fn ip_half_is_a_smoltcp_device() {
        use smoltcp::phy::{Device, RxToken, TxToken};
        let mut dev = MockDev::new();
        let ip = frame(B, &[], 0x0800, 90);
        dev.rx.push_back(ip.clone());
        let s = splitter(dev);
        let (_l2h, mut iph) = s.split().unwrap();
        s.pump(Instant::ZERO);
        let t = smoltcp::time::Instant::ZERO;
        let (rx, tx) = Device::receive(&mut iph, t).unwrap();
        assert_eq!(RxToken::consume(rx, |b: &[u8]| b.to_vec()), ip);
        TxToken::consume(tx, 60, |b| b.fill(1));
        assert_eq!(nic_sent(&s), [std::vec![1u8; 60]]);
        assert_eq!(Device::capabilities(&iph).max_transmission_unit, 1514);
    }

    #[cfg(feature = "smoltcp")]
    #[test]
    fn smoltcp_answers_arp_while_l2net_frames_reach_the_l2net_half() {
        use smoltcp::iface::{Config as IfConfig, Interface, SocketSet, SocketStorage};
        use smoltcp::wire::{
            ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
            EthernetRepr, HardwareAddress, IpAddress, IpCidr, Ipv4Address,
        };

        let peer = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);
        let ours = Ipv4Address::new(10, 0, 0, 1);
        let theirs = Ipv4Address::new(10, 0, 0, 2);
        let eth = EthernetRepr {
            src_addr: peer,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: peer,
            source_protocol_addr: theirs,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ours,
        };
        let mut request = std::vec![0u8; eth.buffer_len() + arp.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut request[..]);
        eth.emit(&mut frame);
        arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));

        let l2 = frame_bytes_l2net();
        let mut dev = MockDev::new();
        dev.rx.extend([l2.clone(), request]);
        let s = splitter(dev);
        let (l2h, mut iph) = s.split().unwrap();
        s.pump(Instant::ZERO);

        let now = smoltcp::time::Instant::ZERO;
        let hw = HardwareAddress::Ethernet(EthernetAddress(crate::testutil::DEV_MAC.0));
        let mut iface = Interface::new(IfConfig::new(hw), &mut iph, now);
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(IpAddress::Ipv4(ours), 24)).unwrap();
        });
        let mut storage: [SocketStorage; 1] = Default::default();
        let mut sockets = SocketSet::new(&mut storage[..]);
        iface.poll(now, &mut iph, &mut sockets);

        // The IP stack answered through the shared NIC...
        let sent = nic_sent(&s);
        let reply = sent
            .iter()
            .find(|f| f.len() >= 14 && f[12..14] == [0x08, 0x06])
            .expect("an ARP reply left through the NIC");
        let reply = EthernetFrame::new_checked(&reply[..]).unwrap();
        assert_eq!(reply.dst_addr(), peer);
        let arp = ArpRepr::parse(&ArpPacket::new_checked(reply.payload()).unwrap()).unwrap();
        assert!(matches!(
            arp,
            ArpRepr::EthernetIpv4 { operation: ArpOperation::Reply, source_protocol_addr, .. }
                if source_protocol_addr == ours
        ));
        // ...and the l2net half got its frame, which the IP stack never saw.
        let mut link: NicLink<_> = NicLink::new(l2h);
        assert_eq!(
            link.receive(Instant::ZERO).unwrap().unwrap().data(),
            &l2[..]
        );
        let st = s.stats();
        assert_eq!((st.rx_l2net, st.rx_ip), (1, 1));
    }

    #[cfg(feature = "smoltcp")]
    fn frame_bytes_l2net() -> Vec<u8> {
        frame(B, &[(0x8100, 12)], 0x88B5, 90)
    }
}
