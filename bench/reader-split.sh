#!/usr/bin/env bash
# reader-split.sh: where the put p99 inflation of server-footprint.sh comes from. For each side
# (a real etcd, then the target) and round, two fresh servers A and B are loaded with 100k keys
# of 256 bytes; then put100 runs against A three times: alone, while a reader loops over the
# whole range on B (the machine is as busy, A's process is not), and while it loops on A.
# The first gap is the machine's (CPU shared with the reader and the other server), the second
# the server's own (its threads and event loop shared between the reads and the writes).
# Usage, from the repository root: bench/reader-split.sh [-r ROUNDS] [-p PUTS] [-- TARGET_COMMAND...]
# (default target ./bin/floe, 3 rounds of 40000 puts). Needs etcd (etcd-server) and Go (golang-go).
set -euo pipefail
rounds=3
puts=40000
. "$(dirname "$0")/lib/args.sh"
bench_args rp "$@"
load=$(../shared/bench/etcdload/build.sh | tail -n 1)
work=$(mktemp -d /tmp/reader-split.XXXXXX)
pid=""; pids=(); reader=""
cleanup() { touch "$work/stop"; for p in "${pids[@]}" $pid $reader; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

. "$(dirname "$0")/lib/side.sh"

for side in etcd target; do
  for r in $(seq 1 "$rounds"); do
    start_side "$side" 24300; pidA=$pid; epA=$ep; dataA=$data
    start_side "$side" 24400; pidB=$pid; epB=$ep; dataB=$data
    pids=("$pidA" "$pidB"); pid=""
    fill_keys "$epA"; fill_keys "$epB"
    alone=$(put_p99 "$epA")
    start_reader "$epB"; elsewhere=$(put_p99 "$epA"); stop_reader
    start_reader "$epA"; here=$(put_p99 "$epA"); stop_reader
    echo "$side round $r: put100 p99 alone ${alone} ms, reader on another server ${elsewhere} ms, reader on this one ${here} ms"
    pid=$pidA; data=$dataA; stop_side
    pid=$pidB; data=$dataB; stop_side
    pids=()
  done
done
