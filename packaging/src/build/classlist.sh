#!/bin/sh
# Package-time training run for the launcher's class-data sharing archive:
#   classlist.sh JAVA DIST OUT
# runs the distribution's CLI and daemon the way users do (help, version, status against nothing,
# and a real `run` that answers `status`, `status --json` and `reload` before `stop`), each JVM with
# -XX:DumpLoadedClassList, and writes the union of the loaded class names to OUT, sorted. Only
# names: the lists' @lambda/@cp lines are specific to the JDK that wrote them, while plain names are
# read by every JDK's -Xshare:dump (a name that JDK lacks is skipped). The launcher adds the
# JDK's own lib/classlist when it makes the archive, on the user's machine, for the user's JDK.
set -eu
java=$1
dist=$2
out=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/supervisor-classlist.XXXXXX")
daemon=
cleanup() {
  if [ -n "$daemon" ]; then kill -KILL "$daemon" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 700 "$work/ctl"
ctl=$work/ctl/control.sock
n=0

sv() { # LIST-FILE-TAG ARGS...: the launcher's JVM flags, no archive, dumping the class list
  tag=$1
  shift
  SUPERVISOR_CDS=off JAVA_HOME=${java%/bin/java} \
    SUPERVISOR_JAVA_OPTS="-Xshare:off -XX:DumpLoadedClassList=$work/$tag.classlist" \
    "$dist/bin/supervisor" "$@"
}

sv help --help >/dev/null
sv version --version >/dev/null
sv runhelp run --help >/dev/null 2>&1 || true # usage rendering (exits 64 while subcommands lack --help)
sv nothing status --control "$work/none.sock" >/dev/null 2>&1 && exit 1 # must answer 2: no supervisor

# The daemon, with one worker, on a loopback port the kernel picks.
sv daemon run --control "$ctl" -l web=127.0.0.1:0 --ready delay:200ms -- sleep 600 >"$work/daemon.log" 2>&1 &
daemon=$!
until sv status status --control "$ctl" >/dev/null 2>&1; do
  n=$((n + 1))
  if [ $n -gt 300 ] || ! kill -0 "$daemon" 2>/dev/null; then
    echo "classlist.sh: the daemon did not answer status within 30 s:" >&2
    cat "$work/daemon.log" >&2
    exit 1
  fi
  sleep 0.1
done
sv json status --json --control "$ctl" >/dev/null
sv reload reload --control "$ctl" >/dev/null
sv stop stop --control "$ctl" >/dev/null
wait "$daemon"
daemon=

mkdir -p "$(dirname "$out")"
{
  echo "# Classes that supervisor's CLI and daemon load, from a training run at package time."
  echo "# The launcher adds the JDK's lib/classlist and makes a CDS archive of both (-Xshare:dump)."
  cat "$work"/*.classlist | grep -v '^[#@]' | sed 's/ .*//' | LC_ALL=C sort -u
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "classlist.sh: $(grep -vc '^#' "$out") classes in $out"
