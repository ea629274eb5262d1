//! The firmware's `unsafe`: claiming the LAN9118's register window once, the device part of the
//! vector table, and the stack high-water mark.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// The word the unused stack is filled with.
const PAINT: u32 = 0xA5C3_5A3C;
/// How far below the caller's frame the stack is painted at most (more than the images use).
const PAINT_WINDOW: usize = 32 * 1024;
/// Lowest painted address; 0 until [`paint_stack`] ran.
static PAINT_BOTTOM: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    /// Top of the stack (cortex-m-rt's link.x: the end of RAM, the initial MSP).
    static _stack_start: u32;
    /// Lowest address the stack may grow to (cortex-m-rt's link.x: the end of static RAM).
    static _stack_end: u32;
}

/// Fill up to `PAINT_WINDOW` bytes of the free stack below the caller with `PAINT` (never below
/// the end of static RAM), so that [`stack_peak`] can tell how deep the stack went. Call early,
/// with interrupts off.
#[inline(never)]
pub(crate) fn paint_stack() {
    // 64 bytes below this function's own stack pointer: nothing lives there (no interrupt is
    // enabled, and the loop below calls nothing).
    let top = (cortex_m::register::msp::read() as usize - 64) & !3;
    let limit = ((&raw const _stack_end) as usize + 3) & !3;
    let bottom = top.saturating_sub(PAINT_WINDOW).max(limit);
    let mut at = bottom;
    while at < top {
        // SAFETY: [bottom, top) is stack memory below the live frames and above the end of static
        // RAM (`_stack_end`): word-aligned, inside RAM, and not used by anything yet.
        unsafe { (at as *mut u32).write_volatile(PAINT) };
        at += 4;
    }
    PAINT_BOTTOM.store(bottom, Ordering::Relaxed);
}

/// Deepest stack use since [`paint_stack`], in bytes from the top of the stack; `None` if the
/// stack was never painted. A lower bound for the worst case: it is what this run reached.
pub(crate) fn stack_peak() -> Option<usize> {
    let bottom = PAINT_BOTTOM.load(Ordering::Relaxed);
    if bottom == 0 {
        return None;
    }
    let start = (&raw const _stack_start) as usize;
    let mut at = bottom;
    // SAFETY: the words from `bottom` up are the painted window and the live stack above it,
    // all RAM, word-aligned; reading them races with nothing (one core, no interrupts).
    while at < start && unsafe { (at as *const u32).read_volatile() } == PAINT {
        at += 4;
    }
    Some(start - at)
}
