#!/usr/bin/env bash
# Fault injection: RocksDB itself meets a disk filled to the last byte.
# vigil checks that 4 MiB stay free before each state write; another process
# can still fill the disk between that check and RocksDB's write. Here the
# check is switched off (VIGIL_TEST_STATE_MIN_FREE_BYTES=0, a test seam), so
# every checkpoint reaches RocksDB, and a filler takes every byte of the
# state dir's small tmpfs (root only; exit 77 = skipped when mounting is not
# permitted) while `vigil run` follows a growing file:
#  - the checkpoints fail inside RocksDB (ENOSPC on its log), are counted in
#    vigil_checkpoints_total{result="failed"} and logged; vigil does not
#    abort (Debian's RocksDB, assertions on, used to: docs/durability.md),
#    keeps running and alerting;
#  - when space returns, checkpoints succeed again without a restart;
#  - SIGTERM exits 0; a second full disk at SIGTERM fails the final
#    checkpoint (exit 1) but never aborts;
#  - after restarts on the same state dir, the alerts of all runs equal
#    those of `vigil replay` of the same messages (no state lost, corrupted
#    or applied twice: the file source re-reads from the last durable
#    checkpoint).
#   rocksdb_write_error_test.sh PATH/TO/vigil
here=$(cd "$(dirname "$0")" && pwd)
vigil=$(realpath "$1")
source "$here/../lib/test_lib.sh"

mkdir -p "$tmp/state" "$tmp/out"
if ! mount -t tmpfs -o size=64m tmpfs "$tmp/state" 2>"$tmp/mount.err"; then
  echo "SKIP: cannot mount a tmpfs for the state dir (needs root): $(cat "$tmp/mount.err")"
  exit 77
fi
mounts+=("$tmp/state")
hport=$(free_port)
: >"$tmp/in.ndjson"
rules() {  # rules FOLLOW
  cat <<YAML
engine: {shards: 2, state_dir: $tmp/state, checkpoint_interval: 200ms}
http: {listen: "127.0.0.1:$hport"}
sources:
  - name: feed
    file: {path: $tmp/in.ndjson, follow: $1}
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
}
rules true >"$tmp/rules.yaml"
rules false >"$tmp/rules-to-end.yaml"
feed() {  # feed FIRST_STEP STEPS: appended to the followed file
  python3 "$here/gen_data.py" --devices 40 --steps "$2" --start-step "$1" >>"$tmp/in.ndjson"
}
start_vigil() {  # start_vigil [RULES]
  VIGIL_TEST_STATE_MIN_FREE_BYTES=0 "$vigil" run "${1:-$tmp/rules.yaml}" >/dev/null 2>>"$tmp/err" &
  vpid=$!
  pids+=("$vpid")
  wait_for 20 curl -sf "http://127.0.0.1:$hport/readyz"
}
stop_vigil() {  # stop_vigil EXPECTED-EXIT-CODE
  local t0=$SECONDS rc
  kill -TERM "$vpid"
  wait "$vpid"
  rc=$?
  [ "$rc" = "$1" ] && ok "SIGTERM: exit $rc in $((SECONDS - t0)) s" || fail "vigil exit $rc after SIGTERM (expected $1)"
}
fill_up() {  # fills the tmpfs to the last byte, and keeps it so until empty_up
  python3 "$here/fill_disk.py" "$tmp/state" --keep >"$tmp/fill.out" &
  fpid=$!
  pids+=("$fpid")
  wait_for 20 grep -q full "$tmp/fill.out"
}
empty_up() {
  kill "$fpid"; wait "$fpid" 2>/dev/null
  rm -f "$tmp/state/fill."*
  : >"$tmp/fill.out"
}
aborted() { grep -qE "Assertion|Aborted|terminate called" "$tmp/err"; }
t_start=$SECONDS

# 24 MiB free at start: less than the write-ahead log RocksDB would
# preallocate (35 MiB), so its log grows page by page and its appends meet
# the full disk.
dd if=/dev/zero of="$tmp/state/prefill" bs=1M count=40 status=none
start_vigil || { fail "vigil run did not start"; cat "$tmp/err"; finish; }
feed 0 100
wait_for 10 metric_at_least 'vigil_checkpoints_total{result="ok"}' 2 && ok "checkpoints succeed" || fail "no checkpoint"

# The disk full to the last byte while messages keep coming.
fill_up && ok "state dir full: $(df -B1 --output=avail "$tmp/state" | tail -1 | tr -d " ") bytes free" || fail "could not fill the disk"
failed0=$(metric 'vigil_checkpoints_total{result="failed"}')
feed 100 150
wait_for 15 metric_at_least 'vigil_checkpoints_total{result="failed"}' $((${failed0:-0} + 3)) \
  && ok "failed checkpoints counted: $(metric 'vigil_checkpoints_total{result="failed"}')" \
  || fail "no failed checkpoint counted: $(metric 'vigil_checkpoints_total{result="failed"}')"
grep -q "checkpoint .* failed (retried with the next one): .*No space left on device" "$tmp/err" \
  && ok "RocksDB's failure is logged: $(grep -m1 -o 'checkpoint [0-9]* failed.*' "$tmp/err" | cut -c1-200)" \
  || fail "no log line for a checkpoint failed in RocksDB: $(grep -m1 'checkpoint' "$tmp/err")"
sleep 6  # RocksDB's own info log is flushed every 5 s: the old abort came with it
kill -0 "$vpid" 2>/dev/null && curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null && ! aborted \
  && ok "vigil keeps running with the disk full" || { fail "vigil died with the disk full"; tail -5 "$tmp/err"; }
alerts0=$(wc -l <"$tmp/out/alerts.ndjson")
feed 250 50
wait_for 10 lines_more_than "$tmp/out/alerts.ndjson" "$alerts0" \
  && ok "alerts keep reaching the sink after the failures ($alerts0 -> $(wc -l <"$tmp/out/alerts.ndjson"))" \
  || fail "no new alert while the disk is full"

# Space returns: checkpoints succeed again, without a restart.
empty_up
ok0=$(metric 'vigil_checkpoints_total{result="ok"}')
feed 300 50
wait_for 15 metric_at_least 'vigil_checkpoints_total{result="ok"}' $((${ok0:-0} + 2)) \
  && ok "checkpoints succeed again once space returned ($ok0 -> $(metric 'vigil_checkpoints_total{result="ok"}'))" \
  || { fail "checkpoints still fail after space returned"; grep "checkpoint" "$tmp/err" | tail -3; }
grep -q "written after [0-9]* failed checkpoint(s): state is durable again" "$tmp/err" && ok "the recovery is logged" \
  || fail "no log line for the recovery"
stop_vigil 0

# Restart; the disk fills again and SIGTERM comes while it is full: the
# final checkpoint fails (exit 1), nothing aborts.
start_vigil && ok "restarted on the same state dir" || { fail "restart"; tail -5 "$tmp/err"; finish; }
feed 350 30
wait_for 10 metric_at_least 'vigil_checkpoints_total{result="ok"}' 1 || fail "no checkpoint after the restart"
fill_up || fail "could not fill the disk again"
failed0=$(metric 'vigil_checkpoints_total{result="failed"}')
feed 380 40
wait_for 15 metric_at_least 'vigil_checkpoints_total{result="failed"}' $((${failed0:-0} + 1)) \
  || fail "no failed checkpoint the second time"
stop_vigil 1
aborted && fail "aborted: $(grep -m1 -E 'Assertion|Aborted|terminate called' "$tmp/err")" || ok "no abort at SIGTERM with the disk full"
grep -q "final checkpoint: .*No space left on device" "$tmp/err" && ok "the failed final checkpoint is logged" \
  || fail "no log line for the failed final checkpoint"
empty_up

# Restart once more and run to the end of the file (follow: false):
# everything consistent with one replay.
feed 420 40
lines=$(wc -l <"$tmp/in.ndjson")
VIGIL_TEST_STATE_MIN_FREE_BYTES=0 timeout 30 "$vigil" run "$tmp/rules-to-end.yaml" >/dev/null 2>>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && ok "restarted after the full disk at SIGTERM, ran to the end of the input: exit 0" \
  || fail "last run: exit $rc"
grep -qi "corrupt" "$tmp/err" && fail "corruption reported: $(grep -m1 -i corrupt "$tmp/err")"
aborted && fail "aborted: $(grep -m1 -E 'Assertion|Aborted|terminate called' "$tmp/err")"
"$vigil" replay --no-progress "$tmp/rules-to-end.yaml" "$tmp/in.ndjson" -o "$tmp/replay.ndjson" 2>/dev/null
alert_set "$tmp/out/alerts.ndjson" >"$tmp/run.set"
alert_set "$tmp/replay.ndjson" >"$tmp/replay.set"
if cmp -s "$tmp/run.set" "$tmp/replay.set"; then
  ok "alerts of all runs = vigil replay ($(wc -l <"$tmp/replay.set") transitions, $lines messages)"
else
  fail "alerts differ from replay: $(diff "$tmp/run.set" "$tmp/replay.set" | grep -c '^[<>]') lines; first: $(diff "$tmp/run.set" "$tmp/replay.set" | grep -m3 '^[<>]' | tr '\n' ' ')"
fi
echo "rocksdb_write_error: $((SECONDS - t_start)) s"
finish
