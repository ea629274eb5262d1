#!/usr/bin/env bash
# Everything the embedded port's CI runs, in order: QEMU, targets, size budget, then the tests
# with privileged and firmware tests required (a skip fails).
set -euo pipefail
here="$(dirname "$0")"
bash "$here/install-qemu.sh" >/dev/null
bash "$here/check-targets.sh"
bash "$here/firmware-size.sh"
cd "$here/../.."
L2NET_REQUIRE_PRIVILEGED=1 L2NET_REQUIRE_FIRMWARE=1 \
    cargo test -p l2net-embedded --features smoltcp -- --nocapture
