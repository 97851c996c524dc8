# start_influxd AUTH: a real influxd 1.x (Debian's influxdb) on free loopback
# ports, its data in $tmp/influx, stopped at exit with the test's other
# pids; AUTH true|false sets [http] auth-enabled. Sets $base to its URL and
# fails the test when it does not answer /ping within 20 s. Sourced after
# tests/lib/test_lib.sh.
start_influxd() {
  command -v influxd >/dev/null || { echo "FAIL: influxd is not installed (apt-get install influxdb; scripts/setup.sh)"; exit 1; }
  local port rpc
  port=$(free_port)
  rpc=$(free_port)
  cat >"$tmp/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$tmp/influx/meta"
[data]
  dir = "$tmp/influx/data"
  wal-dir = "$tmp/influx/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  auth-enabled = $1
  log-enabled = false
CONF
  influxd -config "$tmp/influxdb.conf" >"$tmp/influxd.log" 2>&1 &
  pids+=("$!")
  base="http://127.0.0.1:$port"
  if wait_for 20 curl -sf "$base/ping"; then ok "influxd answers on $base"; else fail "influxd did not start"; tail -5 "$tmp/influxd.log"; exit 1; fi
}
