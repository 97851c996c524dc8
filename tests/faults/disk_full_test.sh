#!/usr/bin/env bash
# Fault injection: the disk of the state dir fills up while `vigil run` works.
# The state dir is a small tmpfs (root only; exit 77 = skipped when mounting
# is not permitted), kept full while messages keep coming — full for vigil:
# about 2 MiB stay free, below the 4 MiB every state write must leave, so
# vigil refuses each write itself. (A disk filled to the last byte by
# another process between vigil's check and RocksDB's write, so that
# RocksDB's own writes fail: rocksdb_write_error_test.sh.)
#  - checkpoints (RocksDB writes) fail, are counted in
#    vigil_checkpoints_total{result="failed"}, logged at most once every
#    10 s, and retried;
#  - vigil keeps running: ingest answers, alerts keep reaching the sink;
#  - when space returns (a checkpoint must leave 4 MiB free, so that RocksDB
#    itself never meets a full disk: the tmpfs is 128 MiB),
#    checkpoints succeed again without a restart, and that is logged;
#  - after SIGTERM and a restart on the same state dir, the alerts of both
#    runs equal those of `vigil replay` of the same messages (no state lost
#    or corrupted).
#   disk_full_test.sh PATH/TO/vigil
here=$(cd "$(dirname "$0")" && pwd)
vigil=$(realpath "$1")
source "$here/../lib/test_lib.sh"

mkdir -p "$tmp/state" "$tmp/out"
if ! mount -t tmpfs -o size=128m tmpfs "$tmp/state" 2>"$tmp/mount.err"; then
  echo "SKIP: cannot mount a tmpfs for the state dir (needs root): $(cat "$tmp/mount.err")"
  exit 77
fi
mounts+=("$tmp/state")
hport=$(free_port)
cat >"$tmp/rules.yaml" <<YAML
engine: {shards: 2, state_dir: $tmp/state, checkpoint_interval: 200ms}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: api
    http: {}
sinks:
  - file: {path: $tmp/out/alerts.ndjson}
rules:
  - name: hot
    key: [device]
    when: temp > 30
    for: 3s
    clear_when: temp < 28
  - name: drift
    key: [device]
    when: abs(avg(temp, 2m) - ewma(temp, 10m)) > 2
  - name: zone-spread
    key: [zone]
    when: max(temp, 30s) - min(temp, 30s) > 13
YAML
gen() { python3 "$here/gen_data.py" --devices 40 --steps "$2" --start-step "$1"; }
start_vigil() {
  "$vigil" run "$tmp/rules.yaml" >/dev/null 2>>"$tmp/err" &
  vpid=$!
  pids+=("$vpid")
  wait_for 20 curl -sf "http://127.0.0.1:$hport/readyz"
}
feed() {  # feed FIRST_STEP STEPS: in posts of 10 steps, appended to all.ndjson
  local s
  for ((s = $1; s < $1 + $2; s += 10)); do
    gen "$s" 10 >"$tmp/chunk.ndjson"
    cat "$tmp/chunk.ndjson" >>"$tmp/all.ndjson"
    ingest "$(cat "$tmp/chunk.ndjson")" || return 1
  done
}
stop_vigil() {
  local t0=$SECONDS
  kill -TERM "$vpid"
  wait "$vpid"
  local rc=$?
  [ "$rc" = 0 ] && ok "SIGTERM: exit 0 in $((SECONDS - t0)) s" || fail "vigil exit $rc after SIGTERM"
}
t_start=$SECONDS

# Fill the tmpfs but for 48 MiB before vigil starts (RocksDB preallocates
# about 40 MiB of log and manifest; a checkpoint must leave 4 MiB free),
# then fill the rest once it runs.
dd if=/dev/zero of="$tmp/state/filler" bs=64k >/dev/null 2>&1
truncate -s -48M "$tmp/state/filler"
start_vigil || { fail "vigil run did not start"; cat "$tmp/err"; finish; }
feed 0 100 && ok "first 4000 messages ingested" || fail "ingest before the disk is full"
wait_for 10 metric_at_least 'vigil_checkpoints_total{result="ok"}' 1 && ok "checkpoints succeed" || fail "no checkpoint"
# Keep it full, about 2 MiB free: RocksDB may free space (an old log file)
# while it runs, and the filler takes it again.
keep_full() {
  local n=0 free_kb
  while :; do
    free_kb=$(df -k --output=avail "$tmp/state" | tail -1)
    if [ "$free_kb" -gt 2560 ]; then
      dd if=/dev/zero of="$tmp/state/fill.$n" bs=1k count=$((free_kb - 2048)) >/dev/null 2>&1
      n=$((n + 1))
    fi
    sleep 0.1
  done
}
keep_full &
fpid=$!
pids+=("$fpid")
sleep 0.3
ok "state dir full: $(df -h "$tmp/state" | awk 'NR==2 {print $3 " used, " $4 " free"}')"
failed0=$(metric 'vigil_checkpoints_total{result="failed"}')
alerts0=$(wc -l <"$tmp/out/alerts.ndjson")
feed 100 200 && ok "ingest still answers with the disk full" || fail "ingest refused with the disk full"
wait_for 15 metric_at_least 'vigil_checkpoints_total{result="failed"}' $((${failed0:-0} + 2)) \
  && ok "failed checkpoints counted: $(metric 'vigil_checkpoints_total{result="failed"}')" \
  || fail "no failed checkpoint counted: $(metric 'vigil_checkpoints_total{result="failed"}')"
grep -q "checkpoint .* failed (retried with the next one)" "$tmp/err" && ok "the failure is logged: $(grep -m1 -o 'checkpoint [0-9]* failed.*' "$tmp/err" | cut -c1-160)" \
  || fail "no log line for the failed checkpoint"
logged=$(grep -c "checkpoint [0-9]* failed" "$tmp/err")
[ "$logged" -le 2 ] && ok "failures logged at most once every 10 s ($logged lines for $(metric 'vigil_checkpoints_total{result="failed"}') failures)" \
  || fail "$logged log lines for the failed checkpoints"
kill -0 "$vpid" 2>/dev/null && curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null && ok "vigil keeps running" || fail "vigil died with the disk full"
wait_for 10 lines_more_than "$tmp/out/alerts.ndjson" "$alerts0" \
  && ok "alerts keep reaching the sink ($alerts0 -> $(wc -l <"$tmp/out/alerts.ndjson"))" || fail "no new alert while the disk is full"

# Space returns: checkpoints succeed again, without a restart.
kill "$fpid"; wait "$fpid" 2>/dev/null
rm -f "$tmp/state/filler" "$tmp/state/fill."*
ok0=$(metric 'vigil_checkpoints_total{result="ok"}')
feed 300 50 || fail "ingest after space returned"
wait_for 25 metric_at_least 'vigil_checkpoints_total{result="ok"}' $((${ok0:-0} + 2)) \
  && ok "checkpoints succeed again once space returned ($ok0 -> $(metric 'vigil_checkpoints_total{result="ok"}'))" \
  || { fail "checkpoints still fail after space returned"; grep -m3 "checkpoint" "$tmp/err" | tail -3; }
grep -q "written after [0-9]* failed checkpoint(s): state is durable again" "$tmp/err" && ok "the recovery is logged" \
  || fail "no log line for the recovery"
stop_vigil

# Restart on the same state: everything consistent with one replay.
start_vigil && ok "restarted on the same state dir" || { fail "restart"; tail -5 "$tmp/err"; finish; }
feed 350 60 || fail "ingest after the restart"
stop_vigil
grep -qi "corrupt" "$tmp/err" && fail "corruption reported: $(grep -m1 -i corrupt "$tmp/err")"
"$vigil" replay --no-progress "$tmp/rules.yaml" "$tmp/all.ndjson" -o "$tmp/replay.ndjson" 2>/dev/null
alert_set "$tmp/out/alerts.ndjson" >"$tmp/run.set"
alert_set "$tmp/replay.ndjson" >"$tmp/replay.set"
if cmp -s "$tmp/run.set" "$tmp/replay.set"; then
  ok "alerts of both runs = vigil replay ($(wc -l <"$tmp/replay.set") transitions)"
else
  fail "alerts differ from replay: $(diff "$tmp/run.set" "$tmp/replay.set" | grep -c '^[<>]') lines; first: $(diff "$tmp/run.set" "$tmp/replay.set" | grep -m3 '^[<>]' | tr '\n' ' ')"
fi
echo "disk_full: $((SECONDS - t_start)) s"
finish
