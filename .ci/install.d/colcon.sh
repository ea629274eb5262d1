#!/usr/bin/env bash
# CMake (Debian's package, only when the machine has none) and colcon (colcon-common-extensions from
# PyPI, in a virtual environment of its own so nothing system-wide changes) for the colcon build of
# rmw_l2net (.ci/check.d/rmw-colcon.sh; colcon-metadata reads rmw_l2net/colcon.pkg and
# colcon-library-path adds lib/ to LD_LIBRARY_PATH). Idempotent: a second run only checks.
#
#   L2NET_COLCON_VENV   where the virtual environment lives (default ~/.cache/l2net-colcon-venv)
set -euo pipefail

venv=${L2NET_COLCON_VENV:-$HOME/.cache/l2net-colcon-venv}

if ! command -v cmake >/dev/null; then
    echo "colcon.sh: installing cmake (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null
fi
cmake --version | head -n 1

if [ -x "$venv/bin/colcon" ] && "$venv/bin/python" -c 'import colcon_cmake, colcon_ros, colcon_metadata, colcon_library_path' 2>/dev/null; then
    echo "colcon.sh: colcon already in $venv"
else
    echo "colcon.sh: installing colcon-common-extensions (pip) into $venv"
    # Prefer the system interpreter: the venv must outlive any pyenv shim change.
    py=python3
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null && py=/usr/bin/python3
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! "$py" -m venv "$venv"; then
        # Debian splits venv/ensurepip into python3-venv.
        echo "colcon.sh: installing python3-venv (apt)"
        rm -rf "$venv"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        /usr/bin/python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check colcon-common-extensions
fi
"$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -E "^colcon-(core|cmake|ros) " || true
