#!/usr/bin/env bash
# The webhook sink end to end: `vigil run` on simulated warehouse data with a
# file sink and two webhook sinks (one POST per alert with a bearer token and
# a custom header; batches of JSON arrays) posting to a real HTTP receiver
# (tests/bridges/webhook_receiver.py). Every alert of the file sink arrives,
# in the same order (so in order per key), with the headers. Then a receiver
# that answers 400: the alerts are rejected for good, logged with the
# reason (rate-limited, token not shown), and vigil still exits 0. Last, a
# live run: the sinks' metrics in /metrics (promtool), an unreachable
# webhook counted and logged while the other one delivers.
#   webhook_run_test.sh PATH/TO/vigil
set -u
vigil=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
start_receiver() {  # start_receiver NAME [ARGS...]: sets $port
  local name=$1; shift
  python3 "$here/webhook_receiver.py" --port-file "$tmp/$name.port" --out "$tmp/$name.ndjson" "$@" &
  pids+=("$!")
  wait_for 10 test -s "$tmp/$name.port" || { fail "receiver $name did not start"; exit 1; }
  port=$(cat "$tmp/$name.port")
}

"$vigil" sim --devices 12 --zones nord,sud,est --duration 2h --anomalies all --seed 7 --out "$tmp/data.ndjson" >/dev/null 2>&1
rules() {  # rules PORT
  cat <<YAML
engine: {shards: 2, state_dir: ./state}
sources:
  - name: warehouse
    file: {path: data.ndjson, follow: false}
rules:
  - name: overheat
    key: [zone, device]
    when: temp > 30
    for: 30s
    clear_when: temp < 28
    severity: critical
  - name: zone-warm
    key: [zone]
    window: {size: 5m, every: 1m}
    when: avg(temp) > 23
    severity: major
  - name: temp-spike
    key: [device]
    when: max(temp, 2m) - min(temp, 2m) > 4
    severity: major
  - name: device-silent
    key: [device]
    deadman: 90s
sinks:
  - file: {path: alerts.ndjson}
  - webhook: {url: "http://127.0.0.1:$1/hook/one", token_env: VIGIL_TEST_HOOK_TOKEN, headers: {X-Source: vigil-test}}
  - webhook: {url: "http://127.0.0.1:$1/hook/batch", batch: true, max_batch: 5, timeout: 2s}
YAML
}

start_receiver good
rules "$port" >"$tmp/rules.yaml"
(cd "$tmp" && VIGIL_TEST_HOOK_TOKEN=h00k-S3CRET timeout 30 "$vigil" run rules.yaml >"$tmp/out" 2>"$tmp/err")
rc=$?
[ "$rc" = 0 ] && ok "vigil run to the end of the file: exit 0" || { fail "vigil run exit $rc"; cat "$tmp/err"; }
alerts=$(wc -l <"$tmp/alerts.ndjson")
[ "$alerts" -ge 10 ] && ok "the file sink has $alerts alerts" || fail "too few alerts in the file sink: $alerts"
grep -q 'sink webhook' "$tmp/err" && fail "sink errors logged: $(grep 'sink webhook' "$tmp/err")" || ok "no sink error logged"

check() {
  python3 - "$tmp/alerts.ndjson" "$tmp/good.ndjson" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
reqs = [json.loads(l) for l in open(sys.argv[2])]
one = [r for r in reqs if r["path"] == "/hook/one"]
batch = [r for r in reqs if r["path"] == "/hook/batch"]
problems = []
got_one = [json.loads(r["body"]) for r in one]
got_batch = [a for r in batch for a in json.loads(r["body"])]
for name, got in (("one POST per alert", got_one), ("batches", got_batch)):
    if got != alerts:
        problems.append(f"{name}: {len(got)} alerts received, {len(alerts)} written, same sequence: {got == alerts}")
    # In order per key (implied by the same sequence; checked on its own for a clear message).
    def per_key(seq):
        d = {}
        for a in seq:
            d.setdefault((a["rule"], json.dumps(a["key"], sort_keys=True)), []).append((a["id"], a["state"], a["ts"]))
        return d
    if per_key(got) != per_key(alerts):
        problems.append(f"{name}: the order per key differs")
if any(r["authorization"] != "Bearer h00k-S3CRET" for r in one):
    problems.append("a request without the bearer token")
if any(r["content_type"] != "application/json" for r in reqs):
    problems.append("a request without Content-Type: application/json")
if any(len(json.loads(r["body"])) > 5 for r in batch) or not batch:
    problems.append(f"batches: sizes {[len(json.loads(r['body'])) for r in batch]}, max_batch 5")
if any(r["authorization"] for r in batch):
    problems.append("the batch sink sent an Authorization header it was not given")
print("\n".join(problems) if problems else
      f"{len(one)} single POSTs and {len(batch)} batches (sizes {sorted({len(json.loads(r['body'])) for r in batch})}) "
      f"carry the {len(alerts)} alerts in order")
sys.exit(1 if problems else 0)
PY
}
if out=$(check); then ok "$out"; else fail "received alerts differ:
$out"; fi

# A receiver that refuses everything with 400: rejected for good, logged.
start_receiver refusing --status 400
rules "$port" >"$tmp/rules.yaml"
(cd "$tmp" && VIGIL_TEST_HOOK_TOKEN=h00k-S3CRET timeout 30 "$vigil" run --reset-state rules.yaml >/dev/null 2>"$tmp/err2")
rc=$?
[ "$rc" = 0 ] && ok "a refusing receiver does not stop vigil run (exit 0)" || fail "exit $rc with a refusing receiver"
requests=$(wc -l <"$tmp/refusing.ndjson")
[ "$requests" -ge "$alerts" ] && ok "each alert was tried ($requests requests), none retried by the sink" || fail "only $requests requests"
grep -q 'rejected for good.*HTTP 400: {"error":"refused by the test receiver"}' "$tmp/err2" \
  && ok "the 400 and the receiver's reason are logged" || { fail "no 400 in the log"; cat "$tmp/err2"; }
grep -qE 'h00k-S3CRET|/hook/' "$tmp/err2" && fail "the token or the URL path appears in the log" || ok "neither token nor URL path logged"
dl=$(grep -c '"sink":"webhook' "$tmp/state/dead-letter.ndjson" 2>/dev/null)
[ "${dl:-0}" -ge "$alerts" ] && grep -q '"reason":".*400' "$tmp/state/dead-letter.ndjson" &&
  ok "the refused alerts are in the dead-letter file with the reason ($dl lines)" ||
  fail "dead-lettered refused alerts: ${dl:-0} of at least $alerts"

# A receiver that is down (503) for its first 8 requests, then recovers: the
# outbox retries with backoff and every alert arrives once confirmed, in order.
start_receiver flaky --fail-first 8
rules "$port" | sed 's|webhook: {url: "http://127.0.0.1:\([0-9]*\)/hook/one", |webhook: {outbox: {retry_min: 20ms, retry_max: 200ms}, url: "http://127.0.0.1:\1/hook/one", |' >"$tmp/rules.yaml"
grep -q 'retry_max: 200ms' "$tmp/rules.yaml" || fail "test setup: outbox settings not in the rules"
rm -f "$tmp/alerts.ndjson"
(cd "$tmp" && VIGIL_TEST_HOOK_TOKEN=h00k-S3CRET timeout 60 "$vigil" run --reset-state rules.yaml >/dev/null 2>"$tmp/err4")
rc=$?
[ "$rc" = 0 ] && ok "a receiver down for a while: vigil run exit 0" || { fail "exit $rc with a flaky receiver"; tail -5 "$tmp/err4"; }
if python3 - "$tmp/alerts.ndjson" "$tmp/flaky.ndjson" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
reqs = [json.loads(l) for l in open(sys.argv[2])]
failed = sum(1 for r in reqs if r["status"] == 503)
got = [json.loads(r["body"]) for r in reqs if r["path"] == "/hook/one" and r["status"] == 200]
batch = [a for r in reqs if r["path"] == "/hook/batch" and r["status"] == 200 for a in json.loads(r["body"])]
# Retries may deliver an alert twice (at least once); in order, nothing missing.
def dedup(seq):
    out = []
    for a in seq:
        if not out or out[-1] != a:
            out.append(a)
    return out
ok = failed == 8 and dedup(got) == alerts and dedup(batch) == alerts
print(f"{failed} requests answered 503, then {len(got)} single and {len(batch)} batched alerts delivered"
      f" for {len(alerts)} written")
sys.exit(0 if ok else 1)
PY
then ok "outbox: every alert reached the recovering receiver, in order"; else fail "outbox with a flaky receiver"; fi
grep -q "delivering again" "$tmp/err4" && ok "the recovery is logged" || fail "no recovery log line"

# A live run (HTTP ingest): the sinks' counters in /metrics, valid for
# promtool; a webhook that cannot be reached fails its flush within its
# timeout and is counted, without holding up the reachable one.
start_receiver live
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$tmp/live.yaml" <<YAML
engine: {state_dir: ./live-state}
http: {listen: "127.0.0.1:$hp"}
sources:
  - name: api
    http: {}
rules:
  - name: hot
    key: [device]
    when: temp > 30
sinks:
  - webhook: {url: "http://127.0.0.1:$port/hook"}
  - webhook: {url: "http://127.0.0.1:1/down", name: down-hook, timeout: 200ms}
YAML
(cd "$tmp" && exec timeout 30 "$vigil" run live.yaml >/dev/null 2>"$tmp/err3") &
vpid=$!
pids+=("$vpid")
if wait_for 15 curl -sf "http://127.0.0.1:$hp/healthz"; then
  now=$(date +%s%3N)
  curl -s -m 5 -H 'Content-Type: application/x-ndjson' --data-binary "{\"ts\":$now,\"device\":\"d1\",\"temp\":35}
{\"ts\":$((now + 1)),\"device\":\"d2\",\"temp\":36}" "http://127.0.0.1:$hp/api/v1/ingest" >/dev/null
  delivered() { curl -sf "http://127.0.0.1:$hp/metrics" | grep -q "^vigil_sink_alerts_delivered_total{sink=\"webhook:http://127.0.0.1:$port\"} 2$"; }
  wait_for 10 delivered && ok "vigil_sink_alerts_delivered_total counts the 2 alerts" || fail "delivered counter"
  curl -sf "http://127.0.0.1:$hp/metrics" >"$tmp/metrics.txt"
  grep -q '^vigil_sink_http_requests_total{result="failed",sink="down-hook"} [1-9]' "$tmp/metrics.txt" \
    && ok "the unreachable webhook's failures are counted" || fail "no failed requests for down-hook"
  promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 && ok "promtool check metrics" \
    || fail "promtool: $(cat "$tmp/promtool.out")"
  [ "$(wc -l <"$tmp/live.ndjson")" = 2 ] && ok "the receiver got both alerts" || fail "receiver got $(wc -l <"$tmp/live.ndjson")"
else
  fail "vigil run (live) did not start"; cat "$tmp/err3"
fi
kill -TERM "$vpid" 2>/dev/null
wait "$vpid"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "live vigil exit $rc"
grep -q "sink 'down-hook': POST failed: Failed to connect" "$tmp/err3" && ok "the failed flush is logged: $(grep -m1 -o 'POST failed.*' "$tmp/err3")" \
  || { fail "no log of the failed flush"; cat "$tmp/err3"; }

echo "$fails failed"
[ "$fails" -eq 0 ]
