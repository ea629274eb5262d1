//! The participant's own capacities: the event queue size (`Q`) and building a participant in
//! place (`Participant::new_in`).

use std::mem::MaybeUninit;

#[cfg(feature = "local")]
use l2net_core::engine::Qos;
use l2net_core::engine::{Config, ConfigError, EVENT_QUEUE, Event, Participant};
use l2net_core::{Instant, MacAddr};

const MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);

/// The default event queue is [`EVENT_QUEUE`]; a participant may set its own.
type Default<'a> = Participant<'a, 2, 4, 2, 2, 4, 2, 0>;
type Small<'a> = Participant<'a, 2, 4, 2, 2, 4, 2, 0, 2>;

#[test]
fn the_event_queue_defaults_to_event_queue() {
    let p = Default::new(Config::new(0, "d"), 1, MAC, &mut [], Instant::ZERO).unwrap();
    let _: &Participant<'_, 2, 4, 2, 2, 4, 2, 0, EVENT_QUEUE> = &p;
    // A small queue costs less memory.
    assert!(
        core::mem::size_of::<Small<'_>>() + (EVENT_QUEUE - 2) * core::mem::size_of::<Event>()
            <= core::mem::size_of::<Default<'_>>()
    );
}

#[test]
fn new_in_builds_in_the_slot_and_checks_the_configuration() {
    let mut slot = MaybeUninit::uninit();
    let err = Small::new_in(
        &mut slot,
        Config::new(0, "s"),
        0,
        MAC,
        &mut [],
        Instant::ZERO,
    )
    .err()
    .unwrap();
    assert_eq!(err, ConfigError::ZeroId);
    let p = Small::new_in(
        &mut slot,
        Config::new(0, "s"),
        7,
        MAC,
        &mut [],
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(p.id(), 7);
    assert_eq!(p.mac(), MAC);
    assert!(p.poll_event().is_none());
}

/// Events beyond the queue's capacity are dropped and counted, the queued ones stay.
#[cfg(feature = "local")]
#[test]
fn a_full_event_queue_counts_what_it_drops() {
    let mut slot = MaybeUninit::uninit();
    let (mut history, mut queue) = (vec![0u8; 1024], vec![0u8; 1024]);
    let now = Instant::from_millis(1);
    let p = Small::new_in(&mut slot, Config::new(0, "s"), 7, MAC, &mut [], now).unwrap();
    // A writer and a reader of this participant match each other: Matched twice and
    // LivelinessChanged once, three events for a queue of two.
    p.create_writer("t", "T", None, Qos::reliable(2), &mut history)
        .unwrap();
    p.create_reader("t", "T", None, Qos::reliable(2), &mut queue)
        .unwrap();
    let mut seen = 0;
    while p.poll_event().is_some() {
        seen += 1;
    }
    assert_eq!(seen, 2);
    assert!(p.stats().events_dropped >= 1);
}
