//! The MPS2 AN386 board as a full l2net participant, driven by the core's sans-IO engine over
//! the LAN9118 link.
//!
//! It is `mps2-an386` in domain 7 with a reliable writer on `fw/status` and a reliable reader on
//! `fw/cmd` (type `text`). Each sample `CMD x` taken from `fw/cmd` is answered with `ACK x` on
//! `fw/status`; once the first answer is acknowledged by every matched reader the participant
//! says goodbye and the image exits through semihosting with status 0. A 60-second limit, a
//! link or engine error, or a panic exit with a failure status.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::time::Duration;

use cortex_m_rt::entry;
use defmt::{error, info, warn};
use l2net_core::engine::{
    Config, Event, Participant, Qos, ReaderHandle, WriteError, WriterHandle, drive,
};
use l2net_core::{Instant, LinkError, RawLink};
use l2net_firmware::clock::Clock;
use l2net_firmware::{
    BOARD_MAC, DOMAIN, Failure, Link, bring_up, exit, log_stack_peak, restart_stack_peak,
};

/// Capacities, cut to what a board serving one host needs (the 16 KiB RAM target; see
/// docs/BENCHMARKS.md): 1 remote participant (an unmatched one is evicted when another is heard,
/// a matched one stays), 3 remote endpoints (the host's `fw/cmd` writer and `fw/status` reader,
/// one to spare), 1 writer, 1 reader, 2 history/queue slots, 1 match per endpoint, and no
/// reassembly: samples are at most `MAX_SAMPLE` bytes, far below any MTU, so no peer fragments
/// them, and a DATA_FRAG that still arrives is dropped and counted. Without reassembly the
/// fragment code drops out of the image (3.7 KB of flash). 16 events: the serving loop drains
/// them every round (the default 128 is 5 KB of RAM).
type Node<'a> = Participant<'a, 1, 3, 1, 1, 2, 1, 0, 16>;
/// History (writer) and queue (reader) arenas: `DEPTH` samples of up to `MAX_SAMPLE` bytes.
const ARENA: usize = DEPTH as usize * MAX_SAMPLE;
const DEPTH: u16 = 2;

const PARTICIPANT_ID: u64 = 0x0386_0000_0000_0002;
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);
/// After `close`, how long GOODBYEs may take to leave.
const GOODBYE_TIME: Duration = Duration::from_millis(500);
const MAX_SAMPLE: usize = 128;
const CMD: &[u8] = b"CMD ";
const ACK: &[u8] = b"ACK ";

#[entry]
fn main() -> ! {
    exit(run())
}

fn run() -> Result<(), Failure> {
    let (node, link, mut clock, start, status, cmd) = set_up()?;
    // Set-up and serving peak separately: set-up holds the participant by value for a moment.
    log_stack_peak();
    restart_stack_peak();
    let result = serve(node, link, &mut clock, start, status, cmd);
    if result.is_err() {
        // What the engine and the link counted (drops, refusals) says why nothing happened.
        error!("engine: {}", node.stats());
        error!("link: {}", link.stats());
    }
    result
}

/// The participant and its endpoints, in `static` memory.
type SetUp = (
    &'static mut Node<'static>,
    &'static mut Link,
    Clock,
    Instant,
    WriterHandle,
    ReaderHandle,
);

/// Everything before serving. Not inlined: its frame must be gone before the serving loop's
/// frames go on the stack.
#[inline(never)]
fn set_up() -> Result<SetUp, Failure> {
    let (link, mut clock) = bring_up()?;
    let history = cortex_m::singleton!(: [u8; ARENA] = [0; ARENA]).ok_or(Failure::NoDevice)?;
    let queue = cortex_m::singleton!(: [u8; ARENA] = [0; ARENA]).ok_or(Failure::NoDevice)?;

    let mut config = Config::new(DOMAIN, "mps2-an386");
    config.mtu = link.capabilities().mtu;
    config.max_sample_len = MAX_SAMPLE;
    let start = clock.now();
    let node = create_node(config, start)?;
    let status = create_writer(node, history)?;
    let cmd = create_reader(node, queue)?;
    info!("participant {=u64:#x} up", node.id());
    Ok((node, link, clock, start, status, cmd))
}

// The participant and the endpoints are created in frames of their own (not inlined): each
// builds parts on the stack before they move into the participant (an endpoint's topic and type
// names are 0.5 KB, the graph's tables more), and inlined into `set_up` those temporaries added
// up to a 5 KB frame under the endpoints' own, the image's deepest stack.

#[inline(never)]
fn create_node(
    config: Config<'static>,
    start: Instant,
) -> Result<&'static mut Node<'static>, Failure> {
    // Built in place in .bss: never on the stack as a whole, and the size report counts it.
    let slot = cortex_m::singleton!(: MaybeUninit<Node<'static>> = MaybeUninit::uninit())
        .ok_or(Failure::NoDevice)?;
    Node::new_in(slot, config, PARTICIPANT_ID, BOARD_MAC, &mut [], start)
        .map_err(|_| Failure::Engine("participant configuration refused"))
}

#[inline(never)]
fn create_writer(
    node: &mut Node<'static>,
    history: &'static mut [u8],
) -> Result<WriterHandle, Failure> {
    node.create_writer("fw/status", "text", None, Qos::reliable(DEPTH), history)
        .map_err(|_| Failure::Engine("cannot create the fw/status writer"))
}

#[inline(never)]
fn create_reader(
    node: &mut Node<'static>,
    queue: &'static mut [u8],
) -> Result<ReaderHandle, Failure> {
    node.create_reader("fw/cmd", "text", None, Qos::reliable(DEPTH), queue)
        .map_err(|_| Failure::Engine("cannot create the fw/cmd reader"))
}

/// Answer commands until the first answer is acknowledged and the goodbye is out. Not inlined
/// into `run`: its frame (the receive path's) would then be on the stack during set-up too
/// (inlined once `on_hello` went out of line: set-up peak 4,588 -> 5,468 B).
#[inline(never)]
fn serve(
    node: &mut Node<'_>,
    link: &mut Link,
    clock: &mut Clock,
    start: Instant,
    status: WriterHandle,
    cmd: ReaderHandle,
) -> Result<(), Failure> {
    let mut answered = false;
    // Deadlines as instants: `now - since > limit` builds a `Duration` from nanoseconds, a 64-bit
    // division (compiler-builtins' u64_div_rem, 864 B) on this target.
    let give_up_at = start + GIVE_UP_AFTER;
    let mut closing_until: Option<Instant> = None;
    let mut sample = [0u8; MAX_SAMPLE];
    loop {
        let now = clock.now();
        if now > give_up_at {
            return Err(Failure::Timeout);
        }
        if let Some(until) = closing_until
            && (node.is_closed() || now > until)
        {
            return Ok(());
        }
        // `drive` runs the participant's timers too (`handle_timeout`, between receiving and
        // sending), so the loop needs no `poll_timeout` of its own: it polls without sleeping.
        match drive(node, link, now) {
            Ok(_) => {}
            Err(LinkError::Down) => {}
            Err(e) => return Err(e.into()),
        }
        while let Some(event) = node.poll_event() {
            match event {
                Event::ParticipantDiscovered { participant, mac } => {
                    info!("discovered participant {=u64:#x} at {}", participant, mac);
                }
                Event::Matched { .. } => info!("matched a remote endpoint"),
                _ => {}
            }
        }
        while let Some(info) = node
            .take(cmd, &mut sample)
            .map_err(|_| Failure::Engine("take from fw/cmd"))?
        {
            let Some(arg) = sample.get(..info.len).and_then(|s| s.strip_prefix(CMD)) else {
                warn!("ignored a sample that is no command");
                continue;
            };
            // The answer is written straight into the writer's history (no reply buffer on the
            // stack: the serving loop's stack is what keeps the node within 16 KiB of RAM).
            // Copied by zipping, not through ranges: no panic sites (they keep `core::fmt`).
            let n = (ACK.len() + arg.len()).min(MAX_SAMPLE);
            let answer = node.write_with(status, n, now, |buf| {
                for (d, s) in buf.iter_mut().zip(ACK.iter().chain(arg)) {
                    *d = *s;
                }
            });
            match answer {
                Ok(seq) => {
                    info!("command {=u64} answered with sample {=u64}", info.seq, seq);
                    answered = true;
                }
                Err(WriteError::WouldBlock) => warn!("fw/status is full; command dropped"),
                Err(_) => return Err(Failure::Engine("write to fw/status")),
            }
        }
        if answered && closing_until.is_none() && node.is_acknowledged(status) {
            info!("answer acknowledged, saying goodbye");
            node.close(now);
            closing_until = Some(now + GOODBYE_TIME);
        }
    }
}
