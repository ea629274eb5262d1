//! The narrow interface between a network device and l2net's links: [`Nic`].
//!
//! embassy-net drivers ([`embassy_net_driver::Driver`]) and smoltcp devices
//! (`smoltcp::phy::Device`, feature `smoltcp`) both lend tokens whose buffers only exist inside a
//! `consume` closure. [`Nic`] is that shape reduced to what a [`RawLink`](l2net_core::RawLink)
//! needs, so that one generic link ([`NicLink`](crate::NicLink)) and one splitter
//! ([`Splitter`](crate::Splitter)) serve both ecosystems:
//!
//! * [`EmbassyNic`] adapts an embassy driver; wakers passed in `cx` are registered with it.
//! * [`SmoltcpNic`] adapts a smoltcp device (feature `smoltcp`); smoltcp devices have no wakers and
//!   no link state, so `cx` is ignored and the link is always up.
//!
//! Neither driver trait knows about multicast filters, which l2net needs (discovery and topic
//! MACs). A driver states what it does through [`MulticastFilter`]; a driver that already receives
//! every multicast frame can be wrapped in [`AllMulticast`].

use core::task::{Context, Waker};

use l2net_core::{Instant, LinkError, MacAddr};

/// A transmit token of a [`Nic`]: consuming it queues a frame of `len` bytes on the device.
pub trait NicTx {
    /// Fill `len` bytes in place and hand the frame to the device.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;
}

/// A network device as the links in this crate see it. See the module docs.
pub trait Nic {
    /// The device's transmit token.
    type Tx<'a>: NicTx
    where
        Self: 'a;

    /// Take one received frame, if one is waiting, and run `f` on its bytes (no FCS). When none is
    /// waiting the waker in `cx` is registered (devices with wakers) and `None` is returned.
    fn receive<R, F: FnOnce(&[u8]) -> R>(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        f: F,
    ) -> Option<R>;

    /// A transmit token if the device has room now; otherwise registers `cx` and returns `None`.
    fn transmit(&mut self, cx: &mut Context<'_>, now: Instant) -> Option<Self::Tx<'_>>;

    /// True when a frame is waiting to be received. May register `cx`. Devices without a readiness
    /// signal return `true` ("maybe"), so that a caller polls them instead of sleeping forever.
    fn poll_rx_ready(&mut self, cx: &mut Context<'_>) -> bool;

    /// Whether the link is up (PHY link, carrier). May register `cx` for a change.
    fn link_up(&mut self, cx: &mut Context<'_>) -> bool;

    /// The device's MAC address.
    fn mac(&self) -> MacAddr;

    /// Largest whole frame (destination MAC to end of payload, no FCS) the device carries.
    fn max_frame_len(&self) -> usize;

    /// Let frames sent to the multicast group `mac` in.
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError>;

    /// Stop receiving the multicast group `mac` (if nothing else needs it).
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError>;
}

/// How a driver filters multicast frames. Implemented by the drivers of this crate; implement it
/// for another driver, or wrap that driver in [`AllMulticast`] if it receives every multicast
/// frame anyway.
pub trait MulticastFilter {
    /// Let frames sent to the multicast group `mac` in.
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError>;
    /// Stop receiving the multicast group `mac`.
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError>;
}

impl<T: MulticastFilter + ?Sized> MulticastFilter for &mut T {
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        T::join_multicast(self, mac)
    }
    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        T::leave_multicast(self, mac)
    }
}

/// A driver that receives every multicast frame without being asked (a TAP device, a MAC
/// configured to pass all multicast). Joining and leaving succeed without doing anything, which is
/// only true for such drivers: do not wrap a driver that filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllMulticast<D>(pub D);

impl<D> MulticastFilter for AllMulticast<D> {
    fn join_multicast(&mut self, _mac: MacAddr) -> Result<(), LinkError> {
        Ok(())
    }
    fn leave_multicast(&mut self, _mac: MacAddr) -> Result<(), LinkError> {
        Ok(())
    }
}

impl<D: embassy_net_driver::Driver> embassy_net_driver::Driver for AllMulticast<D> {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;
    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.0.receive(cx)
    }
    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        self.0.transmit(cx)
    }
    fn link_state(&mut self, cx: &mut Context) -> embassy_net_driver::LinkState {
        self.0.link_state(cx)
    }
    fn capabilities(&self) -> embassy_net_driver::Capabilities {
        self.0.capabilities()
    }
    fn hardware_address(&self) -> embassy_net_driver::HardwareAddress {
        self.0.hardware_address()
    }
}

#[cfg(feature = "smoltcp")]
impl<D: smoltcp::phy::Device> smoltcp::phy::Device for AllMulticast<D> {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;
    fn receive(
        &mut self,
        timestamp: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.0.receive(timestamp)
    }
    fn transmit(&mut self, timestamp: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        self.0.transmit(timestamp)
    }
    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        self.0.capabilities()
    }
}

/// A context whose waker does nothing, for polling a driver from code that does not sleep on it
/// (the [`RawLink`](l2net_core::RawLink) calls, which must never block).
pub(crate) fn noop_context() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// Why an embassy driver cannot carry l2net.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum NicError {
    /// The driver's medium is not Ethernet (IP-only or IEEE 802.15.4).
    NotEthernet,
    /// The driver's frames are too small to hold an Ethernet header and an l2net header.
    FrameTooSmall {
        /// The largest frame the driver carries.
        max_frame_len: usize,
    },
}

impl core::fmt::Display for NicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NicError::NotEthernet => f.write_str("the driver's medium is not Ethernet"),
            NicError::FrameTooSmall { max_frame_len } => write!(
                f,
                "the driver carries frames of at most {max_frame_len} bytes, too small for l2net"
            ),
        }
    }
}

impl core::error::Error for NicError {}

/// Smallest frame a device must carry: the 60-byte Ethernet minimum (short frames are padded to it).
const MIN_USEFUL_FRAME: usize = l2net_core::wire::ethernet::MIN_FRAME_LEN;

/// An embassy-net driver as a [`Nic`].
#[derive(Debug)]
pub struct EmbassyNic<D> {
    driver: D,
    mac: MacAddr,
    max_frame_len: usize,
}

impl<D: embassy_net_driver::Driver + MulticastFilter> EmbassyNic<D> {
    /// Adapt `driver`. Fails if it is not an Ethernet driver or its frames are too small.
    // Always inlined, so that the driver is not copied through this frame (see `NicLink::new`).
    #[inline(always)]
    pub fn new(driver: D) -> Result<Self, NicError> {
        let mut nic = Self::unchecked(driver);
        nic.check()?;
        Ok(nic)
    }

    /// `driver` as it is, not yet checked: [`EmbassyNic::check`] fills in the MAC and the
    /// frame size. For building it in place (`NicLink::from_driver_in`): nothing borrows the
    /// driver before it is in its final place.
    #[inline(always)]
    pub(crate) fn unchecked(driver: D) -> Self {
        EmbassyNic {
            driver,
            mac: MacAddr::ZERO,
            max_frame_len: 0,
        }
    }

    /// The checks of [`EmbassyNic::new`], on a driver in place.
    pub(crate) fn check(&mut self) -> Result<(), NicError> {
        let driver = &self.driver;
        let mac = match driver.hardware_address() {
            embassy_net_driver::HardwareAddress::Ethernet(mac) => MacAddr(mac),
            _ => return Err(NicError::NotEthernet),
        };
        // For the Ethernet medium, embassy's "MTU" is the whole frame including the header.
        let max_frame_len = driver.capabilities().max_transmission_unit;
        if max_frame_len < MIN_USEFUL_FRAME {
            return Err(NicError::FrameTooSmall { max_frame_len });
        }
        self.mac = mac;
        self.max_frame_len = max_frame_len;
        Ok(())
    }

    /// The wrapped driver.
    pub fn driver(&self) -> &D {
        &self.driver
    }

    /// The wrapped driver, mutably.
    pub fn driver_mut(&mut self) -> &mut D {
        &mut self.driver
    }

    /// Give the driver back.
    pub fn into_inner(self) -> D {
        self.driver
    }
}

/// Transmit token of an [`EmbassyNic`].
pub struct EmbassyNicTx<T>(T);

impl<T: embassy_net_driver::TxToken> NicTx for EmbassyNicTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

impl<D: embassy_net_driver::Driver + MulticastFilter> Nic for EmbassyNic<D> {
    type Tx<'a>
        = EmbassyNicTx<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive<R, F: FnOnce(&[u8]) -> R>(
        &mut self,
        cx: &mut Context<'_>,
        _now: Instant,
        f: F,
    ) -> Option<R> {
        use embassy_net_driver::RxToken;
        let (rx, _tx) = self.driver.receive(cx)?;
        Some(rx.consume(|frame: &mut [u8]| f(frame)))
    }

    fn transmit(&mut self, cx: &mut Context<'_>, _now: Instant) -> Option<Self::Tx<'_>> {
        self.driver.transmit(cx).map(EmbassyNicTx)
    }

    fn poll_rx_ready(&mut self, cx: &mut Context<'_>) -> bool {
        // Dropping the tokens unconsumed leaves the frame in the driver (embassy's contract).
        self.driver.receive(cx).is_some()
    }

    fn link_up(&mut self, cx: &mut Context<'_>) -> bool {
        self.driver.link_state(cx) == embassy_net_driver::LinkState::Up
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.driver.join_multicast(mac)
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.driver.leave_multicast(mac)
    }
}

/// A smoltcp device as a [`Nic`] (feature `smoltcp`). smoltcp devices know neither their MAC
/// address nor their link state: the MAC is given to [`SmoltcpNic::new`] and the link is always up.
#[cfg(feature = "smoltcp")]
#[derive(Debug)]
pub struct SmoltcpNic<D> {
    device: D,
    mac: MacAddr,
    max_frame_len: usize,
}

#[cfg(feature = "smoltcp")]
impl<D: smoltcp::phy::Device + MulticastFilter> SmoltcpNic<D> {
    /// Adapt `device`, whose MAC address is `mac`. Fails unless the device's medium is Ethernet
    /// and its frames can hold an l2net header.
    // Always inlined, so that the device is not copied through this frame (see `NicLink::new`).
    #[inline(always)]
    pub fn new(device: D, mac: MacAddr) -> Result<Self, NicError> {
        let caps = device.capabilities();
        if caps.medium != smoltcp::phy::Medium::Ethernet {
            return Err(NicError::NotEthernet);
        }
        // smoltcp's Ethernet MTU includes the 14-byte header, like embassy's.
        let max_frame_len = caps.max_transmission_unit;
        if max_frame_len < MIN_USEFUL_FRAME {
            return Err(NicError::FrameTooSmall { max_frame_len });
        }
        Ok(SmoltcpNic {
            device,
            mac,
            max_frame_len,
        })
    }

    /// The wrapped device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The wrapped device, mutably.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// Give the device back.
    pub fn into_inner(self) -> D {
        self.device
    }
}

/// Convert the caller's monotonic time into smoltcp's.
#[cfg(feature = "smoltcp")]
pub(crate) fn smoltcp_instant(now: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(now.as_micros()).unwrap_or(i64::MAX))
}

/// Transmit token of a [`SmoltcpNic`].
#[cfg(feature = "smoltcp")]
pub struct SmoltcpNicTx<T>(T);

#[cfg(feature = "smoltcp")]
impl<T: smoltcp::phy::TxToken> NicTx for SmoltcpNicTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

#[cfg(feature = "smoltcp")]
impl<D: smoltcp::phy::Device + MulticastFilter> Nic for SmoltcpNic<D> {
    type Tx<'a>
        = SmoltcpNicTx<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive<R, F: FnOnce(&[u8]) -> R>(
        &mut self,
        _cx: &mut Context<'_>,
        now: Instant,
        f: F,
    ) -> Option<R> {
        use smoltcp::phy::RxToken;
        let (rx, _tx) = self.device.receive(smoltcp_instant(now))?;
        Some(rx.consume(f))
    }

    fn transmit(&mut self, _cx: &mut Context<'_>, now: Instant) -> Option<Self::Tx<'_>> {
        self.device.transmit(smoltcp_instant(now)).map(SmoltcpNicTx)
    }

    fn poll_rx_ready(&mut self, _cx: &mut Context<'_>) -> bool {
        true
    }

    fn link_up(&mut self, _cx: &mut Context<'_>) -> bool {
        true
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.device.join_multicast(mac)
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        self.device.leave_multicast(mac)
    }
}
