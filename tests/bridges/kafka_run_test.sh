#!/usr/bin/env bash
# The Kafka path end to end, on a librdkafka mock cluster (`vigil sim
# --kafka-mock`: real Kafka protocol on 127.0.0.1): `vigil sim --kafka`
# streams warehouse data into a 4-partition topic, `vigil run` consumes it
# (kafka source) and writes alerts to a file and to an alerts topic (kafka
# sink). The run is killed with SIGKILL mid-stream and restarted on the same
# state dir; at the end, the alerts (file sink, and the alerts topic read
# back with kcat) de-duplicated must equal `vigil replay` of the same data:
# nothing lost across the crash, nothing invented.
#
# The rules are event rules keyed by device: the producer keys messages by
# device, so each device's messages keep their order in one partition, and
# per-key results do not depend on how partitions interleave. Window and
# deadman rules depend on the source watermark, which follows arrival order
# across partitions and, for a live source, the wall clock: they are not
# comparable with a replay of historical data.
#   kafka_run_test.sh PATH/TO/vigil
set -u
vigil=$(realpath "$1")
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
die() { fail "$1"; for f in "$tmp"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() {  # wait_for SECONDS CMD...: until CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done
}
cd "$tmp"

# The mock cluster; its bootstrap address is the first line of its stdout.
"$vigil" sim --kafka-mock --topic data,alerts --partitions 4 >mock.out 2>mock.log &
pids+=("$!")
wait_for 10 test -s mock.out || die "the mock cluster printed no address"
addr=$(head -1 mock.out)
case "$addr" in 127.0.0.1:[0-9]*) ok "vigil sim --kafka-mock listens on $addr";; *) die "mock address '$addr'";; esac

sim=(--devices 40 --duration 3h --anomalies spike,drift,stuck,malformed --seed 7)
"$vigil" sim "${sim[@]}" --out data.ndjson 2>/dev/null
total=$(wc -l <data.ndjson)

port=$(free_port)
cat >rules.yaml <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: 100ms}
http: {listen: "127.0.0.1:$port"}
sources:
  - name: plant
    kafka:
      brokers: "$addr"
      topics: [data]
      group: vigil-test
      key_tag: device
      properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}
rules:
  - name: overheat
    key: [zone, device]
    when: temp > 24
    for: 30s
    clear_when: temp < 23.5
    severity: critical
  - name: humid
    key: [device]
    when: hum > 60
    clear_when: hum < 59
  - name: sensor-drift
    key: [device]
    when: abs(avg(temp, 10m) - ewma(temp, 1h)) > 0.5
    for: 2m
  - name: temp-spike
    key: [device]
    when: max(temp, 2m) - min(temp, 2m) > 1.5
  - name: sensor-stuck
    key: [device]
    when: changes(temp, 2m) == 0 and count(temp, 2m) >= 5
sinks:
  - file: {path: alerts.ndjson}
  - kafka: {brokers: "$addr", topic: alerts}
YAML
"$vigil" check rules.yaml >check.log 2>&1 && ok "vigil check accepts the kafka source and sink" || die "vigil check: $(cat check.log)"
"$vigil" replay rules.yaml data.ndjson --out replay.ndjson 2>replay.log || die "replay failed"
expected=$(sort -u replay.ndjson | wc -l)
[ "$expected" -gt 50 ] && ok "replay: $expected alerts over $total messages" || die "replay gave only $expected alerts"

# Stream the data at 2000 messages/s (long enough to kill vigil mid-stream on
# a loaded machine); vigil consumes as it arrives.
"$vigil" sim "${sim[@]}" --kafka "$addr" --topic data --rate 2000 >/dev/null 2>produce.log &
producer=$!
pids+=("$producer")
"$vigil" run rules.yaml >run1.out 2>run1.log &
run1=$!
pids+=("$run1")
base="http://127.0.0.1:$port"
received() { curl -sf "$base/metrics" | awk '/^vigil_messages_received_total\{source="plant"\}/{print $2}'; }
some_received() { r=$(received); [ -n "$r" ] && [ "${r%.*}" -gt 2000 ]; }
wait_for 30 some_received || die "the first run received nothing from Kafka"
# A checkpoint that began after those messages, so it holds Kafka positions
# (on a loaded machine the pause after a slow checkpoint can last seconds:
# killing before one would leave nothing to resume from).
checkpoints() { curl -sf "$base/metrics" | awk '/^vigil_checkpoints_total\{result="ok"\}/{printf "%d", $2}'; }
ckpt=$(checkpoints)
checkpointed() { local n; n=$(checkpoints); [ -n "$n" ] && [ "$n" -ge $(( ${ckpt:-0} + 2 )) ]; }
wait_for 30 checkpointed || die "no checkpoint after the first messages"
sleep 0.5
kill -9 "$run1"
wait "$run1" 2>/dev/null
kill -0 "$producer" 2>/dev/null && ok "vigil run killed with SIGKILL mid-stream (the producer is still running)" ||
  fail "the producer had already finished when vigil was killed: not mid-stream"
lines_before=$(wc -l <alerts.ndjson 2>/dev/null || echo 0)

"$vigil" run rules.yaml >run2.out 2>run2.log &
run2=$!
pids+=("$run2")
wait "$producer" && ok "vigil sim --kafka produced $total messages" || die "the producer failed: $(cat produce.log)"
# Done when every partition's lag is 0 after the producer finished.
caught_up() {
  curl -sf "$base/metrics" >metrics.txt || return 1
  [ "$(grep -c '^vigil_kafka_consumer_lag{' metrics.txt)" -eq 4 ] || return 1
  ! grep '^vigil_kafka_consumer_lag{' metrics.txt | grep -qv ' 0$'
}
wait_for 60 caught_up || die "vigil did not catch up: $(grep lag metrics.txt)"
ok "consumer lag 0 on the 4 partitions"
grep -q "resumed from the checkpoint" run2.log && ok "the restart resumed partitions from the checkpointed offsets" ||
  fail "the restart did not resume from the checkpoint: $(grep kafka run2.log | head -3)"
grep -q '^vigil_source_connected{source="plant"} 1$' metrics.txt && ok "vigil_source_connected 1" || fail "connected: $(grep connected metrics.txt)"
grep -q '^vigil_source_bytes_total{source="plant"} [1-9]' metrics.txt && ok "vigil_source_bytes_total counts" || fail "bytes_total"
promtool check metrics <metrics.txt >promtool.log 2>&1 && ok "promtool check metrics" || fail "promtool: $(cat promtool.log)"
kill -TERM "$run2"
wait "$run2"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "vigil run exit $rc"
grep -q '"reason":"invalid_json"' state/dead-letter.ndjson && grep -q '"where":"data\[[0-3]\]@[0-9]*"' state/dead-letter.ndjson &&
  ok "malformed messages dead-lettered with topic[partition]@offset" || fail "dead letters: $(head -2 state/dead-letter.ndjson)"

compare() {  # compare NAME FILE: de-duplicated alerts of FILE equal the replay's
  sort -u "$2" >got.sorted
  sort -u replay.ndjson >want.sorted
  if cmp -s got.sorted want.sorted; then
    ok "$1: $(wc -l <got.sorted) distinct alerts, identical to the replay ($(($(wc -l <"$2") - $(wc -l <got.sorted))) re-emitted after the crash)"
  else
    fail "$1 differs from the replay"
    echo "--- missing:"; comm -13 got.sorted want.sorted | head -5
    echo "--- extra:"; comm -23 got.sorted want.sorted | head -5
  fi
}
compare "file sink across the crash" alerts.ndjson
[ "$lines_before" -gt 0 ] && ok "the killed run had written $lines_before alerts" || fail "the killed run wrote no alert"

# The alerts topic, read back with kcat: same alerts, keyed by the alert key.
kcat -C -b "$addr" -t alerts -e -q -f '%k\t%s\n' >topic.tsv 2>kcat.log || fail "kcat: $(cat kcat.log)"
cut -f2- topic.tsv >topic.ndjson
compare "alerts topic (kcat)" topic.ndjson
bad_keys=$(python3 - topic.tsv <<'PY'
import json, sys
bad = 0
for line in open(sys.argv[1]):
    key, value = line.rstrip("\n").split("\t", 1)
    alert = json.loads(value)
    if key != "/".join(alert["key"].values()):
        bad += 1
print(bad)
PY
)
[ "$bad_keys" = 0 ] && ok "every Kafka alert's message key is its alert key (zone/device or device)" || fail "$bad_keys alerts with a wrong key"

echo "$fails failed"
[ "$fails" -eq 0 ]
