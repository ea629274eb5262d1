#!/usr/bin/env bash
# The minimum supported Rust version in Cargo.toml must really build the workspace.
set -euo pipefail
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
rustup toolchain install "$msrv" --profile minimal >/dev/null
CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --workspace --all-targets
