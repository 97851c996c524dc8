#!/usr/bin/env bash
# HTTP ingest throughput (issue: supervision/HTTP API, target >= 500,000
# messages/s): `vigil run` with an http source and the 10 event rules of
# bench/rules/threshold.yaml (2 shards, checkpoints every second, alerts to a
# file), loaded by build/bench/vigil_ingest_load: 2 keep-alive connections
# posting NDJSON bodies of LINES lines back to back for SECONDS.
#
# Prints, per round: the messages/s accepted (the sum of the 202 answers'
# "accepted" counts over the load's duration) and the cross-check from
# vigil's own counter (vigil_messages_received_total{source="api"} after the
# queue drained: it must equal the accepted count), plus vigil's CPU time.
# Lines are sent without their "ts" (ingest time is used, as for a live
# producer; the data file is replayed in a loop).
#   bench/http/ingest_bench.sh [ROUNDS] [SECONDS] [LINES] [CONNECTIONS]   (default 3, 20, 5000, 2)
# Data in ${VIGIL_BENCH_DATA:-/tmp/vigil-bench}; needs build/vigil and build/bench/vigil_ingest_load.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${2:-20}
lines=${3:-5000}
connections=${4:-2}
vigil=$PWD/build/vigil
load=$PWD/build/bench/vigil_ingest_load
data_dir=${VIGIL_BENCH_DATA:-/tmp/vigil-bench}
work=$data_dir/ingest-bench
mkdir -p "$data_dir" && rm -rf "$work" && mkdir -p "$work"
[ -x "$vigil" ] && [ -x "$load" ] || bash scripts/build.sh build >/dev/null

data=$data_dir/ingest-2M.ndjson
if [ ! -s "$data" ]; then
  echo "generating $data" >&2
  "$vigil" sim --devices 10000 --count 2000000 --period 10s --seed 5 --out "$data.tmp" 2>/dev/null
  mv "$data.tmp" "$data"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
received() { curl -sf "http://127.0.0.1:$1/metrics" | sed -n 's/^vigil_messages_received_total{source="api"} \([0-9.e+]*\)$/\1/p'; }

echo "== HTTP ingest: $connections connections, $lines lines per request, $seconds s per round, 10 event rules, 2 shards"
results=$work/results
: >"$results"
for r in $(seq 1 "$rounds"); do
  d=$work/round-$r && mkdir -p "$d"
  port=$(free_port)
  {
    echo "engine: {shards: 2, state_dir: ./state, checkpoint_interval: 1s}"
    echo "http: {listen: \"127.0.0.1:$port\"}"
    echo "sources:"
    echo "  - {name: api, http: {}}"
    echo "sinks:"
    echo "  - file: {path: alerts.ndjson}"
    grep -v '^#' bench/rules/threshold.yaml
  } >"$d/rules.yaml"
  ( cd "$d" && exec "$vigil" run rules.yaml >/dev/null 2>run.log ) &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$("$load" --port "$port" --file "$data" --connections "$connections" --lines "$lines" --seconds "$seconds")
  # Drained: the counter stops moving.
  prev=-1
  for _ in $(seq 100); do
    now=$(received "$port")
    [ "$now" = "$prev" ] && break
    prev=$now
    sleep 0.2
  done
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM "$pid" && wait "$pid" || true
  accepted=$(echo "$out" | sed -n 's/.*accepted=\([0-9]*\).*/\1/p')
  secs=$(echo "$out" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
  busy=$(echo "$out" | sed -n 's/.*busy=\([0-9]*\).*/\1/p')
  python3 - "$r" "$accepted" "$secs" "$now" "$busy" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'PY' | tee -a "$results"
import sys
r, acc, secs, recv, busy, c0, c1, tck = sys.argv[1:]
acc, secs, recv = int(acc), float(secs), float(recv)
cpu = (int(c1) - int(c0)) / int(tck)
print(f"   round {r}: {acc/secs/1e6:.3f} M msg/s accepted ({acc} in {secs:.1f} s, {busy} answers 503); "
      f"vigil_messages_received_total {recv:.0f} ({'equal' if recv == acc else 'DIFFERS'}); "
      f"vigil CPU {cpu:.1f} s = {cpu/secs:.2f} cores, {cpu/acc*1e6:.2f} us per message")
PY
  rm -rf "$d/state"
done
python3 - "$results" <<'PY'
import re, statistics, sys
rates = [float(re.search(r"round \d+: ([0-9.]+) M", l).group(1)) for l in open(sys.argv[1])]
print(f"   median {statistics.median(rates):.3f} M msg/s, best {max(rates):.3f} M msg/s (target 0.5)")
PY
