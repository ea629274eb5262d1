#!/bin/bash
# A/B of builds of librmw_l2net_cpp.so in a blocking ping-pong, both peers on CPU 0 (the
# benchmark's placement for blocking round trips), the libraries alternating round by round.
#
#   sudo -E bash rmw_l2net/benches/rmw_pingpong/scripts/ab.sh QOS SIZE ROUNDS LIB.so [LIB.so ...]
#
# QOS: reliable or best-effort. Prints per run: library, p50 round trip (us), the ping's CPU
# time per round trip (ns; on one CPU the round trip is both peers' CPU, so this is the steadier
# number). Copy each build's target/release/deps/librmw_l2net_cpp.so aside to compare it.
set -u
[ $# -ge 4 ] || { sed -n 2,10p "$0"; exit 2; }
. "$(dirname "$0")/wire.sh"
QOS=$1; SZ=$2; R=$3; shift 3
export RMW_L2NET_BUSY_POLL=0
for _ in $(seq "$R"); do
    for LIB in "$@"; do
        RMW_L2NET_INTERFACE=$IB taskset -c 0 ip netns exec "$NB" "$BENCH" peer rmw-pong "$LIB" "$QOS" >/dev/null 2>&1 &
        P=$!
        sleep 0.3
        RMW_L2NET_INTERFACE=$IA taskset -c 0 ip netns exec "$NA" "$BENCH" peer rmw-ping "$LIB" "$SZ" 2 "$QOS" 2>/dev/null |
            python3 -c "import sys,json; d=json.loads(sys.stdin.read()); print('$LIB', d['lat']['p50_us'], d['cpu_ns_per_rt'])"
        kill "$P" 2>/dev/null; wait "$P" 2>/dev/null
        sleep 0.2
    done
done
