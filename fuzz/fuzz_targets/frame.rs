#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    l2net_core::wire::fuzzing::check_frame(data);
});
