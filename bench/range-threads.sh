#!/usr/bin/env bash
# range-threads.sh: a Floe member's CPU per whole-range read of 100k keys of 256-byte values
# (etcdctl get of 27 MB), split by thread, range after range on one fresh member: the member's
# own thread (event loop: index walk, socket writes), the range worker (started by the first
# big range: the threads that appear then), and the process's other threads (V8's GC and
# compiler helpers, libuv's pool). Read from each thread's /proc schedstat (run time, user and
# system) before and after each range; the first ranges include JIT warm-up.
# Usage, from the repository root: bench/range-threads.sh [-r RANGES] [-- TARGET_COMMAND...]
# (default target ./bin/floe, 10 ranges). Needs Go (golang-go) for etcdload.
set -euo pipefail
rounds=10
. "$(dirname "$0")/lib/args.sh"
bench_args r "$@"
. "$(dirname "$0")/lib/side.sh"
side_setup range-threads
start_side target 24500
fill_range_state
# Each thread's run time in ns (user and system), one "tid ns" line per thread.
snap() { for t in /proc/"$pid"/task/*; do echo "$(basename "$t") $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)"; done | sort; }
snap >"$work/before-ranges"
snap >"$work/a"
for r in $(seq 1 "$rounds"); do
  ETCDCTL_API=3 etcdctl --endpoints="$ep" get $'\x01' $'\xff\xff\xff\xff\xff\xff\xff\xff\xff' --command-timeout=60s >/dev/null
  snap >"$work/b"
  # A thread absent before the first range is the range worker's.
  join -a 2 -e 0 -o 0,1.2,2.2 "$work/a" "$work/b" | join -a 1 -e none -o 1.1,1.2,1.3,2.2 - "$work/before-ranges" |
    awk -v main="$pid" -v r="$r" '{d = ($3 - $2) / 1e6; if ($1 == main) m += d; else if ($4 == "none") w += d; else o += d}
      END {printf "range %d: member thread %.0f ms, range worker %.0f ms, other threads %.0f ms\n", r, m, w, o}'
  mv "$work/b" "$work/a"
done
stop_side
