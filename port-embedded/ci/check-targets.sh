#!/usr/bin/env bash
# Build l2net-embedded (and l2net-core under it) for the bare-metal Cortex-M targets the port
# supports, in every logging/feature combination a firmware uses, and build the firmware.
#   thumbv7m-none-eabi        Cortex-M3 (mps2-an385), no FPU
#   thumbv7em-none-eabihf     Cortex-M4F/M7F (mps2-an386)
#   thumbv8m.main-none-eabihf Cortex-M33/M55 (Armv8-M mainline)
set -euo pipefail
cd "$(dirname "$0")/../.."

targets=(thumbv7m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf)
rustup target add "${targets[@]}" >/dev/null

for target in "${targets[@]}"; do
    for features in "" "defmt" "log" "smoltcp,defmt" "smoltcp,log"; do
        echo "== l2net-embedded --target $target --features '$features'"
        cargo build -q -p l2net-embedded --target "$target" --no-default-features \
            ${features:+--features "$features"}
    done
done

echo "== logging features are exclusive: defmt + log must not build"
if cargo check -q -p l2net-embedded --target thumbv7em-none-eabihf --features defmt,log 2>/dev/null; then
    echo "error: l2net-embedded built with both defmt and log" >&2
    exit 1
fi

echo "== firmware (thumbv7em-none-eabihf, release)"
firmware_target="$PWD/port-embedded/firmware/target"
[[ -n "${CARGO_TARGET_DIR:-}" ]] && firmware_target="$CARGO_TARGET_DIR/firmware"
(cd port-embedded/firmware && CARGO_TARGET_DIR="$firmware_target" cargo build -q --release --bins)
(cd port-embedded/firmware && CARGO_TARGET_DIR="$firmware_target" cargo clippy -q --release --bins -- -D warnings)
(cd port-embedded/firmware && cargo fmt --check)
echo "all targets build"
