#!/usr/bin/env bash
# Durable-state workloads (issue: checkpoint cost, throughput loss, restart
# time), end to end with `vigil run` on a real state dir:
#   1. checkpoint cost with 100,000 active keys fed at 200,000 events/s
#      (a paced feeder on stdin), checkpoint_interval 1s: ms and bytes per
#      checkpoint;
#   2. throughput at full speed, checkpointing every second vs only at the
#      end (checkpoint_interval 1h), same data, alternated 3 times, medians;
#   3. restart time, launch to processing resumed, with 500,000 and
#      1,000,000 devices (each with state in 2-3 rules): after a clean stop
#      and after kill -9.
#   bench/state/state_bench.sh [SHARDS]     (default 2)
# Data in ${VIGIL_BENCH_DATA:-/tmp/vigil-bench}; needs build/vigil.
set -euo pipefail
cd "$(dirname "$0")/../.."
shards=${1:-2}
vigil=$PWD/build/vigil
data_dir=${VIGIL_BENCH_DATA:-/tmp/vigil-bench}
work=$data_dir/state-bench
mkdir -p "$data_dir" && rm -rf "$work" && mkdir -p "$work"
[ -x "$vigil" ] || bash scripts/build.sh build >/dev/null

gen() {  # gen NAME ARGS...
  local f="$data_dir/$1.ndjson"; shift
  if [ ! -s "$f" ]; then
    echo "generating $f ($*)" >&2
    "$vigil" sim "$@" --out "$f.tmp" 2>/dev/null && mv "$f.tmp" "$f"
  fi
  echo "$f"
}
keys100k=$(gen state-100k-keys --devices 100000 --period 500ms --duration 30s)
keys100k_long=$(gen state-100k-keys-60s --devices 100000 --period 500ms --duration 60s)

rules() {  # rules DIR INPUT INTERVAL
  cat > "$1/rules.yaml" <<YAML
engine: {shards: $shards, state_dir: ./state, checkpoint_interval: $3}
sources:
  - name: data
    file: {path: $2, follow: false}
sinks:
  - file: {path: alerts.ndjson}
rules:
  - name: hot
    key: [device]
    when: temp > 30
    for: 30s
  - name: drift
    key: [device]
    when: abs(avg(temp, 10m) - ewma(temp, 6h)) > 1.5
    for: 5m
  - name: window-avg
    key: [device]
    window: {size: 5m}
    when: avg(temp) > 27 or max(hum) > 80
  - name: silent
    key: [device]
    deadman: 5m
YAML
}
# The summary line of a run: "... in S s; state restored in R s, N checkpoints (F failed), M ms mean, X ms max, B bytes mean"
field() { sed -n "s/.*$1.*/\\1/p" "$2" | tail -1; }

echo "== 1. checkpoint cost: 100,000 keys at 200,000 events/s (paced stdin), checkpoint every 1 s, $shards shards"
d=$work/paced && mkdir -p "$d" && rules "$d" - 1s
( cd "$d" && python3 - "$keys100k" 200000 <<'PY' | "$vigil" run rules.yaml 2> run.log >/dev/null
import sys, time
path, rate = sys.argv[1], int(sys.argv[2])
chunk = rate // 100  # 10 ms of data per write
out = sys.stdout.buffer
start = time.monotonic(); sent = 0
with open(path, "rb") as f:
    while True:
        lines = f.readlines(chunk * 110)
        if not lines: break
        out.write(b"".join(lines)); sent += len(lines)
        ahead = sent / rate - (time.monotonic() - start)
        if ahead > 0: time.sleep(ahead)
out.flush()
print(f"fed {sent} lines in {time.monotonic()-start:.1f} s", file=sys.stderr)
PY
)
grep -h "fed\|stopped after" "$d/run.log" | sed 's/^/   /'

echo "== 2. throughput loss from checkpointing: $(wc -l < "$keys100k_long") messages, 100,000 keys, full speed"
for run in 1 2 3; do
  for mode in 1s 1h; do
    d=$work/speed-$mode-$run && mkdir -p "$d" && rules "$d" "$keys100k_long" "$mode"
    ( cd "$d" && "$vigil" run rules.yaml 2> run.log >/dev/null )
    msgs=$(sed -n 's/.*stopped after \([0-9]*\) messages.*/\1/p' "$d/run.log")
    secs=$(sed -n 's/.* alerts in \([0-9.]*\) s.*/\1/p' "$d/run.log")
    echo "$mode $(python3 -c "print(f'{$msgs/$secs:.0f}')")" >> "$work/speed.txt"
    echo "   run $run, checkpoint_interval $mode: $(python3 -c "print(f'{$msgs/$secs/1e6:.3f}')") M events/s ($(sed -n 's/.*\(checkpoints (.*\)/\1/p' "$d/run.log"))"
  done
done
python3 - "$work/speed.txt" <<'PY'
import sys, statistics
runs = {}
for line in open(sys.argv[1]):
    mode, eps = line.split(); runs.setdefault(mode, []).append(float(eps))
with_cp, without = statistics.median(runs["1s"]), statistics.median(runs["1h"])
print(f"   median: {with_cp/1e6:.3f} M events/s checkpointing every second, {without/1e6:.3f} M events/s without: "
      f"loss {100*(1-with_cp/without):.1f}%")
# Other tenants only ever slow a run down: the best run of each mode is the
# least disturbed estimate of its speed.
best_cp, best_without = max(runs["1s"]), max(runs["1h"])
print(f"   best of {len(runs['1s'])}: {best_cp/1e6:.3f} vs {best_without/1e6:.3f} M events/s: "
      f"loss {100*(1-best_cp/best_without):.1f}%")
PY

# resume DIR: starts `vigil run` in DIR and prints the seconds from launch to
# the "restored" log line (RocksDB open + reading and deserializing every
# key state: the moment processing resumes), then stops it.
resume() {
  local dir=$1 t0 t1 pid
  t0=$(date +%s.%N)
  ( cd "$dir" && exec "$vigil" run rules.yaml 2> run2.log >/dev/null ) & pid=$!
  until grep -q "restored" "$dir/run2.log" 2>/dev/null; do sleep 0.02; done
  t1=$(date -d "$(grep -m1 restored "$dir/run2.log" | cut -d' ' -f1)" +%s.%N)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  echo "$(python3 -c "print(f'{$t1 - $t0:.2f}')") s to resume ($(grep -o 'restored [0-9]* key states' "$dir/run2.log"))"
}

echo "== 3. restart time (launch to processing resumed)"
for devices in 500000 1000000; do
  data=$(gen "state-restart-$devices" --devices "$devices" --period 1s --count "$devices")
  d=$work/restart-$devices && mkdir -p "$d" && rules "$d" "$data" 1s
  ( cd "$d" && "$vigil" run rules.yaml 2> run1.log >/dev/null )
  echo "   $devices devices: $("$vigil" state inspect "$d/state" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(r["keys"] for r in d["rules"]), "key states")'), $(du -sh "$d/state/db" | cut -f1) on disk"
  echo "     after a clean stop: $(resume "$d")"
  # kill -9 with the whole input processed and checkpointed but not stopped
  # (follow mode: windows stay open, so more state): no clean-stop compaction.
  c=$work/restart-crash-$devices && mkdir -p "$c" && rules "$c" "$data" 1s
  sed -i 's/follow: false/follow: true/' "$c/rules.yaml"
  size=$(stat -c %s "$data")
  ( cd "$c" && exec "$vigil" run rules.yaml 2> run1.log >/dev/null ) & pid=$!
  until [ -d "$c/state/db" ] && "$vigil" state inspect "$c/state" 2>/dev/null | grep -q "\"position\":\"file1 $size:"; do sleep 0.2; done
  kill -9 $pid; wait $pid 2>/dev/null || true
  echo "     after kill -9: $(resume "$c")"
done
