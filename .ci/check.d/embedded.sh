#!/usr/bin/env bash
# The embedded port on its bare-metal targets (thumbv7m, thumbv7em, thumbv8m.main), the firmware
# build and lints, and the firmware flash/RAM budget.
set -euo pipefail
bash port-embedded/ci/check-targets.sh
bash port-embedded/ci/firmware-size.sh
