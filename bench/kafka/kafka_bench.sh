#!/usr/bin/env bash
# Kafka -> vigil throughput beside a do-nothing librdkafka consumer, in one
# run on one librdkafka mock cluster (`vigil sim --kafka-mock`, loopback):
#   1. produce N warehouse messages (vigil sim --kafka, lz4, keyed by device)
#      into a topic with P partitions (the mock keeps ~5 MiB per partition),
#   2. kafka_drain (bench/kafka/kafka_drain.cc): a consumer-group member that
#      only reads the messages, from the first message to the N-th,
#   3. `vigil run` (kafka source, 2 shards, threshold and sliding rules, a
#      file sink), from its first message to the N-th, read from /metrics
#      (vigil_messages_received_total, sampled every 20 ms),
# alternately, ROUNDS times each in fresh consumer groups; prints the best
# rate of each and the ratio. Not part of the test suite.
#   bench/kafka/kafka_bench.sh [N] [PARTITIONS] [ROUNDS]   (default 2000000 32 2)
# Investigation knobs: FETCH_WAIT (fetch.wait.max.ms of vigil's consumer,
# default 500), CKPT (checkpoint_interval, default 1s), VIGIL_BENCH_DEBUG=1
# (print every /metrics sample: time, messages received), KAFKA_PROPS (more
# librdkafka properties for vigil's consumer, as YAML flow-map entries, e.g.
# KAFKA_PROPS="queued.min.messages: 100000").
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000000}
partitions=${2:-32}
rounds=${3:-2}
vigil=$(realpath build/vigil)
[ -x "$vigil" ] || { echo "build vigil first (cmake --build build --target vigil)"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

drain=build/bench/vigil_kafka_drain
if [ ! -x "$drain" ]; then
  drain=$tmp/kafka_drain
  c++ -O2 -std=c++20 bench/kafka/kafka_drain.cc -o "$drain" $(pkg-config --cflags --libs rdkafka)
fi

"$vigil" sim --kafka-mock --topic bench --partitions "$partitions" >"$tmp/mock.out" 2>/dev/null &
pids+=("$!")
for _ in $(seq 50); do [ -s "$tmp/mock.out" ] && break; sleep 0.1; done
addr=$(head -1 "$tmp/mock.out")
t0=$(date +%s.%N)
# Event times end about now: a live source's watermark follows the wall clock
# when it is idle, and data days old would be all late and evicted (key_ttl).
start=$(( $(date +%s%3N) - n * 10 ))  # 1000 devices every 10 s: 100 messages per second of event time
"$vigil" sim --devices 1000 --count "$n" --start "$start" --kafka "$addr" --topic bench 2>"$tmp/produce.log"
t1=$(date +%s.%N)
echo "produced $n messages into $partitions partitions in $(python3 -c "print(f'{$t1-$t0:.1f}')") s ($(tail -1 "$tmp/produce.log"))"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
run_vigil() {  # run_vigil GROUP: prints the rate
  local dir=$tmp/$1
  mkdir -p "$dir"
  cat >"$dir/rules.yaml" <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: ${CKPT:-1s}}
http: {listen: "127.0.0.1:$port"}
sources:
  - name: bench
    kafka: {brokers: "$addr", topics: [bench], group: $1, key_tag: device, properties: {fetch.wait.max.ms: ${FETCH_WAIT:-500}${KAFKA_PROPS:+, $KAFKA_PROPS}}}
rules:
  - name: overheat
    key: [zone, device]
    when: temp > 30
    for: 30s
    clear_when: temp < 28
  - name: spike
    key: [device]
    when: max(temp, 2m) - min(temp, 2m) > 4
sinks:
  - file: {path: alerts.ndjson}
YAML
  "$vigil" run "$dir/rules.yaml" >/dev/null 2>"$dir/run.log" &
  local pid=$!
  python3 - "$port" "$n" <<'PY'
import sys, time, urllib.request
port, n = sys.argv[1], int(sys.argv[2])
first = None
deadline = time.time() + 180
while time.time() < deadline:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except Exception:
        time.sleep(0.02); continue
    now = time.time()
    got = 0
    for line in text.splitlines():
        if line.startswith('vigil_messages_received_total{source="bench"}'):
            got = int(float(line.split()[-1]))
    if "VIGIL_BENCH_DEBUG" in __import__("os").environ: print(now, got, file=sys.stderr)
    if got > 0 and first is None:
        first = (now, got)
    if got >= n:
        print(f"{(n - first[1]) / (now - first[0]):.0f}")
        sys.exit(0)
    time.sleep(0.02)
print("0"); sys.exit(1)
PY
  kill -TERM "$pid"; wait "$pid" || true
}

best_drain=0; best_vigil=0
for r in $(seq "$rounds"); do
  d=$("$drain" "$addr" bench "drain-$r" "$n" | sed 's/.*rate=//')
  v=$(run_vigil "vigil-$r")
  echo "round $r: kafka_drain $d msg/s, vigil run $v msg/s"
  [ "$d" -gt "$best_drain" ] && best_drain=$d
  [ "$v" -gt "$best_vigil" ] && best_vigil=$v
done
python3 -c "print(f'best: kafka_drain {$best_drain/1e6:.2f} M msg/s, vigil run {$best_vigil/1e6:.2f} M msg/s, ratio {$best_vigil/$best_drain:.2f}')"
