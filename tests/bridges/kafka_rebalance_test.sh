#!/usr/bin/env bash
# A Kafka rebalance between two `vigil run` in one consumer group, on a
# librdkafka mock cluster: the first consumes every partition of an
# 8-partition topic; a second joins, and the cooperative-sticky rebalance
# revokes half of the first one's partitions. On revoke the first vigil
# checkpoints first and commits exactly where it stopped, so the second
# starts there: across both, every message is processed exactly once (no
# crash, so no replay is allowed). The checkpoint interval is an hour: only
# the revoke makes a checkpoint before the end.
#   kafka_rebalance_test.sh PATH/TO/vigil
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail/finish, free_port, wait_for: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
die() { fail "$1"; for f in "$tmp"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }
cd "$tmp"

"$vigil" sim --kafka-mock --topic data --partitions 8 >mock.out 2>mock.log &
pids+=("$!")
wait_for 10 test -s mock.out || die "the mock cluster printed no address"
addr=$(head -1 mock.out)

first=20000
second=20000
"$vigil" sim --devices 200 --count "$first" --seed 11 --kafka "$addr" --topic data >/dev/null 2>produce1.log ||
  die "producing the first part failed: $(cat produce1.log)"

config() {  # config NAME PORT
  mkdir -p "$1"
  cat >"$1/rules.yaml" <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: 1h}
http: {listen: "127.0.0.1:$2"}
sources:
  - name: plant
    kafka:
      brokers: "$addr"
      topics: [data]
      group: vigil-rebalance
      key_tag: device
      start: earliest
      properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}
rules:
  - name: hot
    key: [device]
    when: temp > 24
sinks:
  - file: {path: alerts.ndjson}
YAML
}
port_a=$(free_port)
port_b=$(free_port)
config a "$port_a"
config b "$port_b"
received() {  # received PORT
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^vigil_messages_received_total\{source="plant"\}/{printf "%d", $2}'
}
has_received() { local n; n=$(received "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }

(cd a && exec "$vigil" run rules.yaml >../a.out 2>../a.log) &
run_a=$!
pids+=("$run_a")
wait_for 60 has_received "$port_a" "$first" || die "the first vigil did not read the first $first messages"
ok "the first vigil read all $first messages of the 8 partitions"

(cd b && exec "$vigil" run rules.yaml >../b.out 2>../b.log) &
run_b=$!
pids+=("$run_b")
revoked() { grep -q "revoked data" a.log && grep -q "assigned data" b.log; }
wait_for 60 revoked || die "no rebalance: $(grep kafka a.log b.log | tail -4)"
grep "revoked data" a.log | grep -q "after a checkpoint (offsets committed exactly)" &&
  ok "the revoke checkpointed first: $(grep -o "revoked data.*" a.log | head -1)" ||
  fail "the revoke did not checkpoint first: $(grep "revoked data" a.log)"

"$vigil" sim --devices 200 --count "$second" --seed 12 --kafka "$addr" --topic data >/dev/null 2>produce2.log ||
  die "producing the second part failed: $(cat produce2.log)"
total=$((first + second))
both_done() {
  local a b
  a=$(received "$port_a"); b=$(received "$port_b")
  [ -n "$a" ] && [ -n "$b" ] && [ $((a + b)) -ge "$total" ]
}
wait_for 60 both_done || die "the two vigils read $(received "$port_a") + $(received "$port_b") of $total messages"
sleep 2  # anything read twice would arrive by now
a=$(received "$port_a")
b=$(received "$port_b")
[ "$b" -gt 0 ] && ok "the second vigil read $b messages from its partitions" || fail "the second vigil read nothing"
[ $((a + b)) -eq "$total" ] && ok "every message read exactly once across the rebalance: $a + $b = $total" ||
  fail "$a + $b = $((a + b)) messages read, $total produced (the new owner re-read what the first had processed)"

kill -TERM "$run_a" "$run_b"
wait "$run_a"; rc_a=$?
wait "$run_b"; rc_b=$?
[ "$rc_a" = 0 ] && [ "$rc_b" = 0 ] && ok "SIGTERM: both exit 0" || fail "exit codes $rc_a $rc_b"

finish
