#![no_main]
//! Feeds a participant arbitrary frames, time steps and application calls
//! (`l2net_core::engine::fuzzing::participant`): it must never panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = vec![0u8; l2net_core::engine::fuzzing::SCRATCH];
    l2net_core::engine::fuzzing::participant(data, &mut scratch);
});
