//! The engine never allocates (it cannot: `l2net-core` has no allocator), and the steady state
//! of two participants with the facade's capacities, best effort and reliable, does not either.
//! A count, not a timing: the counting allocator sees only this thread's allocations.

#[path = "support/alloc_count.rs"]
mod alloc_count;
#[path = "support/pair.rs"]
mod pair;

use pair::{Pair, Scenario};

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

#[test]
fn steady_state_makes_no_allocation() {
    for reliable in [false, true] {
        for payload in [16, 1024] {
            let s = Scenario::burst(payload, reliable, 4);
            let mut p = Pair::new(s);
            for _ in 0..50 {
                p.round();
            }
            let (allocs, samples) = (alloc_count::allocations(), p.delivered);
            for _ in 0..300 {
                p.round();
            }
            let allocs = alloc_count::allocations() - allocs;
            let samples = p.delivered - samples;
            assert!(samples > 1_000, "{}: only {samples} samples", s.name());
            assert_eq!(allocs, 0, "{}: {allocs} allocations", s.name());
        }
    }
}
