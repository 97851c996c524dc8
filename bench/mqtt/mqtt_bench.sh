#!/usr/bin/env bash
# MQTT benchmarks against a real mosquitto on loopback (not in CI):
#  1. throughput: one publisher (vigil sim --mqtt, QoS 1) and two subscribers
#     side by side on the same stream — a do-nothing `mosquitto_sub` and
#     `vigil run` with the warehouse event rules — each timed from the first
#     publish to its last message; prints both rates and vigil's share.
#  2. latency: 10,000 probes/s through vigil to its MQTT sink
#     (build/bench/vigil_mqtt_latency): publish -> alert received, p50/p99.
#   bench/mqtt/mqtt_bench.sh [BUILD_DIR] [MESSAGES] [QOS] [PROBES_PER_SECOND]
# MESSAGES 0 skips part 1 (to repeat only the latency measurement);
# LAT_RUNS=N repeats part 2 N times against the same vigil; CKPT sets
# vigil's checkpoint_interval (default 1s).
set -u
build=$(realpath "${1:-build}")
n=${2:-300000}
qos=${3:-1}
lat_rate=${4:-10000}
vigil=$build/vigil
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now_ms() { date +%s%3N; }
port=$(free_port)
hport=$(free_port)
cat >"$tmp/mosq.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 0
set_tcp_nodelay true
persistence false
CONF
mosquitto -c "$tmp/mosq.conf" >"$tmp/mosq.log" 2>&1 &
pids+=("$!")
sleep 0.5

cat >"$tmp/rules.yaml" <<YAML
engine: {shards: 2, state_dir: state, checkpoint_interval: ${CKPT:-1s}}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: mqtt
    mqtt: {url: "tcp://127.0.0.1:$port", topics: ["entrepot/+/+/v1", "probe/+"], qos: $qos, client_id: vigil-bench,
           clean_start: true}
    topic_tags: ["entrepot/{zone}/{sensor}/v1"]
rules:
  - name: overheat
    key: [zone, device]
    when: temp > 30
    for: 30s
    clear_when: temp < 28
  - name: sensor-drift
    key: [device]
    when: abs(avg(temp, 10m) - ewma(temp, 6h)) > 1.5
    for: 5m
  - name: sensor-stuck
    key: [device]
    when: changes(temp, 2m) == 0 and count(temp, 2m) >= 5
  - name: probe
    key: [device]
    when: probe > 0
sinks:
  - mqtt: {topic: "alerts/{rule}/{device}", qos: 1}
YAML
(cd "$tmp" && exec "$vigil" run rules.yaml >"$tmp/vigil.out" 2>"$tmp/vigil.err") &
vpid=$!
pids+=("$vpid")
received() { curl -sf "http://127.0.0.1:$hport/metrics" | awk '$1 == "vigil_messages_received_total{source=\"mqtt\"}" {print $2}'; }
for _ in $(seq 100); do [ "$(received)" = 0 ] && break; sleep 0.1; done

if [ "$n" -gt 0 ]; then
echo "== throughput: $n messages, QoS $qos, one publisher, two subscribers side by side"
mosquitto_sub -p "$port" -q "$qos" -t 'entrepot/+/+/v1' -C "$n" >/dev/null &
spid=$!
sleep 0.3
t0=$(now_ms)
"$vigil" sim --devices 1000 --count "$n" --seed 3 --start "$(( t0 + 86400000 ))" \
  --mqtt "tcp://127.0.0.1:$port" --qos "$qos" --client-id bench-pub 2>"$tmp/sim.err" &
ppid=$!
sub_done=0 vigil_done=0
while [ "$sub_done" = 0 ] || [ "$vigil_done" = 0 ]; do
  [ "$sub_done" = 0 ] && ! kill -0 "$spid" 2>/dev/null && sub_done=$(now_ms)
  [ "$vigil_done" = 0 ] && [ "$(received)" = "$n" ] && vigil_done=$(now_ms)
  [ $(( $(now_ms) - t0 )) -gt 300000 ] && { echo "timeout"; break; }
  sleep 0.02
done
wait "$ppid"
tail -n 1 "$tmp/sim.err"
sub_rate=$(awk -v n="$n" -v t=$((sub_done - t0)) 'BEGIN{printf "%.0f", n * 1000 / t}')
vigil_rate=$(awk -v n="$n" -v t=$((vigil_done - t0)) 'BEGIN{printf "%.0f", n * 1000 / t}')
echo "mosquitto_sub (does nothing): $sub_rate msg/s"
echo "vigil run (parse + 3 rules):  $vigil_rate msg/s"
awk -v a="$vigil_rate" -v b="$sub_rate" 'BEGIN{printf "vigil / plain subscriber: %.1f %%\n", 100 * a / b}'
fi

# Measured once vigil's MQTT sink is connected (Paho C's synchronous connect
# takes ~0.3 s after start; alerts raised before wait for it, which is
# start-up, not steady-state latency).
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$hport/metrics" | grep -q '^vigil_sink_connected{.*} 1' && break
  sleep 0.1
done
for run in $(seq "${LAT_RUNS:-1}"); do
echo "== latency (run $run): $lat_rate probes/s for 10 s, publish -> alert delivered by vigil's MQTT sink"
"$build/bench/vigil_mqtt_latency" "tcp://127.0.0.1:$port" "$lat_rate" 10 100 probe 'alerts/probe/#'
done
echo "== vigil peak RSS: $(grep VmHWM /proc/$vpid/status | awk '{print $2, $3}')"
