# Sourced by ab.sh and callgrind.sh: two namespaces joined by a veth pair, named after this
# process, removed on exit. Sets NA NB (namespaces), IA IB (interfaces) and BENCH (the
# rmw_pingpong binary in $CARGO_TARGET_DIR, default ./target, built by
# `cargo bench -p rmw_l2net --bench rmw_pingpong --no-run`).
T=${CARGO_TARGET_DIR:-target}
BENCH=$(ls -t "$T"/release/deps/rmw_pingpong-* 2>/dev/null | grep -v '\.d$' | head -1)
if [ -z "$BENCH" ]; then
    echo "no rmw_pingpong binary in $T/release/deps: cargo bench -p rmw_l2net --bench rmw_pingpong --no-run" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "needs root (network namespaces, raw sockets)" >&2
    exit 2
fi
NA=rmwab-a$$; NB=rmwab-b$$; IA=rab$$; IB=rbb$$
cleanup_wire() { ip netns del "$NA" 2>/dev/null; ip netns del "$NB" 2>/dev/null; }
trap cleanup_wire EXIT
ip netns add "$NA" && ip netns add "$NB" &&
    ip link add "$IA" netns "$NA" type veth peer name "$IB" netns "$NB" &&
    ip -n "$NA" link set "$IA" up && ip -n "$NB" link set "$IB" up || exit 2
