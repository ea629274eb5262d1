//! l2net firmware for Arm MPS2 AN386 (Cortex-M4 with a LAN9118), run under QEMU `mps2-an386`.
//!
//! The port's bring-up image, without the protocol engine: it brings the LAN9118 up
//! through l2net-embedded's driver, announces itself with l2net DATA frames (built with
//! `l2net_core::wire`) on the domain's discovery MAC every half second, and answers the first
//! command frame (a DATA frame whose payload starts with `CMD `) with `ACK ` and the rest of the
//! payload, unicast to the sender. Then it exits through semihosting with status 0. Any failure
//! (bring-up, link, a 60-second timeout, a panic) exits with a failure status, so a test can tell.
//!
//! `l2net-node` (src/bin/node.rs) is the same board as a full l2net participant.
#![no_std]
#![no_main]

use core::time::Duration;

use cortex_m_rt::entry;
use defmt::{info, warn};
use l2net_core::wire::frame::{FrameRepr, parse_frame};
use l2net_core::wire::msg::{DataRepr, MessageRepr};
use l2net_core::wire::{EntityId, MacAddr, ParticipantId, TagStack, discovery_mac};
use l2net_core::{Instant, LinkError, RawLink, RxFrame, TxToken};
use l2net_firmware::{BOARD_MAC, DOMAIN, Failure, Link, bring_up, clock, exit};

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

#[entry]
fn main() -> ! {
    exit(run())
}

fn run() -> Result<(), Failure> {
    let (link, mut clock) = bring_up()?;
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
    // A deadline instant: `now - start > limit` would divide 64-bit nanoseconds (see the node).
    let give_up_at = start + GIVE_UP_AFTER;
    let mut next_beacon = start;
    let mut seq = 1u64;
    let mut was_up = true;
    loop {
        let now = clock.now();
        if now > give_up_at {
            return Err(Failure::Timeout);
        }
        if now >= next_beacon {
            next_beacon = now + BEACON_PERIOD;
            match send(link, now, discovery_mac(DOMAIN), seq, BEACON_TEXT) {
                Ok(true) => {
                    info!("beacon {=u64} sent", seq);
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
            info!("command {=u64} from {}", cmd_seq, from);
            let mut payload = [0u8; ACK.len() + MAX_ARG];
            payload[..ACK.len()].copy_from_slice(ACK);
            payload[ACK.len()..ACK.len() + n].copy_from_slice(&arg[..n]);
            let reply = &payload[..ACK.len() + n];
            // Retry while the device has no room, within the overall time limit.
            loop {
                let now = clock.now();
                if now > give_up_at {
                    return Err(Failure::Timeout);
                }
                if send(link, now, from, cmd_seq, reply)? {
                    info!("acknowledged command {=u64}", cmd_seq);
                    return Ok(());
                }
            }
        }
    }
}
