#!/bin/sh
# Start-up time and idle memory of a built distribution, as in the packaging issue's closing note.
#   packaging/bench/startup.sh [DIST] [JAVA_HOME...]
# DIST defaults to packaging/target/supervisor. For each JAVA_HOME (default: the java on PATH) it
# prints the median wall time and the mean CPU time (user + sys) of 10 runs, after 2 warm-up runs,
# of `supervisor --version` and of `supervisor status --control /nonexistent` (exit 2: the whole CLI
# path up to the connect), and the VmRSS of an idle `supervisor run -l a=127.0.0.1:0 -- sleep 1000`
# after 5 s. The class-data sharing archive is made first, in a fresh cache directory, and waited
# for. Uses hyperfine when it is installed, else a loop over `date +%s%N` (wall time only).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dist=${1:-$here/../target/supervisor}
dist=$(cd "$dist" && pwd)
shift || true
[ $# -gt 0 ] || set -- "${JAVA_HOME:-}"
SUPERVISOR_CACHE_DIR=$(mktemp -d)/cache
export SUPERVISOR_CACHE_DIR
unset SUPERVISOR_JAVA_OPTS SUPERVISOR_CDS JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS 2>/dev/null || true

timing() { # command...: "WALL_MEDIAN_ms CPU_MEAN_ms"
  if command -v hyperfine >/dev/null 2>&1; then
    out=$(mktemp)
    hyperfine -N -i -w 2 -r 10 --export-json "$out" -- "$*" >/dev/null 2>&1
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(round(r["median"]*1000), round((r["user"]+r["system"])*1000))' "$out"
    rm -f "$out"
  else
    "$@" >/dev/null 2>&1 || true; "$@" >/dev/null 2>&1 || true
    i=0; list=$(mktemp)
    while [ $i -lt 10 ]; do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
      echo $(((t1 - t0) / 1000000)) >>"$list"; i=$((i + 1))
    done
    echo "$(sort -n "$list" | sed -n 5,6p | awk '{s+=$1} END {print int(s/2)}') -"; rm -f "$list"
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
printf 'java\t--version wall/cpu ms\tstatus wall/cpu ms\tidle run VmRSS KiB\tCDS archive\n'
for jh in "$@"; do
  if [ -n "$jh" ]; then export JAVA_HOME="$jh"; else unset JAVA_HOME; fi
  v=$("$dist/bin/supervisor" --version 2>&1 | sed -n 's/.*(Java \(.*\))/\1/p')
  archive=none
  if grep -q SUPERVISOR_CACHE_DIR "$dist/bin/supervisor"; then
    n=0
    while [ $n -lt 300 ] && ! ls "$SUPERVISOR_CACHE_DIR"/java"${v%%[!0-9]*}"-*.jsa >/dev/null 2>&1; do sleep 0.1; n=$((n + 1)); done
    archive=$(ls "$SUPERVISOR_CACHE_DIR"/java"${v%%[!0-9]*}"-*.jsa 2>/dev/null | head -1)
    archive=${archive:+$(($(stat -c %s "$archive") / 1048576)) MiB}
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$v" \
    "$(timing "$dist/bin/supervisor" --version)" \
    "$(timing "$dist/bin/supervisor" status --control /nonexistent)" \
    "$(idle_rss_kib)" "${archive:-none}"
done
