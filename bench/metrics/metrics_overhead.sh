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
# fresh state dir per run. After one warm-up run (not counted), ROUNDS
# rounds alternate the modes as off,on then on,off (so a machine that speeds
# up or slows down over the session favours neither): prints each run, then
# the median and the best of each mode and their ratios. Throughput =
# messages / seconds of the run summary. Also the CPU time (user + system)
# of the vigil process per message, HTTP threads and scrapes included: on a
# machine shared with other work it moves much less than wall-clock
# throughput, and it is what the metrics cost on a dedicated machine.
#   bench/metrics/metrics_overhead.sh [ROUNDS] [MESSAGES] [SHARDS]   (default 6, 4000000, 2)
# Data in ${VIGIL_BENCH_DATA:-/tmp/vigil-bench}; needs build/vigil.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-6}
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
  ( cd "$d" && exec /usr/bin/time -f '%U %S' -o cpu "$vigil" run rules.yaml >/dev/null 2>run.log ) &
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
  echo "$scrapes $(awk '{print $1 + $2}' "$d/cpu")"
  rm -rf "$d/state"
}

echo "== metrics overhead: $(wc -l <"$data") messages, 10 event rules, $shards shards, $rounds rounds (off/on alternated)"
results=$work/results
: >"$results"
run off 0 >/dev/null  # warm-up: page cache, CPU frequency
for r in $(seq 1 "$rounds"); do
  order="off on"
  [ $((r % 2)) -eq 0 ] && order="on off"
  for mode in $order; do
    read -r n secs scrapes cpu < <(run "$mode" "$r")
    rate=$(python3 -c "print(f'{$n/$secs:.0f}')")
    cpu_us=$(python3 -c "print(f'{$cpu/$n*1e6:.3f}')")
    printf '   round %d %-3s %s messages in %6.2f s = %7.3f M msg/s, CPU %s us/msg%s\n' "$r" "$mode" "$n" "$secs" \
      "$(python3 -c "print($rate/1e6)")" "$cpu_us" "$([ "$mode" = on ] && echo ", $scrapes scrapes")"
    echo "$mode $rate $cpu_us" >>"$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rates = {"off": [], "on": []}
cpus = {"off": [], "on": []}
for line in open(sys.argv[1]):
    mode, rate, cpu = line.split()
    rates[mode].append(float(rate))
    cpus[mode].append(float(cpu))
med = {m: statistics.median(v) for m, v in rates.items()}
best = {m: max(v) for m, v in rates.items()}
cmed = {m: statistics.median(v) for m, v in cpus.items()}
cbest = {m: min(v) for m, v in cpus.items()}
for m in ("off", "on"):
    print(f"   {m:3}: throughput median {med[m]/1e6:.3f}, best {best[m]/1e6:.3f} M msg/s; "
          f"CPU median {cmed[m]:.3f}, best {cbest[m]:.3f} us/msg")
print(f"   on/off throughput: median {med['on']/med['off']:.3f} ({(med['on']/med['off']-1)*100:+.1f}%), "
      f"best {best['on']/best['off']:.3f} ({(best['on']/best['off']-1)*100:+.1f}%)")
print(f"   on/off CPU per message: median {cmed['on']/cmed['off']:.3f} ({(cmed['on']/cmed['off']-1)*100:+.1f}%), "
      f"best {cbest['on']/cbest['off']:.3f} ({(cbest['on']/cbest['off']-1)*100:+.1f}%)")
PY
