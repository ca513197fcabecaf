#!/usr/bin/env bash
# cluster-million.sh: issue 4 point 4 — a million keys and a leader kill on a 3-member cluster
# (see bench/cluster-million.ts). Compiles out of tree (others' dist is left alone), builds
# etcdload if needed, and runs the benchmark; arguments go to it unchanged.
# Usage, from anywhere: bench/cluster-million.sh [--target floe|etcd|'CMD'] [-n KEYS] [--keep] ...
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${FLOE_MILLION_OUT:-/tmp/floe-million}
mkdir -p "$out"
ln -sfn "$repo/node_modules" "$out/node_modules"
# tsc exits non-zero when any file in the tree has a type error; only ours must be clean.
errors=$(cd "$repo" && npx tsc -p . --outDir "$out/dist" --tsBuildInfoFile "$out/tsbuildinfo" 2>&1 | grep 'bench/cluster-million' || true)
if [ -n "$errors" ]; then echo "$errors" >&2; exit 2; fi
load=${ETCDLOAD:-$("$repo/../shared/bench/etcdload/build.sh" | tail -n 1)}
cd "$repo"
exec node "$out/dist/bench/cluster-million.js" --etcdload "$load" "$@"
