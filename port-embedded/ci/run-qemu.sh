#!/usr/bin/env bash
# `cargo run` runner for port-embedded/firmware: boot the ELF on QEMU's mps2-an386 with
# semihosting (the firmware's log and exit status). Without a network: pass a -nic option in
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
exec "$qemu" -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -nic "${L2NET_QEMU_NIC:-none}" -kernel "$elf"
