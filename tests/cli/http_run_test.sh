#!/usr/bin/env bash
# `vigil run` with its HTTP server, end to end over loopback: health, bearer
# token, NDJSON ingest through the whole pipeline, the alert API, latest
# values per series, a manual alert reaching the file sink, /metrics checked
# by `promtool check metrics`, and a real `prometheus` server scraping vigil
# and answering a query about it. Stops vigil with SIGTERM (exit 0) right
# after a large ingest was accepted: every accepted message is processed.
#   http_run_test.sh PATH/TO/vigil
set -u
vigil=$1
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"

port=$(free_port)
cat >"$tmp/rules.yaml" <<YAML
http: {listen: "127.0.0.1:$port", token_env: VIGIL_TEST_TOKEN}
sources:
  - name: api
    http: {}
rules:
  - name: hot
    key: [device]
    when: temp > 30
    severity: critical
  - name: silent
    key: [device]
    deadman: 2s
  - name: zone-hot
    key: [zone, device]
    when: temp > 100
sinks:
  - file: {path: alerts.ndjson}
YAML
VIGIL_TEST_TOKEN=s3cret "$vigil" run "$tmp/rules.yaml" >"$tmp/out" 2>"$tmp/err" &
vpid=$!
pids+=("$vpid")
base="http://127.0.0.1:$port"
if wait_for 15 curl -sf "$base/healthz"; then ok "healthz answers"; else fail "healthz"; cat "$tmp/err"; exit 1; fi
wait_for 10 curl -sf "$base/readyz" && ok "readyz: ready" || fail "readyz"
grep -q "live page $base/" "$tmp/err" && ok "the log names the live page URL" || fail "no live page URL in the log"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{"ts":1,"device":"x","temp":1}' "$base/api/v1/ingest")
[ "$code" = 401 ] && ok "ingest without the token: 401" || fail "ingest without token gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$base/api/v1/alerts")
[ "$code" = 401 ] && ok "a wrong token: 401" || fail "wrong token gave $code"

now=$(date +%s%3N)
printf '{"ts":%s,"zone":"nord","device":"d1","temp":35.5}\n{"ts":%s,"zone":"sud","device":"d2","temp":20,"hum":40}\nnot json\n' "$now" "$((now + 1))" >"$tmp/batch.ndjson"
resp=$(curl -s -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/batch.ndjson" "$base/api/v1/ingest")
echo "$resp" | grep -q '"accepted":2' && echo "$resp" | grep -q '"rejected":1' && ok "ingest: 2 accepted, 1 rejected ($resp)" || fail "ingest response: $resp"

alert_seen() { curl -sf -H 'Authorization: Bearer s3cret' "$base/api/v1/alerts?state=active&rule=hot" | grep -q '"device":"d1"'; }
wait_for 10 alert_seen && ok "the ingested message raised an alert visible in /api/v1/alerts" || fail "no active alert for d1"
curl -sf -H 'Authorization: Bearer s3cret' "$base/api/v1/rules" | grep -q '"name":"hot"' && ok "rules API lists the rule" || fail "rules API"

# Latest values per series: the finest rule key is [zone, device]; only the
# fields rules name (temp, not hum) are kept.
latest() { curl -sf -H 'Authorization: Bearer s3cret' "$base/api/v1/series/latest$1"; }
d1_series='{"tags":{"device":"d1","zone":"nord"},"ts":'"$now"',"fields":{"temp":35.5}}'
d2_series='{"tags":{"device":"d2","zone":"sud"},"ts":'"$((now + 1))"',"fields":{"temp":20}}'
both_seen() { [ "$(latest '')" = '{"series":['"$d1_series,$d2_series"'],"truncated":false}' ]; }
if wait_for 10 both_seen; then ok "series/latest: both devices with their newest temp (hum is not a rule field)"; else
  fail "series/latest: $(latest '')"; fi
resp=$(latest '?zone=sud')
[ "$resp" = '{"series":['"$d2_series"'],"truncated":false}' ] && ok "series/latest?zone=sud: only d2" || fail "zone filter: $resp"
resp=$(latest '?limit=1')
case "$resp" in *'"truncated":true}') ok "series/latest?limit=1: truncated";; *) fail "limit: $resp";; esac
resp=$(curl -s -w ' %{http_code}' -H 'Authorization: Bearer s3cret' "$base/api/v1/series/latest?room=1")
case "$resp" in *"unknown tag 'room'"*" 400") ok "series/latest with an unknown tag: 400";; *) fail "unknown tag: $resp";; esac

# A manual alert goes through the alert thread to the sinks, like a rule's.
code=$(curl -s -o "$tmp/manual.json" -w '%{http_code}' -H 'Authorization: Bearer s3cret' \
  --data-binary '{"rule":"door-open","key":{"door":"3"},"severity":"major","ts":1732262400000}' "$base/api/v1/alerts")
[ "$code" = 201 ] && ok "manual alert: 201" || fail "manual alert gave $code: $(cat "$tmp/manual.json")"
manual_in_file() { grep -q '"rule":"door-open","key":{"door":"3"},"state":"raised","severity":"major","ts":1732262400000' "$tmp/alerts.ndjson"; }
wait_for 10 manual_in_file && ok "the manual alert reached the file sink" || { fail "manual alert not in the file sink"; cat "$tmp/alerts.ndjson"; }
# A live source's watermark follows the wall clock: with nothing more arriving,
# the 2 s deadman of d1 and d2 still raises (at last_seen + 2 s).
silent_seen() { grep -q '"rule":"silent","key":{"device":"d2"},"state":"raised","severity":"warning","ts":'"$((now + 2001))" "$tmp/alerts.ndjson"; }
wait_for 15 silent_seen && ok "deadman raises on wall-clock time with no further message (ts = last_seen + 2s)" || { fail "deadman on wall clock"; cat "$tmp/alerts.ndjson"; }

curl -sf "$base/metrics" >"$tmp/metrics.txt" && ok "/metrics scraped" || fail "/metrics"
if promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1; then ok "promtool check metrics"; else fail "promtool: $(cat "$tmp/promtool.out")"; fi
grep -q '^vigil_messages_received_total{source="api"} 3$' "$tmp/metrics.txt" && ok "received_total counts the 3 ingested lines" || fail "received_total: $(grep received_total "$tmp/metrics.txt")"
grep -q '^vigil_alerts_active{rule="hot",severity="critical"} 1$' "$tmp/metrics.txt" && ok "alerts_active 1" || fail "alerts_active"
grep -q '^vigil_alerts_active{rule="silent",severity="warning"} 2$' "$tmp/metrics.txt" && ok "alerts_active 2 for the deadman" || fail "deadman alerts_active: $(grep 'active{rule="silent"' "$tmp/metrics.txt")"
grep -q '^vigil_alerts_total{rule="door-open",severity="major",state="raised"} 1$' "$tmp/metrics.txt" && ok "alerts_total counts the manual alert under its rule name" || fail "manual alerts_total: $(grep 'door-open' "$tmp/metrics.txt")"

# A real Prometheus server scrapes vigil every second; ask it through its API.
pport=$(free_port)
cat >"$tmp/prometheus.yml" <<YAML
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: vigil
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YAML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 &
pids+=("$!")
query() { curl -sf "http://127.0.0.1:$pport/api/v1/query?query=vigil_messages_received_total" | grep -q '"source":"api".*"value":\[[0-9.]*,"3"\]'; }
if wait_for 40 query; then ok "prometheus scraped vigil: vigil_messages_received_total{source=\"api\"} = 3"; else
  fail "prometheus query"; tail -5 "$tmp/prom.log"; curl -s "http://127.0.0.1:$pport/api/v1/targets" | head -c 600; echo; fi

# POST /-/reload: a broken rules file is refused (400, with its errors) and
# the engine keeps running; a valid one is applied on the same port.
cp "$tmp/rules.yaml" "$tmp/rules.good"
printf '  - bogus: {}\n' >> "$tmp/rules.yaml"  # the file ends with its sinks
resp=$(curl -s -w ' %{http_code}' -X POST -H 'Authorization: Bearer s3cret' "$base/-/reload")
case "$resp" in *'rules.yaml:'[0-9]*" 400") ok "reload of a broken file: 400 with the error";; *) fail "reload broken: $resp";; esac
curl -sf "$base/healthz" >/dev/null && ok "still serving after the refused reload" || fail "down after refused reload"
cp "$tmp/rules.good" "$tmp/rules.yaml"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer s3cret' "$base/-/reload")
[ "$code" = 200 ] && ok "reload of a valid file: 200" || fail "reload valid: $code"
if wait_for 10 alert_seen; then ok "after the reload, same port, the open alert is still active"; else fail "after reload"; fi

# The reloaded engine is up (its start line is the second one; the checks
# above may have been answered by the engine being replaced).
reloaded() { [ "$(grep -c 'vigil run: [0-9]* rules' "$tmp/err")" -ge 2 ] && curl -sf "$base/readyz" >/dev/null; }
wait_for 15 reloaded || { fail "the reloaded engine did not come up"; tail -5 "$tmp/err"; }
# SIGTERM right after a 202: every accepted message is still processed (the
# engine drains the ingest queue before it stops), none is lost. 60,000
# messages take the router tens of ms; the signal follows within a few.
python3 -c '
import time
t = int(time.time() * 1000)
print("\n".join("{\"ts\":%d,\"device\":\"bulk%d\",\"temp\":20}" % (t, i % 500) for i in range(60000)))' >"$tmp/bulk.ndjson"
resp=$(curl -sS -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/bulk.ndjson" \
  -w ' %{http_code}' "$base/api/v1/ingest")
kill -TERM "$vpid"
case "$resp" in *'"accepted":60000'*" 202") ok "60,000 messages accepted (202), then SIGTERM at once";; *) fail "bulk ingest: ${resp:0:200}";; esac
wait "$vpid"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "vigil exit $rc"
grep -q "vigil run: stopped after 60000 messages" "$tmp/err" && ok "all 60,000 accepted messages processed before the stop" \
  || { fail "accepted messages lost at the stop: $(grep -o 'vigil run: stopped after [0-9]* messages' "$tmp/err" | tail -1)"; tail -5 "$tmp/err"; }
grep -q '"key":{"device":"d1"},"state":"raised"' "$tmp/alerts.ndjson" && ok "the alert reached the file sink" || fail "file sink"
grep -q '"reason":"invalid_json"' "$tmp/vigil-state/dead-letter.ndjson" 2>/dev/null && ok "the malformed line was dead-lettered" || fail "dead letter"

echo "$fails failed"
[ "$fails" -eq 0 ]
