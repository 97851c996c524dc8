#!/usr/bin/env bash
# Plugins through the vigil binary:
#  1. `vigil check` reports every broken plugin (wrong ABI, no entry symbol,
#     refused config) with file:line:column, exit 2;
#  2. `vigil replay` with the example decoder (hex frames) and rule
#     (kurtosis) gives the alerts an independent computation predicts;
#  3. a plugin rule's state survives kill -9: `vigil run` killed mid-stream
#     and restarted emits, with the first run, exactly replay's alerts;
#  4. a faulty plugin does not take vigil down: errors counted in
#     vigil_plugin_errors_total, the rule disabled and logged, other rules
#     go on, /metrics passes promtool;
#  5. the example plugins built out of tree against an installed vigil
#     (cmake --install, find_package(vigil)) load and give the same alerts.
#   plugin_cli_test.sh VIGIL EXAMPLE_PLUGIN_DIR TEST_PLUGIN_DIR SOURCE_DIR BUILD_DIR
set -u
vigil=$1 examples=$2 testplugins=$3 src=$4 build=$5
# tmp, pids (stopped at exit), ok/fail, free_port, wait_for, metric: tests/lib/test_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/test_lib.sh"
# Alerts as sorted "rule key state ts id count" lines, duplicates (same id and state) once.
brief() { python3 -c '
import json, sys
seen = set()
for path in sys.argv[1:]:
    for line in open(path):
        a = json.loads(line)
        k = (a["id"], a["state"])
        if k in seen: continue
        seen.add(k)
        print(a["rule"], "/".join(a["key"].values()), a["state"], a["ts"], a["id"], a["count"])
' "$@" | sort; }

# --- 1. load errors -------------------------------------------------------
cp "$testplugins"/libfault_abi.so "$testplugins"/libfault_nosymbol.so "$examples"/librule_kurtosis.so "$tmp/"
cat >"$tmp/bad.yaml" <<'YAML'
rules:
  - name: future
    plugin: {path: ./libfault_abi.so}
  - name: nothing
    plugin: {path: libfault_nosymbol.so}
  - name: tiny
    key: [device]
    plugin: {path: ./librule_kurtosis.so, config: {field: vib, limit: 4, samples: 2}}
YAML
"$vigil" check "$tmp/bad.yaml" >"$tmp/check.out" 2>&1
rc=$?
[ $rc = 2 ] && ok "check of broken plugins exits 2" || fail "check exit $rc"
grep -q "bad.yaml:3:20: rule 'future': plugin '.*libfault_abi.so': plugin ABI version 99.0 is not supported by this vigil (ABI 1.0)" "$tmp/check.out" \
  && ok "ABI mismatch names both versions" || fail "ABI message: $(cat "$tmp/check.out")"
grep -q "bad.yaml:5:20: rule 'nothing': plugin '.*libfault_nosymbol.so' does not export vigil_plugin_entry()" "$tmp/check.out" \
  && ok "missing entry symbol reported" || fail "no-symbol message"
grep -q "bad.yaml:8:51: rule 'tiny': plugin 'kurtosis' refused its config: samples must be between 8 and 100000" "$tmp/check.out" \
  && ok "refused config reported with the plugin's reason" || fail "config refusal message"

# --- 2. replay with the example decoder and rule --------------------------
cp "$examples"/libdecoder_hexframe.so "$tmp/"
cat >"$tmp/rules.yaml" <<'YAML'
engine: {state_dir: ${STATE:-./state}, checkpoint_interval: 200ms}
sources:
  - name: field
    file: {path: ${INPUT:-in.ndjson}, follow: ${FOLLOW:-false}}
    decoder:
      path: ./libdecoder_hexframe.so
      match: {devicetype: th-v1}
rules:
  - name: hot
    key: [deviceid]
    when: temperature > 30
  - name: impulses
    key: [device]
    plugin: {path: ./librule_kurtosis.so, config: {field: vib, samples: 16, limit: 2, clear_below: 0.5}}
sinks:
  - file: {path: ${OUT:-alerts.ndjson}}
YAML
python3 - "$tmp" <<'PY'
import json, random, sys
d = sys.argv[1]
rng = random.Random(11)
def frame(t, h, b, f):
    t = int(round(t * 100)) & 0xffff; h = int(round(h * 100))
    bs = [t >> 8, t & 255, h >> 8, h & 255, b, f]; x = 0
    for v in bs: x ^= v
    return "".join("%02X" % v for v in bs + [x])
lines, expected = [], []
windows, firing, hot = {}, {}, {}
cut = None  # where to split the input for the restart: while a plugin alert is open
for i in range(900):
    ts = 1700000000000 + i * 1000
    if cut is None and i >= 450 and any(firing.values()): cut = i
    if i % 3 == 0:
        dev = "t%d" % (i % 2)
        t = 20 + 15 * (((i // 40) % 3) == 2) + rng.random()
        lines.append({"ts": ts, "deviceid": dev, "devicetype": "th-v1", "payload": frame(t, 50, 90, 0)})
        was = hot.get(dev, False)
        if t > 30 and not was: expected.append(("hot", dev, "raised", ts)); hot[dev] = True
        if t <= 30 and was: expected.append(("hot", dev, "cleared", ts)); hot[dev] = False
        continue
    dev = "m%d" % (i % 3)
    v = rng.gauss(0, 1)
    if (i // 100) % 2 == 1 and rng.random() < 0.08: v *= 15
    lines.append({"ts": ts, "device": dev, "vib": v})
    w = windows.setdefault(dev, [])
    w.append(v)
    if len(w) > 16: w.pop(0)
    if len(w) < 16: continue
    m = sum(w) / 16; m2 = sum((x - m) * (x - m) for x in w) / 16
    m4 = sum(((x - m) * (x - m)) * ((x - m) * (x - m)) for x in w) / 16
    k = m4 / (m2 * m2) - 3 if m2 > 0 else 0
    if k > 2 and not firing.get(dev): expected.append(("impulses", dev, "raised", ts)); firing[dev] = True
    elif k <= 0.5 and firing.get(dev): expected.append(("impulses", dev, "cleared", ts)); firing[dev] = False
with open(d + "/in.ndjson", "w") as f:
    for l in lines: f.write(json.dumps(l) + "\n")
with open(d + "/part1.ndjson", "w") as f:
    for l in lines[:cut]: f.write(json.dumps(l) + "\n")
with open(d + "/part2.ndjson", "w") as f:
    for l in lines[cut:]: f.write(json.dumps(l) + "\n")
with open(d + "/cut_ts", "w") as f:
    f.write("%d\n" % lines[cut]["ts"])
with open(d + "/expected.txt", "w") as f:
    for e in sorted(expected, key=lambda e: (e[3], e[0], e[1])): f.write("%s %s %s %d\n" % e)
PY
(cd "$tmp" && "$vigil" replay rules.yaml in.ndjson --out replay.ndjson 2>/dev/null)
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    print(a["rule"], "/".join(a["key"].values()), a["state"], a["ts"])
' "$tmp/replay.ndjson" | sort -k4,4n -k1,1 -k2,2 >"$tmp/got.txt"
n=$(wc -l <"$tmp/expected.txt")
if [ "$n" -ge 8 ] && diff "$tmp/expected.txt" "$tmp/got.txt" >"$tmp/diff.txt"; then
  ok "replay: $n alerts of decoded frames and kurtosis, as computed independently"
else
  fail "replay alerts differ from the reference ($n expected):"; head -20 "$tmp/diff.txt"
fi

# --- 3. kill -9 and restart -----------------------------------------------
: >"$tmp/live.ndjson"
cat "$tmp/part1.ndjson" >>"$tmp/live.ndjson"
(cd "$tmp" && exec env STATE=./live-state INPUT=live.ndjson FOLLOW=true OUT=run1.ndjson "$vigil" run rules.yaml >/dev/null 2>"$tmp/run1.err") &
pids+=($!)
(cd "$tmp" && "$vigil" replay rules.yaml part1.ndjson --out part1.alerts 2>/dev/null)
want1=$(wc -l <"$tmp/part1.alerts")
wait_for 20 bash -c "[ \$(cat '$tmp/run1.ndjson' 2>/dev/null | wc -l) -ge $want1 ]" || fail "run 1 did not emit part 1's $want1 alerts"
sleep 1  # a few checkpoints (200 ms) after the last event
kill -9 "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null
cat "$tmp/part2.ndjson" >>"$tmp/live.ndjson"
(cd "$tmp" && exec env STATE=./live-state INPUT=live.ndjson FOLLOW=true OUT=run2.ndjson "$vigil" run rules.yaml >/dev/null 2>"$tmp/run2.err") &
pids+=($!)
total=$(wc -l <"$tmp/replay.ndjson")
wait_for 20 bash -c "[ \$(cat '$tmp/run1.ndjson' '$tmp/run2.ndjson' 2>/dev/null | python3 -c 'import sys,json; print(len({(json.loads(l)[\"id\"], json.loads(l)[\"state\"]) for l in sys.stdin}))') -ge $total ]"
sleep 0.5
kill -TERM "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null
if diff <(brief "$tmp/replay.ndjson") <(brief "$tmp/run1.ndjson" "$tmp/run2.ndjson") >"$tmp/diff3.txt"; then
  ok "kill -9 + restart: the two runs together emit replay's $total alerts (same ids and counts)"
else
  fail "alerts after kill -9 differ from replay:"; head -10 "$tmp/diff3.txt"
fi
# The restored plugin state mattered: starting part 2 without it gives other alerts.
(cd "$tmp" && "$vigil" replay rules.yaml part2.ndjson --out fresh2.ndjson 2>/dev/null)
if ! diff -q <(brief "$tmp/replay.ndjson" | awk -v c="$(cat "$tmp/cut_ts")" '$4 >= c' | grep impulses | cut -d' ' -f1-4) \
             <(brief "$tmp/fresh2.ndjson" | grep impulses | cut -d' ' -f1-4) >/dev/null; then
  ok "without the restored state part 2 alone would alert differently (the test is meaningful)"
else
  fail "part 2 alone gives the same plugin alerts: the restart test proves nothing"
fi

# --- 4. a faulty plugin at run time -----------------------------------------
cp "$testplugins"/libfault_c.so "$testplugins"/libfault_raw.so "$tmp/"
port=$(free_port)
cat >"$tmp/faulty.yaml" <<YAML
engine: {state_dir: ./faulty-state}
http: {listen: "127.0.0.1:$port"}
sources:
  - name: api
    http: {}
rules:
  - name: fragile
    key: [dev]
    plugin: {path: ./libfault_c.so, max_errors: 3}
  - name: raw
    key: [dev]
    plugin: {path: ./libfault_raw.so, max_errors: 0}
  - name: builtin
    key: [dev]
    when: x > 10
sinks:
  - file: {path: faulty.ndjson}
YAML
(cd "$tmp" && exec "$vigil" run faulty.yaml >/dev/null 2>"$tmp/faulty.err") &
vpid=$!
pids+=($vpid)
base="http://127.0.0.1:$port"
wait_for 15 curl -sf "$base/readyz" || fail "faulty: vigil not ready"
now=$(date +%s%3N)
for i in 1 2 3 4 5; do printf '{"ts":%d,"dev":"a","x":-%d}\n' $((now + i)) "$i"; done >"$tmp/neg.ndjson"
printf '{"ts":%d,"dev":"b","x":50}\n' $((now + 10)) >>"$tmp/neg.ndjson"
curl -sf -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/neg.ndjson" "$base/api/v1/ingest" >/dev/null \
  || fail "ingest refused"
wait_for 10 grep -q '"rule":"builtin".*"state":"raised"' "$tmp/faulty.ndjson" \
  && ok "the built-in rule still alerts beside faulty plugins" || fail "no builtin alert"
curl -sf "$base/metrics" >"$tmp/metrics.txt"
grep -q '^vigil_plugin_errors_total{plugin="fault_c",rule="fragile"} 3$' "$tmp/metrics.txt" \
  && ok "vigil_plugin_errors_total counts the C plugin's errors up to max_errors (3)" \
  || fail "fault_c errors: $(grep plugin_errors "$tmp/metrics.txt")"
grep -q '^vigil_plugin_errors_total{plugin="fault_raw",rule="raw"} 6$' "$tmp/metrics.txt" \
  && ok "exceptions thrown across the ABI are caught and counted (6)" \
  || fail "fault_raw errors: $(grep plugin_errors "$tmp/metrics.txt")"
grep -q "\[fragile:fault_c:[0-9]*\] rule 'fragile' disabled after 3 plugin errors" "$tmp/faulty.err" \
  && ok "the disabled rule is logged with its name" || fail "no disable log line: $(tail -5 "$tmp/faulty.err")"
if command -v promtool >/dev/null; then
  promtool check metrics <"$tmp/metrics.txt" >/dev/null 2>&1 && ok "promtool accepts /metrics" || fail "promtool check metrics"
fi
kill -0 $vpid 2>/dev/null && ok "vigil is still running" || fail "vigil died"
kill -TERM $vpid; wait $vpid; rc=$?
[ $rc = 0 ] && ok "SIGTERM: exit 0" || fail "exit after SIGTERM: $rc"

# --- 5. out of tree, against an installed vigil -----------------------------
if cmake --install "$build" --prefix "$tmp/inst" >"$tmp/install.log" 2>&1; then
  if cmake -S "$src/examples/plugins" -B "$tmp/oot" -DCMAKE_PREFIX_PATH="$tmp/inst" >"$tmp/oot.log" 2>&1 \
     && cmake --build "$tmp/oot" >>"$tmp/oot.log" 2>&1; then
    ok "examples/plugins builds out of tree with find_package(vigil)"
    mkdir -p "$tmp/ootrun"
    cp "$tmp/rules.yaml" "$tmp/in.ndjson" "$tmp/ootrun/"
    cp "$tmp/oot/librule_kurtosis.so" "$tmp/oot/libdecoder_hexframe.so" "$tmp/ootrun/"
    (cd "$tmp/ootrun" && "$tmp/inst/bin/vigil" replay rules.yaml in.ndjson --out oot.ndjson 2>/dev/null)
    diff -q <(brief "$tmp/replay.ndjson") <(brief "$tmp/ootrun/oot.ndjson") >/dev/null \
      && ok "the installed vigil runs the out-of-tree plugins: same alerts" || fail "out-of-tree plugins: other alerts"
    ls "$tmp/inst"/lib*/vigil/plugins/librule_kurtosis.so >/dev/null 2>&1 \
      && ok "the example plugins are installed under lib/vigil/plugins" || fail "example plugins not installed"
  else
    fail "out-of-tree build failed:"; tail -20 "$tmp/oot.log"
  fi
else
  fail "cmake --install failed:"; tail -20 "$tmp/install.log"
fi

echo "plugin_cli: $fails failure(s)"
[ $fails = 0 ]
