#!/usr/bin/env bash
# The influxdb sink against a real InfluxDB 1.x (Debian's influxd 1.6.7),
# started on free loopback ports with a temporary config (authentication
# on): `vigil run` on simulated warehouse data with a file sink and an
# influxdb sink (username + password_env); every alert of the file sink is
# read back from vigil_alerts through /query and compared field by field.
# Then: a second run of the same data writes the same points (same series
# and time: the count does not change), a wrong password is rejected for
# good and logged (401) without the password, and a bad `forward:` is
# refused by `vigil check`.
#   influxdb_sink_test.sh PATH/TO/vigil
set -u
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
source "$(cd "$(dirname "$0")" && pwd)/../lib/influxd.sh"
start_influxd true
q() { curl -s -u admin:adm1n-pw -XPOST "$base/query" --data-urlencode "q=$1"; }
# With no user yet, InfluxDB accepts creating the first admin without credentials.
curl -sf -XPOST "$base/query" --data-urlencode "q=CREATE USER admin WITH PASSWORD 'adm1n-pw' WITH ALL PRIVILEGES" >/dev/null \
  && q "CREATE DATABASE entrepot" | grep -q '"statement_id":0' && ok "admin user and database created" || fail "setup of influxd"

"$vigil" sim --devices 12 --zones nord,sud,est --duration 2h --anomalies all --seed 7 --out "$tmp/data.ndjson" >/dev/null 2>&1
rules() {  # rules PASSWORD_ENV_LINE_EXTRA
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
  - influxdb: {url: "$base", db: entrepot, username: admin, password_env: VIGIL_TEST_INFLUX_PW$1}
YAML
}
rules "" >"$tmp/rules.yaml"
(cd "$tmp" && VIGIL_TEST_INFLUX_PW=adm1n-pw timeout 30 "$vigil" run rules.yaml >"$tmp/out" 2>"$tmp/err")
rc=$?
[ "$rc" = 0 ] && ok "vigil run to the end of the file: exit 0" || { fail "vigil run exit $rc"; cat "$tmp/err"; }
alerts=$(wc -l <"$tmp/alerts.ndjson")
[ "$alerts" -ge 10 ] && ok "the file sink has $alerts alerts" || fail "too few alerts in the file sink: $alerts"
grep -q 'sink influxdb' "$tmp/err" && fail "sink errors logged: $(grep 'sink influxdb' "$tmp/err")" || ok "no sink error logged"

query_points() {
  curl -s -u admin:adm1n-pw -G "$base/query" --data-urlencode "db=entrepot" --data-urlencode "epoch=ms" \
    --data-urlencode "q=SELECT * FROM vigil_alerts" >"$1"
}
query_points "$tmp/points.json"
# Every alert of the file sink is one point: tags rule, severity, state, id
# and the key's tags; fields value (absent when null) and count; time = ts.
compare() {
  python3 - "$tmp/alerts.ndjson" "$tmp/points.json" <<'PY'
import json, math, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
res = json.load(open(sys.argv[2]))["results"][0]
series = res.get("series", [])
rows = []
for s in series:
    for v in s["values"]:
        rows.append(dict(zip(s["columns"], v)))
key_tags = {k for a in alerts for k in a["key"]}
def point_of(a):
    return (a["id"], a["state"], a["ts"])
points = {(r["id"], r["state"], r["time"]): r for r in rows}
unique = {point_of(a): a for a in alerts}
problems = []
if len(rows) != len(unique):
    problems.append(f"{len(rows)} points for {len(unique)} distinct alerts")
for k, a in unique.items():
    r = points.get(k)
    if r is None:
        problems.append(f"missing point for {k}")
        continue
    if r["rule"] != a["rule"] or r["severity"] != a["severity"] or r["count"] != a["count"]:
        problems.append(f"{k}: rule/severity/count {r['rule']}/{r['severity']}/{r['count']} != {a['rule']}/{a['severity']}/{a['count']}")
    for t in key_tags:
        if r.get(t) != a["key"].get(t):
            problems.append(f"{k}: tag {t} = {r.get(t)!r}, alert has {a['key'].get(t)!r}")
    v = a["value"]
    if (v is None) != (r.get("value") is None) or (v is not None and not math.isclose(v, r["value"], rel_tol=1e-12)):
        problems.append(f"{k}: value {r.get('value')!r} != {v!r}")
print("\n".join(problems[:10]) if problems else f"{len(rows)} points match {len(alerts)} alerts "
      f"({sum(a['value'] is None for a in alerts)} with a null value)")
sys.exit(1 if problems else 0)
PY
}
if out=$(compare); then ok "read back through /query: $out"; else fail "points differ from the file sink's alerts:
$out"; fi

# The same data again (state reset): the file sink appends duplicates, the
# points are the same (same series, same time), so InfluxDB keeps one each.
(cd "$tmp" && VIGIL_TEST_INFLUX_PW=adm1n-pw timeout 30 "$vigil" run --reset-state rules.yaml >/dev/null 2>"$tmp/err2")
lines=$(wc -l <"$tmp/alerts.ndjson")
query_points "$tmp/points2.json"
n1=$(python3 -c 'import json,sys; print(sum(len(s["values"]) for s in json.load(open(sys.argv[1]))["results"][0]["series"]))' "$tmp/points.json")
n2=$(python3 -c 'import json,sys; print(sum(len(s["values"]) for s in json.load(open(sys.argv[1]))["results"][0]["series"]))' "$tmp/points2.json")
[ "$lines" = $((2 * alerts)) ] && [ "$n1" = "$n2" ] && ok "a replayed alert is the same point ($lines lines in the file, still $n2 points)" \
  || fail "re-run: $lines lines in the file, points $n1 -> $n2"

# A wrong password: InfluxDB answers 401; the alerts are rejected for good
# (not retried), logged with the reason, the password never.
rm -f "$tmp/alerts.ndjson"
(cd "$tmp" && VIGIL_TEST_INFLUX_PW='wr0ng-S3CRET' timeout 30 "$vigil" run --reset-state rules.yaml >/dev/null 2>"$tmp/err3")
rc=$?
[ "$rc" = 0 ] && ok "a rejecting InfluxDB does not stop vigil run (exit 0)" || fail "exit $rc with a wrong password"
grep -q 'rejected for good.*HTTP 401' "$tmp/err3" && ok "the 401 is logged: $(grep -m1 -o 'HTTP 401.*' "$tmp/err3")" \
  || { fail "no 401 in the log"; cat "$tmp/err3"; }
grep -q 'wr0ng-S3CRET' "$tmp/err3" && fail "the password appears in the log" || ok "the password is not logged"
[ "$(grep -c 'rejected for good' "$tmp/err3")" -le 4 ] && ok "the rejection log is rate-limited" || fail "rejections flood the log"

# The password variable unset: refused before running, naming the variable and its position.
(cd "$tmp" && env -u VIGIL_TEST_INFLUX_PW timeout 30 "$vigil" run rules.yaml >/dev/null 2>"$tmp/err4")
rc=$?
[ "$rc" = 2 ] && grep -q "rules.yaml:[0-9]*:[0-9]*: sink 'influxdb' password names the environment variable 'VIGIL_TEST_INFLUX_PW', which is not set" "$tmp/err4" \
  && ok "an unset password_env is refused with its position (exit $rc)" || { fail "unset password_env: exit $rc"; cat "$tmp/err4"; }

# forward: takes raw or window:<duration> (influxdb_forward_test.sh writes
# and reads them back); anything else is refused at its position.
rules ", forward: \"window:1m\"" >"$tmp/forward.yaml"
"$vigil" check "$tmp/forward.yaml" >"$tmp/check.out" 2>&1 && ok "forward: window:1m passes vigil check" \
  || { fail "forward: window:1m refused"; cat "$tmp/check.out"; }
rules ", forward: \"window:soon\"" >"$tmp/forward.yaml"
"$vigil" check "$tmp/forward.yaml" >"$tmp/check.out" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "forward.yaml:[0-9]*:[0-9]*: sink 'influxdb': forward window 'soon' is not a positive duration" "$tmp/check.out" \
  && ok "forward: window:soon refused by vigil check (exit 2)" || { fail "forward: window:soon: exit $rc"; cat "$tmp/check.out"; }

echo "$fails failed"
[ "$fails" -eq 0 ]
