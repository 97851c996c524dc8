#!/usr/bin/env bash
# The limits end to end (docs/security.md#limits):
# One shard: which key a rule refuses at its max_keys follows arrival order
# on one shard; across shards it depends on timing (docs/semantics-decisions.md).
#  1. vigil replay: a message over the source's max_fields is rejected as
#     too_many_fields and dead-lettered; a rule at its max_keys ignores a new
#     key and keeps alerting on the keys it tracks; a sliding buffer at
#     engine.max_window_samples refuses samples; each is logged once.
#     engine.max_tag_values and engine.max_key_tuples leave new device ids
#     and keys untracked, the first ones keep alerting.
#  2. vigil run with HTTP: the same limits and a body over
#     http.max_body_bytes show in /metrics (promtool-valid), logged at most
#     once per 10 s, and vigil keeps serving.
#   limits_run_test.sh PATH/TO/vigil
here=$(cd "$(dirname "$0")" && pwd)
vigil=$(realpath "$1")
source "$here/../lib/test_lib.sh"
cd "$tmp"

cat >rules.yaml <<'YAML'
engine: {max_window_samples: 3}
sources:
  - name: s
    file: {path: in.ndjson}
    max_fields: 5
rules:
  - name: hot
    key: [device]
    when: temp > 30
    max_keys: 2
  - name: busy
    key: [device]
    when: count(temp, 1h) > 3
YAML
cat >in.ndjson <<'EOF2'
{"ts":1000,"device":"a","temp":31}
{"ts":1001,"device":"b","temp":31}
{"ts":1002,"device":"c","temp":31}
{"ts":1003,"device":"a","temp":20,"x1":1,"x2":2,"x3":3,"x4":4}
{"ts":1004,"device":"a","temp":20}
{"ts":1005,"device":"a","temp":32}
{"ts":1006,"device":"c","temp":20}
{"ts":1007,"device":"a","temp":33}
EOF2
"$vigil" replay --no-progress --shards 1 rules.yaml in.ndjson -o alerts.ndjson --stats stats.json --dead-letter dl.ndjson 2>err
rc=$?
[ "$rc" = 0 ] && ok "replay exit 0" || fail "replay exit $rc"
grep -q '"reason":"too_many_fields","where":"in.ndjson:4"' dl.ndjson && ok "too_many_fields dead-lettered with its line" || fail "dead letter: $(cat dl.ndjson)"
grep -q '"rejected":{"too_many_fields":1}' stats.json && ok "stats count the rejection" || fail "stats: $(cat stats.json)"
got=$(python3 -c '
import json
print(" ".join(f"{a[\"rule\"]}:{a[\"key\"][\"device\"]}:{a[\"state\"]}" for a in map(json.loads, open("alerts.ndjson"))))' 2>/dev/null ||
  python3 -c 'import json,sys
print(" ".join(a["rule"] + ":" + a["key"]["device"] + ":" + a["state"] for a in map(json.loads, open("alerts.ndjson"))))')
case " $got " in
  *" hot:c:"*) fail "the untracked key c alerted: $got" ;;
  *) ok "no alert for the third key (max_keys 2)" ;;
esac
[ "$(grep -c 'hot:a:' <<<"${got// /$'\n'}")" = 3 ] && ok "key a keeps working: raised, cleared, raised again" || fail "alerts: $got"
[ "$(grep -c "rule 'hot': 2 message(s) of new keys not tracked" err)" = 1 ] && ok "max_keys logged once" || fail "log: $(cat err)"
[ "$(grep -c "rule 'busy': 1 sample(s) not added to a full sliding buffer" err)" = 1 ] && ok "max_window_samples logged once" || fail "log: $(cat err)"
grep -q 'busy:' <<<"$got" && fail "busy raised although its buffer holds 3 samples at most" || ok "a full buffer keeps its 3 samples (count never > 3)"

# engine.max_tag_values: a new device id beyond it is absent for the rules
# (not tracked); engine.max_key_tuples: a new key beyond it is not tracked.
# The devices that came first keep alerting; each limit is logged once and
# counted in the stats.
cat >tags.yaml <<'YAML'
engine: {max_tag_values: 3}
sources:
  - name: s
    file: {path: tags.ndjson}
rules:
  - name: hot
    key: [device]
    when: temp > 30
YAML
cat >tags.ndjson <<'EOF2'
{"ts":1000,"device":"a","temp":31}
{"ts":1001,"device":"b","temp":31}
{"ts":1002,"device":"c","temp":31}
{"ts":1003,"device":"d","temp":31}
{"ts":1004,"device":"e","temp":31}
{"ts":1005,"device":"a","temp":20}
{"ts":1006,"device":"a","temp":32}
EOF2
"$vigil" replay --no-progress --shards 1 tags.yaml tags.ndjson -o tags-alerts.ndjson --stats tags-stats.json 2>tags.err
rc=$?
[ "$rc" = 0 ] && ok "max_tag_values: replay exit 0" || fail "max_tag_values: replay exit $rc"
got=$(python3 -c 'import json
print(" ".join(a["key"]["device"] + ":" + a["state"] for a in map(json.loads, open("tags-alerts.ndjson"))))')
[ "$got" = "a:raised b:raised c:raised a:cleared a:raised" ] && ok "max_tag_values 3: d and e untracked, a keeps working"   || fail "max_tag_values alerts: $got"
grep -q '"tag_values_refused":2,' tags-stats.json && ok "stats: tag_values_refused 2" || fail "stats: $(cat tags-stats.json)"
[ "$(grep -c '2 new tag value(s) not kept in all: the engine keeps 3 distinct tag values at most (engine.max_tag_values)' tags.err)" = 1 ]   && ok "max_tag_values logged once" || fail "log: $(cat tags.err)"

cat >keys.yaml <<'YAML'
engine: {max_key_tuples: 2}
sources:
  - name: s
    file: {path: keys.ndjson}
rules:
  - name: hot
    key: [zone, device]
    when: temp > 30
YAML
cat >keys.ndjson <<'EOF2'
{"ts":1000,"zone":"z","device":"a","temp":31}
{"ts":1001,"zone":"z","device":"b","temp":31}
{"ts":1002,"zone":"z","device":"c","temp":31}
{"ts":1003,"zone":"y","device":"a","temp":31}
{"ts":1004,"zone":"z","device":"b","temp":20}
EOF2
"$vigil" replay --no-progress --shards 1 keys.yaml keys.ndjson -o keys-alerts.ndjson --stats keys-stats.json 2>keys.err
rc=$?
[ "$rc" = 0 ] && ok "max_key_tuples: replay exit 0" || fail "max_key_tuples: replay exit $rc"
got=$(python3 -c 'import json
print(" ".join(a["key"]["zone"] + "/" + a["key"]["device"] + ":" + a["state"] for a in map(json.loads, open("keys-alerts.ndjson"))))')
[ "$got" = "z/a:raised z/b:raised z/b:cleared" ] && ok "max_key_tuples 2: z/c and y/a untracked, z/b keeps working"   || fail "max_key_tuples alerts: $got"
grep -q '"key_tuples_refused":2,' keys-stats.json && ok "stats: key_tuples_refused 2" || fail "stats: $(cat keys-stats.json)"
[ "$(grep -c '2 message(s) of new keys not tracked in all: the engine keeps 2 keys at most' keys.err)" = 1 ]   && ok "max_key_tuples logged once" || fail "log: $(cat keys.err)"

# --- 2. live, with /metrics -----------------------------------------------------
hport=$(free_port)
cat >live.yaml <<YAML
engine: {state_dir: ./state, shards: 1, max_tag_values: 4}
http: {listen: "127.0.0.1:$hport", max_body_bytes: 4096, max_connections: 4}
sources:
  - name: api
    http: {}
    max_fields: 5
rules:
  - name: hot
    key: [device]
    when: temp > 30
    max_keys: 2
sinks:
  - file: {path: live-alerts.ndjson}
YAML
"$vigil" run live.yaml >/dev/null 2>live.err &
vpid=$!
pids+=("$vpid")
wait_for 20 curl -sf "http://127.0.0.1:$hport/readyz" || { fail "vigil run did not start"; cat live.err; finish; }
now=$(date +%s%3N)
ingest "{\"ts\":$now,\"device\":\"a\",\"temp\":31}
{\"ts\":$((now + 1)),\"device\":\"b\",\"temp\":31}
{\"ts\":$((now + 2)),\"device\":\"c\",\"temp\":31}
{\"ts\":$((now + 3)),\"x1\":1,\"x2\":2,\"x3\":3,\"temp\":31,\"device\":\"d\"}
{\"ts\":$((now + 4)),\"device\":\"e\",\"temp\":31}
{\"ts\":$((now + 5)),\"device\":\"f\",\"temp\":31}" || fail "ingest"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$(head -c 5000 /dev/zero | tr '\0' ' '){}" "http://127.0.0.1:$hport/api/v1/ingest")
[ "$code" = 413 ] && ok "a body over http.max_body_bytes: 413" || fail "big body: HTTP $code"
# d is rejected at its 6th name (max_fields 5) before its device is read;
# of a, b, c, e, f the engine keeps 4 tag values (f is absent: not tracked);
# the rule tracks a and b (max_keys 2) and refuses c and e.
wait_for 10 metric_is 'vigil_rule_keys_rejected_total{rule="hot"}' 2 && ok "vigil_rule_keys_rejected_total{rule=\"hot\"} 2" \
  || fail "keys rejected metric: $(metric 'vigil_rule_keys_rejected_total{rule="hot"}')"
wait_for 10 metric_is 'vigil_messages_rejected_total{reason="too_many_fields",source="api"}' 1 && ok "too_many_fields counted" \
  || fail "too_many_fields metric: $(metric 'vigil_messages_rejected_total{reason="too_many_fields",source="api"}')"
wait_for 10 metric_is 'vigil_engine_limit_hits_total{limit="max_tag_values"}' 1 \
  && ok "vigil_engine_limit_hits_total{limit=\"max_tag_values\"} 1 (f)" \
  || fail "tag values metric: $(metric 'vigil_engine_limit_hits_total{limit="max_tag_values"}')"
metric_is 'vigil_engine_limit_hits_total{limit="max_key_tuples"}' 0 && ok "vigil_engine_limit_hits_total{limit=\"max_key_tuples\"} 0" \
  || fail "key tuples metric: $(metric 'vigil_engine_limit_hits_total{limit="max_key_tuples"}')"
metric_is 'vigil_http_limit_hits_total{limit="max_body_bytes"}' 1 && ok "vigil_http_limit_hits_total{limit=\"max_body_bytes\"} 1" \
  || fail "http limit metric: $(metric 'vigil_http_limit_hits_total{limit="max_body_bytes"}')"
curl -sf "http://127.0.0.1:$hport/metrics" >metrics.txt
promtool check metrics <metrics.txt >promtool.out 2>&1 && ok "promtool check metrics" || fail "promtool: $(cat promtool.out)"
wait_for 5 test -s live-alerts.ndjson
[ "$(wc -l <live-alerts.ndjson)" = 2 ] && ok "the two tracked keys alerted" || fail "live alerts: $(cat live-alerts.ndjson)"
grep -q "http: a request body larger than http.max_body_bytes" live.err && ok "the 413 is logged" || fail "no log of the 413"
kill -TERM "$vpid"
wait "$vpid" && ok "SIGTERM: exit 0" || fail "exit $?"
finish
