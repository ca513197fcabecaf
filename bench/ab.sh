#!/usr/bin/env bash
# ab.sh: A/B of two Floe builds under compare.sh's load scenarios, without etcd: each round
# starts a fresh single member of A and of B (alternating which goes first) and runs the
# scenario on each; prints every run and the medians. For a noisy shared machine, where two
# builds must be compared within the same minutes.
#
# Usage: bench/ab.sh [-r ROUNDS] [-s put1,put100,rangeS] [-n TOTAL] DIST_A DIST_B
#   DIST_x is a compiled tree (its src/cli/main.js is run); cwd must be the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3; scen=put100; total=10000
while [ $# -gt 2 ]; do
  case "$1" in -r) rounds=$2; shift 2;; -s) scen=$2; shift 2;; -n) total=$2; shift 2;; *) break;; esac
done
[ $# -eq 2 ] || { echo "usage: $0 [-r ROUNDS] [-s SCENARIOS] [-n TOTAL] DIST_A DIST_B" >&2; exit 2; }
dists=("$1" "$2")
load=$("$here/../../shared/bench/etcdload/build.sh" | tail -n 1)
work=$(mktemp -d /tmp/floe-ab.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
. "$here/lib/member.sh"
one() { # one DIST SCENARIO -> req/s p99
  local dist=$1 s=$2
  start_member "$dist" "$work" 25000
  local common=(--endpoints="127.0.0.1:$port" --total="$total" --json) out
  case "$s" in
    put1) out=$("$load" "${common[@]}" --conns=1 --clients=1 put --key-size=8 --val-size=256 --key-space-size=100000);;
    put100) out=$("$load" "${common[@]}" --conns=10 --clients=100 put --key-size=8 --val-size=256 --key-space-size=100000);;
    rangeS|rangeL)
      ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" put foo "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
      local c=l; [ "$s" = rangeS ] && c=s
      out=$("$load" "${common[@]}" --conns=10 --clients=100 range foo --consistency=$c);;
  esac
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["req_per_s"], d["p99_ms"], d["errors"])' "$out"
}
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
IFS=, read -ra list <<<"$scen"
for s in "${list[@]}"; do
  : >"$work/A"; : >"$work/B"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="0 1"; else order="1 0"; fi
    for i in $order; do
      res=$(one "${dists[$i]}" "$s")
      if [ "$i" = 0 ]; then echo "$res" >>"$work/A"; echo "$s A $res"; else echo "$res" >>"$work/B"; echo "$s B $res"; fi
    done
  done
  a=$(cut -d' ' -f1 "$work/A" | median); b=$(cut -d' ' -f1 "$work/B" | median)
  echo "$s median req/s A=$a B=$b B/A=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b/a}')"
done
