# Sourced by the side-by-side bench scripts: bench_args OPTIONS "$@" parses their command line.
# OPTIONS lists the letters the script takes, each setting a variable (whose default the
# script sets first): r -> rounds, p -> puts, n -> keys. What follows -- is the target command
# (the array `target`, default ./bin/floe). Anything else prints the usage and exits 2.
bench_args() {
  local allowed=$1 usage="" opt
  shift
  for opt in r p n; do
    case "$allowed" in *"$opt"*) case "$opt" in r) usage+=" [-r ROUNDS]";; p) usage+=" [-p PUTS]";; n) usage+=" [-n KEYS]";; esac;; esac
  done
  while [ $# -gt 0 ]; do
    opt=${1#-}
    case "$1" in
      --) shift; break;;
      -r|-p|-n)
        case "$allowed" in *"$opt"*) ;; *) echo "usage: $0$usage [-- TARGET_COMMAND...]" >&2; exit 2;; esac
        [ $# -ge 2 ] || { echo "usage: $0$usage [-- TARGET_COMMAND...]" >&2; exit 2; }
        case "$opt" in r) rounds=$2;; p) puts=$2;; n) keys=$2;; esac
        shift 2;;
      *) echo "usage: $0$usage [-- TARGET_COMMAND...]" >&2; exit 2;;
    esac
  done
  target=("$@")
  [ ${#target[@]} -gt 0 ] || target=(./bin/floe)
}
