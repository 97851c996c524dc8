#!/usr/bin/env bash
# Fault injection: SIGTERM while checkpoints of a large state are being
# written. vigil run follows a file that a writer keeps appending to (event
# rules with 10-minute sliding buffers over 1500 devices: ~600,000 samples
# of state, checkpointed every 20 ms); it is stopped with SIGTERM at random
# moments (seeded) and restarted each time, then runs to the end of the file
# (follow: false). Each stop must exit 0 after its final checkpoint, and the
# alerts of all runs, de-duplicated, must equal those of one `vigil replay`
# of the whole file: no state lost, none corrupted or applied twice.
#   sigterm_checkpoint_test.sh PATH/TO/vigil [STOPS] [SEED]
here=$(cd "$(dirname "$0")" && pwd)
vigil=$(realpath "$1")
stops=${2:-8}
seed=${3:-$RANDOM}
source "$here/../lib/test_lib.sh"
RANDOM=$seed
echo "sigterm_checkpoint: seed $seed, $stops stops (rerun with: $0 $vigil $stops $seed)"
t_start=$SECONDS

python3 "$here/gen_data.py" --devices 1500 --steps 400 >"$tmp/data.ndjson"
: >"$tmp/in.ndjson"
rules() {  # rules FOLLOW
  cat <<YAML
engine: {shards: 2, state_dir: $tmp/state, checkpoint_interval: 20ms}
sources:
  - name: feed
    file: {path: $tmp/in.ndjson, follow: $1}
sinks:
  - file: {path: $tmp/alerts.ndjson}
rules:
  - name: hot
    key: [device]
    when: temp > 30
    for: 5s
    clear_when: temp < 28
  - name: drift
    key: [device]
    when: abs(avg(temp, 10m) - ewma(temp, 1h)) > 2
  - name: zone-spread
    key: [zone]
    when: max(temp, 2m) - min(temp, 2m) > 13.5
YAML
}
rules true >"$tmp/follow.yaml"
rules false >"$tmp/end.yaml"
# The writer: 3000 lines every 20 ms (about 4 s for the 600,000).
python3 - "$tmp/data.ndjson" "$tmp/in.ndjson" <<'PY' &
import sys, time
lines = open(sys.argv[1]).readlines()
with open(sys.argv[2], "a") as out:
    for i in range(0, len(lines), 3000):
        out.writelines(lines[i:i + 3000])
        out.flush()
        time.sleep(0.02)
PY
wpid=$!
pids+=("$wpid")

for ((i = 1; i <= stops; i++)); do
  "$vigil" run "$tmp/follow.yaml" >/dev/null 2>>"$tmp/err" &
  vpid=$!
  pids+=("$vpid")
  sleep "0.$((3 + RANDOM % 7))"
  kill -TERM "$vpid"
  t0=$(date +%s%N)
  wait "$vpid"
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$rc" = 0 ] && ok "stop $i: SIGTERM -> exit 0 in $ms ms" || { fail "stop $i: exit $rc"; tail -3 "$tmp/err"; }
done
wait "$wpid"
"$vigil" run "$tmp/end.yaml" >/dev/null 2>>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && ok "last run to the end of the file: exit 0" || { fail "last run: exit $rc"; tail -3 "$tmp/err"; }
restored=$(grep -c "restored [0-9]* key states" "$tmp/err")
biggest=$(grep -o "restored [0-9]* key states" "$tmp/err" | awk '{print $2}' | sort -n | tail -1)
ok "$restored restarts restored state (up to $biggest key states); checkpoints: $(grep -o '[0-9]* checkpoints ([0-9]* failed)' "$tmp/err" | tr '\n' ',' )"
grep -qiE "corrupt|cannot be read|fresh" "$tmp/err" && fail "state problem reported: $(grep -m1 -iE 'corrupt|cannot be read|fresh' "$tmp/err")"
"$vigil" replay --no-progress "$tmp/end.yaml" "$tmp/data.ndjson" -o "$tmp/replay.ndjson" 2>/dev/null
alert_set "$tmp/alerts.ndjson" >"$tmp/run.set"
alert_set "$tmp/replay.ndjson" >"$tmp/replay.set"
if cmp -s "$tmp/run.set" "$tmp/replay.set"; then
  ok "alerts of all runs = vigil replay ($(wc -l <"$tmp/replay.set") transitions, $(wc -l <"$tmp/alerts.ndjson") lines written)"
else
  fail "alerts differ from replay: $(diff "$tmp/run.set" "$tmp/replay.set" | grep -c '^[<>]') lines; first: $(diff "$tmp/run.set" "$tmp/replay.set" | grep -m3 '^[<>]' | tr '\n' ' ')"
fi
echo "sigterm_checkpoint: $((SECONDS - t_start)) s"
finish
