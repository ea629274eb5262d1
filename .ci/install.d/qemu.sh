#!/usr/bin/env bash
# qemu-system-arm for the firmware tests, unpacked from Debian's packages (installing it with apt
# would remove the machine's newer qemu-utils).
set -euo pipefail
bash port-embedded/ci/install-qemu.sh
