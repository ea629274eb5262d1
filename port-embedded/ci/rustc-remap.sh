#!/bin/sh
# rustc wrapper of the firmware build (port-embedded/firmware/.cargo/config.toml, build.rustc-wrapper):
# remaps the absolute source paths that panic locations and debug info carry, so that the
# images' size and contents do not depend on where the repository or CARGO_HOME live:
#   <repository>/...                         -> l2net/...
#   <CARGO_HOME>/registry/src/<index>/...    -> <crate>-<version>/...   (like cargo's trim-paths)
#   <CARGO_HOME>/...                         -> cargo/...               (git checkouts)
# Cargo's `trim-paths` profile option does the same but is not stable yet (cargo 1.95), and
# --remap-path-prefix in rustflags needs these absolute paths, which a config file cannot know.
# A RUSTC_WRAPPER in the environment (sccache ...) replaces this one: the sizes then include the
# paths again.
set -eu
rustc="$1"
shift
root="$(cd "$(dirname "$0")/../.." && pwd -P)"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
set -- "$@" "--remap-path-prefix=$cargo_home=cargo"
for index in "$cargo_home"/registry/src/*; do
    [ -d "$index" ] && set -- "$@" "--remap-path-prefix=$index="
done
exec "$rustc" "$@" "--remap-path-prefix=$root=l2net"
