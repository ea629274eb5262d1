#!/usr/bin/env python3
"""The hot code of one hop: the distinct 64-byte lines of machine code that a callgrind profile
executed at least once every two hops, in total and by function.

    CG_OPTS="--dump-instr=yes --compress-pos=no --compress-strings=no" \
        sudo -E bash rmw_l2net/benches/rmw_pingpong/scripts/callgrind.sh rmw|node DIR 64 [LIB.so]
    python3 rmw_l2net/benches/rmw_pingpong/scripts/hotcode.py DIR/pong.cg HOPS [FUNCTIONS]

HOPS is the round trips callgrind.sh printed (one hop of the pong each). A line that two
functions share counts for each of them and once in the total. This is the code a hop needs in
the instruction cache; compare it with the first-level cache (32 KiB on the benchmark VM).
"""
import collections
import re
import sys


def hot_lines(path, hops):
    cost = collections.Counter()
    owner = {}
    obj = fn = None
    skip = False
    with open(path) as f:
        for line in f:
            if skip:  # the line after `calls=` is the call's cost, not an instruction's own
                skip = False
                continue
            if line.startswith('ob='):
                obj = line[3:].strip()
            elif line.startswith('fn='):
                fn = line[3:].strip()
            elif line.startswith('calls='):
                skip = True
            elif line.startswith('0x'):
                fields = line.split()
                key = (obj, int(fields[0], 16))
                cost[key] += int(fields[-1])
                owner.setdefault(key, fn)
    by_fn = collections.defaultdict(set)
    hot = [k for k, v in cost.items() if 2 * v >= hops]
    for obj, addr in hot:
        by_fn[owner[(obj, addr)]].add((obj, addr >> 6))
    return len(hot), by_fn


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, hops = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    instructions, by_fn = hot_lines(path, hops)
    lines = set().union(*by_fn.values()) if by_fn else set()
    print(f'hot instructions {instructions}, hot 64-byte lines {len(lines)} ({len(lines) * 64} bytes)')
    short = re.compile(r'<impl l2net_core::engine::participant::Participant<_(,_)*>>')
    for n, fn in sorted(((len(s), f) for f, s in by_fn.items()), reverse=True)[:top]:
        print(f'{n:5d} {short.sub("Participant", fn)[:110]}')


if __name__ == '__main__':
    main()
