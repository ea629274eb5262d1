//! Replays the participant fuzz harness (`l2net_core::engine::fuzzing`, also driven by
//! `fuzz/fuzz_targets/participant.rs`) on stable: random programs from proptest, plus the corpus
//! in `fuzz/corpus/participant/` when it exists.

use l2net_core::engine::fuzzing::{SCRATCH, participant};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_programs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut scratch = vec![0u8; SCRATCH];
        participant(&data, &mut scratch);
    }

    /// Programs biased to well-formed HELLOs, writes and time steps reach the data paths.
    #[test]
    fn structured_programs_never_panic(ops in proptest::collection::vec((0u8..6, any::<[u8; 6]>()), 0..400)) {
        let mut data = Vec::new();
        for (op, args) in ops {
            data.push(op);
            data.extend_from_slice(&args);
        }
        let mut scratch = vec![0u8; SCRATCH];
        participant(&data, &mut scratch);
    }
}

#[test]
fn replay_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/participant");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut scratch = vec![0u8; SCRATCH];
    for e in entries.flatten() {
        let data = std::fs::read(e.path()).unwrap();
        participant(&data, &mut scratch);
    }
}
