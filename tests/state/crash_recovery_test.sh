#!/usr/bin/env bash
# Crash recovery (DESIGN.md "Durability and delivery"): `vigil run` on a
# file source is killed with SIGKILL at random moments, restarted each time
# (with a different shard count), and finally runs to the end of its input.
# The union of the alerts it wrote, de-duplicated, must equal the alerts of
# one uninterrupted `vigil replay` of the same data: nothing lost, nothing
# invented, for event, sliding, window and deadman rules.
#   crash_recovery_test.sh VIGIL WORKDIR [KILLS] [SEED]
set -euo pipefail
vigil=$(realpath "$1")
work=$2
kills=${3:-8}
seed=${4:-$RANDOM}
RANDOM=$seed
rm -rf "$work" && mkdir -p "$work" && cd "$work"
echo "crash_recovery: seed $seed, $kills kills (rerun with: $0 $vigil $work $kills $seed)"

"$vigil" sim --devices 300 --duration 12h --anomalies all --seed "$seed" --out data.ndjson >/dev/null
cat > rules.yaml <<'YAML'
engine:
  shards: 2
  state_dir: ./state
  checkpoint_interval: 50ms
sources:
  - name: data
    file: {path: data.ndjson, follow: false}
sinks:
  - file: {path: alerts.ndjson}
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
  - name: zone-spread
    key: [zone]
    window: {size: 10m}
    when: max(temp) - min(temp) > 12
  - name: sensor-drift
    key: [device]
    when: abs(avg(temp, 10m) - ewma(temp, 6h)) > 1.5
    for: 5m
  - name: temp-spike
    key: [device]
    when: max(temp, 2m) - min(temp, 2m) > 4
  - name: sensor-stuck
    key: [device]
    when: changes(temp, 2m) == 0 and count(temp, 2m) >= 5
  - name: device-silent
    key: [device]
    deadman: 90s
  - name: zone-silent
    key: [zone]
    deadman: 60s
    expect: [nord, sud, est, ouest, nowhere]
YAML

"$vigil" replay rules.yaml data.ndjson --out replay.ndjson 2>replay.log || { cat replay.log; exit 1; }
expected=$(wc -l < replay.ndjson)
[ "$expected" -gt 100 ] || { echo "FAIL: the replay gave only $expected alerts; the data set is too tame"; exit 1; }

shard_counts=(1 2 3 4)
killed=0
for i in $(seq 1 "$kills"); do
  shards=${shard_counts[$((RANDOM % 4))]}
  "$vigil" run rules.yaml --shards "$shards" 2>>run.log &
  pid=$!
  # 20..400 ms: early (restore), mid-stream and late kills.
  sleep "0.$(printf '%03d' $((20 + RANDOM % 380)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
done
"$vigil" run rules.yaml --shards 2 2>>run.log || { echo "FAIL: the last run (not killed) failed (seed $seed):"; tail -20 run.log; exit 1; }
echo "crash_recovery: $killed runs killed with SIGKILL, then one ran to the end"
{ grep -c "restored" run.log || true; } | sed 's/^/crash_recovery: restarts that restored state: /'

sort -u alerts.ndjson > got.sorted
sort -u replay.ndjson > want.sorted
if ! cmp -s got.sorted want.sorted; then
  echo "FAIL: alerts after crashes differ from the uninterrupted replay (seed $seed)"
  echo "--- missing (in replay, never written by run):"; comm -13 got.sorted want.sorted | head -20
  echo "--- extra (written by run, not in replay):"; comm -23 got.sorted want.sorted | head -20
  exit 1
fi
dups=$(( $(wc -l < alerts.ndjson) - $(wc -l < got.sorted) ))
echo "PASS: $expected alerts, identical to the replay ($dups re-emitted after crashes, same ids)"
