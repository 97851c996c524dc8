#!/usr/bin/env bash
# The README's main command, scripts/demo.sh, run non-interactively against an
# already-built vigil (VIGIL_DEMO_BIN: no setup, no build):
#  1. the live demo with a real mosquitto, event time 300x (VIGIL_DEMO_SPEEDUP)
#     so that the anomalies of its first 2.5 hours come within ~30 s: the URLs
#     are printed, /healthz and /metrics answer while it runs (messages
#     received > 0), alerts of every anomaly scroll in the text form, the
#     MQTT sink retains open alerts on the broker; then Ctrl-C (SIGINT to the
#     demo's whole process group, as a terminal sends it) stops it, and no
#     process it started is left, its temp dir is gone;
#  2. VIGIL_DEMO_SECONDS=4: it stops by itself through the same cleanup;
#  3. no broker (VIGIL_DEMO_MOSQUITTO=/nonexistent): it says so and runs the
#     replay demo.
# Needs mosquitto, mosquitto-clients, python3 and curl (scripts/setup.sh).
#   demo_test.sh PATH/TO/vigil REPO_ROOT
set -u
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -f "$2/scripts/demo.sh" ]; then
  echo "usage: $0 PATH/TO/vigil REPO_ROOT" >&2
  exit 2
fi
vigil=$(realpath "$1")
root=$(cd "$2" && pwd)
tmp=$(mktemp -d)
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ]; then kill -TERM "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
wait_for() {  # wait_for SECONDS CMD...: until CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done
}
for tool in mosquitto mosquitto_sub python3 curl; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "FAIL: $tool not found (scripts/setup.sh installs it)"; exit 1; }
done
export TMPDIR=$tmp  # the demo's temp dirs (and the replay demo's data) land here
# pid_of NAME FILE: the pid the demo printed for NAME ("NAME (pid N)").
pid_of() { sed -n "s/.*$1 (pid \([0-9]*\)).*/\1/p" "$2" | head -1; }
# running PID: the process exists and is not a zombie (exited, not yet reaped).
running() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}
# gone PID...: none of them runs any more.
gone() { local p; for p in "$@"; do [ -n "$p" ] && running "$p" && return 1; done; return 0; }
exited() { ! running "$demo_pid"; }

# --- 1. live, then Ctrl-C ---------------------------------------------------------
out=$tmp/live.out
# A new session whose SIGINT is not ignored (a background job's is), like a
# demo started from a terminal; VIGIL_DEMO_SECONDS is only a safety net.
VIGIL_DEMO_BIN=$vigil VIGIL_DEMO_SPEEDUP=300 VIGIL_DEMO_SECONDS=50 python3 -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp("bash", ["bash", sys.argv[1]])' "$root/scripts/demo.sh" >"$out" 2>&1 &
demo_pid=$!
t0=$SECONDS
if wait_for 20 grep -q '^== live page: http://127.0.0.1:[0-9]*/$' "$out"; then
  url=$(sed -n 's#^== live page: \(http://127.0.0.1:[0-9]*\)/$#\1#p' "$out")
  ok "live page URL printed: $url/"
else
  fail "no live page URL within 20 s"; cat "$out"; exit 1
fi
grep -q "^== metrics:   $url/metrics$" "$out" && ok "metrics URL printed: $url/metrics" || fail "no /metrics URL"
broker_pid=$(pid_of mosquitto "$out")
sim_pid=$(pid_of "vigil sim" "$out")
run_pid=$(pid_of "rules.yaml" "$out")
mport=$(sed -n 's#^== mosquitto (pid [0-9]*) on tcp://127.0.0.1:\([0-9]*\)$#\1#p' "$out")
[ -n "$broker_pid" ] && [ -n "$sim_pid" ] && [ -n "$run_pid" ] && [ -n "$mport" ] &&
  ok "pids printed: mosquitto $broker_pid, vigil sim $sim_pid, vigil run $run_pid" ||
  fail "pids not printed: mosquitto '$broker_pid' sim '$sim_pid' run '$run_pid' port '$mport'"
demo_tmp=$(sed -n 's#.*every one also in \(.*\)/alerts.ndjson$#\1#p' "$out")

grep -q 'is not connected to the broker' "$out" && fail "the demo did not see vigil connected: $(grep 'not connected' "$out")" ||
  ok "vigil connected to the broker before the simulator started"
[ "$(curl -sf "$url/healthz")" = '{"status":"ok"}' ] && ok "GET /healthz: ok" || fail "/healthz: $(curl -s "$url/healthz")"
received() {
  curl -sf "$url/metrics" | awk '$1 == "vigil_messages_received_total{source=\"warehouse\"}" && $2 > 0 {f = 1; print $2} END {exit !f}'
}
if wait_for 10 received; then
  ok "/metrics: vigil_messages_received_total{source=\"warehouse\"} $(received)"
else
  fail "/metrics: no message received: $(curl -sf "$url/metrics" | grep messages_received)"
fi
curl -sf "$url/" | grep -qi '<html' && ok "GET / serves the live page" || fail "GET / is not a page"

# Text alerts: "<ts> RAISED  <severity> <rule> <key>  <message>  [id ...]".
raised() { grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z RAISED +$1 +$2 $3=" "$out"; }
for a in "critical overheat zone" "warning sensor-stuck device" "warning sensor-drift device" \
         "critical zone-silent zone" "critical heartbeat-lost zone" "major device-silent device"; do
  read -r severity rule tag <<<"$a"
  if wait_for $((t0 + 45 - SECONDS)) raised "$severity" "$rule" "$tag"; then
    ok "alert on the terminal after $((SECONDS - t0)) s: $(grep -E -m1 "RAISED +$severity +$rule " "$out" | cut -c1-110)"
  else
    fail "no $rule alert raised in text form within 45 s"
  fi
done
grep -q '"rule":"overheat"' "$demo_tmp/alerts.ndjson" 2>/dev/null && ok "file sink: alerts in $demo_tmp/alerts.ndjson" ||
  fail "file sink: no alerts in '$demo_tmp/alerts.ndjson'"
n=$(timeout 5 mosquitto_sub -p "$mport" -t 'vigil/alerts/#' --retained-only -W 2 2>/dev/null | grep -c '"state":"raised"')
[ "$n" -gt 0 ] && ok "MQTT sink: $n open alerts retained under vigil/alerts/#" || fail "MQTT sink: no retained alert"

kill -INT -- "-$demo_pid"  # Ctrl-C
if wait_for 20 exited; then
  rc=0; wait "$demo_pid" || rc=$?
  [ "$rc" = 130 ] && ok "Ctrl-C: the demo stopped (exit 130)" || fail "Ctrl-C: exit $rc"
else
  fail "the demo did not stop within 20 s of Ctrl-C"
fi
demo_pid=""
tail -4 "$out" | sed 's/^/     /'
gone "$broker_pid" "$sim_pid" "$run_pid" && ok "no process it started is left (pids $broker_pid $sim_pid $run_pid)" ||
  fail "still running: $(ps -o pid=,args= -p "$broker_pid,$sim_pid,$run_pid")"
left=$(pgrep -f "127.0.0.1:$mport|$demo_tmp" || true)
[ -z "$left" ] && ok "pgrep -f finds nothing on port $mport or in $demo_tmp" || fail "pgrep finds: $left"
[ -n "$demo_tmp" ] && [ ! -e "$demo_tmp" ] && ok "its temp dir is removed" || fail "temp dir '$demo_tmp' left"

# --- 2. VIGIL_DEMO_SECONDS ---------------------------------------------------------
out=$tmp/seconds.out
VIGIL_DEMO_BIN=$vigil VIGIL_DEMO_SECONDS=4 bash "$root/scripts/demo.sh" >"$out" 2>&1 &
demo_pid=$!
if wait_for 30 exited; then
  rc=0; wait "$demo_pid" || rc=$?
  [ "$rc" = 0 ] && grep -q 'VIGIL_DEMO_SECONDS=4: time is up' "$out" && grep -q '^== stopped' "$out" &&
    ok "VIGIL_DEMO_SECONDS=4: stopped by itself (exit 0) through the cleanup" ||
    { fail "VIGIL_DEMO_SECONDS=4: exit $rc"; cat "$out"; }
else
  fail "VIGIL_DEMO_SECONDS=4: still running after 30 s"
fi
demo_pid=""
gone "$(pid_of mosquitto "$out")" "$(pid_of "vigil sim" "$out")" "$(pid_of rules.yaml "$out")" &&
  ok "VIGIL_DEMO_SECONDS: nothing left running" || fail "VIGIL_DEMO_SECONDS: processes left"

# --- 3. no broker: the replay demo ---------------------------------------------------
out=$tmp/nobroker.out
rc=0
VIGIL_DEMO_BIN=$vigil VIGIL_DEMO_MOSQUITTO=/nonexistent timeout 60 bash "$root/scripts/demo.sh" >"$out" 2>&1 || rc=$?
if [ "$rc" = 0 ] && grep -q '^no MQTT broker available: running the embedded replay demo instead$' "$out" &&
   grep -Eq 'RAISED +critical +overheat' "$out"; then
  ok "no broker: says so and runs the replay demo ($(grep -c RAISED "$out") alerts raised)"
else
  fail "no broker: exit $rc"; cat "$out"
fi

echo "demo_test: $fails failed ($((SECONDS)) s)"
[ "$fails" -eq 0 ]
