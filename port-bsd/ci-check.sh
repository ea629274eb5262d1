#!/usr/bin/env bash
# Checks of the macOS/BSD port, called by the main CI script (.ci/run runs .ci/check.d/*.sh).
#
# The /dev/bpf link only exists on macOS and the BSDs, so it is type-checked and linted here by
# cross-checking l2net-bsd and the facade (which selects it as `l2net::host`) for each target,
# warnings denied. The plain parts (record walker, ioctl numbers, buffers) are also tested on the
# host. OpenBSD has no rustup std target (tier 3); its cfg paths (BIOCSDIRFILT, the u32
# bpf_timeval layout, AF_UNSPEC multicast) are kept apart in small #[cfg] items and their data is
# tested on the host through `Os::OpenBsd` in ioccom/ifreq/record.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(x86_64-unknown-freebsd x86_64-unknown-netbsd aarch64-apple-darwin x86_64-apple-darwin)
rustup target add "${targets[@]}" >/dev/null

export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
for t in "${targets[@]}"; do
    echo "--- $t"
    cargo check -q -p l2net-bsd --all-targets --target "$t"
    cargo clippy -q -p l2net-bsd --all-targets --target "$t" -- -D warnings
    # The facade's own tests and benches drive Linux namespaces; its library and binary are what
    # a Mac or BSD user builds.
    cargo check -q -p l2net --lib --bins --target "$t"
    cargo clippy -q -p l2net --lib --bins --target "$t" -- -D warnings
done

echo "--- host tests of the plain parts"
cargo test -q -p l2net-bsd
