#!/usr/bin/env bash
# kill -9 right after the HTTP ingest answered 202: nothing accepted is lost.
# `vigil run` (HTTP ingest, event rules, checkpoints every 200 ms) takes a
# first part and checkpoints it; then a large second part is answered 202
# and vigil is killed with SIGKILL at once, while the router is still
# working through it. The restart on the same state dir replays the
# source's journal (STATE_DIR/journal/api) from the checkpointed position.
# The alerts of both runs, repeats removed, must be those of `vigil replay`
# of the whole data.
#   http_kill_test.sh PATH/TO/vigil
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric, alert_set: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
# kill_test_rules, replay_expected, expect_alerts_as_replay
source "$(cd "$(dirname "$0")" && pwd)/kill_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

python3 "$here/gen_data.py" --devices 300 --steps 100 >"$tmp/part1.ndjson"
python3 "$here/gen_data.py" --devices 300 --steps 900 --start-step 100 >"$tmp/part2.ndjson"
cat "$tmp/part1.ndjson" "$tmp/part2.ndjson" >"$tmp/all.ndjson"
hport=$(free_port)
cat >"$tmp/rules.yaml" <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: 200ms}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: api
    http: {}
YAML
kill_test_rules >>"$tmp/rules.yaml"
replay_expected "$tmp/all.ndjson"

start() {  # start LOG: vigil run in $tmp, its pid in $vpid
  (cd "$tmp" && exec "$vigil" run rules.yaml >/dev/null 2>"$1") &
  vpid=$!
  pids+=("$vpid")
  wait_for 15 curl -sf "http://127.0.0.1:$hport/readyz" || { fail "vigil did not come up: $(tail -3 "$1")"; finish; }
}
post() {  # post FILE: prints the HTTP status
  curl -s -o "$tmp/resp.json" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' --data-binary @"$1" \
    "http://127.0.0.1:$hport/api/v1/ingest"
}

start "$tmp/run1.log"
[ "$(post "$tmp/part1.ndjson")" = 202 ] && ok "first part accepted (202)" || fail "first part: $(cat "$tmp/resp.json")"
wait_for 30 metric_at_least 'vigil_messages_received_total{source="api"}' 30000 || fail "the first part was not processed"
ckpt=$(metric 'vigil_checkpoints_total{result="ok"}')
wait_for 30 metric_at_least 'vigil_checkpoints_total{result="ok"}' $((${ckpt%.*} + 2)) || fail "no checkpoint after the first part"

# The second part in requests of 45,000 messages (the body limit is 8 MiB).
split -l 45000 "$tmp/part2.ndjson" "$tmp/chunk."
codes=""
for chunk in "$tmp"/chunk.*; do codes+="$(post "$chunk") "; done
kill -9 "$vpid"
wait "$vpid" 2>/dev/null
[ "$codes" = "202 202 202 202 202 202 " ] &&
  ok "second part ($(wc -l <"$tmp/part2.ndjson") messages, 6 requests) accepted (202), then kill -9 at once" ||
  fail "second part: $codes $(head -c 200 "$tmp/resp.json")"
before=$(alert_set "$tmp/alerts.ndjson" | wc -l)
[ "$before" -lt "$expected" ] && ok "killed mid-stream: $before of $expected alert transitions written" ||
  fail "vigil had finished before the kill ($before alerts): the test did not cut anything short"
ls "$tmp"/state/journal/api/*.log >/dev/null 2>&1 && ok "the journal is in STATE_DIR/journal/api" || fail "no journal segment"

start "$tmp/run2.log"
replayed() { grep -q "http source 'api': replayed [0-9]* messages accepted before the restart" "$tmp/run2.log"; }
wait_for 60 replayed && ok "restart: $(grep -o 'replayed [0-9]* messages' "$tmp/run2.log")" ||
  fail "the restart replayed nothing from the journal: $(tail -3 "$tmp/run2.log")"
complete() { [ "$(alert_set "$tmp/alerts.ndjson" | wc -l)" -ge "$expected" ]; }
wait_for 60 complete || true
kill -TERM "$vpid"
wait "$vpid"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "vigil exit $rc"
expect_alerts_as_replay
segments=$(ls "$tmp"/state/journal/api/*.log | wc -l)
[ "$segments" = 1 ] && ok "after the final checkpoint only the segment being written is kept" || fail "$segments journal segments left"
finish
