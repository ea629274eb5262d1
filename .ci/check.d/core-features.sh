#!/usr/bin/env bash
# l2net-core with protocol features left out (core/Cargo.toml [features]): the reduced build a
# small firmware uses (no default features) is tested and linted, each feature alone is linted,
# and the reduced core builds for a bare-metal target. The full build is tested by .ci/run.
set -euo pipefail
echo "== l2net-core, no default features: tests and clippy"
cargo test -p l2net-core --no-default-features --no-fail-fast
cargo clippy -p l2net-core --no-default-features --all-targets -- -D warnings
for feature in local fragmentation liveliness-manual batching services transient-local paged-hello deadline lifespan vlan ack-with-data; do
    echo "== l2net-core, only '$feature': clippy"
    cargo clippy -p l2net-core --no-default-features --features "$feature" --all-targets -- -D warnings
done
cargo build -p l2net-core --no-default-features --target thumbv7em-none-eabihf
