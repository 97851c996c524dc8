#!/usr/bin/env bash
# Metrics overhead (issue: supervision/HTTP API): end-to-end throughput of
# `vigil run` with its HTTP server on and /metrics scraped every second,
# against the same run with no HTTP server. Must be within 3%.
#
# The engine's counters (RelaxedCounter, one writer each) are always on: they
# are how the run summary is made. So "metrics off" means no HTTP server and
# no scrape; "on" means http.listen set (which also feeds the alert board and
# keeps the latest values per series for GET /api/v1/series/latest) and a
# curl loop fetching /metrics once a second.
#
# Same data file (`vigil sim`, 10,000 devices), same rules (the 10 event
# rules of bench/rules/threshold.yaml), a file source with follow: false, a
# fresh state dir per run; runs alternate off/on ROUNDS times (the machine is
# noisy): prints each run, then the median and the best of each mode and
# their ratios. Throughput = messages / seconds of the run summary.
#   bench/metrics/metrics_overhead.sh [ROUNDS] [MESSAGES] [SHARDS]   (default 5, 4000000, 2)
# Data in ${VIGIL_BENCH_DATA:-/tmp/vigil-bench}; needs build/vigil.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
messages=${2:-4000000}
shards=${3:-2}
vigil=$PWD/build/vigil
data_dir=${VIGIL_BENCH_DATA:-/tmp/vigil-bench}
work=$data_dir/metrics-overhead
mkdir -p "$data_dir" && rm -rf "$work" && mkdir -p "$work"
[ -x "$vigil" ] || bash scripts/build.sh build >/dev/null

data=$data_dir/metrics-$messages.ndjson
if [ ! -s "$data" ]; then
  echo "generating $data" >&2
  "$vigil" sim --devices 10000 --count "$messages" --period 10s --seed 4 --out "$data.tmp" 2>/dev/null
  mv "$data.tmp" "$data"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# run MODE N: one run in a fresh directory; prints "messages seconds scrapes".
run() {
  local mode=$1 d=$work/$1-$2 port="" http="" pid scraper scrapes=0
  mkdir -p "$d"
  if [ "$mode" = on ]; then
    port=$(free_port)
    http="http: {listen: \"127.0.0.1:$port\"}"
  fi
  {
    echo "engine: {shards: $shards, state_dir: ./state, checkpoint_interval: 10s}"
    echo "$http"
    echo "sources:"
    echo "  - {name: data, file: {path: $data, follow: false}}"
    echo "sinks:"
    echo "  - file: {path: alerts.ndjson}"
    grep -v '^#' bench/rules/threshold.yaml
  } >"$d/rules.yaml"
  ( cd "$d" && exec "$vigil" run rules.yaml >/dev/null 2>run.log ) &
  pid=$!
  if [ "$mode" = on ]; then
    # Once a second, like a Prometheus scrape_interval of 1s.
    ( n=0; while kill -0 "$pid" 2>/dev/null; do
        curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && n=$((n + 1))
        sleep 1
      done; echo "$n" >"$d/scrapes" ) &
    scraper=$!
  fi
  wait "$pid"
  if [ "$mode" = on ]; then wait "$scraper"; scrapes=$(cat "$d/scrapes"); fi
  sed -n 's/.*stopped after \([0-9]*\) messages.* in \([0-9.]*\) s;.*/\1 \2/p' "$d/run.log" | tail -1 | tr '\n' ' '
  echo "$scrapes"
  rm -rf "$d/state"
}

echo "== metrics overhead: $(wc -l <"$data") messages, 10 event rules, $shards shards, $rounds rounds (off/on alternated)"
results=$work/results
: >"$results"
for r in $(seq 1 "$rounds"); do
  for mode in off on; do
    read -r n secs scrapes < <(run "$mode" "$r")
    rate=$(python3 -c "print(f'{$n/$secs:.0f}')")
    printf '   round %d %-3s %s messages in %6.2f s = %7.3f M msg/s%s\n' "$r" "$mode" "$n" "$secs" \
      "$(python3 -c "print($rate/1e6)")" "$([ "$mode" = on ] && echo ", $scrapes scrapes")"
    echo "$mode $rate" >>"$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rates = {"off": [], "on": []}
for line in open(sys.argv[1]):
    mode, rate = line.split()
    rates[mode].append(float(rate))
med = {m: statistics.median(v) for m, v in rates.items()}
best = {m: max(v) for m, v in rates.items()}
for m in ("off", "on"):
    print(f"   {m:3}: median {med[m]/1e6:.3f} M msg/s, best {best[m]/1e6:.3f} M msg/s")
print(f"   on/off: median {med['on']/med['off']:.3f} ({(med['on']/med['off']-1)*100:+.1f}%), "
      f"best {best['on']/best['off']:.3f} ({(best['on']/best['off']-1)*100:+.1f}%)")
PY
