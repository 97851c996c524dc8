#!/usr/bin/env bash
# The live warehouse demo, the main command of the README. Installs what is
# missing (scripts/setup.sh), builds vigil into build-demo/, starts a private
# mosquitto on a free loopback port, `vigil sim --mqtt --live` publishing the
# warehouse scenario (zones nord/sud/est, temperature and humidity, a retained
# heartbeat per zone every 30 s, and overheating, a drifting sensor, a stuck
# sensor, silent devices and a silent zone, malformed payloads), and `vigil
# run examples/warehouse/rules.yaml` on it: alerts scroll on the terminal,
# the live page and /metrics are on a free local port. Event time runs 60
# times faster than the clock: 12 hours of warehouse in 12 minutes, the first
# anomalies after about a minute. Ctrl-C stops everything it started, by pid.
#
# Without a broker (mosquitto cannot be installed or does not start) it runs
# the replay demo instead: 6 hours of the same scenario generated to a file
# and replayed through the same rules.
#
#   scripts/demo.sh               the live demo
#   scripts/demo.sh --replay [H]  the replay demo, H hours of data (default 6)
#
# Environment (for tests and the impatient):
#   VIGIL_DEMO_BIN=PATH       use this vigil binary: no setup, no build
#   VIGIL_DEMO_SECONDS=N      stop by itself after N seconds (same cleanup as Ctrl-C)
#   VIGIL_DEMO_SPEEDUP=N      event time runs N times faster than the clock (default 60)
#   VIGIL_DEMO_MOSQUITTO=PATH the broker binary (default: mosquitto)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=live
hours=6
case "${1:-}" in
  "") ;;
  --replay) mode=replay; hours=${2:-6} ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--replay [HOURS]]" >&2; exit 2 ;;
esac
demo_seconds=${VIGIL_DEMO_SECONDS:-}
speedup=${VIGIL_DEMO_SPEEDUP:-60}
rules=examples/warehouse/rules.yaml

if [ -n "${VIGIL_DEMO_BIN:-}" ]; then
  vigil=$(realpath "$VIGIL_DEMO_BIN")
else
  bash scripts/setup.sh || echo "demo: scripts/setup.sh failed (above); going on with what is installed"
  bash scripts/build.sh build-demo -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF
  vigil=$PWD/build-demo/vigil
fi

# --- the replay demo (no broker needed) --------------------------------------
replay_demo() {
  local dir data
  dir=$(mktemp -d -t vigil-replay-demo.XXXXXX)
  data=$dir/warehouse.ndjson
  echo "== vigil sim: ${hours}h of data, 30 devices in zones nord/sud/est, every anomaly"
  "$vigil" sim --devices 30 --zones nord,sud,est --duration "${hours}h" --period 10s \
    --anomalies spike,drift,dropout,stuck,malformed --seed 7 --out "$data"
  echo "== vigil replay $rules (alerts below)"
  "$vigil" replay "$rules" "$data" --format text --stats "$dir/stats.json" --dead-letter "$dir/rejected.ndjson"
  echo "== summary: $(cat "$dir/stats.json")"
  echo "== rejected lines and their reasons: $dir/rejected.ndjson"
}

if [ "$mode" = replay ]; then
  replay_demo
  exit 0
fi

# --- the live demo -------------------------------------------------------------
tmp=$(mktemp -d -t vigil-demo.XXXXXX)
broker_pid="" sim_pid="" vigil_pid=""

# True while PID runs (a zombie, exited but not yet waited for, does not count).
alive() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}
# stop PID: SIGTERM, up to 10 s to finish, then SIGKILL; reaps it.
stop() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "== pid $pid did not stop within 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # summary and cleanup run from the EXIT trap
summary() {
  local f=$tmp/alerts.ndjson s line=""
  [ -s "$f" ] || return 0
  for s in critical major warning info; do
    line+=" $s $(grep '"state":"raised"' "$f" | grep -c "\"severity\":\"$s\"" || true),"
  done
  echo "== $(grep -c '"state":"raised"' "$f" || true) alerts raised:${line%,}"
}
# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  trap '' INT  # a second Ctrl-C does not interrupt the cleanup
  echo
  echo "== stopping vigil sim, vigil run and mosquitto (pids ${sim_pid:--} ${vigil_pid:--} ${broker_pid:--})"
  stop "$sim_pid"
  stop "$vigil_pid"
  stop "$broker_pid"
  summary
  rm -rf "$tmp"
  echo "== stopped; $tmp removed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The broker: a private mosquitto on a free loopback port.
start_broker() {
  local mosq=${VIGIL_DEMO_MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)} i
  if [ ! -x "$mosq" ]; then
    echo "== mosquitto not found (Debian: apt-get install mosquitto)"
    return 1
  fi
  mport=$(free_port) || return 1
  # max_queued_messages 0: mosquitto's default (1000) silently drops QoS 1
  # messages queued for a subscriber that falls behind (docs/operations.md).
  cat >"$tmp/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
max_queued_messages 0
set_tcp_nodelay true
persistence false
CONF
  # In its own session: Ctrl-C on the terminal must not take the broker away
  # before vigil has stopped (the cleanup stops it last).
  local setsid=""
  command -v setsid >/dev/null && setsid=setsid
  $setsid "$mosq" -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
  broker_pid=$!
  for ((i = 0; i < 50; i++)); do
    port_open "$mport" && return 0
    alive "$broker_pid" || break
    sleep 0.1
  done
  echo "== mosquitto did not start within 5 s:"
  sed 's/^/   /' "$tmp/mosquitto.log"
  stop "$broker_pid"
  broker_pid=""
  return 1
}
if ! start_broker; then
  echo "no MQTT broker available: running the embedded replay demo instead"
  replay_demo
  exit 0
fi
echo "== mosquitto (pid $broker_pid) on tcp://127.0.0.1:$mport"

# vigil run, in the background so that this script keeps the pids; its
# alerts (stdout) and log (stderr) go to this terminal.
hport=$(free_port)
VIGIL_MQTT_URL=tcp://127.0.0.1:$mport VIGIL_HTTP=127.0.0.1:$hport VIGIL_STATE_DIR=$tmp/state \
  VIGIL_ALERTS_FILE=$tmp/alerts.ndjson "$vigil" run "$rules" &
vigil_pid=$!
connected() {
  local m
  m=$(curl -sf "http://127.0.0.1:$hport/metrics" 2>/dev/null) || return 1
  grep -q '^vigil_source_connected{source="warehouse"} 1' <<<"$m"
}
for ((i = 0; i < 150; i++)); do
  connected && break
  alive "$vigil_pid" || { echo "== vigil run stopped at start"; exit 1; }
  sleep 0.1
done
connected || echo "== vigil is not connected to the broker after 15 s; going on"

"$vigil" sim --mqtt "tcp://127.0.0.1:$mport" --live --speedup "$speedup" --devices 30 --zones nord,sud,est \
  --duration 12h --anomalies spike,drift,dropout,stuck,malformed --seed 52 >"$tmp/sim.log" 2>&1 &
sim_pid=$!
cat <<EOF
== vigil sim (pid $sim_pid): 12 h of warehouse, event time ${speedup}x faster than the clock
   (alert times run ahead of the clock), 30 devices in zones nord/sud/est
== vigil run $rules (pid $vigil_pid): alerts below, every one also in $tmp/alerts.ndjson
== live page: http://127.0.0.1:$hport/
== metrics:   http://127.0.0.1:$hport/metrics
== alerts on MQTT: mosquitto_sub -p $mport -t 'vigil/alerts/#' -v
== Ctrl-C stops everything
EOF

t0=$SECONDS
sim_done=0
while alive "$vigil_pid"; do
  if [ "$sim_done" = 0 ] && ! alive "$sim_pid"; then
    sim_done=1
    rc=0
    wait "$sim_pid" || rc=$?
    if [ "$rc" = 0 ]; then
      echo "== vigil sim finished: $(tail -1 "$tmp/sim.log"); vigil keeps running, Ctrl-C to stop"
    else
      echo "== vigil sim failed (exit $rc):"
      sed 's/^/   /' "$tmp/sim.log"
    fi
  fi
  if [ -n "$demo_seconds" ] && [ $((SECONDS - t0)) -ge "$demo_seconds" ]; then
    echo "== VIGIL_DEMO_SECONDS=$demo_seconds: time is up"
    exit 0
  fi
  sleep 0.5
done
rc=0
wait "$vigil_pid" || rc=$?
vigil_pid=""
echo "== vigil run exited (status $rc)"
exit $((rc == 0 ? 1 : rc))
