//! A scripted device for unit tests: an embassy driver and a smoltcp device over in-memory queues.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::vec::Vec;

use l2net_core::{LinkError, MacAddr};

use crate::nic::MulticastFilter;

pub const DEV_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);

#[derive(Default)]
pub struct MockDev {
    pub rx: VecDeque<Vec<u8>>,
    pub sent: Vec<Vec<u8>>,
    /// Frames the device accepts before it has no room (None: unlimited).
    pub tx_room: Option<usize>,
    pub link_down: bool,
    pub max_frame: usize,
    pub joined: Vec<MacAddr>,
    /// The last waker registered by a call that found nothing to do.
    pub waker: Option<Waker>,
    pub rx_polls: Rc<Cell<usize>>,
}

impl MockDev {
    pub fn new() -> Self {
        MockDev {
            max_frame: 1514,
            ..Default::default()
        }
    }
    fn room(&self) -> bool {
        self.tx_room.is_none_or(|n| n > 0)
    }
    pub fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

pub struct MockRx<'a>(&'a mut VecDeque<Vec<u8>>);
pub struct MockTx<'a>(&'a mut Vec<Vec<u8>>, &'a mut Option<usize>);

impl MockTx<'_> {
    fn send<R>(self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut buf = std::vec![0xEEu8; len];
        let r = f(&mut buf);
        self.0.push(buf);
        if let Some(n) = self.1.as_mut() {
            *n -= 1;
        }
        r
    }
}

impl embassy_net_driver::RxToken for MockRx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let mut frame = self.0.pop_front().unwrap();
        f(&mut frame)
    }
}
impl embassy_net_driver::TxToken for MockTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.send(len, f)
    }
}
impl smoltcp::phy::RxToken for MockRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let frame = self.0.pop_front().unwrap();
        f(&frame)
    }
}
impl smoltcp::phy::TxToken for MockTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.send(len, f)
    }
}

impl embassy_net_driver::Driver for MockDev {
    type RxToken<'a> = MockRx<'a>;
    type TxToken<'a> = MockTx<'a>;
    fn receive(&mut self, cx: &mut Context) -> Option<(MockRx<'_>, MockTx<'_>)> {
        self.rx_polls.set(self.rx_polls.get() + 1);
        if self.rx.is_empty() || !self.room() {
            self.waker = Some(cx.waker().clone());
            return None;
        }
        Some((
            MockRx(&mut self.rx),
            MockTx(&mut self.sent, &mut self.tx_room),
        ))
    }
    fn transmit(&mut self, cx: &mut Context) -> Option<MockTx<'_>> {
        if !self.room() {
            self.waker = Some(cx.waker().clone());
            return None;
        }
        Some(MockTx(&mut self.sent, &mut self.tx_room))
    }
    fn link_state(&mut self, _cx: &mut Context) -> embassy_net_driver::LinkState {
        if self.link_down {
            embassy_net_driver::LinkState::Down
        } else {
            embassy_net_driver::LinkState::Up
        }
    }
    fn capabilities(&self) -> embassy_net_driver::Capabilities {
        let mut caps = embassy_net_driver::Capabilities::default();
        caps.max_transmission_unit = self.max_frame;
        caps
    }
    fn hardware_address(&self) -> embassy_net_driver::HardwareAddress {
        embassy_net_driver::HardwareAddress::Ethernet(DEV_MAC.0)
    }
}

impl smoltcp::phy::Device for MockDev {
    type RxToken<'a> = MockRx<'a>;
    type TxToken<'a> = MockTx<'a>;
    fn receive(&mut self, _t: smoltcp::time::Instant) -> Option<(MockRx<'_>, MockTx<'_>)> {
        if self.rx.is_empty() || !self.room() {
            return None;
        }
        Some((
            MockRx(&mut self.rx),
            MockTx(&mut self.sent, &mut self.tx_room),
        ))
    }
    fn transmit(&mut self, _t: smoltcp::time::Instant) -> Option<MockTx<'_>> {
        if self.room() {
            Some(MockTx(&mut self.sent, &mut self.tx_room))
        } else {
            None
        }
    }
    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        let mut caps = smoltcp::phy::DeviceCapabilities::default();
        caps.medium = smoltcp::phy::Medium::Ethernet;
        caps.max_transmission_unit = self.max_frame;
        caps
    }
}

impl MulticastFilter for MockDev {
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.joined.push(mac);
        Ok(())
    }
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.joined.retain(|m| *m != mac);
        Ok(())
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
pub struct CountWaker(pub AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn counting_waker() -> (Arc<CountWaker>, Waker) {
    let c = Arc::new(CountWaker::default());
    (c.clone(), Waker::from(c))
}

/// A frame to `dst` with `ethertype` and `len` bytes in all, after `tags` (TPID, TCI) pairs.
pub fn frame(dst: [u8; 6], tags: &[(u16, u16)], ethertype: u16, len: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    let mut i = 0u8;
    while f.len() < len {
        f.push(i);
        i = i.wrapping_add(1);
    }
    f
}
