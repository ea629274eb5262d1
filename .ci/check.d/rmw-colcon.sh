#!/usr/bin/env bash
# rmw_l2net as a ROS package: a colcon build and test of rmw_l2net/ (package rmw_l2net_cpp, plain
# CMake driving cargo) in a temporary workspace, then checks of the installed layout: every file
# rmw_implementation and find_package need, the ament index contents, the environment colcon's
# setup script gives, a downstream CMake project that finds the package and links a C program
# (which also loads the library by name, as rmw_implementation does), and the library's exports
# against rmw_l2net/exported_symbols.txt. Needs .ci/install.d/colcon.sh first.
#
#   CARGO_TARGET_DIR       cargo target directory to reuse (default: the repository's target/)
#   L2NET_COLCON_PROFILE   cargo profile of the build (default dev, which CI has already built)
#   L2NET_COLCON_VENV      colcon's virtual environment (default ~/.cache/l2net-colcon-venv)
#   L2NET_COLCON_KEEP=1    keep the temporary workspace (its path is printed)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${L2NET_COLCON_VENV:-$HOME/.cache/l2net-colcon-venv}
profile=${L2NET_COLCON_PROFILE:-dev}
target=${CARGO_TARGET_DIR:-$repo/target}
pkg=rmw_l2net_cpp

fail() { echo "rmw-colcon: FAILED: $*" >&2; exit 1; }
[ -x "$venv/bin/colcon" ] || fail "no colcon in $venv: run .ci/install.d/colcon.sh first"
command -v cmake >/dev/null || fail "no cmake: run .ci/install.d/colcon.sh first"
command -v nm >/dev/null || fail "no nm (binutils)"

ws=$(mktemp -d /tmp/l2net-colcon.XXXXXX)
cleanup() {
    if [ "${L2NET_COLCON_KEEP:-0}" = 1 ]; then echo "rmw-colcon: workspace kept in $ws"; else rm -rf "$ws"; fi
}
trap cleanup EXIT
mkdir -p "$ws/src"
ln -s "$repo/rmw_l2net" "$ws/src/rmw_l2net"
cd "$ws"

echo "rmw-colcon: colcon build in $ws (cargo profile $profile, target dir $target)"
# colcon runs outside this shell's virtual environment on purpose: only its entry point is used.
"$venv/bin/colcon" --log-base log build --base-paths src --build-base build --install-base install \
    --event-handlers console_cohesion+ summary+ \
    --cmake-args "-DRMW_L2NET_CARGO_PROFILE=$profile" "-DRMW_L2NET_CARGO_TARGET_DIR=$target"
"$venv/bin/colcon" --log-base log test --base-paths src --build-base build --install-base install \
    --event-handlers console_cohesion+ summary+ --return-code-on-test-failure
"$venv/bin/colcon" --log-base log test-result --test-result-base build --all

prefix=$ws/install/$pkg
index=$prefix/share/ament_index/resource_index
for f in \
    lib/librmw_l2net_cpp.so \
    share/ament_index/resource_index/packages/$pkg \
    share/ament_index/resource_index/rmw_typesupport/$pkg \
    share/ament_index/resource_index/rmw_typesupport_c/$pkg \
    share/ament_index/resource_index/rmw_typesupport_cpp/$pkg \
    share/$pkg/cmake/${pkg}Config.cmake \
    share/$pkg/cmake/${pkg}ConfigVersion.cmake \
    share/$pkg/package.xml \
    share/$pkg/environment/ament_prefix_path.dsv \
    share/$pkg/environment/ament_prefix_path.sh; do
    [ -f "$prefix/$f" ] || fail "not installed: $f"
done
echo "rmw-colcon: installed files present"

# The resource contents register_rmw_implementation() would write (no trailing newline).
expect() {
    local got
    got=$(cat "$index/$1/$pkg"; printf x)
    [ "${got%x}" = "$2" ] || fail "$1/$pkg holds '${got%x}', expected '$2'"
}
expect packages ""
expect rmw_typesupport_c "rosidl_typesupport_c;rosidl_typesupport_introspection_c"
expect rmw_typesupport_cpp "rosidl_typesupport_cpp;rosidl_typesupport_introspection_cpp"
expect rmw_typesupport \
    "rosidl_typesupport_c;rosidl_typesupport_introspection_c;rosidl_typesupport_cpp;rosidl_typesupport_introspection_cpp"
cmp -s "$prefix/share/$pkg/package.xml" "$repo/rmw_l2net/package.xml" || fail "installed package.xml differs"
echo "rmw-colcon: ament index entries as register_rmw_implementation() writes them"

# The environment a user gets from the install: the setup script must put the prefix where
# ament_index (AMENT_PREFIX_PATH), the dynamic loader (LD_LIBRARY_PATH) and find_package
# (CMAKE_PREFIX_PATH) look.
set +u
# shellcheck disable=SC1091
. "$ws/install/setup.bash"
set -u
on_path() { case ":${!1:-}:" in *":$2:"*) ;; *) fail "$1 does not hold $2 after setup.bash: ${!1:-}" ;; esac; }
on_path AMENT_PREFIX_PATH "$prefix"
on_path LD_LIBRARY_PATH "$prefix/lib"
on_path CMAKE_PREFIX_PATH "$prefix"

# rmw_implementation's fallback: every package with an rmw_typesupport resource on
# AMENT_PREFIX_PATH is a middleware it may load as lib<name>.so.
found=""
IFS=: read -r -a prefixes <<<"$AMENT_PREFIX_PATH"
for p in "${prefixes[@]}"; do
    [ -f "$p/share/ament_index/resource_index/rmw_typesupport/$pkg" ] && { found=$p; break; }
done
[ "$found" = "$prefix" ] || fail "no rmw_typesupport/$pkg on AMENT_PREFIX_PATH"
echo "rmw-colcon: setup.bash exports the prefix; the ament index lists $pkg as a middleware"

# A downstream project: find_package(rmw_l2net_cpp) and a C program linked to its target.
cmake -S "$repo/rmw_l2net/cmake/consumer" -B "$ws/consumer" >"$ws/consumer.log" 2>&1 ||
    { cat "$ws/consumer.log"; fail "configuring the find_package consumer"; }
cmake --build "$ws/consumer" >>"$ws/consumer.log" 2>&1 ||
    { cat "$ws/consumer.log"; fail "building the find_package consumer"; }
out=$("$ws/consumer/print_identifier" "$pkg") || fail "print_identifier: $out"
[ "$out" = "$pkg"$'\n'"$pkg" ] || fail "print_identifier printed '$out', expected $pkg twice"
needed=$(readelf -d "$ws/consumer/print_identifier" | sed -n 's/.*(NEEDED).*\[\(.*rmw_l2net.*\)\]/\1/p')
[ "$needed" = librmw_l2net_cpp.so ] || fail "consumer records '$needed' instead of librmw_l2net_cpp.so"
echo "rmw-colcon: find_package($pkg) links a C program that prints '$pkg' (linked and dlopen'ed by name)"

cmake -DNM="$(command -v nm)" -DLIBRARY="$prefix/lib/librmw_l2net_cpp.so" \
    -DLIST="$repo/rmw_l2net/exported_symbols.txt" -P "$repo/rmw_l2net/cmake/check_exports.cmake"
echo "rmw-colcon: all checks passed"
