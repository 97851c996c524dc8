#!/usr/bin/env bash
# kill -9 after vigil took MQTT messages it already acknowledged to the
# broker: nothing is lost. A real mosquitto; `vigil run` subscribes at QoS 1
# with a persistent session; checkpoints only at a clean stop (interval 1 h).
#   1. a first part, then SIGTERM: a checkpoint after it;
#   2. a second part, then SIGKILL once vigil took all of it (the broker
#      will not send it again: Paho acknowledged it);
#   3. the restart replays the source's journal (STATE_DIR/journal/plant)
#      from the checkpointed position, then a third part arrives.
# The alerts of the three runs, repeats removed, must be those of `vigil
# replay` of the whole data: the third part's alerts depend on the state
# the second part left (a run that lost it raises and clears differently).
#   mqtt_kill_test.sh PATH/TO/vigil
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric, alert_set: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
# kill_test_rules, replay_expected, expect_alerts_as_replay
source "$(cd "$(dirname "$0")" && pwd)/kill_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
command -v mosquitto >/dev/null || { echo "mosquitto not installed: skipped"; exit 77; }

python3 "$here/gen_data.py" --devices 200 --steps 50 >"$tmp/part1.ndjson"
python3 "$here/gen_data.py" --devices 200 --steps 200 --start-step 50 >"$tmp/part2.ndjson"
python3 "$here/gen_data.py" --devices 200 --steps 200 --start-step 250 >"$tmp/part3.ndjson"
cat "$tmp/part1.ndjson" "$tmp/part2.ndjson" "$tmp/part3.ndjson" >"$tmp/all.ndjson"
mport=$(free_port)
hport=$(free_port)
cat >"$tmp/mosq.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
max_queued_messages 0
persistence false
CONF
mosquitto -c "$tmp/mosq.conf" >"$tmp/mosq.log" 2>&1 &
pids+=("$!")
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $mport), 1)" || { fail "mosquitto did not start"; finish; }
cat >"$tmp/rules.yaml" <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: 1h}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: plant
    mqtt: {url: "tcp://127.0.0.1:$mport", client_id: vigil-kill, topics: [sensors], qos: 1, clean_start: false}
YAML
kill_test_rules >>"$tmp/rules.yaml"
replay_expected "$tmp/all.ndjson"

start() {  # start LOG: vigil run in $tmp, its pid in $vpid, once its source is connected
  (cd "$tmp" && exec "$vigil" run rules.yaml >/dev/null 2>"$1") &
  vpid=$!
  pids+=("$vpid")
  wait_for 20 metric_is 'vigil_source_connected{source="plant"}' 1 || { fail "vigil did not connect: $(tail -3 "$1")"; finish; }
}
# publish FILE: one message per line, QoS 1, in runs of 10,000 lines
# (mosquitto 2.0 disconnects a `mosquitto_pub -l` that sends some 25,000
# QoS 1 messages at once "due to out of memory").
publish() {
  local chunk
  rm -f "$tmp"/pub.*
  split -l 10000 "$1" "$tmp/pub."
  for chunk in "$tmp"/pub.*; do mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t sensors -l <"$chunk" || return 1; done
}

received_at_least() { metric_at_least 'vigil_messages_received_total{source="plant"}' "$1"; }
start "$tmp/run1.log"
publish "$tmp/part1.ndjson" && ok "first part published (QoS 1)" || fail "mosquitto_pub"
wait_for 30 received_at_least 10000 || fail "the first part was not processed"
kill -TERM "$vpid"
wait "$vpid" && ok "SIGTERM after the first part: exit 0 (final checkpoint)" || fail "first run exit $?"

start "$tmp/run2.log"
publish "$tmp/part2.ndjson" && ok "second part ($(wc -l <"$tmp/part2.ndjson") messages) published (QoS 1)" ||
  fail "mosquitto_pub"
wait_for 60 received_at_least 40000 || fail "vigil did not take the second part"
kill -9 "$vpid"
wait "$vpid" 2>/dev/null
ok "SIGKILL once the second part was taken: $(alert_set "$tmp/alerts.ndjson" | wc -l) of $expected alert transitions written"
[ "$(cat "$tmp"/state/journal/plant/*.log 2>/dev/null | wc -c)" -gt 0 ] && ok "the journal is in STATE_DIR/journal/plant" ||
  fail "no journal"

start "$tmp/run3.log"
replayed() { grep -q "mqtt source 'plant': replayed 40000 messages accepted before the restart" "$tmp/run3.log"; }
wait_for 60 replayed && ok "restart: the 40,000 messages of the second part replayed from the journal" ||
  fail "the restart did not replay the second part: $(grep -o 'replayed [0-9]* messages' "$tmp/run3.log") $(tail -2 "$tmp/run3.log")"
publish "$tmp/part3.ndjson" && ok "third part published" || fail "mosquitto_pub"
wait_for 60 received_at_least 80000 || fail "the third part was not processed: $(metric 'vigil_messages_received_total{source="plant"}')"
kill -TERM "$vpid"
wait "$vpid"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "vigil exit $rc"
expect_alerts_as_replay
finish
