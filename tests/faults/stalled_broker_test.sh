#!/usr/bin/env bash
# Fault injection: an MQTT broker that accepts TCP connections and never
# answers (no CONNACK), used by vigil run as the broker of an MQTT source
# and of an MQTT sink, next to an HTTP ingest source and a file sink:
#  - vigil starts and stays ready, ingest and alerts go on: the file sink
#    gets them; vigil_source_connected and vigil_sink_connected are 0;
#  - the MQTT sink's alerts wait in the durable outbox (vigil_outbox_depth);
#  - SIGTERM while the broker hangs exits 0 in bounded time;
#  - with a real broker (mosquitto) on the same port, vigil restarts,
#    connects the source (1) and the outbox delivers every alert.
#   stalled_broker_test.sh PATH/TO/vigil
here=$(cd "$(dirname "$0")" && pwd)
vigil=$(realpath "$1")
source "$here/../lib/test_lib.sh"
t_start=$SECONDS

python3 "$here/stalled_server.py" --port-file "$tmp/stall.port" &
spid=$!
pids+=("$spid")
wait_for 10 test -s "$tmp/stall.port" || { fail "stalled server did not start"; finish; }
mport=$(cat "$tmp/stall.port")
hport=$(free_port)
cat >"$tmp/rules.yaml" <<YAML
engine: {shards: 2, state_dir: $tmp/state, checkpoint_interval: 200ms}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: api
    http: {}
  - name: broker
    mqtt: {url: "tcp://127.0.0.1:$mport", client_id: vigil-stall, topics: ["sensors/#"], qos: 1}
sinks:
  - file: {path: $tmp/alerts.ndjson}
  - mqtt: {url: "tcp://127.0.0.1:$mport", topic: "alerts/{rule}/{device}", qos: 1, retain: true,
           reconnect_min: 100ms, reconnect_max: 500ms, timeout: 1s, outbox: {retry_max: 500ms}}
rules:
  - name: hot
    key: [device]
    when: temp > 30
    clear_when: temp < 28
YAML
sink="mqtt:tcp://127.0.0.1:$mport/alerts/{rule}/{device}"
start_vigil() {
  "$vigil" run "$tmp/rules.yaml" >/dev/null 2>>"$tmp/err" &
  vpid=$!
  pids+=("$vpid")
}
start_vigil
t0=$SECONDS
wait_for 30 curl -sf "http://127.0.0.1:$hport/readyz" && ok "vigil ready in $((SECONDS - t0)) s with a broker that never answers" \
  || { fail "vigil not ready with a stalled broker"; tail -5 "$tmp/err"; finish; }
python3 "$here/gen_data.py" --devices 10 --steps 60 >"$tmp/data.ndjson"
ingest "$(cat "$tmp/data.ndjson")" && ok "HTTP ingest answers" || fail "ingest"
wait_for 5 test -s "$tmp/alerts.ndjson" && ok "alerts reach the file sink ($(wc -l <"$tmp/alerts.ndjson"))" || fail "no alert in the file sink"
sleep 1  # every alert of the batch written
n=$(wc -l <"$tmp/alerts.ndjson")
[ "$(metric 'vigil_source_connected{source="broker"}')" = 0 ] && ok "vigil_source_connected{source=\"broker\"} 0" \
  || fail "source connected: $(metric 'vigil_source_connected{source="broker"}')"
[ "$(metric "vigil_sink_connected{sink=\"$sink\"}")" = 0 ] && ok "vigil_sink_connected{sink=\"$sink\"} 0" \
  || fail "sink connected: $(metric "vigil_sink_connected{sink=\"$sink\"}")"
wait_for 10 metric_is "vigil_outbox_depth{sink=\"$sink\"}" "$n" \
  && ok "the $n alerts wait in the outbox" || fail "outbox depth $(metric "vigil_outbox_depth{sink=\"$sink\"}") for $n alerts"
sleep 1  # a few more seconds of stall, and checkpoints
kill -0 "$vpid" && curl -sf -m 2 "http://127.0.0.1:$hport/healthz" >/dev/null && ok "vigil keeps running" || fail "vigil died"
t1=$SECONDS
kill -TERM "$vpid"
wait "$vpid"
rc=$?
[ "$rc" = 0 ] && [ $((SECONDS - t1)) -le 15 ] && ok "SIGTERM while the broker hangs: exit 0 in $((SECONDS - t1)) s" \
  || { fail "exit $rc after $((SECONDS - t1)) s"; tail -5 "$tmp/err"; }

# A real broker on the same port: vigil connects, the outbox delivers.
kill "$spid"; wait "$spid" 2>/dev/null
cat >"$tmp/mosq.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
CONF
mosquitto -c "$tmp/mosq.conf" >"$tmp/mosq.log" 2>&1 &
pids+=("$!")
wait_for 10 mosquitto_pub -p "$mport" -t ping -m x || { fail "mosquitto did not start"; cat "$tmp/mosq.log"; finish; }
start_vigil
wait_for 20 metric_is 'vigil_source_connected{source="broker"}' 1 && ok "with a real broker: source connected" \
  || fail "source not connected to mosquitto"
retained() { [ "$(timeout 3 mosquitto_sub -p "$mport" -t 'alerts/#' --retained-only -W 1 2>/dev/null | wc -l)" -ge 1 ]; }
wait_for 20 metric_is "vigil_outbox_depth{sink=\"$sink\"}" 0 && retained \
  && ok "the outbox delivered the alerts held during the stall ($(metric "vigil_outbox_delivered_total{sink=\"$sink\"}") delivered)" \
  || fail "outbox depth $(metric "vigil_outbox_depth{sink=\"$sink\"}") after the broker came"
kill -TERM "$vpid"
wait "$vpid" || fail "second run exit $?"
echo "stalled_broker: $((SECONDS - t_start)) s"
finish
