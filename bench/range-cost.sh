#!/usr/bin/env bash
# range-cost.sh: the server's CPU time per whole-range read of 100k keys of 256-byte values
# (etcdctl get of 27 MB), against a fresh real etcd and a fresh Floe, alternating. Each round
# loads 100k keys in order, then 20000 random puts (the state server-footprint.sh's reader
# meets), then times 5 reads: the server's user+system CPU from /proc, the wall time, and
# etcdctl's own CPU (the client's decoding, which competes for the same cores).
# Usage, from the repository root: bench/range-cost.sh [-r ROUNDS] [-- TARGET_COMMAND...]
# (default target ./bin/floe, 2 rounds). Needs etcd (etcd-server), Go (golang-go) and
# /usr/bin/time (Debian's time).
set -euo pipefail
rounds=2
. "$(dirname "$0")/lib/args.sh"
bench_args r "$@"
. "$(dirname "$0")/lib/side.sh"
side_setup range-cost
port=24300
reads=5
ticks=$(getconf CLK_TCK)

for r in $(seq 1 "$rounds"); do
  for side in etcd target; do
    start_side "$side" "$port"
    fill_range_state
    sleep 1
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
    : >"$work/time"
    for _ in $(seq 1 $reads); do
      /usr/bin/time -f "%U %S" -a -o "$work/time" env ETCDCTL_API=3 etcdctl --endpoints="$ep" \
        get $'\x01' $'\xff\xff\xff\xff\xff\xff\xff\xff\xff' --command-timeout=60s >/dev/null
    done
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
    stop_side
    echo "round $r $side: server CPU $(( (cpu1 - cpu0) * 1000 / ticks / reads )) ms per range," \
      "wall $(awk -v a="$t0" -v b="$t1" -v n=$reads 'BEGIN{printf "%.0f", (b-a)*1000/n}') ms," \
      "etcdctl CPU $(awk -v n=$reads '{c += $1 + $2} END {printf "%.0f", c*1000/n}' "$work/time") ms"
  done
done
