//! What the firmware images for Arm MPS2 AN386 share: bring-up of the LAN9118 behind an
//! `EmbassyLink`, a SysTick clock, text logging and exit through semihosting, the panic handler.
//!
//! * `l2net-firmware` (src/main.rs): the port's bring-up image: raw l2net frames built with
//!   `l2net_core::wire`, no protocol engine.
//! * `l2net-node` (src/bin/node.rs): a full l2net participant driven by the core's engine.
#![no_std]

pub mod clock;
pub mod logger;
mod sys;

use core::fmt;

use cortex_m_semihosting::{debug, hprintln};
use l2net_core::LinkError;
use l2net_core::wire::MacAddr;
use l2net_embedded::EmbassyLink;
use l2net_embedded::lan9118::{self, Lan9118, mmio::Mmio};
use log::{error, info};

/// The board's MAC: locally administered, "L2" in the second and third bytes.
pub const BOARD_MAC: MacAddr = MacAddr([0x02, 0x4C, 0x32, 0x00, 0x03, 0x86]);
/// The l2net domain of the test network.
pub const DOMAIN: u16 = 7;

/// The link every image uses.
pub type Link = EmbassyLink<Lan9118<Mmio>>;

/// Why an image gives up.
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

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoDevice => f.write_str("peripheral already taken"),
            Failure::Lan9118(e) => write!(f, "{e}"),
            Failure::Link(e) => write!(f, "{e}"),
            Failure::NotEthernet => f.write_str("driver is not an Ethernet driver"),
            Failure::Timeout => f.write_str("no exchange within the time limit"),
            Failure::Engine(what) => write!(f, "engine: {what}"),
        }
    }
}

impl From<LinkError> for Failure {
    fn from(e: LinkError) -> Self {
        Failure::Link(e)
    }
}

/// Logger, clock, LAN9118 and the link over it (in `.bss`, so that the size report counts its
/// buffers).
pub fn bring_up() -> Result<(&'static mut Link, clock::Clock), Failure> {
    logger::init(log::LevelFilter::Info);
    let core = cortex_m::Peripherals::take().ok_or(Failure::NoDevice)?;
    let clock = clock::Clock::new(core.SYST);
    let regs = sys::take_lan9118().ok_or(Failure::NoDevice)?;
    let config = lan9118::Config::default().with_mac(BOARD_MAC);
    let nic: Lan9118<Mmio> = Lan9118::new(regs, config).map_err(Failure::Lan9118)?;
    info!("LAN9118 id {:#010x}, MAC {}", nic.chip_id(), nic.mac());
    let link = EmbassyLink::from_driver(nic).map_err(|_| Failure::NotEthernet)?;
    let link: &'static mut Link = cortex_m::singleton!(: Link = link).ok_or(Failure::NoDevice)?;
    Ok((link, clock))
}

/// Exit through semihosting: status 0 for `Ok`, failure otherwise.
pub fn exit(result: Result<(), Failure>) -> ! {
    let status = match result {
        Ok(()) => {
            info!("done, exiting with success");
            debug::EXIT_SUCCESS
        }
        Err(e) => {
            error!("failed: {e}");
            debug::EXIT_FAILURE
        }
    };
    debug::exit(status);
    // Only reached without a semihosting host.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
