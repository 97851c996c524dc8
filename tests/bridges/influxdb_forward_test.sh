#!/usr/bin/env bash
# `forward: window:<d>` and `forward: raw` of the influxdb sink against a
# real InfluxDB 1.x (Debian's influxd) on free loopback ports: `vigil run`
# on a generated data set (a file source, follow: false), then every point
# is read back through /query and compared with what this script computes
# on its own from the same data:
#   * window:1m — per series (the finest complete key: zone+device, or zone
#     alone for messages without a device) and minute [s, s+60s): temp/hum
#     _mean, _min, _max, _count at time s; messages whose window the
#     watermark (the highest ts so far) had already closed are left out;
#   * raw — every accepted message is one point (its key tags, the fields
#     it carries, its ts), late ones included;
#   * the alerts still reach vigil_alerts beside the forwarded points;
#   * a second run with the same state dir forwards nothing new (the file
#     was read to its end), and the points are unchanged;
#   * kill -9 mid-stream and a restart: every window point written is still
#     exact (incomplete windows are not written), the missing ones lie
#     around the crash and the final stop, raw points are never wrong.
#   influxdb_forward_test.sh PATH/TO/vigil
set -u
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
source "$(cd "$(dirname "$0")" && pwd)/../lib/influxd.sh"
start_influxd false
q() { curl -s -XPOST "$base/query" --data-urlencode "q=$1"; }
q "CREATE DATABASE entrepot" | grep -q '"statement_id":0' && q "CREATE DATABASE raw" | grep -q '"statement_id":0' \
  && ok "databases created" || fail "setup of influxd"

# 90 minutes of 3 zones x 4 devices, one message per device every 7 s, in
# time order, with: messages without hum, messages without a device (series
# = the zone), messages 3 minutes late (their window is closed), an invalid
# line and a message with neither temp nor hum.
python3 - "$tmp/data.ndjson" <<'PY'
import json, random, sys
random.seed(11)
t0 = 1_732_233_600_000 + 17  # not aligned to a minute
out = open(sys.argv[1], "w")
n = 0
for step in range(0, 90 * 60 * 1000, 7000):
    for z in ["nord", "sud", "est"]:
        for d in range(4):
            ts = t0 + step + d * 97 + {"nord": 0, "sud": 13, "est": 29}[z]
            m = {"ts": ts, "zone": z, "device": f"{z}-{d}", "temp": round(random.uniform(15, 35), 3)}
            if random.random() < 0.8:
                m["hum"] = random.uniform(30, 90)  # full precision doubles
            if random.random() < 0.03:
                del m["device"]
            out.write(json.dumps(m) + "\n")
            n += 1
    if step % 420000 == 0 and step > 0:  # every 7 minutes
        out.write(json.dumps({"ts": t0 + step - 180000 + 1, "zone": "nord", "device": "nord-0", "temp": 99.5}) + "\n")
        out.write("{not json\n")
        out.write(json.dumps({"ts": t0 + step + 5, "zone": "sud", "device": "sud-1", "note": "no numbers"}) + "\n")
PY
ok "data: $(wc -l <"$tmp/data.ndjson") lines"

cat >"$tmp/rules.yaml" <<YAML
engine: {shards: 2, state_dir: ./state}
sources:
  - name: warehouse
    file: {path: data.ndjson, follow: false}
rules:
  - name: overheat
    key: [zone, device]
    when: temp > 34
    clear_when: temp < 30
  - name: zone-humid
    key: [zone]
    window: {size: 5m}
    when: avg(hum) > 80
sinks:
  - file: {path: alerts.ndjson}
  - influxdb: {url: "$base", db: entrepot, forward: "window:1m"}
  - influxdb: {url: "$base", db: raw, forward: raw, measurement: sensors}
YAML
(cd "$tmp" && timeout 60 "$vigil" run rules.yaml >"$tmp/out" 2>"$tmp/err")
rc=$?
[ "$rc" = 0 ] && ok "vigil run to the end of the file: exit 0" || { fail "vigil run exit $rc"; cat "$tmp/err"; }
grep -qi "forward.*\(fail\|reject\|not delivered\)" "$tmp/err" && fail "forwarding errors: $(grep -i forward "$tmp/err")" \
  || ok "no forwarding error logged"

query_to() {  # query_to DB QUERY OUT
  curl -s -G "$base/query" --data-urlencode "db=$1" --data-urlencode "epoch=ms" --data-urlencode "q=$2" >"$3"
}
query_to entrepot "SELECT * FROM vigil_measurements" "$tmp/window.json"
query_to raw "SELECT * FROM sensors" "$tmp/raw.json"
query_to entrepot "SELECT count(count) FROM vigil_alerts" "$tmp/alerts.json"

# compare.py DATA WINDOW_JSON RAW_JSON [MODE]: MODE "all" (default): every
# expected point written and nothing else; "crash": every window point
# written is exact, the missing ones lie in at most 3 distinct windows, and
# the raw points are a subset of the expected ones.
cat >"$tmp/compare.py" <<'PY'
import json, sys
W = 60000
msgs = []
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if not any(k in m for k in ("temp", "hum")):
        continue  # no field of the schema: no point
    msgs.append(m)

def series(m):
    if "zone" in m and "device" in m:
        return (("zone", m["zone"]), ("device", m["device"]))
    if "zone" in m:
        return (("zone", m["zone"]),)
    return ()

# window:1m, computed independently: the watermark is the highest ts so far
# (one source, no allowed lateness); a message is late when its window
# [s, s+W) has s + W <= watermark.
agg, wm, late = {}, None, 0
for m in msgs:
    wm = m["ts"] if wm is None else max(wm, m["ts"])
    s = m["ts"] - m["ts"] % W
    if s + W <= wm:
        late += 1
        continue
    a = agg.setdefault((series(m), s), {})
    for f in ("temp", "hum"):
        if f in m:
            v = a.setdefault(f, [])
            v.append(float(m[f]))
expected = {}
for (ser, s), a in agg.items():
    p = {}
    for f, vals in a.items():
        total = 0.0
        for v in vals:
            total += v  # arrival order, as vigil sums
        p[f + "_mean"] = total / len(vals)
        p[f + "_min"] = min(vals)
        p[f + "_max"] = max(vals)
        p[f + "_count"] = len(vals)
    expected[(ser, s)] = p

def rows(path):
    res = json.load(open(path))["results"][0]
    out = []
    for s in res.get("series", []):
        for v in s["values"]:
            out.append(dict(zip(s["columns"], v)))
    return out

def key_of(r):
    ser = tuple((t, r[t]) for t in ("zone", "device") if r.get(t) is not None)
    return (ser, r["time"])

problems = []
got = {}
for r in rows(sys.argv[2]):
    got[key_of(r)] = {k: v for k, v in r.items() if k not in ("time", "zone", "device") and v is not None}
crash = len(sys.argv) > 4 and sys.argv[4] == "crash"
missing_starts = sorted({s for _, s in set(expected) - set(got)})
if set(got) - set(expected):
    problems.append(f"window points nobody expects: {sorted(set(got) - set(expected))[:3]}")
if crash:
    if len(missing_starts) > 3:
        problems.append(f"windows missing at {len(missing_starts)} starts (at most 3 expected): {missing_starts[:6]}")
elif set(got) != set(expected):
    problems.append(f"window points: {len(got)} written, {len(expected)} expected; "
                    f"missing {sorted(set(expected) - set(got))[:3]}")
exact = True
for k in set(got) & set(expected):
    if got[k] != expected[k]:
        exact = False
        problems.append(f"window {k}: {got[k]} != {expected[k]}")
        if len(problems) > 5:
            break
print(f"window:1m: {len(got)} points ({sum(len(s) == 1 for s, _ in expected)} zone-only), {late} late messages left out, "
      f"aggregates {'identical' if exact else 'DIFFERENT'}")

raw_expected = {}
for m in msgs:
    raw_expected[(series(m), m["ts"])] = {f: float(m[f]) for f in ("temp", "hum") if f in m}
raw_got = {}
for r in rows(sys.argv[3]):
    raw_got[key_of(r)] = {k: v for k, v in r.items() if k not in ("time", "zone", "device") and v is not None}
if crash:
    wrong = [k for k in raw_got if raw_expected.get(k) != raw_got[k]]
    if wrong:
        problems.append(f"raw points that differ from their message: {wrong[:3]}")
    print(f"crash: windows of {len(missing_starts)} start(s) not written: {missing_starts}; "
          f"{len(expected) - len(set(expected) & set(got))} window points missing, "
          f"{len(raw_expected) - len(raw_got)} raw points missing")
elif raw_got != raw_expected:
    diff = [k for k in raw_expected if raw_got.get(k) != raw_expected[k]][:3]
    problems.append(f"raw: {len(raw_got)} points, {len(raw_expected)} expected; first differences {diff}")
print(f"raw: {len(raw_got)} points for {len(msgs)} messages with a field, identical: {raw_got == raw_expected}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
compare() { python3 "$tmp/compare.py" "$tmp/data.ndjson" "$tmp/window.json" "$tmp/raw.json"; }
if out=$(compare); then ok "read back through /query and compared:
$out"; else fail "forwarded points differ:
$out"; fi

alerts=$(wc -l <"$tmp/alerts.ndjson")
n_alerts=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["series"][0]["values"][0][1] if "series" in r else 0)' "$tmp/alerts.json")
[ "$alerts" -gt 0 ] && [ "$n_alerts" = "$alerts" ] && ok "alerts still written beside the points: $n_alerts in vigil_alerts, $alerts in the file" \
  || fail "alerts: $n_alerts points in vigil_alerts, $alerts in the file"

# Again with the same state dir: the file source resumes at its end, so
# nothing new is forwarded and the points are the same.
(cd "$tmp" && timeout 60 "$vigil" run rules.yaml >/dev/null 2>"$tmp/err2")
query_to entrepot "SELECT * FROM vigil_measurements" "$tmp/window2.json"
query_to raw "SELECT * FROM sensors" "$tmp/raw2.json"
cmp -s "$tmp/window.json" "$tmp/window2.json" && cmp -s "$tmp/raw.json" "$tmp/raw2.json" \
  && ok "a restart after the end of the file forwards nothing new" || fail "a second run changed the points"

# kill -9 mid-stream: the file grows while vigil follows it (checkpoint every
# 200ms); vigil is killed, restarted on the same state dir, then stopped
# cleanly once the writer is done. Every window point written must still be
# exact (an incomplete window is never written), the ones not written lie
# around the crash and at the stop, and raw points are never wrong.
mkdir -p "$tmp/crash"
q "CREATE DATABASE crash" >/dev/null
: >"$tmp/crash/data.ndjson"
sed -e 's/follow: false/follow: true/' -e 's/shards: 2, state_dir: .\/state/shards: 2, state_dir: .\/state, checkpoint_interval: 200ms/' \
    -e 's/db: entrepot, forward/db: crash, forward/' -e 's/db: raw, forward/db: crash, forward/' \
    "$tmp/rules.yaml" >"$tmp/crash/rules.yaml"
python3 - "$tmp/data.ndjson" "$tmp/crash/data.ndjson" <<'PY' &
import sys, time
lines = open(sys.argv[1]).readlines()
with open(sys.argv[2], "a") as out:
    for i in range(0, len(lines), 300):
        out.writelines(lines[i:i + 300])
        out.flush()
        time.sleep(0.2)
PY
writer=$!
pids+=("$writer")
(cd "$tmp/crash" && exec "$vigil" run rules.yaml >/dev/null 2>"$tmp/crash/err1") &
v1=$!
pids+=("$v1")
# Kill once windows are being written (so a checkpoint covers part of the
# input: one every 200ms) and while the writer is still appending.
some_windows() {
  curl -s -G "$base/query" --data-urlencode "db=crash" --data-urlencode "q=SELECT count(temp_count) FROM vigil_measurements" |
    grep -q '"values"'
}
wait_for 20 some_windows || fail "no window written before the kill"
sleep 0.7
kill -0 "$writer" 2>/dev/null && ok "killing vigil with SIGKILL while the file grows" || fail "the writer finished before the kill"
kill -9 "$v1"; wait "$v1" 2>/dev/null
(cd "$tmp/crash" && exec "$vigil" run rules.yaml >/dev/null 2>"$tmp/crash/err2") &
v2=$!
pids+=("$v2")
wait "$writer"
sleep 2
kill -TERM "$v2"; wait "$v2"
rc=$?
[ "$rc" = 0 ] && ok "killed with SIGKILL mid-stream, restarted, stopped with SIGTERM (exit 0)" || { fail "restarted run: exit $rc"; cat "$tmp/crash/err2"; }
grep -o "forward: [0-9]* window(s) open at the restored checkpoint not written (incomplete)" "$tmp/crash/err2" >/dev/null \
  && ok "the restart logs the incomplete windows it skips" || { fail "no skipped windows logged"; cat "$tmp/crash/err2"; }
curl -s -G "$base/query" --data-urlencode "db=crash" --data-urlencode "epoch=ms" --data-urlencode "q=SELECT * FROM vigil_measurements" >"$tmp/crash/window.json"
curl -s -G "$base/query" --data-urlencode "db=crash" --data-urlencode "epoch=ms" --data-urlencode "q=SELECT * FROM sensors" >"$tmp/crash/raw.json"
if out=$(python3 "$tmp/compare.py" "$tmp/data.ndjson" "$tmp/crash/window.json" "$tmp/crash/raw.json" crash); then
  ok "after kill -9 and restart:
$out"
else
  fail "after kill -9 and restart:
$out"
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
