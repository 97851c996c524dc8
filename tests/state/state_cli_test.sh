#!/usr/bin/env bash
# The state dir as operators meet it: restarts keep the state of unchanged
# rules and drop that of changed ones (with a log line), SIGHUP reloads
# the rules file (a broken file is refused and the running rules stay),
# `vigil state inspect` shows open alerts with their ids, --reset-state
# starts over, and a corrupt or foreign state dir is a clear error (exit 1).
#   state_cli_test.sh VIGIL WORKDIR
set -uo pipefail
vigil=$(realpath "$1")
work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work"
failures=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
check() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
# wait_for SECONDS COMMAND: polls COMMAND every 50 ms.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until eval "$@" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.05
  done
}
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; }
trap cleanup EXIT

write_rules() {  # write_rules AVG_THRESHOLD [EXTRA_YAML]
  cat > rules.yaml <<YAML
engine: {shards: 2, state_dir: ./state, checkpoint_interval: 100ms}
sources:
  - name: data
    file: {path: data.ndjson, follow: true}
sinks:
  - file: {path: alerts.ndjson}
rules:
  - name: hot
    key: [dev]
    when: x > 5
  - name: avg
    key: [dev]
    window: {size: 10s}
    when: avg(x) > $1
${2:-}
YAML
}
start() { "$vigil" run rules.yaml "$@" 2>>run.log & pid=$!; wait_for 10 "grep -q 'Ctrl-C to stop' run.log"; }
stop() { kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=; return $rc; }
lines() { wc -l < alerts.ndjson 2>/dev/null || echo 0; }

# --- A restart keeps the open alert of an unchanged rule ---------------------
write_rules 3
: > data.ndjson
start
echo '{"ts":1000000,"dev":"a","x":9}' >> data.ndjson
echo '{"ts":1001000,"dev":"b","x":9}' >> data.ndjson
wait_for 10 '[ "$(lines)" -ge 2 ]' || fail "the first run emitted no alerts"
check "SIGTERM: clean stop, exit 0" 'stop'
raise_id=$(grep '"rule":"hot".*"dev":"a".*"raised"' alerts.ndjson | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
check "inspect: valid JSON" '"$vigil" state inspect state > inspect.json && python3 -m json.tool inspect.json >/dev/null'
check "inspect: the open alert of hot/a with the id of its raise" "grep -q '\"alert_id\":\"$raise_id\"' inspect.json"
check "inspect: the source position" "grep -q '\"position\":\"file1 ' inspect.json"
check "inspect --key dev=b lists that key only" \
  '"$vigil" state inspect state --key dev=b | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"keys\"] and all(k[\"key\"][\"dev\"]==\"b\" for k in d[\"keys\"])"'

start
wait_for 10 "grep -q 'restored .* key states' run.log" || true
check "restart: state restored (logged)" "grep -q 'restored .* key states' run.log"
echo '{"ts":1002000,"dev":"a","x":1}' >> data.ndjson
wait_for 10 "grep -q '\"cleared\"' alerts.ndjson" || true
check "restart: the clear carries the id of the raise before the restart" \
  "grep -q '\"id\":\"$raise_id\",\"rule\":\"hot\",\"key\":{\"dev\":\"a\"},\"state\":\"cleared\"' alerts.ndjson"
check "restart: nothing re-read (no second raise of hot/a at 1000000)" \
  '[ "$(grep -c "\"id\":\"$raise_id\".*\"raised\"" alerts.ndjson)" -eq 1 ]'
stop

# --- A changed rule starts fresh; unchanged ones keep their state -------------
write_rules 4
: > run.log
start
wait_for 10 "grep -q 'restored .* key states' run.log" || true
check "changed rule: its state is dropped, with a log line" "grep -q \"rule 'avg' changed since its state was saved\" run.log"
check "unchanged rule: no such line for hot" "! grep -q \"rule 'hot' changed\" run.log"
stop
check "inspect after the change: hot's open alert of dev=b is still there" \
  '"$vigil" state inspect state | python3 -c "import json,sys; d=json.load(sys.stdin); assert any(a[\"rule\"]==\"hot\" and a[\"key\"][\"dev\"]==\"b\" for a in d[\"open_alerts\"])"'

# --- SIGHUP: a broken file is refused, the running rules stay ------------------
: > run.log
start
cp rules.yaml good.yaml
printf '  - name: broken\n    when: x >\n' >> rules.yaml
kill -HUP "$pid"
wait_for 10 "grep -q 'reload refused' run.log" || true
check "reload with a broken file: refused with file:line:col" "grep -q 'rules.yaml:[0-9]*:[0-9]*: rule .broken.' run.log"
check "reload with a broken file: still running" 'kill -0 "$pid"'
echo '{"ts":1003000,"dev":"c","x":9}' >> data.ndjson
wait_for 10 "grep -q '\"dev\":\"c\"' alerts.ndjson" || true
check "the running rules still alert" "grep -q '\"rule\":\"hot\",\"key\":{\"dev\":\"c\"}' alerts.ndjson"
write_rules 4 '  - name: cold
    key: [dev]
    when: x < 0'
kill -HUP "$pid"
wait_for 10 "grep -q 'restored .* key states' run.log" || true
echo '{"ts":1004000,"dev":"c","x":-5}' >> data.ndjson
wait_for 10 "grep -q '\"rule\":\"cold\"' alerts.ndjson" || true
check "reload with a valid file: the new rule alerts" "grep -q '\"rule\":\"cold\",\"key\":{\"dev\":\"c\"},\"state\":\"raised\"' alerts.ndjson"
check "reload: hot/c cleared by the same message, with its old id (state kept)" \
  "[ \$(grep -c '\"rule\":\"hot\",\"key\":{\"dev\":\"c\"}' alerts.ndjson) -eq 2 ]"
check "reload: the engine never went down" 'kill -0 "$pid"'
stop

# --- --reset-state -------------------------------------------------------------
n_before=$(lines)
: > run.log
start --reset-state
check "--reset-state: logged" "grep -q 'reset-state' run.log"
wait_for 10 '[ "$(lines)" -gt "$n_before" ]' || true
check "--reset-state: the data is read again from the start" \
  "[ \$(grep -c '\"id\":\"$raise_id\".*\"raised\"' alerts.ndjson) -eq 2 ]"
stop

# --- Corrupt and foreign state dirs --------------------------------------------
for f in state/db/MANIFEST-* state/db/CURRENT; do echo garbage > "$f"; done
"$vigil" run rules.yaml > out.txt 2>&1; rc=$?
check "corrupt state dir: exit 1 (got $rc)" '[ $rc -eq 1 ]'
check "corrupt state dir: the error names the path" "grep -q 'state' out.txt && grep -q \"$(basename "$work")\" out.txt || grep -q './state' out.txt"
rm -rf state && mkdir -p state/db && echo hello > state/db/notes.txt
"$vigil" run rules.yaml > out.txt 2>&1; rc=$?
check "foreign state dir: exit 1 (got $rc)" '[ $rc -eq 1 ]'
check "foreign state dir: says so" "grep -q 'not a vigil state database' out.txt"
check "foreign state dir: nothing deleted" '[ -f state/db/notes.txt ]'

if [ $failures -gt 0 ]; then
  echo "--- run.log"; cat run.log
  echo "$failures failed"; exit 1
fi
echo "all state CLI checks passed"
