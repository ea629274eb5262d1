#!/usr/bin/env bash
# Build the firmware images (release), report each one's flash and static RAM, and fail if any
# is over its budget in port-embedded/firmware/size-budget.txt (lines: BINARY KEY BYTES).
#   flash = .vector_table + .text + .rodata + .data    ram = .data + .bss + .uninit (stack extra)
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="$PWD/port-embedded/firmware/target"
[[ -n "${CARGO_TARGET_DIR:-}" ]] && target_dir="$CARGO_TARGET_DIR/firmware"
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
(cd port-embedded/firmware && CARGO_TARGET_DIR="$target_dir" cargo build -q --release --bins)

budget_file=port-embedded/firmware/size-budget.txt
status=0
for bin in $(awk '!/^#/ && NF == 3 { print $1 }' "$budget_file" | sort -u); do
    elf="$target_dir/thumbv7em-none-eabihf/release/$bin"
    if [[ ! -f "$elf" ]]; then
        echo "error: $bin has a budget but was not built ($elf)" >&2
        status=1
        continue
    fi
    report="$(python3 port-embedded/ci/elf-size.py "$elf")"
    echo "== $bin"
    echo "$report"
    for key in flash ram; do
        have="$(awk -v k="$key" '$1 == k { print $2 }' <<<"$report")"
        max="$(awk -v b="$bin" -v k="$key" '$1 == b && $2 == k { print $3 }' "$budget_file")"
        if [[ -z "$max" ]]; then
            echo "error: no '$bin $key' line in $budget_file" >&2
            status=1
        elif ((have > max)); then
            echo "error: $bin $key $have bytes is over the budget of $max bytes ($budget_file)" >&2
            status=1
        else
            echo "$bin $key $have / $max bytes ($((100 * have / max))% of budget)"
        fi
    done
done
exit "$status"
