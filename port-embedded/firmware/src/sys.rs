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

// The C memory functions, small. compiler-builtins' versions (built at opt-level 3 with the
// standard library, so the firmware's opt-level "z" does not reach them) unroll for alignment
// cases: `memcpy` 730 B, `__aeabi_memcpy4` 156 B, `__aeabi_memset8` 184 B, `__aeabi_memclr`
// 208 B, `__aeabi_memclr4` 174 B, `memcmp` 116 B, 1,580 B of the node's flash. These move a
// word at a time with unaligned `ldr`/`str` (the Cortex-M4 allows them on normal memory, and
// cortex-m-rt leaves `CCR.UNALIGN_TRP` clear) and bytes for the tail; `memmove` copies backwards
// byte by byte when the destination lies above the source; `memcmp` compares bytes. The frames
// and names they move here are at most 1.5 KB, so the simple loops cost microseconds.
//
// Definitions here take precedence over compiler-builtins' (an archive linked last, whose
// members are only pulled in for symbols still undefined). Each symbol follows the C or the Arm
// run-time ABI (RTABI) contract: `memcpy(d, s, n) -> d`, `memmove(d, s, n) -> d`,
// `memset(d, c, n) -> d`, `memcmp(a, b, n) -> <0/0/>0`, `__aeabi_memcpy*(d, s, n)`,
// `__aeabi_memmove*(d, s, n)`, `__aeabi_memset*(d, n, c)`, `__aeabi_memclr*(d, n)`; the 4 and
// 8 variants promise aligned pointers, which a loop that allows any alignment need not use.
// They touch only r0-r3, r12 and the flags (caller-saved under the AAPCS) and never the stack.
core::arch::global_asm!(
    ".section .text.l2net_mem,\"ax\",%progbits",
    ".syntax unified",
    ".thumb",
    ".p2align 1",
    // memcpy / __aeabi_memcpy{,4,8}: r0 = dst (kept), r1 = src, r2 = n; r3 walks dst.
    ".global memcpy",
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".type memcpy, %function",
    ".type __aeabi_memcpy, %function",
    ".type __aeabi_memcpy4, %function",
    ".type __aeabi_memcpy8, %function",
    ".thumb_func",
    "memcpy:",
    ".thumb_func",
    "__aeabi_memcpy:",
    ".thumb_func",
    "__aeabi_memcpy4:",
    ".thumb_func",
    "__aeabi_memcpy8:",
    "    mov r3, r0",
    "    b 2f",
    "1:  ldr r12, [r1], #4",
    "    str r12, [r3], #4",
    "2:  subs r2, r2, #4",
    "    bhs 1b",
    "    adds r2, r2, #4",
    "    beq 4f",
    "3:  ldrb r12, [r1], #1",
    "    strb r12, [r3], #1",
    "    subs r2, r2, #1",
    "    bne 3b",
    "4:  bx lr",
    ".size memcpy, . - memcpy",
    // memmove / __aeabi_memmove{,4,8}: forwards (memcpy) unless dst lies above src, then
    // backwards a byte at a time; r0 = dst is kept.
    ".global memmove",
    ".global __aeabi_memmove",
    ".global __aeabi_memmove4",
    ".global __aeabi_memmove8",
    ".type memmove, %function",
    ".type __aeabi_memmove, %function",
    ".type __aeabi_memmove4, %function",
    ".type __aeabi_memmove8, %function",
    ".thumb_func",
    "memmove:",
    ".thumb_func",
    "__aeabi_memmove:",
    ".thumb_func",
    "__aeabi_memmove4:",
    ".thumb_func",
    "__aeabi_memmove8:",
    "    cmp r0, r1",
    "    bls memcpy",
    "1:  subs r2, r2, #1",
    "    blo 2f",
    "    ldrb r12, [r1, r2]",
    "    strb r12, [r0, r2]",
    "    b 1b",
    "2:  bx lr",
    ".size memmove, . - memmove",
    // memset(dst, c, n): swap into __aeabi_memset's order (dst, n, c) and fall through.
    ".global memset",
    ".type memset, %function",
    ".thumb_func",
    "memset:",
    "    mov r3, r2",
    "    mov r2, r1",
    "    mov r1, r3",
    "    b __aeabi_memset",
    ".size memset, . - memset",
    // __aeabi_memclr{,4,8}(dst, n): c = 0.
    ".global __aeabi_memclr",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".type __aeabi_memclr, %function",
    ".type __aeabi_memclr4, %function",
    ".type __aeabi_memclr8, %function",
    ".thumb_func",
    "__aeabi_memclr:",
    ".thumb_func",
    "__aeabi_memclr4:",
    ".thumb_func",
    "__aeabi_memclr8:",
    "    movs r2, #0",
    // __aeabi_memset{,4,8}(dst, n, c): r0 = dst (kept), r1 = n, r2 = c spread over a word.
    ".global __aeabi_memset",
    ".global __aeabi_memset4",
    ".global __aeabi_memset8",
    ".type __aeabi_memset, %function",
    ".type __aeabi_memset4, %function",
    ".type __aeabi_memset8, %function",
    ".thumb_func",
    "__aeabi_memset:",
    ".thumb_func",
    "__aeabi_memset4:",
    ".thumb_func",
    "__aeabi_memset8:",
    "    mov r3, r0",
    "    uxtb r2, r2",
    "    orr r2, r2, r2, lsl #8",
    "    orr r2, r2, r2, lsl #16",
    "    b 2f",
    "1:  str r2, [r3], #4",
    "2:  subs r1, r1, #4",
    "    bhs 1b",
    "    adds r1, r1, #4",
    "    beq 4f",
    "3:  strb r2, [r3], #1",
    "    subs r1, r1, #1",
    "    bne 3b",
    "4:  bx lr",
    ".size __aeabi_memclr, . - __aeabi_memclr",
    ".size __aeabi_memset, . - __aeabi_memset",
    // memcmp / bcmp(a, b, n): the difference of the first differing bytes, or 0.
    ".global memcmp",
    ".global bcmp",
    ".type memcmp, %function",
    ".type bcmp, %function",
    ".thumb_func",
    "memcmp:",
    ".thumb_func",
    "bcmp:",
    "1:  subs r2, r2, #1",
    "    blo 2f",
    "    ldrb r3, [r0], #1",
    "    ldrb r12, [r1], #1",
    "    subs r3, r3, r12",
    "    beq 1b",
    "    mov r0, r3",
    "    bx lr",
    "2:  movs r0, #0",
    "    bx lr",
    ".size memcmp, . - memcmp",
    ".text",
);
