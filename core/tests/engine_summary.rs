//! The per-endpoint transmit summary (`ack-with-data`): a ping-pong with idle endpoints beside
//! it runs on the restricted paths (only the changed writer and reader are planned, timed and
//! passed over), and debug builds check every restricted answer against the full planner, timer
//! scan and timer pass. Run here in a debug build, with the clock jumping now and then so that
//! HEARTBEATs, announcements and lease checks come due between the samples.
#![cfg(feature = "ack-with-data")]

#[path = "support/pair.rs"]
mod pair;

use std::time::Duration;

use pair::PingPong;

fn run(idle: usize) {
    let mut p = PingPong::with_idle(idle);
    let (frames, delivered) = (p.frames, p.delivered);
    for i in 0..600u32 {
        assert_eq!(
            p.round(),
            2,
            "{idle} idle endpoints: round {i} lost a sample"
        );
        if i % 50 == 49 {
            // Past the fast HEARTBEAT rules and some announcement rounds.
            p.now += Duration::from_millis(40);
        }
    }
    assert_eq!(p.delivered - delivered, 1_200);
    // One frame a hop, plus the few that the timers made due.
    let frames = p.frames - frames;
    assert!(
        (1_200..1_400).contains(&frames),
        "{idle} idle endpoints: {frames} frames"
    );
}

#[test]
fn ping_pong_with_idle_endpoints_checks_the_restricted_summary() {
    run(12);
}

#[test]
fn ping_pong_without_idle_endpoints_checks_the_summary() {
    run(0);
}
