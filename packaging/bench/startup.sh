#!/bin/sh
# Start-up time and idle memory of a built distribution, as in the packaging issue's closing note.
#   packaging/bench/startup.sh [DIST] [JAVA_HOME...]
# DIST defaults to packaging/target/supervisor. For each JAVA_HOME (default: the java on PATH) it
# prints the median wall time of 10 runs (after 2 warm-up runs, which also let a per-JDK class-data
# archive be created) of `supervisor --version` and `supervisor status --control /nonexistent`, and
# the VmRSS of an idle `supervisor run -l a=127.0.0.1:0 -- sleep 1000` after 5 s. Uses hyperfine when
# it is installed, else a loop over `date +%s%N`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dist=${1:-$here/../target/supervisor}
dist=$(cd "$dist" && pwd)
shift || true
[ $# -gt 0 ] || set -- "${JAVA_HOME:-}"

median_ms() { # command...: median wall ms of 10 runs after 2 warm-ups
  if command -v hyperfine >/dev/null 2>&1; then
    out=$(mktemp)
    hyperfine -N -i -w 2 -r 10 --export-json "$out" -- "$*" >/dev/null 2>&1
    python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$out"
    rm -f "$out"
  else
    "$@" >/dev/null 2>&1 || true; "$@" >/dev/null 2>&1 || true
    i=0; : >/tmp/startup.$$
    while [ $i -lt 10 ]; do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
      echo $(((t1 - t0) / 1000000)) >>/tmp/startup.$$; i=$((i + 1))
    done
    sort -n /tmp/startup.$$ | sed -n 5,6p | awk '{s+=$1} END {print int(s/2)}'; rm -f /tmp/startup.$$
  fi
}

idle_rss_kib() {
  ctl=$(mktemp -d)/ctl.sock
  "$dist/bin/supervisor" run --control "$ctl" -l a=127.0.0.1:0 -- sleep 1000 >/dev/null 2>&1 &
  pid=$!
  sleep 5
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  echo "$rss"
}

cd /tmp
for jh in "$@"; do
  if [ -n "$jh" ]; then export JAVA_HOME="$jh"; else unset JAVA_HOME; fi
  v=$("$dist/bin/supervisor" --version 2>&1 | sed -n 's/.*(Java \(.*\))/\1/p')
  printf '%s\t--version %s ms\tstatus %s ms\tidle run VmRSS %s KiB\n' "$v" \
    "$(median_ms "$dist/bin/supervisor" --version)" \
    "$(median_ms "$dist/bin/supervisor" status --control /nonexistent)" \
    "$(idle_rss_kib)"
done
