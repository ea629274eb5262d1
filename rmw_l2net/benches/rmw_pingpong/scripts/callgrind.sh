#!/bin/bash
# User-space instructions per hop of a blocking reliable ping-pong, counted by callgrind in both
# peers, both on CPU 0 (with the ping native the count depends on a race: whether the pong's
# take-until-empty already finds the next ping).
#
#   sudo -E bash rmw_l2net/benches/rmw_pingpong/scripts/callgrind.sh rmw|node OUTDIR [SIZE] [LIB.so]
#
# Writes OUTDIR/ping.cg and OUTDIR/pong.cg and prints the pong's instructions per hop (its
# total over the ping's round trips; start-up included, a few percent). Look further with
# `callgrind_annotate --inclusive=yes OUTDIR/pong.cg`. CG_OPTS adds valgrind options to both
# peers: CG_OPTS="--cache-sim=yes --I1=4096,2,64 --D1=4096,2,64 --LL=65536,4,64" counts the
# cache lines a hop touches beyond small caches (`callgrind_annotate --show=Ir,I1mr,ILmr`).
set -u
[ $# -ge 2 ] || { sed -n 2,11p "$0"; exit 2; }
. "$(dirname "$0")/wire.sh"
KIND=$1; OUT=$2; SZ=${3:-64}; LIB=${4:-$T/release/deps/librmw_l2net_cpp.so}
mkdir -p "$OUT"
export RMW_L2NET_BUSY_POLL=0
if [ "$KIND" = rmw ]; then PA=$LIB; PB=$LIB; else PA=$IA; PB=$IB; fi
RMW_L2NET_INTERFACE=$IB taskset -c 0 ip netns exec "$NB" valgrind --tool=callgrind ${CG_OPTS:-} \
    --callgrind-out-file="$OUT/pong.cg" "$BENCH" peer "$KIND-pong" "$PB" reliable >/dev/null 2>&1 &
P=$!
sleep 3
RT=$(RMW_L2NET_INTERFACE=$IA taskset -c 0 ip netns exec "$NA" valgrind --tool=callgrind ${CG_OPTS:-} \
    --callgrind-out-file="$OUT/ping.cg" "$BENCH" peer "$KIND-ping" "$PA" "$SZ" 5 reliable 2>/dev/null |
    python3 -c "import sys,json; print(json.loads(sys.stdin.read())['lat']['count'])")
sleep 0.5
kill -TERM "$P"; wait "$P" 2>/dev/null
TOTAL=$(callgrind_annotate "$OUT/pong.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "round trips: $RT; pong instructions: $TOTAL; per hop: $((TOTAL / RT))"
case "${CG_OPTS:-}" in
*cache-sim=yes*)
    # Every simulated event of the pong per hop (instruction and data cache misses).
    callgrind_annotate "$OUT/pong.cg" 2>/dev/null | python3 -c "
import re, sys
text = sys.stdin.read()
events = re.search(r'^Events recorded:\s+(.*)$', text, re.M).group(1).split()
totals = re.search(r'^(.*)PROGRAM TOTALS', text, re.M).group(1)
values = [int(v.replace(',', '')) for v in re.findall(r'([\d,]+) \(', totals)]
print('per hop: ' + ', '.join('%s %.0f' % (e, v / $RT) for e, v in zip(events, values)))"
    ;;
esac
