# Sourced by bench scripts: start_member DIST WORK BASE_PORT starts a fresh single Floe member
# of the compiled tree DIST (its src/cli/main.js) with its data dir and log under WORK, on
# 127.0.0.1 at a random client port from BASE_PORT (peer port + 1), and waits until it is
# healthy (at most 20 s). Sets $pid and $port; the caller kills $pid.
start_member() {
  local dist=$1 work=$2 tag=$RANDOM
  port=$(($3 + RANDOM % 2000))
  node -e "require('$dist/src/cli/main.js').main(process.argv.slice(1))" -- --name m0 --data-dir "$work/d$tag" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port+1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port+1))" \
    --initial-cluster "m0=http://127.0.0.1:$((port+1))" >"$work/log$tag" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" --command-timeout=1s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "start_member: $dist did not become healthy; its log ends:" >&2; tail -n 20 "$work/log$tag" >&2; return 1
}
