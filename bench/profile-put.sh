#!/usr/bin/env bash
# profile-put.sh: runs one fresh single-member Floe under compare.sh's put100 load (or put1 /
# rangeS) with V8's --cpu-prof, then prints the profile summarized by self time and by layer.
#
# Usage: bench/profile-put.sh [-s put100|put1|rangeS|rangeL] [-n TOTAL] [-d DIST_DIR]
#   DIST_DIR is a compiled tree (default ./dist); the profile lands in /tmp/floe-prof.XXXX.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scen=put100; total=20000; dist="$here/../dist"
while [ $# -gt 0 ]; do
  case "$1" in
    -s) scen=$2; shift 2;; -n) total=$2; shift 2;; -d) dist=$2; shift 2;;
    *) echo "usage: $0 [-s SCENARIO] [-n TOTAL] [-d DIST_DIR]" >&2; exit 2;;
  esac
done
load=$("$here/../../shared/bench/etcdload/build.sh" | tail -n 1)
work=$(mktemp -d /tmp/floe-prof.XXXXXX)
port=$((24000 + RANDOM % 1000))
node ${NODE_EXTRA:-} --cpu-prof --cpu-prof-dir="$work" -e "require('$dist/src/cli/main.js').main(process.argv.slice(1))" -- \
  --name p0 --data-dir "$work/data" --listen-client-urls "http://127.0.0.1:$port" \
  --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls "http://127.0.0.1:$((port+1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((port+1))" --initial-cluster "p0=http://127.0.0.1:$((port+1))" \
  >"$work/floe.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  kill -0 $pid 2>/dev/null || { echo "floe exited:" >&2; tail -n 20 "$work/floe.log" >&2; exit 1; }
  ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" --command-timeout=1s endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
common=(--endpoints="127.0.0.1:$port" --total="$total" --json)
# The server's CPU time (user+system, clock ticks) around the load: per-request CPU is what a
# CPU-bound server's throughput follows, and unlike req/s it hardly moves with other load.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks0=$(cpu_ticks)
case "$scen" in
  put1) "$load" "${common[@]}" --conns=1 --clients=1 put --key-size=8 --val-size=256 --key-space-size=100000 || true;;
  put100) "$load" "${common[@]}" --conns=10 --clients=100 put --key-size=8 --val-size=256 --key-space-size=100000 || true;;
  rangeL|rangeS)
    ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" put foo "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
    c=l; [ "$scen" = rangeS ] && c=s
    "$load" "${common[@]}" --conns=10 --clients=100 range foo --consistency=$c || true;;
  *) echo "unknown scenario $scen" >&2; exit 2;;
esac
ticks1=$(cpu_ticks)
echo "server CPU per request: $(awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n="$total" 'BEGIN{printf "%.0f", 1e6 * t / hz / n}') us ($scen, $total requests)"
kill -INT $pid; wait $pid || true
trap - EXIT
prof=$(ls "$work"/*.cpuprofile)
echo "profile: $prof"
node "$here/profile-summary.js" "$prof"
