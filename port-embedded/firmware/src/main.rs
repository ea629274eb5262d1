//! l2net firmware for Arm MPS2 AN386 (Cortex-M4 with a LAN9118), run under QEMU `mps2-an386`.
//!
//! Until the protocol engine lands this is the port's bring-up image: it brings the LAN9118 up
//! through l2net-embedded's driver, announces itself with l2net DATA frames (built with
//! `l2net_core::wire`) on the domain's discovery MAC every half second, and answers the first
//! command frame (a DATA frame whose payload starts with `CMD `) with `ACK ` and the rest of the
//! payload, unicast to the sender. Then it exits through semihosting with status 0. Any failure
//! (bring-up, link, a 60-second timeout, a panic) exits with a failure status, so a test can tell.
//!
//! The l2net node of the next step replaces the loop in `serve` with the engine polled over the
//! same `EmbassyLink`.
#![no_std]
#![no_main]

mod clock;
mod logger;
mod sys;

use core::fmt;
use core::time::Duration;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use l2net_core::wire::frame::{FrameRepr, parse_frame};
use l2net_core::wire::msg::{DataRepr, MessageRepr};
use l2net_core::wire::{EntityId, MacAddr, ParticipantId, TagStack, discovery_mac};
use l2net_core::{Instant, LinkError, RawLink, RxFrame, TxToken};
use l2net_embedded::EmbassyLink;
use l2net_embedded::lan9118::{self, Lan9118, mmio::Mmio};
use log::{error, info, warn};

/// The board's MAC: locally administered, "L2" in the second and third bytes.
const BOARD_MAC: MacAddr = MacAddr([0x02, 0x4C, 0x32, 0x00, 0x03, 0x86]);
/// l2net domain the firmware announces itself in.
const DOMAIN: u16 = 7;
/// The firmware's participant id (fixed: one board per test network).
const PARTICIPANT: ParticipantId = match ParticipantId::new(0x0386_0000_0000_0001) {
    Some(id) => id,
    None => panic!("participant ids are never 0"),
};
/// Entity id of the writer whose samples carry beacons and acknowledgements.
const WRITER: EntityId = EntityId(1);
const BEACON_PERIOD: Duration = Duration::from_millis(500);
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);
/// Payload prefix of the command frame, and of the answer.
const CMD: &[u8] = b"CMD ";
const ACK: &[u8] = b"ACK ";
const BEACON_TEXT: &[u8] = b"l2net mps2-an386 beacon";
/// Largest command argument echoed back.
const MAX_ARG: usize = 64;

type Link = EmbassyLink<Lan9118<Mmio>>;

enum Failure {
    NoDevice,
    Lan9118(lan9118::Error),
    Link(LinkError),
    NotEthernet,
    Timeout,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoDevice => f.write_str("LAN9118 already taken"),
            Failure::Lan9118(e) => write!(f, "{e}"),
            Failure::Link(e) => write!(f, "{e}"),
            Failure::NotEthernet => f.write_str("driver is not an Ethernet driver"),
            Failure::Timeout => f.write_str("no command frame within the time limit"),
        }
    }
}

impl From<LinkError> for Failure {
    fn from(e: LinkError) -> Self {
        Failure::Link(e)
    }
}

#[entry]
fn main() -> ! {
    logger::init(log::LevelFilter::Info);
    let status = match run() {
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
    // Only reached without a debugger or semihosting host.
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> Result<(), Failure> {
    let core = cortex_m::Peripherals::take().ok_or(Failure::NoDevice)?;
    let mut clock = clock::Clock::new(core.SYST);
    let regs = sys::take_lan9118().ok_or(Failure::NoDevice)?;
    let config = lan9118::Config::default().with_mac(BOARD_MAC);
    let nic: Lan9118<Mmio> = Lan9118::new(regs, config).map_err(Failure::Lan9118)?;
    info!("LAN9118 id {:#010x}, MAC {}", nic.chip_id(), nic.mac());
    // In .bss rather than on the stack, so that the size report counts the buffers.
    let link = EmbassyLink::from_driver(nic).map_err(|_| Failure::NotEthernet)?;
    let link: &'static mut Link = cortex_m::singleton!(: Link = link).ok_or(Failure::NoDevice)?;
    link.join_multicast(discovery_mac(DOMAIN))?;
    serve(link, &mut clock)
}

/// Send one DATA sample with `payload` to `dst`.
fn send(
    link: &mut Link,
    now: Instant,
    dst: MacAddr,
    seq: u64,
    payload: &[u8],
) -> Result<bool, LinkError> {
    let repr = FrameRepr {
        dst,
        src: BOARD_MAC,
        tags: TagStack::new(),
        domain: DOMAIN,
        sender: PARTICIPANT,
        message: MessageRepr::Data(DataRepr {
            writer: WRITER,
            seq,
            source_timestamp_ns: now.as_nanos(),
            related: None,
            payload,
        }),
    };
    let Some(tx) = link.transmit(now, repr.buffer_len())? else {
        return Ok(false);
    };
    // `buffer_len` bytes were lent, which `emit` needs: it cannot fail here.
    let emitted = tx.consume(|buf| repr.emit(buf).is_ok());
    link.flush(now)?;
    Ok(emitted)
}

/// If `frame` is a command, the sender's MAC, the command's sequence number and its argument.
fn command(frame: &[u8], arg: &mut [u8; MAX_ARG]) -> Option<(MacAddr, u64, usize)> {
    let parsed = parse_frame(frame).ok()?;
    if parsed.header.domain != DOMAIN {
        return None;
    }
    let MessageRepr::Data(data) = parsed.message().ok()? else {
        return None;
    };
    let rest = data.payload.strip_prefix(CMD)?;
    let n = rest.len().min(MAX_ARG);
    arg[..n].copy_from_slice(&rest[..n]);
    Some((parsed.src, data.seq, n))
}

fn serve(link: &mut Link, clock: &mut clock::Clock) -> Result<(), Failure> {
    let start = clock.now();
    let mut next_beacon = start;
    let mut seq = 1u64;
    let mut was_up = true;
    loop {
        let now = clock.now();
        if now.saturating_duration_since(start) > GIVE_UP_AFTER {
            return Err(Failure::Timeout);
        }
        if now >= next_beacon {
            next_beacon = now + BEACON_PERIOD;
            match send(link, now, discovery_mac(DOMAIN), seq, BEACON_TEXT) {
                Ok(true) => {
                    info!("beacon {seq} sent");
                    seq += 1;
                    was_up = true;
                }
                Ok(false) => warn!("no TX room for beacon"),
                Err(LinkError::Down) => {
                    if was_up {
                        warn!("link down");
                    }
                    was_up = false;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut arg = [0u8; MAX_ARG];
        let cmd = match link.receive(now)? {
            Some(rx) => command(rx.data(), &mut arg),
            None => None,
        };
        if let Some((from, cmd_seq, n)) = cmd {
            info!("command {cmd_seq} from {from}");
            let mut payload = [0u8; ACK.len() + MAX_ARG];
            payload[..ACK.len()].copy_from_slice(ACK);
            payload[ACK.len()..ACK.len() + n].copy_from_slice(&arg[..n]);
            let reply = &payload[..ACK.len() + n];
            // Retry while the device has no room, within the overall time limit.
            loop {
                let now = clock.now();
                if now.saturating_duration_since(start) > GIVE_UP_AFTER {
                    return Err(Failure::Timeout);
                }
                if send(link, now, from, cmd_seq, reply)? {
                    info!("acknowledged command {cmd_seq}");
                    return Ok(());
                }
            }
        }
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
