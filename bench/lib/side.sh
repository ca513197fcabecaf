# Sourced by bench scripts that measure a real etcd against a target side by side. The caller
# sets $work (a scratch dir) and the array `target` (the command that runs the other server).
#
# start_side SIDE PORT: a fresh single member (SIDE is etcd or target) with its data dir and
# log under $work, client port PORT, peer port PORT+1, waited for until healthy (at most
# 30 s). Sets $pid, $ep and $data (its data dir).
start_side() {
  local side=$1 port=$2
  data="$work/data-$side-$port-$RANDOM"
  local flags=(--name m --data-dir "$data" --quota-backend-bytes 8589934592
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port"
    --listen-peer-urls "http://127.0.0.1:$((port+1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port+1))"
    --initial-cluster "m=http://127.0.0.1:$((port+1))")
  if [ "$side" = etcd ]; then etcd "${flags[@]}" >"$work/$side.log" 2>&1 &
  else "${target[@]}" "${flags[@]}" >"$work/$side.log" 2>&1 & fi
  pid=$!; ep="127.0.0.1:$port"
  for _ in $(seq 1 150); do
    ETCDCTL_API=3 etcdctl --endpoints="$ep" --command-timeout=1s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$(basename "$0"): $side did not start" >&2; tail -n 20 "$work/$side.log" >&2; exit 1
}

# stop_side: stops the member of start_side and removes its data dir, so that the next
# start_side is fresh. The writes are flushed before anything else is measured: the kernel
# writing back one server's files while the next one ran made the next one's fsyncs slow.
stop_side() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; rm -rf "$data"; sync; }

# side_setup NAME: builds etcdload ($load) and makes a scratch dir ($work, /tmp/NAME.*); at
# exit the reader of start_reader and the member of start_side, if they run, are stopped and
# the scratch dir removed.
side_setup() {
  load=$(../shared/bench/etcdload/build.sh | tail -n 1)
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pid=""; reader=""
  trap 'touch "$work/stop"; [ -n "$reader" ] && kill "$reader" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
}

# put100 ENDPOINT [ETCDLOAD_FLAGS...]: etcdload's put with 100 clients on 10 connections,
# 256-byte values at keys among 100k.
put100() {
  local endpoint=$1
  shift
  "$load" --endpoints="$endpoint" --conns=10 --clients=100 --json put --key-size=8 --val-size=256 --key-space-size=100000 "$@"
}

# fill_keys ENDPOINT: 100k keys of 256-byte values, loaded in order.
fill_keys() { put100 "$1" --total=100000 --sequential-keys >/dev/null; }

# put_p99 ENDPOINT: $puts put100 requests at random keys; prints their p99 in ms, or "errors".
put_p99() { put100 "$1" --total="$puts" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["p99_ms"] if d["errors"] == 0 else "errors")'; }

# fill_range_state: the state the big-range benches read, on the member of start_side: 100k
# keys of 256-byte values loaded in order, then 20000 puts at random keys among them.
fill_range_state() {
  fill_keys "$ep"
  put100 "$ep" --total=20000 >/dev/null
}

# start_reader ENDPOINT: the whole 100k-key range read on ENDPOINT over and over in the
# background ($reader), a line appended to $work/ranges per range read, until stop_reader;
# returns after a second's head start.
start_reader() {
  rm -f "$work/stop"; : >"$work/ranges"
  ( while [ ! -e "$work/stop" ]; do ETCDCTL_API=3 etcdctl --endpoints="$1" get $'\x01' $'\xff\xff\xff\xff\xff\xff\xff\xff\xff' --command-timeout=30s >/dev/null 2>&1 && echo >>"$work/ranges"; done ) &
  reader=$!; sleep 1
}
stop_reader() { touch "$work/stop"; kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true; reader=""; }
