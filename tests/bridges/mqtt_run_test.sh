#!/usr/bin/env bash
# MQTT end to end with a real mosquitto on a free loopback port:
#  1. vigil sim --mqtt -> broker -> vigil run -> alerts in a file sink and on
#     MQTT; both equal `vigil replay` of the same data; topic_tags and
#     `match: {topic}` work.
#  2. The broker restarts mid-stream: vigil_source_connected goes 0 then 1,
#     vigil reconnects, nothing published at QoS 1 is lost.
#  3. vigil stopped while messages are published at QoS 1: its persistent
#     session gets them when it returns.
#  4. The alert broker is down: alerts wait in the durable outbox (counted),
#     survive kill -9 of vigil, and are delivered once the broker is up.
#   mqtt_run_test.sh PATH/TO/vigil
set -u
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
metric() { curl -sf "http://127.0.0.1:$hport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_at_least() { local v; v=$(metric "$1"); [ -n "$v" ] && awk -v v="$v" -v n="$2" 'BEGIN{exit !(v >= n)}'; }

# --- the broker -----------------------------------------------------------
mport=$(free_port)
mkdir -p "$tmp/mosq"
# max_queued_messages 0: mosquitto's default (1000) silently drops QoS 1
# messages for a subscriber that falls behind (DEPENDENCIES.md).
cat >"$tmp/mosq.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
max_queued_messages 0
set_tcp_nodelay true
persistence true
persistence_location $tmp/mosq/
CONF
start_broker() {
  mosquitto -c "$tmp/mosq.conf" >>"$tmp/mosq.log" 2>&1 &
  bpid=$!
  pids+=("$bpid")
  wait_for 10 mosquitto_pub -p "$mport" -t ping -m x
}
start_broker || { fail "mosquitto did not start"; cat "$tmp/mosq.log"; exit 1; }
ok "mosquitto on 127.0.0.1:$mport"

# --- 1. end to end = replay ---------------------------------------------------
start1=$(( $(date +%s%3N) + 86400000 ))  # event time ahead of the wall clock
"$vigil" sim --devices 20 --duration 2h --anomalies spike,drift,stuck,malformed --start "$start1" --seed 7 \
  --out "$tmp/data1.ndjson" 2>/dev/null
n1=$(wc -l <"$tmp/data1.ndjson")
event_rules='
  - name: overheat
    key: [zone, device]
    when: temp > 24
    for: 30s
    clear_when: temp < 23
    severity: critical
  - name: sensor-drift
    key: [device]
    when: abs(avg(temp, 10m) - ewma(temp, 6h)) > 1.5
    for: 5m
  - name: temp-spike
    key: [device]
    when: max(temp, 2m) - min(temp, 2m) > 4
  - name: sensor-stuck
    key: [device]
    when: changes(temp, 2m) == 0 and count(temp, 2m) >= 5
  - name: hot
    key: [device]
    when: temp > 25'
cat >"$tmp/replay.yaml" <<YAML
rules:$event_rules
YAML
hport=$(free_port)
cat >"$tmp/run.yaml" <<YAML
engine: {shards: 2, state_dir: state, checkpoint_interval: 500ms}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: warehouse
    mqtt: {url: "tcp://127.0.0.1:$mport", client_id: vigil-test, topics: ["entrepot/+/+/v1"], qos: 1,
           reconnect_min: 100ms, reconnect_max: 500ms}
    topic_tags: ["entrepot/{zone}/{sensor}/v1"]
rules:$event_rules
  - name: hot-by-topic
    key: [sensor]
    match: {topic: "entrepot/+/+/v1"}
    when: temp > 25
  - name: never-matches
    key: [sensor]
    match: {topic: "elsewhere/#"}
    when: temp > -1000
sinks:
  - file: {path: alerts.ndjson}
  - mqtt: {topic: "alerts/{rule}/{device}", qos: 1}
YAML
"$vigil" check "$tmp/run.yaml" >/dev/null || { fail "vigil check run.yaml"; "$vigil" check "$tmp/run.yaml"; }
mosquitto_sub -v -p "$mport" -q 1 -t 'alerts/#' -i alert-reader >"$tmp/sub.log" 2>&1 &
pids+=("$!")
(cd "$tmp" && exec "$vigil" run run.yaml >"$tmp/run.out" 2>"$tmp/run.err") &
vpid=$!
pids+=("$vpid")
wait_for 15 metric_is 'vigil_source_connected{source="warehouse"}' 1 && ok "vigil connected to the broker" ||
  { fail "vigil not connected"; cat "$tmp/run.err"; exit 1; }
"$vigil" sim --devices 20 --duration 2h --anomalies spike,drift,stuck,malformed --start "$start1" --seed 7 \
  --mqtt "tcp://127.0.0.1:$mport" --qos 1 2>"$tmp/sim1.err" || fail "sim --mqtt: $(cat "$tmp/sim1.err")"
grep -q "published $n1 messages" "$tmp/sim1.err" && ok "sim published $n1 messages" || fail "sim: $(cat "$tmp/sim1.err")"
wait_for 30 metric_is 'vigil_messages_received_total{source="warehouse"}' "$n1" && ok "vigil received all $n1" ||
  fail "received $(metric 'vigil_messages_received_total{source="warehouse"}') of $n1"
"$vigil" replay "$tmp/replay.yaml" "$tmp/data1.ndjson" --out "$tmp/replay1.ndjson" 2>/dev/null
nrep=$(wc -l <"$tmp/replay1.ndjson")
file_alerts() { grep -v -e '"rule":"hot-by-topic"' -e '"rule":"never-matches"' "$tmp/alerts.ndjson" | sort; }
wait_for 20 bash -c "[ \$(grep -vc -e hot-by-topic -e never-matches '$tmp/alerts.ndjson') -ge $nrep ]"
if [ "$nrep" -gt 20 ] && diff <(file_alerts) <(sort "$tmp/replay1.ndjson") >"$tmp/diff1"; then
  ok "file sink alerts = vigil replay of the same data ($nrep alerts)"
else
  fail "file sink vs replay ($nrep replay alerts): $(head -5 "$tmp/diff1")"
fi
nfile=$(wc -l <"$tmp/alerts.ndjson")
wait_for 20 bash -c "[ \$(wc -l <'$tmp/sub.log') -ge $nfile ]"
if diff <(sed 's/^[^ ]* //' "$tmp/sub.log" | sort) <(sort "$tmp/alerts.ndjson") >/dev/null; then
  ok "MQTT sink: the same $nfile alerts arrived on alerts/#"
else
  fail "MQTT sink: $(wc -l <"$tmp/sub.log") on MQTT vs $nfile in the file"
fi
grep -q '^alerts/hot/d-00' "$tmp/sub.log" && ok "topic template alerts/{rule}/{device} rendered" || fail "topic template"
nhot=$(grep -c '"rule":"hot",' "$tmp/alerts.ndjson")
ntopic=$(grep -c '"rule":"hot-by-topic","key":{"sensor":"d-0' "$tmp/alerts.ndjson")
[ "$nhot" -gt 0 ] && [ "$nhot" = "$ntopic" ] && ok "topic_tags: a rule keyed by the topic's {sensor} sees the same $ntopic alerts" ||
  fail "topic tags: hot=$nhot hot-by-topic=$ntopic"
grep -q '"rule":"never-matches"' "$tmp/alerts.ndjson" && fail "match topic elsewhere/# matched" || ok "match: {topic} filters"
grep -q '"reason":"invalid_json"' "$tmp/state/dead-letter.ndjson" && ok "malformed payloads dead-lettered" || fail "dead letter"

# --- 2. broker restart mid-stream ------------------------------------------------
# The first half is published as fast as the broker takes it and the broker
# is stopped right after (vigil may still have a backlog in its persistent
# session, which the broker saves); the second half follows the restart.
start2=$(( start1 + 3 * 3600000 ))
n2=0
for half in a b; do
  [ "$half" = a ] && s=$start2 || s=$(( start2 + 1800000 ))
  "$vigil" sim --devices 20 --duration 30m --anomalies spike --start "$s" --seed 8 --out "$tmp/data2$half.ndjson" 2>/dev/null
  n2=$(( n2 + $(wc -l <"$tmp/data2$half.ndjson") ))
  timeout 60 "$vigil" sim --devices 20 --duration 30m --anomalies spike --start "$s" --seed 8 \
    --mqtt "tcp://127.0.0.1:$mport" --qos 1 --client-id "sim-$half" 2>"$tmp/sim2$half.err" ||
    fail "sim publisher ($half): $(cat "$tmp/sim2$half.err")"
  [ "$half" = b ] && break
  kill -TERM "$bpid"; wait "$bpid" 2>/dev/null
  wait_for 10 metric_is 'vigil_source_connected{source="warehouse"}' 0 && ok "broker down: vigil_source_connected 0" ||
    fail "connected did not drop to 0"
  sleep 1
  start_broker && ok "broker restarted" || fail "broker restart"
  wait_for 15 metric_is 'vigil_source_connected{source="warehouse"}' 1 && ok "vigil reconnected: vigil_source_connected 1" ||
    fail "no reconnect"
done
if wait_for 40 metric_at_least 'vigil_messages_received_total{source="warehouse"}' $((n1 + n2)); then
  ok "nothing published at QoS 1 was lost: $(metric 'vigil_messages_received_total{source="warehouse"}') >= $((n1 + n2)) received"
else
  fail "lost messages: $(metric 'vigil_messages_received_total{source="warehouse"}') < $((n1 + n2))"
fi
metric_at_least 'vigil_mqtt_connects_total{source="warehouse"}' 2 && ok "reconnects counted" || fail "vigil_mqtt_connects_total"

# --- 3. persistent session while vigil is down --------------------------------------
kill -TERM "$vpid"; wait "$vpid"; rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: vigil exit 0" || fail "vigil exit $rc"
start3=$(( start2 + 2 * 3600000 ))
"$vigil" sim --devices 5 --count 200 --start "$start3" --seed 9 --mqtt "tcp://127.0.0.1:$mport" --qos 1 \
  --client-id sim-offline 2>/dev/null || fail "sim while vigil is down"
(cd "$tmp" && exec "$vigil" run run.yaml >>"$tmp/run.out" 2>"$tmp/run2.err") &
vpid=$!
pids+=("$vpid")
wait_for 20 metric_is 'vigil_messages_received_total{source="warehouse"}' 200 &&
  ok "the persistent session delivered the 200 messages published while vigil was down" ||
  fail "after restart received $(metric 'vigil_messages_received_total{source="warehouse"}') of 200"
kill -TERM "$vpid"; wait "$vpid"

# --- 3b. MQTT 5 with a shared subscription -----------------------------------------
hport=$(free_port)
mkdir -p "$tmp/v5"
cat >"$tmp/v5/run.yaml" <<YAML
engine: {state_dir: state}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: shared
    mqtt: {url: "mqtt://127.0.0.1:$mport", version: 5, client_id: vigil-v5, topics: ["\$share/vigil/entrepot/+/+/v1"], qos: 1}
    topic_tags: "entrepot/{zone}/{sensor}/v1"
rules:
  - name: hot
    key: [sensor]
    when: temp > 25
sinks:
  - file: {path: alerts.ndjson}
YAML
(cd "$tmp/v5" && exec "$vigil" run run.yaml >"$tmp/v5/out" 2>"$tmp/v5/err") &
vpid=$!
pids+=("$vpid")
wait_for 15 metric_is 'vigil_source_connected{source="shared"}' 1 || { fail "MQTT 5 source not connected"; tail -3 "$tmp/v5/err"; }
"$vigil" sim --devices 5 --count 150 --start "$start3" --seed 10 --mqtt "tcp://127.0.0.1:$mport" --qos 1 \
  --client-id sim-v5 2>/dev/null || fail "sim for the MQTT 5 source"
wait_for 15 metric_is 'vigil_messages_received_total{source="shared"}' 150 &&
  ok "MQTT 5 with a \$share/ subscription received the 150 messages" ||
  fail "MQTT 5 shared subscription: $(metric 'vigil_messages_received_total{source="shared"}') of 150"
kill -TERM "$vpid"; wait "$vpid"

# --- 4. outbox: the alert broker is down, vigil is killed, then the broker comes up ---
aport=$(free_port)
hport=$(free_port)
mkdir -p "$tmp/out4"
: >"$tmp/out4/in.ndjson"
cat >"$tmp/out4/run.yaml" <<YAML
engine: {state_dir: state, checkpoint_interval: 200ms}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: feed
    file: {path: in.ndjson, follow: true}
rules:
  - name: hot
    key: [device]
    when: temp > 30
sinks:
  - file: {path: alerts.ndjson}
  - mqtt: {url: "tcp://127.0.0.1:$aport", topic: "alerts/{rule}/{device}", qos: 1, retain: true,
           reconnect_min: 100ms, reconnect_max: 300ms, timeout: 2s, outbox: {retry_max: 500ms}}
YAML
(cd "$tmp/out4" && exec "$vigil" run run.yaml >"$tmp/out4/run.out" 2>"$tmp/out4/run.err") &
vpid=$!
pids+=("$vpid")
wait_for 15 curl -sf "http://127.0.0.1:$hport/readyz" || fail "outbox run not ready"
for i in 1 2 3 4 5; do echo "{\"ts\":$((start1 + i)),\"device\":\"k$i\",\"temp\":35}" >>"$tmp/out4/in.ndjson"; done
sink="mqtt:tcp://127.0.0.1:$aport/alerts/{rule}/{device}"
wait_for 15 metric_is "vigil_outbox_depth{sink=\"$sink\"}" 5 && ok "alert broker down: 5 alerts wait in the outbox" ||
  fail "outbox depth $(metric "vigil_outbox_depth{sink=\"$sink\"}")"
metric_at_least "vigil_sink_errors_total{sink=\"$sink\"}" 1 && ok "failed deliveries counted in vigil_sink_errors_total" ||
  fail "sink errors not counted"
sleep 1  # a few checkpoints
kill -9 "$vpid"; wait "$vpid" 2>/dev/null
cat >"$tmp/mosq2.conf" <<CONF
listener $aport 127.0.0.1
allow_anonymous true
persistence false
CONF
mosquitto -c "$tmp/mosq2.conf" >"$tmp/mosq2.log" 2>&1 &
pids+=("$!")
(cd "$tmp/out4" && exec "$vigil" run run.yaml >>"$tmp/out4/run.out" 2>"$tmp/out4/run2.err") &
vpid=$!
pids+=("$vpid")
retained() { [ "$(timeout 3 mosquitto_sub -p "$aport" -t 'alerts/#' --retained-only -W 1 2>/dev/null | grep -c '"state":"raised"')" = 5 ]; }
wait_for 30 retained && ok "after kill -9 and restart, the outbox delivered the 5 alerts (retained on the broker)" ||
  { fail "outbox after restart: $(timeout 3 mosquitto_sub -p "$aport" -t 'alerts/#' --retained-only -W 1 2>/dev/null | wc -l) retained"; tail -5 "$tmp/out4/run2.err"; }
wait_for 10 metric_is "vigil_outbox_depth{sink=\"$sink\"}" 0 && ok "outbox drained" || fail "outbox not drained"
echo '{"ts":'$((start1 + 100))',"device":"k1","temp":20}' >>"$tmp/out4/in.ndjson"
retained4() { [ "$(timeout 3 mosquitto_sub -p "$aport" -t 'alerts/#' --retained-only -W 1 2>/dev/null | grep -c '"state":"raised"')" = 4 ]; }
wait_for 15 retained4 && ok "retain: the clear of k1 deleted its retained raise (4 left)" || fail "retained clear"
kill -TERM "$vpid"; wait "$vpid"

echo "$fails failed"
[ "$fails" -eq 0 ]
