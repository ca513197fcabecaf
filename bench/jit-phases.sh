#!/usr/bin/env bash
# jit-phases.sh: V8's optimizations and deoptimizations on Floe's member, phase by phase, in
# the scenario of reader-phases.sh: a fresh member with 100k keys of 256 bytes, then put100
# alone, a whole-range reader's first second (no puts), put100 with the reader, and the same
# three again. Prints each phase's put p99, TurboFan compiles and deoptimizations (the
# functions most deoptimized). The first big ranges deoptimize put-path functions (type
# feedback they had not seen), and the put phase that follows runs while hundreds of functions
# are compiled again: the first reader phase's p99 excess (issue 3). The start-up warm-up
# (src/cli/warm-up.ts) removes most of it; `-- node --trace-opt --trace-deopt bin/floe
# --experimental-warm-up=false` shows a member without it.
# Usage, from the repository root: bench/jit-phases.sh [-p PUTS] [-- TARGET_COMMAND...]
# (default target: node --trace-opt --trace-deopt bin/floe; 30000 puts). Needs etcd-client and Go.
set -euo pipefail
puts=30000
. "$(dirname "$0")/lib/args.sh"
bench_args p "$@"
[ "${target[*]}" = ./bin/floe ] && target=(node --trace-opt --trace-deopt bin/floe)
. "$(dirname "$0")/lib/side.sh"
side_setup jit-phases

start_side target 24600
log="$work/target.log"
fill_keys "$ep"
marks="$work/marks"; : >"$marks"
mark() { echo "$1 $(wc -l <"$log")" >>"$marks"; }
for k in 1 2; do
  mark "alone$k"; a=$(put_p99 "$ep")
  mark "reader-start$k"; start_reader "$ep"
  mark "reader$k"; b=$(put_p99 "$ep")
  stop_reader
  echo "$a" >"$work/p99-alone$k"; echo "$b" >"$work/p99-reader$k"
done
mark end
python3 - "$log" "$marks" "$work" <<'PY'
import collections, os, re, sys
lines = open(sys.argv[1], errors='replace').read().split('\n')
marks = [l.split() for l in open(sys.argv[2])]
for m, nxt in zip(marks, marks[1:]):
    name, a, b = m[0], int(m[1]), int(nxt[1])
    seg = lines[a:b]
    compiled = sum(1 for l in seg if l.startswith('[completed compiling') and 'TURBOFAN' in l)
    deopts = [re.search(r'<JSFunction ([^ >(]*)', l) for l in seg if l.startswith('[bailout (kind: deopt')]
    top = collections.Counter(d.group(1) or '(anonymous)' for d in deopts if d).most_common(8)
    f = os.path.join(sys.argv[3], 'p99-' + name)
    p99 = open(f).read().strip() + ' ms p99, ' if os.path.exists(f) else 'no puts, '
    print(f"{name}: {p99}{compiled} TurboFan compiles, {len(deopts)} deopts: {', '.join(f'{n} {c}' for n, c in top)}")
PY
stop_side
