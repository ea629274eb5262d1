//! What the firmware images for Arm MPS2 AN386 share: bring-up of the LAN9118 behind an
//! `EmbassyLink`, a SysTick clock, defmt logging and exit through semihosting, the panic handler.
//!
//! * `l2net-firmware` (src/main.rs): the port's bring-up image: raw l2net frames built with
//!   `l2net_core::wire`, no protocol engine.
//! * `l2net-node` (src/bin/node.rs): a full l2net participant driven by the core's engine.
//!
//! Logs are defmt frames on semihosting stdout (`defmt-semihosting`): QEMU writes them to its
//! standard output, where `defmt-print -e IMAGE` or the Linux test (through `defmt-decoder` and the
//! image's format-string table) turns them back into text. No `core::fmt` in the image: a log
//! line costs a table index and its arguments' bytes.
#![no_std]

pub mod clock;
mod sys;

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use defmt::{error, info};

use defmt_semihosting as _;
use l2net_core::LinkError;
use l2net_core::wire::MacAddr;
use l2net_embedded::EmbassyLink;
use l2net_embedded::lan9118::{self, Lan9118, mmio::Mmio};

/// The board's MAC: locally administered, "L2" in the second and third bytes.
pub const BOARD_MAC: MacAddr = MacAddr([0x02, 0x4C, 0x32, 0x00, 0x03, 0x86]);
/// The l2net domain of the test network.
pub const DOMAIN: u16 = 7;

/// Semihosting exit status of a run that did what it was meant to.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit status of a run that gave up (see [`Failure`]).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status after a panic (Rust's own panic status, so that a test can tell the two apart).
pub const EXIT_PANIC: i32 = 101;

/// The link every image uses.
pub type Link = EmbassyLink<Lan9118<Mmio>>;

/// Why an image gives up.
#[derive(defmt::Format)]
pub enum Failure {
    /// A peripheral was already taken.
    NoDevice,
    /// LAN9118 bring-up failed.
    Lan9118(lan9118::Error),
    /// The link failed.
    Link(LinkError),
    /// The driver is not an Ethernet driver.
    NotEthernet,
    /// The expected exchange did not happen in time.
    Timeout,
    /// The protocol engine refused something (what, in words).
    Engine(&'static str),
}

impl From<LinkError> for Failure {
    fn from(e: LinkError) -> Self {
        Failure::Link(e)
    }
}

/// Clock, LAN9118 and the link over it (in `.bss`, so that the size report counts its buffers).
/// Paints the free stack first, so that [`exit`] can log how deep the stack went.
///
/// The link and the driver inside it are built in their `static` slot
/// (`NicLink::from_driver_in` over `Lan9118::unstarted`), and the chip is started there: built by value and moved, their 4.7 KB
/// of frame buffers went through the stack (a 7 KB set-up peak).
///
/// Not inlined: its frame is gone before the caller's next steps put theirs on the stack.
#[inline(never)]
pub fn bring_up() -> Result<(&'static mut Link, clock::Clock), Failure> {
    sys::paint_stack();
    let core = cortex_m::Peripherals::take().ok_or(Failure::NoDevice)?;
    let clock = clock::Clock::new(core.SYST);
    let regs = sys::take_lan9118().ok_or(Failure::NoDevice)?;
    // The MAC is given, so the adapter reads it before the chip is started.
    let config = lan9118::Config::default().with_mac(BOARD_MAC);
    let slot = cortex_m::singleton!(: MaybeUninit<Link> = MaybeUninit::uninit())
        .ok_or(Failure::NoDevice)?;
    let link: &'static mut Link = Link::from_driver_in(slot, Lan9118::unstarted(regs, config))
        .map_err(|_| Failure::NotEthernet)?;
    let driver = link.nic_mut().driver_mut();
    driver.start(config).map_err(Failure::Lan9118)?;
    info!(
        "LAN9118 id {=u32:#010x}, MAC {}",
        driver.chip_id(),
        driver.mac()
    );
    Ok((link, clock))
}

/// Exit through semihosting: [`EXIT_SUCCESS`] for `Ok`, [`EXIT_FAILURE`] otherwise.
pub fn exit(result: Result<(), Failure>) -> ! {
    let status = match result {
        Ok(()) => {
            info!("done, exiting with success");
            EXIT_SUCCESS
        }
        Err(e) => {
            error!("failed: {}", e);
            EXIT_FAILURE
        }
    };
    log_stack_peak();
    halt(status)
}

/// Log how deep the stack went since it was last painted (by [`bring_up`] or
/// [`restart_stack_peak`]): a lower bound for the stack the image needs on top of its static RAM.
pub fn log_stack_peak() {
    if let Some(peak) = sys::stack_peak() {
        info!("stack peak {=usize} bytes", peak);
    }
}

/// Paint the free stack again, so that the next [`log_stack_peak`] measures only what runs from
/// here on (call it from a frame that stays below everything that follows).
pub fn restart_stack_peak() {
    sys::paint_stack();
}

/// Semihosting exit with `status` (SYS_EXIT_EXTENDED, which QEMU passes on as its own exit
/// status). On a board without a debugger the semihosting call faults and the core stays in
/// cortex-m-rt's HardFault loop.
fn halt(status: i32) -> ! {
    semihosting::process::exit(status)
}

static PANICKED: AtomicBool = AtomicBool::new(false);

/// Logs where the panic happened (file and line as defmt arguments: the message would need
/// `core::fmt`, which this image does not link) and exits with [`EXIT_PANIC`]. A panic inside the
/// logger itself (it refuses to be entered twice) exits without logging.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if !PANICKED.swap(true, Ordering::Relaxed) {
        match info.location() {
            Some(at) => error!("panic at {=str}:{=u32}", at.file(), at.line()),
            None => error!("panic"),
        }
    }
    halt(EXIT_PANIC)
}
