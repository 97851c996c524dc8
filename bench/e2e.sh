#!/usr/bin/env bash
# End-to-end workloads: generates warehouse data with `vigil sim` and replays
# it with `vigil replay`, beside a bare simdjson pass over the same file.
# Prints events/s, CPU microseconds per message, p50/p99 per-event pipeline
# latency, peak RSS and state bytes.
#   bench/e2e.sh [threshold|timeaware|all] [SHARDS]   (default: all, 2)
# Data is cached in ${VIGIL_BENCH_DATA:-/tmp/vigil-bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
shards=${2:-2}
data_dir=${VIGIL_BENCH_DATA:-/tmp/vigil-bench}
mkdir -p "$data_dir"
[ -x build/vigil ] && [ -x build/bench/vigil_parse_file ] || bash scripts/build.sh build >/dev/null

gen() {  # gen NAME ARGS...
  local f="$data_dir/$1.ndjson"; shift
  if [ ! -s "$f" ]; then
    echo "generating $f ($*)" >&2
    ./build/vigil sim "$@" --out "$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$f"
}

report() {  # report LABEL RULES DATA
  local label=$1 rules=$2 data=$3 stats
  stats=$(mktemp)
  echo "== $label: $(wc -l <"$data") messages, $(du -h "$data" | cut -f1), rules $rules, $shards shards"
  echo "   bare simdjson pass: $(./build/bench/vigil_parse_file "$data")"
  /usr/bin/time -f '%M' -o "$stats.rss" ./build/vigil replay "$rules" "$data" --out /dev/null --stats "$stats" \
    --shards "$shards" --no-progress 2>/dev/null
  python3 - "$stats" "$stats.rss" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); rss_kb = int(open(sys.argv[2]).read().split()[-1])
keys = max(s["keys"], 1)
print(f"   vigil replay: {s['events_per_second']/1e6:.2f} M events/s, {s['cpu_us_per_message']:.3f} CPU us/message, "
      f"latency p50 {s['latency_p50_us']:.0f} us p99 {s['latency_p99_us']:.0f} us, peak RSS {rss_kb/1024:.0f} MB, "
      f"{s['alerts']} alerts, state {s['state_bytes']/1e6:.1f} MB = {s['state_bytes']/keys:.0f} B per (rule, key)")
PY
  rm -f "$stats" "$stats.rss"
}

if [ "$which" = threshold ] || [ "$which" = all ]; then
  f=$(gen threshold-10M --devices 10000 --count 10000000 --period 10s --seed 1)
  report "10 event rules, 10,000 devices" bench/rules/threshold.yaml "$f"
fi
if [ "$which" = timeaware ] || [ "$which" = all ]; then
  # 10,000 devices x 24 h = 8.64M events means one report per device every 100 s.
  f=$(gen timeaware-24h --devices 10000 --duration 24h --period 100s --seed 2)
  report "drift + 5m tumbling window + deadman, 10,000 devices x 24 h (8.64M events)" bench/rules/timeaware.yaml "$f"
fi
