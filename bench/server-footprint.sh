#!/usr/bin/env bash
# server-footprint.sh: two figures of issue 3, each measured against a fresh real etcd and a
# fresh Floe in the same run, one server at a time, reported as ratios:
#   1. resident memory (VmRSS) after loading N keys (default 1M) of 256-byte values;
#   2. put p99 under put100 load, alone and while another client reads a 100k-key range in
#      a loop (the seed's "reads never block writes": the p99 may at most double), and how
#      many whole ranges per second the reader got meanwhile (reads must not collapse either).
#      A p99 of one 20000-put run is noisy on a shared 2-core machine (the same server's
#      alone p99 varied 19-41 ms between runs), so ROUNDS rounds run, each on fresh servers
#      (alone, then with the reader), and the median of their ratios is reported with each.
# A run's p99 rests on its slowest 1% (200 requests of the default 20000 puts, about a second):
# one garbage collection or slow fsync more or less moves it, so -p PUTS runs longer loads.
# Usage, from the repository root: bench/server-footprint.sh [-n KEYS] [-r ROUNDS] [-p PUTS] [-- TARGET_COMMAND...]
# (default target ./bin/floe, 3 rounds of 20000 puts). Needs etcd (etcd-server) and Go (golang-go) for etcdload.
set -euo pipefail
keys=1000000
rounds=3
puts=20000
. "$(dirname "$0")/lib/args.sh"
bench_args rpn "$@"
load=$(../shared/bench/etcdload/build.sh | tail -n 1)
work=$(mktemp -d /tmp/footprint.XXXXXX)
pid=""
cleanup() { touch "$work/stop-etcd" "$work/stop-target"; [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

. "$(dirname "$0")/lib/side.sh"
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fill() { "$load" --endpoints="$ep" --conns=10 --clients=100 --total="$1" --json put --key-size=8 --val-size=256 --key-space-size="$1" --sequential-keys >/dev/null; }
p99() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["p99_ms"], d["errors"])' "$1"; }

declare -A rss ratios pairs
for side in etcd target; do
  start_side "$side" 24100
  fill "$keys"
  sleep 2
  rss[$side]=$(rss_kib "$pid")
  stop_side
done

# Each round starts both servers afresh, alternating: on one server the rounds would add 40000
# revisions each, and the history (and the file) would grow from round to round.
for r in $(seq 1 "$rounds"); do
  for side in etcd target; do
    start_side "$side" 24200
    fill 100000
    put=("$load" --endpoints="$ep" --conns=10 --clients=100 --total="$puts" --json put --key-size=8 --val-size=256 --key-space-size=100000)
    alone=$(p99 "$("${put[@]}")")
    # Reader: the whole 100k-key range (all keys sort after \x01), over and over.
    # Each whole range read appends a line to $work/reads-$side (counted over the put run).
    # The loop ends by itself once the stop file exists (a signal may not reach it while etcdctl runs).
    : >"$work/reads-$side"; rm -f "$work/stop-$side"
    ( while [ ! -e "$work/stop-$side" ]; do ETCDCTL_API=3 etcdctl --endpoints="$ep" get $'\x01' $'\xff\xff\xff\xff\xff\xff\xff\xff\xff' --command-timeout=30s >/dev/null 2>&1 && echo >>"$work/reads-$side"; done ) &
    reader=$!
    sleep 1
    reads0=$(wc -l <"$work/reads-$side"); t0=$(date +%s.%N)
    busy=$(p99 "$("${put[@]}")")
    reads1=$(wc -l <"$work/reads-$side"); t1=$(date +%s.%N)
    touch "$work/stop-$side"; kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true
    stop_side
    rps=$(awk -v n=$((reads1 - reads0)) -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", n/(b-a)}')
    read -r b be <<<"$alone"; read -r u ue <<<"$busy"
    ratio=$(awk -v a="$u" -v b="$b" 'BEGIN{printf "%.2f", a/b}')
    ratios[$side]="${ratios[$side]:-} $ratio"
    pairs[$side]="${pairs[$side]:-}  round $r: alone ${b} ms, with the reader ${u} ms (x$ratio), errors $be/$ue, reader $rps ranges/s
"
  done
done

echo "resident memory after $keys keys of 256 bytes: etcd $((rss[etcd]/1024)) MiB, target $((rss[target]/1024)) MiB, ratio $(awk -v a="${rss[target]}" -v b="${rss[etcd]}" 'BEGIN{printf "%.2f", a/b}')x"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for side in etcd target; do
  echo "$side put100 p99 ($puts puts) with a 100k-key range reader: median ratio x$(echo "${ratios[$side]}" | median) over $rounds rounds"
  printf '%s' "${pairs[$side]}"
done
