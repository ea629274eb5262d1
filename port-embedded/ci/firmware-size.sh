#!/usr/bin/env bash
# Build the firmware (release), report its flash and static RAM, and fail if either is over the
# budget in port-embedded/firmware/size-budget.txt.
#   flash = .vector_table + .text + .rodata + .data    ram = .data + .bss + .uninit (stack extra)
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="$PWD/port-embedded/firmware/target"
[[ -n "${CARGO_TARGET_DIR:-}" ]] && target_dir="$CARGO_TARGET_DIR/firmware"
rustup target add thumbv7em-none-eabihf >/dev/null
(cd port-embedded/firmware && CARGO_TARGET_DIR="$target_dir" cargo build -q --release)
elf="$target_dir/thumbv7em-none-eabihf/release/l2net-firmware"

report="$(python3 port-embedded/ci/elf-size.py "$elf")"
echo "firmware $elf"
echo "$report"

budget_file=port-embedded/firmware/size-budget.txt
budget() { awk -v k="$1" '$1 == k { print $2 }' "$budget_file"; }
measured() { awk -v k="$1" '$1 == k { print $2 }' <<<"$report"; }

status=0
for key in flash ram; do
    have="$(measured "$key")"
    max="$(budget "$key")"
    if [[ -z "$max" ]]; then
        echo "error: no '$key' line in $budget_file" >&2
        exit 1
    fi
    if ((have > max)); then
        echo "error: $key $have bytes is over the budget of $max bytes ($budget_file)" >&2
        status=1
    else
        echo "$key $have / $max bytes ($((100 * have / max))% of budget)"
    fi
done
exit "$status"
