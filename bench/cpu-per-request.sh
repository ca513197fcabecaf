#!/usr/bin/env bash
# cpu-per-request.sh: server CPU per request of two or more Floe builds, after warm-up, in
# alternating rounds. Each round starts a fresh single member of each build, warms it with
# WARM requests of the scenario (JIT, pools, heap), then measures TOTAL more and prints
# req/s, whole-process CPU us/request and main-thread CPU us/request.
#
# Why: on this shared 2-core machine req/s moves with other load, but CPU per request of a
# CPU-bound server hardly does; the main thread's share is what bounds Floe's throughput.
# compare.sh measures fresh servers (warm-up included); this measures the steady state.
#
# Usage, from the repository root:
#   bench/cpu-per-request.sh [-r ROUNDS] [-s put|l|s] [-w WARM] [-n TOTAL] DIST...
#   DIST is a compiled tree (its src/cli/main.js is run), e.g. ./dist or one built elsewhere
#   with `npx tsc -p . --outDir /tmp/a/dist`. -s put is compare.sh's put100; l and s are
#   rangeL and rangeS. Needs etcdctl (etcd-client) and Go (golang-go) for etcdload.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3; scen=put; warm=8000; total=20000
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds=$2; shift 2;; -s) scen=$2; shift 2;; -w) warm=$2; shift 2;; -n) total=$2; shift 2;;
    -*) echo "usage: $0 [-r ROUNDS] [-s put|l|s] [-w WARM] [-n TOTAL] DIST..." >&2; exit 2;;
    *) break;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] [-s put|l|s] [-w WARM] [-n TOTAL] DIST..." >&2; exit 2; }
case "$scen" in put) load_args=(put --key-size=8 --val-size=256 --key-space-size=100000);; l|s) load_args=(range foo "--consistency=$scen");;
  *) echo "cpu-per-request.sh: unknown scenario $scen" >&2; exit 2;; esac
load=$("$here/../../shared/bench/etcdload/build.sh" | tail -n 1)
work=$(mktemp -d /tmp/floe-cpu.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
. "$here/lib/member.sh"
ticks() { awk '{print $14 + $15}' "$1"; }

for r in $(seq 1 "$rounds"); do
  for dist in "$@"; do
    start_member "$dist" "$work" 26000
    ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" put foo "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
    common=(--endpoints="127.0.0.1:$port" --json --conns=10 --clients=100)
    "$load" "${common[@]}" --total="$warm" "${load_args[@]}" >/dev/null 2>&1 || true
    t0=$(ticks "/proc/$pid/stat"); m0=$(ticks "/proc/$pid/task/$pid/stat")
    out=$("$load" "${common[@]}" --total="$total" "${load_args[@]}" 2>/dev/null || true)
    t1=$(ticks "/proc/$pid/stat"); m1=$(ticks "/proc/$pid/task/$pid/stat")
    hz=$(getconf CLK_TCK)
    rps=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["req_per_s"], d["errors"])' "$out")
    echo "round $r $dist req/s,errors $rps cpu_us $(( (t1 - t0) * 1000000 / hz / total )) main_us $(( (m1 - m0) * 1000000 / hz / total ))"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  done
done
