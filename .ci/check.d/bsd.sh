#!/usr/bin/env bash
# The BSD/macOS port: clippy and check for FreeBSD, NetBSD and both macOS targets, -D warnings.
set -euo pipefail
exec bash port-bsd/ci-check.sh
