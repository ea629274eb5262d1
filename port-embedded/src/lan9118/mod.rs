//! Driver for the SMSC LAN9118 family (LAN9118/9218/9220/9221 and the LAN911x register set), the
//! Ethernet controller of Arm's MPS2 FPGA boards and of QEMU's `mps2-an385`/`mps2-an386` machines
//! (at [`MPS2_BASE`]), as an [`embassy_net_driver::Driver`].
//!
//! The chip is reached through 32-bit registers only, abstracted by [`Registers`] so that the whole
//! driver runs on the host against a register-level model (the unit tests at the bottom). On the
//! target, [`mmio::Mmio`] is the real bus (the only `unsafe` of this driver).
//!
//! * **Bring-up** ([`Lan9118::new`]): bus check through `BYTE_TEST`, soft reset (`HW_CFG.SRST`) and
//!   wait for `PMT_CTRL.READY`, FIFO and flow-control setup, MAC address through the MAC CSR
//!   indirect registers (`MAC_CSR_CMD`/`MAC_CSR_DATA` to `ADDRH`/`ADDRL`), PHY reset and
//!   auto-negotiation through the MAC's MII (`MII_ACC`/`MII_DATA`), then `MAC_CR` with TX and RX on,
//!   broadcast in, multicast through the 64-bit hash filter (see [`MulticastFilter`]).
//! * **TX**: the frame is written into the TX data FIFO as command word A (first and last segment,
//!   buffer size), command word B (tag, packet length) and the data words, little-endian. The MAC
//!   appends the FCS. The TX status FIFO may overrun (`TXSAO`); statuses that are there are read
//!   and errors counted.
//! * **RX**: one status word from the RX status FIFO gives the length (FCS included) and the error
//!   summary; the data follow in `ceil(len / 4)` words of the RX data FIFO. Bad frames are read
//!   out and counted, never handed up.
//! * **Link**: the PHY's basic status register (read twice, the link bit latches low); on link-up
//!   the MAC's duplex follows the auto-negotiation result.
//!
//! Waking: in [`WakeMode::Poll`] the driver asks the executor to poll it again whenever it has
//! nothing (simple, busy). In [`WakeMode::Interrupt`] it arms the chip's RX-status, TX-space and
//! PHY interrupts and sleeps; the NIC's interrupt handler calls [`on_interrupt`].

pub mod mmio;
pub mod regs;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use core::task::Context;

use embassy_sync::waitqueue::AtomicWaker;
use l2net_core::{LinkError, MacAddr};

use crate::nic::MulticastFilter;
use regs::*;

/// Base address of the LAN9118 on Arm MPS2 boards (and QEMU's `mps2-an385`/`mps2-an386`).
pub const MPS2_BASE: usize = 0x4020_0000;

/// Largest frame (without FCS) the driver handles by default: 1500-byte payload, 14-byte header.
pub const DEFAULT_MTU: usize = 1514;

/// How many register polls a bounded wait (reset, MAC CSR, MII) makes before it gives up.
const WAIT_POLLS: u32 = 100_000;

/// Most frames read from the RX FIFO in one `receive` call while skipping bad ones.
const RX_SKIP_BURST: usize = 8;

/// 32-bit access to the chip's registers, by byte offset from its base address.
pub trait Registers {
    /// Read the register at `offset`. FIFO ports pop on read.
    fn read(&mut self, offset: u32) -> u32;
    /// Write `value` to the register at `offset`. FIFO ports push on write.
    fn write(&mut self, offset: u32, value: u32);
}

impl<T: Registers + ?Sized> Registers for &mut T {
    fn read(&mut self, offset: u32) -> u32 {
        T::read(self, offset)
    }
    fn write(&mut self, offset: u32, value: u32) {
        T::write(self, offset, value)
    }
}

/// How the driver gets the executor to poll it again.
#[derive(Clone, Copy, Default)]
pub enum WakeMode {
    /// Wake at once whenever there is nothing to do: the executor keeps polling (no interrupt
    /// needed; burns the CPU while idle).
    #[default]
    Poll,
    /// Arm the chip's interrupts and sleep until the interrupt handler calls [`on_interrupt`]
    /// with this waker. The chip's IRQ line is configured push-pull, active high.
    Interrupt(&'static AtomicWaker),
}

impl core::fmt::Debug for WakeMode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            WakeMode::Poll => "Poll",
            WakeMode::Interrupt(_) => "Interrupt",
        })
    }
}

/// Driver configuration.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Config {
    /// The MAC address to program. `None` keeps the one the chip loaded from its EEPROM (QEMU
    /// provides one); bring-up fails if that is not a valid unicast address.
    pub mac: Option<MacAddr>,
    /// How the driver is woken.
    pub wake: WakeMode,
}

impl Config {
    /// Use `mac` as the MAC address.
    pub fn with_mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }
    /// Use `wake` to get polled again.
    pub fn with_wake(mut self, wake: WakeMode) -> Self {
        self.wake = wake;
        self
    }
}

/// Why bring-up failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// `BYTE_TEST` did not read 0x87654321: wrong base address, no chip, or wrong bus width or
    /// byte order. `read` is what it read.
    BusCheck {
        /// The value read.
        read: u32,
    },
    /// The soft reset did not complete (`HW_CFG.SRST` stayed set or `PMT_CTRL.READY` stayed clear).
    ResetTimeout,
    /// A MAC CSR access stayed busy.
    MacCsrTimeout,
    /// An MII (PHY) access stayed busy.
    MiiTimeout,
    /// The PHY answers all-ones or zero: none at the internal address.
    NoPhy,
    /// No MAC address was given and the chip has no valid unicast one.
    NoMacAddress,
    /// The configured MAC address is multicast or all-zero.
    BadMacAddress,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::BusCheck { read } => write!(
                f,
                "LAN9118 BYTE_TEST read {read:#010x} instead of 0x87654321 (wrong address or bus)"
            ),
            Error::ResetTimeout => f.write_str("LAN9118 soft reset did not complete"),
            Error::MacCsrTimeout => f.write_str("LAN9118 MAC CSR access timed out"),
            Error::MiiTimeout => f.write_str("LAN9118 MII (PHY) access timed out"),
            Error::NoPhy => f.write_str("LAN9118 internal PHY does not answer"),
            Error::NoMacAddress => {
                f.write_str("no MAC address configured and the LAN9118 EEPROM has none")
            }
            Error::BadMacAddress => f.write_str("MAC address is multicast or zero"),
        }
    }
}

impl core::error::Error for Error {}

/// Counters kept by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Frames received and handed up.
    pub rx_frames: u32,
    /// Frames the MAC marked bad (CRC, runt, too long...), read out and dropped.
    pub rx_errors: u32,
    /// Frames too long for the driver's buffer or shorter than a header, dropped.
    pub rx_bad_length: u32,
    /// Frames written to the TX FIFO.
    pub tx_frames: u32,
    /// TX statuses reporting an error.
    pub tx_errors: u32,
    /// Times the link went down.
    pub link_down: u32,
}

/// The interrupt handler's part in [`WakeMode::Interrupt`]: mask the chip's interrupts (the level
/// line stays asserted until the driver clears the cause) and wake the driver's task.
///
/// `regs` is a second handle on the same chip, for example
/// `unsafe { Mmio::new(MPS2_BASE) }` made in the handler.
pub fn on_interrupt(regs: &mut impl Registers, waker: &AtomicWaker) {
    regs.write(INT_EN, 0);
    waker.wake();
}

/// The Ethernet CRC-32 (polynomial 0x04C11DB7, bits in wire order) the MAC hashes multicast
/// addresses with: the hash filter index is its top six bits.
fn ether_crc(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        let mut b = byte;
        for _ in 0..8 {
            let bit = (crc >> 31) ^ u32::from(b & 1);
            crc <<= 1;
            b >>= 1;
            if bit != 0 {
                crc ^= 0x04C1_1DB7;
            }
        }
    }
    crc
}

/// Hash filter bucket of a multicast MAC (0..64).
pub fn multicast_hash(mac: MacAddr) -> usize {
    (ether_crc(&mac.0) >> 26) as usize
}

/// A LAN9118 as an embassy-net driver. `MTU` is the largest frame without FCS (default 1514);
/// the driver keeps one receive and one transmit buffer of that size.
pub struct Lan9118<R, const MTU: usize = DEFAULT_MTU> {
    regs: R,
    mac: MacAddr,
    chip_id: u32,
    wake: WakeMode,
    rx_buf: [u8; MTU],
    /// Length of the frame waiting in `rx_buf`, if any (a receive token was dropped unused).
    rx_len: Option<usize>,
    tx_buf: [u8; MTU],
    tx_tag: u16,
    link_up: bool,
    /// Members per hash bucket; a bucket's bit is set while its count is non-zero.
    mc_refs: [u8; 64],
    stats: Stats,
}

impl<R: Registers, const MTU: usize> Lan9118<R, MTU> {
    /// Reset and configure the chip. See the module docs for the sequence.
    ///
    /// The driver (its frame buffers are two MTUs) is returned by value; to build it where it
    /// lives instead (a `static`, inside a link built in place), use
    /// [`Lan9118::unstarted`] there and then [`Lan9118::start`].
    pub fn new(regs: R, config: Config) -> Result<Self, Error> {
        let mut this = Self::unstarted(regs, config);
        this.start(config)?;
        Ok(this)
    }

    /// A driver that has not touched the chip yet: nothing but its fields, so that it can be
    /// built in place (for example inside `NicLink::new_in`). It reports the MAC of `config`
    /// (or none, all zeros, until [`Lan9118::start`] reads the chip's) and a link that is down.
    /// Give the MAC in `config` when an adapter reads it before `start` (`EmbassyNic` does).
    #[inline(always)]
    pub fn unstarted(regs: R, config: Config) -> Self {
        Lan9118 {
            regs,
            mac: config.mac.unwrap_or(MacAddr::ZERO),
            chip_id: 0,
            wake: config.wake,
            rx_buf: [0; MTU],
            rx_len: None,
            tx_buf: [0; MTU],
            tx_tag: 0,
            link_up: false,
            mc_refs: [0; 64],
            stats: Stats::default(),
        }
    }

    /// Reset and configure the chip (the sequence in the module docs) for a driver made by
    /// [`Lan9118::unstarted`] with the same `config`. On an error the chip is in an unknown
    /// state: start it again or drop the driver.
    pub fn start(&mut self, config: Config) -> Result<(), Error> {
        let regs = &mut self.regs;
        let read = regs.read(BYTE_TEST);
        if read != BYTE_TEST_VALUE {
            return Err(Error::BusCheck { read });
        }

        regs.write(HW_CFG, HW_CFG_SRST);
        wait(|| regs.read(HW_CFG) & HW_CFG_SRST == 0).ok_or(Error::ResetTimeout)?;
        wait(|| regs.read(PMT_CTRL) & PMT_CTRL_READY != 0).ok_or(Error::ResetTimeout)?;
        let chip_id = regs.read(ID_REV);
        info!("LAN9118 id/rev {:#x}", chip_id);

        // 5 KiB TX FIFO (the rest, ~11 KiB, for RX); recommended flow-control thresholds.
        regs.write(HW_CFG, HW_CFG_MBO | (5 << HW_CFG_TX_FIF_SZ_SHIFT));
        regs.write(AFC_CFG, 0x006E_3740);
        // RSFL fires as soon as one RX status is waiting; TDFA when a whole frame fits.
        let tdfa_level = (MTU as u32 + 8).div_ceil(64).min(0xFF);
        regs.write(FIFO_INT, tdfa_level << 24);
        regs.write(INT_EN, 0);
        regs.write(INT_STS, 0xFFFF_FFFF);
        let irq_en = match config.wake {
            WakeMode::Interrupt(_) => IRQ_CFG_IRQ_EN,
            WakeMode::Poll => 0,
        };
        regs.write(IRQ_CFG, IRQ_CFG_IRQ_TYPE | IRQ_CFG_IRQ_POL | irq_en);

        let this = self;
        this.chip_id = chip_id;
        this.wake = config.wake;

        let mac = match config.mac {
            Some(mac) if mac.is_multicast() || mac == MacAddr::ZERO => {
                return Err(Error::BadMacAddress);
            }
            Some(mac) => {
                let [a, b, c, d, e, f] = mac.0;
                this.mac_write(MAC_ADDRL, u32::from_le_bytes([a, b, c, d]))?;
                this.mac_write(MAC_ADDRH, u32::from_le_bytes([e, f, 0, 0]))?;
                mac
            }
            None => {
                let lo = this.mac_read(MAC_ADDRL)?.to_le_bytes();
                let hi = this.mac_read(MAC_ADDRH)?.to_le_bytes();
                let mac = MacAddr([lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]);
                if mac.is_multicast() || mac == MacAddr::ZERO {
                    return Err(Error::NoMacAddress);
                }
                mac
            }
        };
        this.mac = mac;

        // PHY: reset, advertise 10/100 half/full, auto-negotiate.
        let id1 = this.phy_read(PHY_ID1)?;
        if id1 == 0 || id1 == 0xFFFF {
            return Err(Error::NoPhy);
        }
        this.phy_write(PHY_BCR, PHY_BCR_RESET)?;
        let mut reset_done = false;
        for _ in 0..WAIT_POLLS / 100 {
            if this.phy_read(PHY_BCR)? & PHY_BCR_RESET == 0 {
                reset_done = true;
                break;
            }
        }
        if !reset_done {
            return Err(Error::ResetTimeout);
        }
        this.phy_write(PHY_ANAR, PHY_ANAR_DEFAULT)?;
        this.phy_write(PHY_BCR, PHY_BCR_ANEN | PHY_BCR_RESTART_AN)?;
        // Link changes raise INT_STS.PHY_INT (see `link_state`); clear what is pending.
        this.phy_write(
            PHY_INT_MASK,
            PHY_INT_LINK_DOWN | PHY_INT_AN_DONE | PHY_INT_ENERGY_ON,
        )?;
        this.phy_read(PHY_INT_SOURCE)?;

        this.mac_write(MAC_HASHH, 0)?;
        this.mac_write(MAC_HASHL, 0)?;
        this.mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_HPFILT)?;
        this.regs.write(TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        this.link_up = this.read_link()?;
        info!("LAN9118 up, link {}", this.link_up);
        Ok(())
    }

    /// The MAC address in use.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// The chip's `ID_REV` register (chip id in the top 16 bits, revision below).
    pub fn chip_id(&self) -> u32 {
        self.chip_id
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The register access, for diagnostics.
    pub fn registers(&mut self) -> &mut R {
        &mut self.regs
    }

    fn mac_wait(&mut self) -> Result<(), Error> {
        let regs = &mut self.regs;
        wait(|| regs.read(MAC_CSR_CMD) & MAC_CSR_CMD_BUSY == 0).ok_or(Error::MacCsrTimeout)
    }

    fn mac_read(&mut self, index: u32) -> Result<u32, Error> {
        self.mac_wait()?;
        self.regs
            .write(MAC_CSR_CMD, MAC_CSR_CMD_BUSY | MAC_CSR_CMD_READ | index);
        self.mac_wait()?;
        Ok(self.regs.read(MAC_CSR_DATA))
    }

    fn mac_write(&mut self, index: u32, value: u32) -> Result<(), Error> {
        self.mac_wait()?;
        self.regs.write(MAC_CSR_DATA, value);
        self.regs.write(MAC_CSR_CMD, MAC_CSR_CMD_BUSY | index);
        self.mac_wait()
    }

    fn mii_wait(&mut self) -> Result<(), Error> {
        for _ in 0..WAIT_POLLS / 100 {
            if self.mac_read(MAC_MII_ACC)? & MII_ACC_BUSY == 0 {
                return Ok(());
            }
        }
        Err(Error::MiiTimeout)
    }

    fn phy_read(&mut self, reg: u32) -> Result<u32, Error> {
        self.mii_wait()?;
        let acc =
            (PHY_ADDR_INTERNAL << MII_ACC_PHY_SHIFT) | (reg << MII_ACC_REG_SHIFT) | MII_ACC_BUSY;
        self.mac_write(MAC_MII_ACC, acc)?;
        self.mii_wait()?;
        Ok(self.mac_read(MAC_MII_DATA)? & 0xFFFF)
    }

    fn phy_write(&mut self, reg: u32, value: u32) -> Result<(), Error> {
        self.mii_wait()?;
        self.mac_write(MAC_MII_DATA, value & 0xFFFF)?;
        let acc = (PHY_ADDR_INTERNAL << MII_ACC_PHY_SHIFT)
            | (reg << MII_ACC_REG_SHIFT)
            | MII_ACC_WRITE
            | MII_ACC_BUSY;
        self.mac_write(MAC_MII_ACC, acc)?;
        self.mii_wait()
    }

    /// Current PHY link state; on a change, the MAC's duplex follows the negotiation result.
    fn read_link(&mut self) -> Result<bool, Error> {
        // The link bit latches low: the first read reports a drop since the last read, the
        // second the state now.
        let _ = self.phy_read(PHY_BSR)?;
        let up = self.phy_read(PHY_BSR)? & PHY_BSR_LINK != 0;
        if up {
            let common = self.phy_read(PHY_ANAR)? & self.phy_read(PHY_ANAR + 1)?;
            // 100BASE-TX full duplex (bit 8) or 10BASE-T full duplex (bit 6) in common.
            let full = common & ((1 << 8) | (1 << 6)) != 0;
            let cr = self.mac_read(MAC_CR)?;
            let want = if full {
                cr | MAC_CR_FDPX
            } else {
                cr & !MAC_CR_FDPX
            };
            if want != cr {
                self.mac_write(MAC_CR, want)?;
            }
        }
        Ok(up)
    }

    /// Read TX statuses that are waiting and count errors.
    fn drain_tx_status(&mut self) {
        let waiting =
            (self.regs.read(TX_FIFO_INF) >> FIFO_INF_STATUS_USED_SHIFT) & FIFO_INF_STATUS_USED_MASK;
        for _ in 0..waiting {
            if self.regs.read(TX_STATUS_FIFO) & TX_STS_ERROR != 0 {
                self.stats.tx_errors += 1;
            }
        }
    }

    /// True if the TX data FIFO has room for a whole frame and its two command words.
    fn tx_room(&mut self) -> bool {
        let free = self.regs.read(TX_FIFO_INF) & TX_FIFO_INF_TDFREE_MASK;
        free as usize >= MTU.next_multiple_of(4) + 8
    }

    /// Move the next good frame from the RX FIFOs into `rx_buf`. Bad frames are read out and
    /// counted. Returns false if none is waiting.
    fn fetch_frame(&mut self) -> bool {
        if self.rx_len.is_some() {
            return true;
        }
        for _ in 0..RX_SKIP_BURST {
            let waiting = (self.regs.read(RX_FIFO_INF) >> FIFO_INF_STATUS_USED_SHIFT)
                & FIFO_INF_STATUS_USED_MASK;
            if waiting == 0 {
                return false;
            }
            let status = self.regs.read(RX_STATUS_FIFO);
            // Length on the wire including the 4-byte FCS; the data FIFO holds it in whole words.
            let wire = ((status >> RX_STS_LEN_SHIFT) & RX_STS_LEN_MASK) as usize;
            let words = wire.div_ceil(4);
            let frame_len = wire.saturating_sub(4);
            let bad_len = frame_len < l2net_core::wire::ethernet::HEADER_LEN || frame_len > MTU;
            if status & RX_STS_ERROR != 0 || bad_len {
                for _ in 0..words {
                    let _ = self.regs.read(RX_DATA_FIFO);
                }
                if status & RX_STS_ERROR != 0 {
                    self.stats.rx_errors += 1;
                } else {
                    self.stats.rx_bad_length += 1;
                }
                debug!("LAN9118 dropped frame, status {:#x}", status);
                continue;
            }
            for i in 0..words {
                let bytes = self.regs.read(RX_DATA_FIFO).to_le_bytes();
                // Only the frame's bytes (`get_mut`, zip: no panic sites, whose messages would
                // keep `core::fmt` in the image).
                let end = frame_len.min(i * 4 + 4);
                if let Some(dst) = self.rx_buf.get_mut(i * 4..end) {
                    for (d, s) in dst.iter_mut().zip(bytes) {
                        *d = s;
                    }
                }
            }
            self.rx_len = Some(frame_len);
            self.stats.rx_frames += 1;
            return true;
        }
        false
    }

    /// Make sure the executor polls again: at once (poll mode) or on the interrupt `int_bits`.
    fn arm(&mut self, cx: &mut Context<'_>, int_bits: u32) {
        match self.wake {
            WakeMode::Poll => cx.waker().wake_by_ref(),
            WakeMode::Interrupt(waker) => {
                waker.register(cx.waker());
                let en = self.regs.read(INT_EN);
                self.regs.write(INT_EN, en | int_bits);
            }
        }
    }

    /// In interrupt mode, clear the causes before looking, so that an event after the look raises
    /// the line again.
    fn ack(&mut self, int_bits: u32) {
        if let WakeMode::Interrupt(_) = self.wake {
            self.regs.write(INT_STS, int_bits);
        }
    }
}

/// Poll `done` up to [`WAIT_POLLS`] times.
fn wait(mut done: impl FnMut() -> bool) -> Option<()> {
    (0..WAIT_POLLS).any(|_| done()).then_some(())
}

/// Receive token: lends the frame in the driver's receive buffer.
pub struct RxToken<'a> {
    buf: &'a mut [u8],
    len: &'a mut Option<usize>,
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let n = self.len.take().unwrap_or(0);
        match self.buf.get_mut(..n) {
            Some(frame) => f(frame),
            None => f(self.buf),
        }
    }
}

/// Transmit token: the frame is built in the driver's transmit buffer and written to the TX FIFO.
pub struct TxToken<'a, R> {
    regs: &'a mut R,
    buf: &'a mut [u8],
    tag: &'a mut u16,
    sent: &'a mut u32,
}

impl<R: Registers> embassy_net_driver::TxToken for TxToken<'_, R> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        // embassy-net never asks for more than the advertised MTU; a larger request is cut to it
        // rather than overrunning the buffer.
        let len = len.min(self.buf.len());
        let (frame, _) = self.buf.split_at_mut(len);
        let r = f(frame);
        *self.tag = self.tag.wrapping_add(1);
        let len32 = len as u32;
        let cmd_a = TX_CMD_A_FIRST_SEG | TX_CMD_A_LAST_SEG | (len32 & TX_CMD_A_BUF_SIZE_MASK);
        let cmd_b = (u32::from(*self.tag) << TX_CMD_B_TAG_SHIFT) | (len32 & TX_CMD_B_LEN_MASK);
        self.regs.write(TX_DATA_FIFO, cmd_a);
        self.regs.write(TX_DATA_FIFO, cmd_b);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            for (w, b) in word.iter_mut().zip(chunk) {
                *w = *b;
            }
            self.regs.write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        *self.sent += 1;
        r
    }
}

impl<R: Registers, const MTU: usize> embassy_net_driver::Driver for Lan9118<R, MTU> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, R>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.ack(INT_RSFL | INT_TDFA);
        if !self.fetch_frame() {
            self.arm(cx, INT_RSFL);
            return None;
        }
        self.drain_tx_status();
        if !self.tx_room() {
            self.arm(cx, INT_TDFA);
            return None;
        }
        Some((
            RxToken {
                buf: &mut self.rx_buf,
                len: &mut self.rx_len,
            },
            TxToken {
                regs: &mut self.regs,
                buf: &mut self.tx_buf,
                tag: &mut self.tx_tag,
                sent: &mut self.stats.tx_frames,
            },
        ))
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        self.ack(INT_TDFA);
        self.drain_tx_status();
        if !self.tx_room() {
            self.arm(cx, INT_TDFA);
            return None;
        }
        Some(TxToken {
            regs: &mut self.regs,
            buf: &mut self.tx_buf,
            tag: &mut self.tx_tag,
            sent: &mut self.stats.tx_frames,
        })
    }

    fn link_state(&mut self, cx: &mut Context) -> embassy_net_driver::LinkState {
        // The PHY raises INT_STS.PHY_INT on link down, auto-negotiation done and energy on (the
        // mask set at bring-up), whether or not the interrupt is enabled: without it the cached
        // state stands and this costs one register read instead of a dozen MII accesses.
        if self.regs.read(INT_STS) & INT_PHY != 0 {
            // Reading the PHY's interrupt source clears it, and with it PHY_INT.
            // A PHY that stops answering is reported as a link that is down.
            let up = self
                .phy_read(PHY_INT_SOURCE)
                .and_then(|_| self.read_link())
                .unwrap_or(false);
            self.note_link(up);
        }
        let up = self.link_up;
        if let WakeMode::Interrupt(_) = self.wake {
            self.arm(cx, INT_PHY);
        }
        if up {
            embassy_net_driver::LinkState::Up
        } else {
            embassy_net_driver::LinkState::Down
        }
    }

    fn capabilities(&self) -> embassy_net_driver::Capabilities {
        let mut caps = embassy_net_driver::Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }

    fn hardware_address(&self) -> embassy_net_driver::HardwareAddress {
        embassy_net_driver::HardwareAddress::Ethernet(self.mac.0)
    }
}

impl<R: Registers, const MTU: usize> MulticastFilter for Lan9118<R, MTU> {
    fn join_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        if mac.is_broadcast() {
            return Ok(()); // broadcast is always received
        }
        if !mac.is_multicast() {
            return Err(LinkError::Unsupported("joining a unicast address"));
        }
        let bucket = multicast_hash(mac);
        let Some(count) = self.mc_refs[bucket].checked_add(1) else {
            return Err(LinkError::Unsupported(
                "more than 255 groups in one hash bucket",
            ));
        };
        self.mc_refs[bucket] = count;
        self.write_hash()
    }

    fn leave_multicast(&mut self, mac: MacAddr) -> Result<(), LinkError> {
        if mac.is_broadcast() || !mac.is_multicast() {
            return Ok(());
        }
        let bucket = multicast_hash(mac);
        self.mc_refs[bucket] = self.mc_refs[bucket].saturating_sub(1);
        self.write_hash()
    }
}

impl<R: Registers, const MTU: usize> Lan9118<R, MTU> {
    fn note_link(&mut self, up: bool) {
        if up != self.link_up {
            if !up {
                self.stats.link_down += 1;
            }
            info!("LAN9118 link {}", up);
            self.link_up = up;
        }
    }

    fn write_hash(&mut self) -> Result<(), LinkError> {
        let mut hash = 0u64;
        for (bucket, &count) in self.mc_refs.iter().enumerate() {
            if count > 0 {
                hash |= 1 << bucket;
            }
        }
        let timeout = LinkError::Unsupported("LAN9118 MAC CSR access timed out");
        self.mac_write(MAC_HASHL, hash as u32)
            .map_err(|_| timeout)?;
        self.mac_write(MAC_HASHH, (hash >> 32) as u32)
            .map_err(|_| timeout)
    }
}
