#!/usr/bin/env bash
# `cargo run` runner for port-embedded/firmware: boot the ELF on QEMU's mps2-an386 with
# semihosting (the firmware's defmt log and exit status). Without a network: pass a -nic option in
# L2NET_QEMU_NIC (for example "tap,ifname=l2fw0,script=no,downscript=no") to attach one.
set -euo pipefail
elf="${1:?usage: run-qemu.sh FIRMWARE.elf}"
qemu="${L2NET_QEMU:-}"
if [[ -z "$qemu" ]]; then
    if [[ -x /opt/l2net-qemu/bin/qemu-system-arm ]]; then
        qemu=/opt/l2net-qemu/bin/qemu-system-arm
    else
        qemu="$(command -v qemu-system-arm || true)"
    fi
fi
if [[ -z "$qemu" ]]; then
    echo "qemu-system-arm not found: run port-embedded/ci/install-qemu.sh" >&2
    exit 1
fi
run() {
    "$qemu" -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native \
        -nic "${L2NET_QEMU_NIC:-none}" -kernel "$elf"
}
# The image's log is binary defmt frames on semihosting stdout: decode it with the ELF's table.
# The exit status stays QEMU's (the image's semihosting exit code) through pipefail.
if command -v defmt-print >/dev/null; then
    run | defmt-print -e "$elf"
else
    echo "run-qemu.sh: defmt-print not found (cargo install defmt-print): raw defmt frames follow" >&2
    run
fi
