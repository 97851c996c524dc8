#!/usr/bin/env bash
# Soak (not in CI): MINUTES at a steady RATE messages/s through vigil's HTTP
# ingest, every rule kind (event with for/hysteresis, sliding aggregates and
# ewma, hopping window, deadman, a plugin rule), a file sink and a webhook
# sink whose receiver fails 10 s out of every 60 s (the durable outbox fills
# and drains). Every 10 s it samples vigil's RSS, queue depth, outbox depth,
# messages received and pipeline latency p99 into soak.csv, plots them
# (soak.png, gnuplot), then checks:
#   - RSS is flat after warm-up: the mean of the last third of the samples
#     is within 10% of the mean of the middle third;
#   - no alert is lost: the file sink and the webhook receiver hold exactly
#     the alerts `vigil replay` emits for the same (regenerated) data, up to
#     10 minutes of event time before the end (replay closes what is still
#     open at the end of its input, a stopped live run does not).
#   bench/soak/soak.sh [MINUTES] [RATE] [OUT_DIR]    (default 30, 200000, /tmp/vigil-soak)
# Needs build/vigil (and build/examples/plugins/librule_kurtosis.so); installs gnuplot-nox if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:-30}
rate=${2:-200000}
out=${3:-/tmp/vigil-soak}
vigil=$PWD/build/vigil
plugin=$PWD/build/examples/plugins/librule_kurtosis.so
here=$PWD/bench/soak
[ -x "$vigil" ] && [ -f "$plugin" ] || { echo "build vigil first: cmake --build build"; exit 1; }
command -v gnuplot >/dev/null || { apt-get update -qq && apt-get install -y -qq gnuplot-nox >/dev/null; }
rm -rf "$out" && mkdir -p "$out"
cp "$plugin" "$out/"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

count=$((minutes * 60 * rate))
devices=20000
# Event time starts a day ahead of the wall clock and runs faster than it, so
# the live source's wall-clock watermark never overtakes the data: the run
# and a replay of the same data must agree.
start=$(( $(date +%s%3N) + 86400000 ))
sim=("$vigil" sim --devices "$devices" --period 10s --count "$count" --seed 11 --start "$start"
     --anomalies spike,drift,dropout,stuck --out -)

python3 "$here/flaky_receiver.py" --port-file "$out/hook.port" --out "$out/hook.ndjson" --period 60 --down 10 &
pids+=($!)
for _ in $(seq 50); do [ -s "$out/hook.port" ] && break; sleep 0.1; done
hport=$(free_port)
cat >"$out/rules.yaml" <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: 1s}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: api
    http: {}
rules:
  - {name: overheat, key: [zone, device], when: temp > 30, for: 30s, clear_when: temp < 28, severity: critical}
  - {name: spike, key: [device], when: "max(temp, 2m) - min(temp, 2m) > 4", severity: major}
  - {name: drift, key: [device], when: "abs(avg(temp, 10m) - ewma(temp, 1h)) > 1.5", for: 5m}
  - {name: zone-average, key: [zone], window: {size: 5m, every: 1m}, when: "avg(temp) > 27 or max(hum) > 80"}
  - {name: device-silent, key: [device], deadman: 2m, severity: major}
  - name: hum-kurtosis
    key: [device]
    plugin: {path: ./librule_kurtosis.so, config: {field: hum, samples: 32, limit: 6, clear_below: 2}}
sinks:
  - file: {path: alerts.ndjson}
  - webhook: {url: "http://127.0.0.1:$(cat "$out/hook.port")/hook", batch: true}
YAML
(cd "$out" && exec "$vigil" run rules.yaml >/dev/null 2>"$out/vigil.log") &
vpid=$!
pids+=($vpid)
base=http://127.0.0.1:$hport
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

# Sampler: one CSV line per 10 s.
sample() {
  echo "seconds,rss_mb,queue_depth,outbox_depth,received,msgs_per_s,p99_ms,alerts"
  local t0=$SECONDS prev_n=0 prev_t=$SECONDS prev_buckets=""
  while kill -0 $vpid 2>/dev/null; do
    sleep 10
    local m rss
    curl -sf "$base/metrics" >"$out/.metrics" || continue
    rss=$(awk '/^VmRSS/ {print $2 / 1024}' /proc/$vpid/status 2>/dev/null || echo 0)
    python3 - "$((SECONDS - t0))" "$rss" "$prev_n" "$((SECONDS - prev_t))" "$prev_buckets" <<PY
import re, sys
m = open("$out/.metrics").read()
t, rss, prev_n, dt, prev_b = sys.argv[1:6]
def total(name, label=""):
    return sum(float(v) for k, v in re.findall(r"^(%s(?:\{[^}]*\})?) (\S+)$" % name, m, re.M) if label in k)
queue = total("vigil_queue_depth")
outbox = total("vigil_outbox_depth")
n = total("vigil_messages_received_total")
alerts = total("vigil_alerts_total", 'state="raised"')
buckets = [(float(le), float(v)) for le, v in re.findall(r'^vigil_pipeline_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$', m, re.M)]
prev = dict((float(a), float(b)) for a, b in (x.split(":") for x in prev_b.split(",") if x)) if prev_b else {}
diff = [(le, v - prev.get(le, 0)) for le, v in buckets]
p99 = 0
if diff and diff[-1][1] > 0:
    for le, v in diff:
        if v >= 0.99 * diff[-1][1]:
            p99 = le * 1000
            break
rate = (n - float(prev_n)) / max(float(dt), 1)
print(f"{t},{float(rss):.1f},{queue:.0f},{outbox:.0f},{n:.0f},{rate:.0f},{p99:.3f},{alerts:.0f}")
print(f"{n:.0f}|" + ",".join(f"{le}:{v}" for le, v in buckets), file=open("$out/.prev", "w"))
PY
    IFS='|' read -r prev_n prev_buckets <"$out/.prev"
    prev_t=$SECONDS
  done
}
sample >"$out/soak.csv" &
spid=$!
pids+=($spid)

echo "soak: $minutes min at $rate msg/s ($count messages, $devices devices), output in $out"
"${sim[@]}" 2>/dev/null | python3 "$here/pacer.py" --url "$base/api/v1/ingest" --rate "$rate" --lines 5000 | tee "$out/pacer.log"
# Drain: the queue empties and the outbox delivers everything (the receiver
# recovers within 10 s of each outage).
for _ in $(seq 120); do
  m=$(curl -sf "$base/metrics")
  q=$(echo "$m" | awk '/^vigil_queue_depth/ {s += $2} END {print s + 0}')
  o=$(echo "$m" | awk '/^vigil_outbox_depth/ {s += $2} END {print s + 0}')
  [ "$q" = 0 ] && [ "$o" = 0 ] && break
  sleep 1
done
sleep 11  # one more sample
kill -TERM $vpid; wait $vpid || true
kill $spid 2>/dev/null || true
echo "soak: vigil stopped; $(tail -1 "$out/vigil.log")"

cat >"$out/soak.gp" <<GP
set terminal pngcairo size 1200,1200
set output "$out/soak.png"
set datafile separator ","
set multiplot layout 4,1 title "vigil soak: $minutes min at $rate msg/s (HTTP ingest, all rule kinds, webhook failing 10 s/min)"
set xlabel "seconds"
set yrange [0:*]
set ylabel "MB"; plot "$out/soak.csv" using 1:2 skip 1 with lines title "RSS"
set ylabel "messages/s"; plot "$out/soak.csv" using 1:6 skip 1 with lines title "received/s"
set ylabel "ms"; plot "$out/soak.csv" using 1:7 skip 1 with lines title "pipeline latency p99 (ms, histogram bucket bound)"
set ylabel "depth"; plot "$out/soak.csv" using 1:3 skip 1 with lines title "queue depth (messages)", "" using 1:4 skip 1 with lines title "webhook outbox depth (alerts)"
unset multiplot
GP
gnuplot "$out/soak.gp" && echo "soak: plot $out/soak.png"

# Checks.
python3 - "$out/soak.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rss = [float(r["rss_mb"]) for r in rows]
k = len(rss) // 3
mid, last = rss[k:2 * k], rss[2 * k:]
if not mid or not last:
    print("soak: too few samples to judge RSS"); sys.exit(0)
a, b = sum(mid) / len(mid), sum(last) / len(last)
rates = [float(r["msgs_per_s"]) for r in rows[1:-2]]
p99 = sorted(float(r["p99_ms"]) for r in rows)
print(f"soak: RSS middle third {a:.1f} MB, last third {b:.1f} MB ({(b - a) / a * 100:+.1f}%), max {max(rss):.1f} MB; "
      f"received/s median {sorted(rates)[len(rates) // 2]:.0f}; p99 latency median {p99[len(p99) // 2]:.2f} ms, "
      f"max {p99[-1]:.2f} ms; outbox max {max(float(r['outbox_depth']) for r in rows):.0f}")
print("soak: RSS flat after warm-up" if b <= a * 1.10 else "soak: FAIL RSS grew")
PY
"${sim[@]}" 2>/dev/null | (cd "$out" && "$vigil" replay rules.yaml - --out replay.ndjson 2>/dev/null)
python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
def load(path):
    out = {}
    for line in open(path):
        a = json.loads(line)
        out[(a["id"], a["state"])] = a["ts"]
    return out
replay, run, hook = load(d + "/replay.ndjson"), load(d + "/alerts.ndjson"), load(d + "/hook.ndjson")
last_ts = max(replay.values())
cut = last_ts - 600000
want = {k for k, ts in replay.items() if ts <= cut}
for name, got in (("file sink", run), ("webhook (failing 10 s/min)", hook)):
    have = {k for k, ts in got.items() if ts <= cut}
    missing, extra = want - have, have - want
    verdict = "no alert lost" if not missing and not extra else f"FAIL {len(missing)} missing, {len(extra)} extra"
    print(f"soak: {name}: {len(have)} alerts vs replay {len(want)}: {verdict}")
PY
