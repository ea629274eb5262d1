//! The real bus: memory-mapped 32-bit registers. The only `unsafe` of the LAN9118 driver.

use super::Registers;

/// The chip's registers at a fixed physical address.
#[derive(Debug)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// Registers of a LAN9118 mapped at `base` (for MPS2 boards: [`super::MPS2_BASE`]).
    ///
    /// # Safety
    ///
    /// `base` must be the address of a LAN9118's 256-byte register window, mapped as device
    /// memory, and every `Mmio` on it must be used so that FIFO accesses from different owners do
    /// not interleave (one driver, plus at most an interrupt handler that only writes `INT_EN`, as
    /// [`super::on_interrupt`] does).
    pub const unsafe fn new(base: usize) -> Self {
        Mmio { base }
    }

    fn reg(&self, offset: u32) -> *mut u32 {
        // Offsets are the driver's constants, all below 0x100 and 4-aligned.
        (self.base + (offset & 0xFC) as usize) as *mut u32
    }
}

impl Registers for Mmio {
    fn read(&mut self, offset: u32) -> u32 {
        // SAFETY: `new`'s contract makes `base .. base + 0x100` the chip's register window;
        // `reg` keeps the offset inside it and 4-aligned, so this is an aligned 32-bit device read.
        unsafe { core::ptr::read_volatile(self.reg(offset)) }
    }

    fn write(&mut self, offset: u32, value: u32) {
        // SAFETY: as in `read`: an aligned 32-bit write inside the chip's register window.
        unsafe { core::ptr::write_volatile(self.reg(offset), value) }
    }
}
