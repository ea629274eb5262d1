//! The firmware's `unsafe`: claiming the LAN9118's register window once, and the device part of
//! the vector table.

use core::sync::atomic::{AtomicBool, Ordering};

use l2net_embedded::lan9118::MPS2_BASE;
use l2net_embedded::lan9118::mmio::Mmio;

static LAN9118_TAKEN: AtomicBool = AtomicBool::new(false);

/// The LAN9118's registers, the first time; `None` afterwards, so that only one driver ever
/// owns the FIFOs.
pub(crate) fn take_lan9118() -> Option<Mmio> {
    if LAN9118_TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: MPS2_BASE is the LAN9118's register window on MPS2 AN385/AN386 boards (and QEMU's
    // models of them), mapped as device memory; the flag above hands it out once, so no other
    // owner interleaves FIFO accesses.
    Some(unsafe { Mmio::new(MPS2_BASE) })
}

/// One entry of the vector table: a handler or a reserved word.
#[repr(C)]
pub union Vector {
    handler: unsafe extern "C" fn(),
    reserved: usize,
}

unsafe extern "C" {
    /// cortex-m-rt's default handler (link.x provides it; it loops forever).
    fn DefaultHandler();
}

/// The device interrupts' part of the vector table (cortex-m-rt's `device` feature leaves it to
/// the application). Without a device crate cortex-m-rt would put 240 entries here, 960 bytes of
/// flash; the images poll the LAN9118 and SysTick and enable no interrupt, so one entry (IRQ 0,
/// MPS2's UART 0 receive, to the default handler) is enough: cortex-m-rt's link.x wants at least
/// one. An image that enables an interrupt must extend this table up to that IRQ number.
// SAFETY: the one definition of `__INTERRUPTS`, placed where link.x puts the device vectors
// (right after the 16 core exception vectors); `DefaultHandler` is a valid handler.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [Vector; 1] = [Vector {
    handler: DefaultHandler,
}];
