#!/usr/bin/env bash
# reader-phases.sh: put p99 of server-footprint.sh's reader scenario, phase by phase. For each
# side (a real etcd, then the target) and round, a fresh server is loaded with 100k keys of 256
# bytes, then put100 runs four times: alone, with a whole-range reader on the same server,
# alone again, with the reader again. server-footprint.sh measures the first two only; the
# later two show what a server that has served big ranges before does (warm code, grown
# heaps, slabs in place). Each reader phase also counts the whole ranges it got.
# When the target runs under `node --trace-gc` (-- node --trace-gc bin/floe), the main
# isolate's GC pauses are summed per phase from its log: scavenges (count, total, longest) and
# full mark-compacts (their pauses).
# Usage, from the repository root: bench/reader-phases.sh [-r ROUNDS] [-p PUTS] [-- TARGET_COMMAND...]
# (default target ./bin/floe, 3 rounds of 30000 puts). Needs etcd (etcd-server) and Go (golang-go).
set -euo pipefail
rounds=3
puts=30000
. "$(dirname "$0")/lib/args.sh"
bench_args rp "$@"
. "$(dirname "$0")/lib/side.sh"
side_setup reader-phases
now_ms() { date +%s%3N; }

# gc_phases LOG MARKS: GC pauses of LOG's main isolate (the one with the most lines) per phase
# of MARKS (ms since the server was started; --trace-gc counts from the isolate's start, some
# tens of ms later, so an event at a phase's edge may land in its neighbour).
gc_phases() {
  python3 - "$1" "$2" <<'PY'
import collections, re, sys
lines = [l for l in open(sys.argv[1], errors='replace') if re.search(r'ms: (Scavenge|Mark-Compact)', l)]
if not lines: sys.exit(0)
main = collections.Counter(l.split(':')[1].split(']')[0] for l in lines).most_common(1)[0][0]
events = []
for l in lines:
    m = re.search(r'\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: (\S+) .*?MB, ([\d.]+) /', l)
    if m and m.group(1) == main: events.append((int(m.group(2)), m.group(3), float(m.group(4))))
marks = [(l.split()[0], int(l.split()[1])) for l in open(sys.argv[2])]
for (name, t0), (_, t1) in zip(marks, marks[1:]):
    if name.startswith('end'): continue
    sc = [p for t, kind, p in events if t0 <= t < t1 and kind == 'Scavenge']
    mc = [p for t, kind, p in events if t0 <= t < t1 and kind != 'Scavenge']
    print(f"    {name}: scavenges {len(sc)}, {sum(sc):.0f} ms in all, longest {max(sc, default=0):.1f} ms; mark-compact pauses {[round(p, 1) for p in mc]} ms")
PY
}

for side in etcd target; do
  for r in $(seq 1 "$rounds"); do
    t0=$(now_ms)
    start_side "$side" 24500
    fill_keys "$ep"
    marks="$work/marks"; : >"$marks"
    line="$side round $r:"
    for k in 1 2; do
      echo "alone$k $(( $(now_ms) - t0 ))" >>"$marks"
      line+=" alone $(put_p99 "$ep") ms,"
      start_reader "$ep"
      n0=$(wc -l <"$work/ranges")
      echo "reader$k $(( $(now_ms) - t0 ))" >>"$marks"
      busy=$(put_p99 "$ep")
      echo "end$k $(( $(now_ms) - t0 ))" >>"$marks"
      line+=" with the reader $busy ms ($(( $(wc -l <"$work/ranges") - n0 )) ranges);"
      stop_reader
    done
    echo "$line"
    [ "$side" = target ] && gc_phases "$work/$side.log" "$marks"
    stop_side
  done
done
