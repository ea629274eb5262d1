#!/bin/bash
# The pong's user and system CPU per round trip in a blocking ping-pong, both peers on CPU 0 (on
# one CPU a round trip is both peers' CPU in turn, so the pong's share is one hop).
#
#   sudo -E bash rmw_l2net/benches/rmw_pingpong/scripts/cpusplit.sh KIND SIZE [LIB.so]
#
# KIND: rmw (LIB.so through the C API), node (the Node API), or the compare benchmark's raw
# peers: raw (one blocking recv), rawpoll (ppoll, then recv), ringpoll (the Node's frame-ring
# link with its ppoll). rmw and node run reliable; raw kinds need the compare binary
# (`cargo bench --bench compare --no-run`). Prints p50 round trip, the pong's user and system
# time per round trip (from /proc/PID/stat, 100 Hz ticks, over the ping's 3 s run and its
# warm-up) and the ping's CPU per round trip.
set -u
[ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
case "$1" in
rmw | node | raw | rawpoll | ringpoll) ;;
*) echo "unknown kind $1 (rmw, node, raw, rawpoll or ringpoll)" >&2; exit 2 ;;
esac
. "$(dirname "$0")/wire.sh"
KIND=$1; SZ=$2; LIB=${3:-$T/release/deps/librmw_l2net_cpp.so}
export RMW_L2NET_BUSY_POLL=0
case "$KIND" in
rmw | node)
    if [ "$KIND" = rmw ]; then PA=$LIB; PB=$LIB; else PA=$IA; PB=$IB; fi
    PONG=("$BENCH" peer "$KIND-pong" "$PB" reliable)
    PING=("$BENCH" peer "$KIND-ping" "$PA" "$SZ" 3 reliable)
    ;;
raw | rawpoll | ringpoll)
    CMP=$(ls -t "$T"/release/deps/compare-* 2>/dev/null | grep -v '\.d$' | head -1)
    [ -n "$CMP" ] || { echo "no compare binary: cargo bench --bench compare --no-run" >&2; exit 2; }
    W=(); [ "$KIND" = rawpoll ] && W=(poll); [ "$KIND" = ringpoll ] && W=(ring)
    PONG=("$CMP" peer raw-pong "$IB" "${W[@]}")
    PING=("$CMP" peer raw-ping "$IA" "$SZ" 3 "${W[@]}")
    ;;
esac
RMW_L2NET_INTERFACE=$IB taskset -c 0 ip netns exec "$NB" "${PONG[@]}" >/dev/null 2>&1 &
P=$!
sleep 0.5
# `ip netns exec` runs the peer as its child (or execs it).
PP=$(pgrep -P "$P" | head -1); PP=${PP:-$P}
S0=$(awk '{print $14, $15}' "/proc/$PP/stat")
OUT=$(RMW_L2NET_INTERFACE=$IA taskset -c 0 ip netns exec "$NA" "${PING[@]}" 2>/dev/null)
S1=$(awk '{print $14, $15}' "/proc/$PP/stat")
kill "$P" 2>/dev/null; wait "$P" 2>/dev/null
TICK=$(getconf CLK_TCK)
python3 -c "
import json, sys
u0, s0 = map(int, '$S0'.split()); u1, s1 = map(int, '$S1'.split())
d = json.loads(sys.argv[1]); n = d['lat']['count']; us = 1e6 / $TICK / n
print('%s p50 %.1f us; pong user %.2f us, system %.2f us per round trip; ping CPU %.2f us' % (
    '$KIND', d['lat']['p50_us'], (u1 - u0) * us, (s1 - s0) * us, d['cpu_ns_per_rt'] / 1e3))
" "$OUT"
