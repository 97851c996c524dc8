#!/usr/bin/env bash
# MQTT over TLS with a real mosquitto (mutual TLS listener on a free
# loopback port, certificates made by the openssl CLI for the test):
#  1. vigil's mqtt source (ssl://, tls: {ca, cert, key}) receives, its mqtt
#     sink (inheriting url and TLS from the source) publishes the alerts
#     back over TLS, and they equal the file sink's;
#  2. a broker certificate from another CA is refused (verify is on by
#     default): vigil keeps running, vigil_source_connected stays 0, the
#     log says why, and nothing is received;
#  3. `tls: {verify: false}` accepts that broker (an explicit opt-out);
#  4. `vigil check` names a TLS file that cannot be read.
#   mqtt_tls_test.sh PATH/TO/vigil
set -u
vigil=$(realpath "$1")
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
command -v openssl >/dev/null || { echo "FAIL: openssl not found (scripts/setup.sh installs it)"; exit 1; }

# --- certificates: a CA, the broker's and vigil's certificates; a rogue CA ---
cd "$tmp"
mkca() {  # mkca NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
    -keyout "$1.key" -out "$1.crt" 2>/dev/null
}
mkcert() {  # mkcert NAME CA [SAN]
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\n' "${3:-DNS:$1}" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" \
    -out "$1.crt" 2>/dev/null
}
mkca ca && mkcert broker ca "IP:127.0.0.1" && mkcert vigil ca && mkca rogue && mkcert rogue-broker rogue "IP:127.0.0.1" \
  && ok "certificates made (CA, broker, client; a rogue CA and broker)" || { fail "openssl"; exit 1; }

# --- a broker: mutual TLS on one port, plain on another (for the test's own clients) ---
start_broker() {  # start_broker CERT_PREFIX -> tport, pport
  tport=$(free_port)
  pport=$(free_port)
  cat >"$tmp/$1.conf" <<CONF
per_listener_settings true
# Started as root (CI), mosquitto would switch to user mosquitto and not read the test's 0700 temp dir.
user root
listener $pport 127.0.0.1
allow_anonymous true
listener $tport 127.0.0.1
allow_anonymous true
cafile $tmp/ca.crt
certfile $tmp/$1.crt
keyfile $tmp/$1.key
require_certificate true
tls_version tlsv1.2
CONF
  mosquitto -c "$tmp/$1.conf" >>"$tmp/$1.log" 2>&1 &
  bpid=$!
  pids+=("$bpid")
  wait_for 10 mosquitto_pub -p "$pport" -t ping -m x
}
start_broker broker || { fail "mosquitto with TLS did not start"; cat "$tmp/broker.log"; exit 1; }
ok "mosquitto: mutual TLS on 127.0.0.1:$tport"

run_vigil() {  # run_vigil NAME TLS_MAP -> vpid, hport
  hport=$(free_port)
  cat >"$tmp/$1.yaml" <<YAML
engine: {state_dir: ./$1-state}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: plant
    mqtt: {url: "ssl://127.0.0.1:$tport", topics: ["plant/+/temp"], qos: 1, client_id: vigil-$1, tls: $2}
    topic_tags: "plant/{device}/temp"
rules:
  - name: hot
    key: [device]
    when: temp > 30
sinks:
  - file: {path: $1-alerts.ndjson}
  - mqtt: {topic: "alerts/{rule}/{device}", qos: 1}
YAML
  (cd "$tmp" && exec "$vigil" run "$1.yaml" >/dev/null 2>"$tmp/$1.err") &
  vpid=$!
  pids+=("$vpid")
  wait_for 15 curl -sf "http://127.0.0.1:$hport/healthz"
}
connected() { curl -sf "http://127.0.0.1:$hport/metrics" | grep -q "^vigil_source_connected{source=\"plant\"} $1\$"; }

# --- 1. TLS both ways ----------------------------------------------------------
mosquitto_sub -p "$pport" -t 'alerts/#' -v -q 1 >"$tmp/sub.out" 2>/dev/null &
pids+=("$!")
run_vigil good "{ca: ca.crt, cert: vigil.crt, key: vigil.key}" || fail "vigil (good) did not start"
wait_for 15 connected 1 && ok "source connected over mutual TLS" || fail "not connected: $(tail -3 "$tmp/good.err")"
sleep 0.5
now=$(date +%s%3N)
for i in 1 2 3; do
  mosquitto_pub -p "$pport" -q 1 -t "plant/d$i/temp" -m "{\"ts\": $((now + i)), \"temp\": $((30 + i))}"
done
mosquitto_pub -p "$pport" -q 1 -t "plant/d3/temp" -m "{\"ts\": $((now + 10)), \"temp\": 20}"
wait_for 10 bash -c "[ \$(wc -l <'$tmp/good-alerts.ndjson') -ge 4 ]" \
  && ok "alerts from messages received over TLS: $(wc -l <"$tmp/good-alerts.ndjson")" || fail "no alerts over TLS"
wait_for 10 bash -c "[ \$(wc -l <'$tmp/sub.out') -ge 4 ]"
if grep -q '^alerts/hot/d2 .*"state":"raised"' "$tmp/sub.out" && grep -q '^alerts/hot/d3 .*"state":"cleared"' "$tmp/sub.out" \
   && [ "$(wc -l <"$tmp/sub.out")" = "$(wc -l <"$tmp/good-alerts.ndjson")" ]; then
  ok "the mqtt sink published the same alerts over TLS (url and TLS inherited from the source)"
else
  fail "alerts on MQTT: $(cat "$tmp/sub.out")"
fi
kill -TERM "$vpid"; wait "$vpid"; rc=$?
[ $rc = 0 ] && ok "vigil stopped (exit 0)" || fail "exit $rc"

# --- 2. a broker certificate of another CA is refused --------------------------
kill "$bpid"; wait "$bpid" 2>/dev/null
start_broker rogue-broker || { fail "rogue broker did not start"; exit 1; }
run_vigil strict "{ca: ca.crt, cert: vigil.crt, key: vigil.key}" || fail "vigil (strict) did not start"
sleep 3
connected 0 && ok "a broker certificate from another CA: not connected (verify on by default)" \
  || fail "connected to a broker it cannot verify"
mosquitto_pub -p "$pport" -q 1 -t "plant/d9/temp" -m "{\"ts\": $(date +%s%3N), \"temp\": 99}"
sleep 1
[ ! -s "$tmp/strict-alerts.ndjson" ] && ok "nothing received from the unverified broker" || fail "received from it"
grep -qiE "ssl|tls|certificate|handshake" "$tmp/strict.err" && ok "the log says why: $(grep -iE 'ssl|tls|certif|handshake' "$tmp/strict.err" | head -1 | cut -c1-150)" \
  || fail "the log does not say why: $(tail -3 "$tmp/strict.err")"
kill -0 "$vpid" && ok "vigil keeps running (retrying with backoff)" || fail "vigil exited"
kill -TERM "$vpid"; wait "$vpid" 2>/dev/null

# --- 3. verify: false is an explicit opt-out -------------------------------------
run_vigil lax "{ca: ca.crt, cert: vigil.crt, key: vigil.key, verify: false}" || fail "vigil (lax) did not start"
wait_for 15 connected 1 && ok "tls: {verify: false} connects to that broker" || fail "verify: false did not connect: $(tail -3 "$tmp/lax.err")"
kill -TERM "$vpid"; wait "$vpid" 2>/dev/null

# --- 4. vigil check names unreadable TLS files ----------------------------------------
sed 's/ca: ca.crt/ca: missing.crt/' "$tmp/lax.yaml" >"$tmp/bad.yaml"
out=$(cd "$tmp" && "$vigil" check bad.yaml 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "bad.yaml:[0-9]*:[0-9]*: .*tls ca file '.*missing.crt' cannot be read" \
  && ok "vigil check: $(echo "$out" | head -1)" || fail "check of a missing ca: rc $rc: $out"

echo "mqtt_tls: $fails failure(s)"
[ $fails = 0 ]
