#!/usr/bin/env bash
# `vigil run` serving HTTPS (http.tls_cert/tls_key, paths relative to the
# rules file) end to end, with a self-signed certificate made by the openssl
# CLI: `vigil check` on the TLS keys, healthz over https verified with
# curl --cacert, plain HTTP on the port answered 400, the bearer token over
# TLS, a multi-megabyte NDJSON ingest raising an alert, the alert stream
# (server-sent events) delivering a manual alert, a SIGHUP reload keeping
# HTTPS on the same port, SIGTERM (exit 0), and clear startup errors for a
# key that does not match and a missing certificate.
#   https_run_test.sh PATH/TO/vigil
set -u
vigil=$1
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
make_cert() {  # make_cert DIR NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$1/$2-key.pem" -out "$1/$2-cert.pem" >/dev/null 2>&1
}

mkdir -p "$tmp/tls"
make_cert "$tmp/tls" server || { echo "FAIL: openssl cannot make a certificate"; exit 1; }
make_cert "$tmp/tls" other
printf 's3cret\n' >"$tmp/token.txt"
port=$(free_port)
cat >"$tmp/rules.yaml" <<YAML
http: {listen: "127.0.0.1:$port", token_file: token.txt, tls_cert: tls/server-cert.pem, tls_key: tls/server-key.pem}
sources:
  - name: api
    http: {}
rules:
  - name: hot
    key: [device]
    when: temp > 30
    severity: critical
sinks:
  - file: {path: alerts.ndjson}
YAML

"$vigil" check "$tmp/rules.yaml" >"$tmp/check.out" 2>&1 && ok "vigil check accepts tls_cert + tls_key" || fail "check: $(cat "$tmp/check.out")"
sed 's/, tls_key: tls\/server-key.pem//' "$tmp/rules.yaml" >"$tmp/half.yaml"
"$vigil" check "$tmp/half.yaml" >"$tmp/check.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q 'half.yaml:1:[0-9]*: http.tls_cert needs http.tls_key' "$tmp/check.out"; then
  ok "vigil check: tls_cert without tls_key is an error with its position"
else fail "check of tls_cert alone (exit $rc): $(cat "$tmp/check.out")"; fi

(cd / && exec "$vigil" run "$tmp/rules.yaml" >"$tmp/out" 2>"$tmp/err") &
vpid=$!
pids+=("$vpid")
base="https://127.0.0.1:$port"
tls=(--cacert "$tmp/tls/server-cert.pem" --max-time 10)
if wait_for 15 curl -sf "${tls[@]}" "$base/healthz"; then ok "healthz over https (certificate verified by curl)"; else
  fail "healthz over https"; cat "$tmp/err"; exit 1; fi
grep -q "live page $base/" "$tmp/err" && ok "the log names the https URL" || fail "no https URL in the log: $(cat "$tmp/err")"
code=$(curl -s -o "$tmp/plain.out" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/healthz")
if [ "$code" = 400 ] && grep -q 'speaks HTTPS' "$tmp/plain.out"; then ok "plain http on the TLS port: 400 saying so"; else
  fail "plain http gave $code: $(cat "$tmp/plain.out")"; fi
curl -s "${tls[@]}" --cacert "$tmp/tls/other-cert.pem" "$base/healthz" >/dev/null 2>&1 && fail "curl trusted a wrong CA" || ok "a client trusting another certificate refuses the server"

code=$(curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" "$base/api/v1/alerts")
[ "$code" = 401 ] && ok "no token over https: 401" || fail "no token gave $code"

# The alert stream, open before the alerts exist.
curl -sN "${tls[@]}" --max-time 20 -H 'Authorization: Bearer s3cret' "$base/api/v1/alerts/stream?snapshot=false" >"$tmp/stream.out" 2>&1 &
spid=$!
pids+=("$spid")
wait_for 5 grep -q '^retry:' "$tmp/stream.out" && ok "alert stream open over https" || fail "stream: $(cat "$tmp/stream.out")"

# ~3 MB of NDJSON in one request; one line is hot.
now=$(date +%s%3N)
python3 - "$tmp/big.ndjson" "$now" <<'PY'
import sys
path, now = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(40000):
        f.write('{"ts":%d,"device":"d%d","temp":%s,"pad":"%s"}\n' % (now + i, i % 50, "35" if i == 39999 else "20", "x" * 20))
PY
resp=$(curl -s "${tls[@]}" -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/big.ndjson" "$base/api/v1/ingest")
echo "$resp" | grep -q '"accepted":40000' && ok "3 MB ingest over https: 40000 accepted" || fail "big ingest: $resp"
alert_seen() { curl -sf "${tls[@]}" -H 'Authorization: Bearer s3cret' "$base/api/v1/alerts?state=active&rule=hot" | grep -q '"device":"d49"'; }
wait_for 10 alert_seen && ok "the hot line raised an alert, read over https" || fail "no alert for d49"
code=$(curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" -H 'Authorization: Bearer s3cret' \
  --data-binary '{"rule":"door-open","key":{"door":"3"},"severity":"major"}' "$base/api/v1/alerts")
[ "$code" = 201 ] && ok "manual alert over https: 201" || fail "manual alert gave $code"
wait_for 5 grep -q 'door-open' "$tmp/stream.out" && ok "the alert stream delivered it over https" || fail "stream: $(cat "$tmp/stream.out")"

# A reload restarts the server on the same port, reading the certificate again.
kill -HUP "$vpid"
reloaded() { [ "$(grep -c 'vigil run: 1 rules' "$tmp/err")" = 2 ]; }
wait_for 15 reloaded && ok "SIGHUP: the rules restarted" || fail "no reload in the log: $(cat "$tmp/err")"
if wait_for 15 curl -sf "${tls[@]}" "$base/healthz"; then ok "after the reload: https on the same port"; else fail "https after reload"; fi

kill -TERM "$vpid"
wait "$vpid"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "vigil exit $rc: $(tail -3 "$tmp/err")"

# Startup errors name the file and OpenSSL's reason.
sed 's/tls_key: tls\/server-key.pem/tls_key: tls\/other-key.pem/' "$tmp/rules.yaml" >"$tmp/mismatch.yaml"
timeout 20 "$vigil" run "$tmp/mismatch.yaml" >/dev/null 2>"$tmp/err2"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "tls_key '$tmp/tls/other-key.pem' does not match the certificate" "$tmp/err2"; then
  ok "a key that does not match the certificate: exit $rc, named"; else fail "mismatch (exit $rc): $(cat "$tmp/err2")"; fi
sed 's/tls_cert: tls\/server-cert.pem/tls_cert: tls\/nope.pem/' "$tmp/rules.yaml" >"$tmp/missing.yaml"
timeout 20 "$vigil" run "$tmp/missing.yaml" >/dev/null 2>"$tmp/err3"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "tls_cert '$tmp/tls/nope.pem' cannot be read: No such file" "$tmp/err3"; then
  ok "a missing certificate: exit $rc, named"; else fail "missing cert (exit $rc): $(cat "$tmp/err3")"; fi

echo "$fails failed"
[ "$fails" -eq 0 ]
