#!/usr/bin/env bash
# CLI behaviour of the vigil binary: exit codes (0 ok, 2 usage or rules-file
# error, 1 runtime failure), error positions of `vigil check`, `vigil run` on
# a finite file source and its clean stop on SIGTERM.
#   cli_test.sh PATH/TO/vigil
set -u
vigil=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect_rc() {  # expect_rc WANT DESCRIPTION CMD...
  local want=$1 what=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $what: exit $rc, want $want"; sed 's/^/   | /' "$tmp/err" | head -5; fails=$((fails + 1))
  else
    echo "ok   $what"
  fi
}
expect_grep() {  # expect_grep FILE PATTERN DESCRIPTION
  if grep -q -- "$2" "$1"; then echo "ok   $3"; else echo "FAIL: $3: no '$2' in"; sed 's/^/   | /' "$1" | head -8; fails=$((fails + 1)); fi
}

cat >"$tmp/good.yaml" <<'YAML'
rules:
  - name: hot
    key: [device]
    when: temp > 30
YAML
cat >"$tmp/broken.yaml" <<'YAML'
engine: {shards: 2, chards: 3}
rules:
  - name: hot
    key: [device]
    wehn: temp > 30
  - name: cold
    key: [device]
    when: temp < 
    severity: urgent
  - name: hot
    key: [device]
    deadman: 5 minutes
YAML
# ts 1000 is below 1e11, so the auto unit reads it as epoch seconds (1,000,000 ms).
printf '{"ts":1000,"device":"a","temp":31}\n{"ts":2000,"device":"a","temp":20}\nnot json\n[1,2]\n' >"$tmp/data.ndjson"

expect_rc 0 "vigil --help" "$vigil" --help
expect_rc 0 "vigil replay --help" "$vigil" replay --help
expect_rc 0 "vigil check --help" "$vigil" check --help
expect_rc 0 "vigil run --help" "$vigil" run --help
expect_rc 0 "vigil sim --help" "$vigil" sim --help
expect_rc 2 "no subcommand" "$vigil"
expect_rc 2 "unknown subcommand" "$vigil" frobnicate
expect_rc 2 "unknown option" "$vigil" replay --bogus "$tmp/good.yaml" "$tmp/data.ndjson"
expect_rc 0 "vigil version" "$vigil" version
expect_grep "$tmp/out" "^vigil [0-9]" "version prints vigil X.Y.Z"

expect_rc 0 "check a good file" "$vigil" check "$tmp/good.yaml"
expect_rc 2 "check a broken file" "$vigil" check "$tmp/broken.yaml"
expect_grep "$tmp/err" "broken.yaml:1:21: unknown key 'chards' in 'engine' (did you mean 'shards'?)" "check: unknown engine key with position and hint"
expect_grep "$tmp/err" "broken.yaml:5:5: unknown key 'wehn' in rule 'hot' (did you mean 'when'?)" "check: unknown rule key with position and hint"
expect_grep "$tmp/err" "broken.yaml:8:17: rule 'cold': in 'when': expected a value" "check: expression error with column"
expect_grep "$tmp/err" "broken.yaml:9:15: rule 'cold': unknown severity 'urgent'" "check: bad severity"
expect_grep "$tmp/err" "broken.yaml:10:11: duplicate rule name 'hot'" "check: duplicate rule name"
expect_grep "$tmp/err" "broken.yaml:12:14: rule 'hot': 'deadman' must be a duration" "check: bad duration"
expect_grep "$tmp/err" "broken.yaml:3:5: rule 'hot' needs 'when'" "check: rule without a condition"
expect_grep "$tmp/err" "^7 errors" "check: reports all 7 errors, not only the first"
expect_rc 2 "check a missing file" "$vigil" check "$tmp/nope.yaml"
printf 'rules: [\n' >"$tmp/syntax.yaml"
expect_rc 2 "check a YAML syntax error" "$vigil" check "$tmp/syntax.yaml"
expect_grep "$tmp/err" "syntax.yaml:[0-9]*:[0-9]*: YAML syntax error" "check: YAML syntax error positioned"

expect_rc 0 "replay" "$vigil" replay "$tmp/good.yaml" "$tmp/data.ndjson" --stats "$tmp/stats.json" --no-progress
expect_grep "$tmp/out" '"rule":"hot","key":{"device":"a"},"state":"raised"' "replay writes the raise to stdout"
expect_grep "$tmp/out" '"state":"cleared"' "replay writes the clear to stdout"
expect_grep "$tmp/stats.json" '"messages":4,"rejected":{"invalid_json":1,"not_object":1}' "replay stats count the malformed line"
expect_rc 2 "replay with a broken rules file" "$vigil" replay "$tmp/broken.yaml" "$tmp/data.ndjson"
expect_rc 1 "replay of a missing input" "$vigil" replay "$tmp/good.yaml" "$tmp/missing.ndjson"
expect_grep "$tmp/err" "cannot open '$tmp/missing.ndjson'" "replay names the missing input"
expect_rc 0 "replay from stdin" bash -c "\"$vigil\" replay \"$tmp/good.yaml\" - <\"$tmp/data.ndjson\""
expect_grep "$tmp/out" '"state":"raised"' "replay from stdin emits alerts"

# A UTF-8 byte-order mark before the first line (spreadsheet exports) is
# not part of the data: the CSV header's first column is "ts", the first
# NDJSON line is JSON.
printf '\xef\xbb\xbfts,device,temp\n1732233600000,a,31\n' >"$tmp/bom.csv"
printf '\xef\xbb\xbf{"ts":1732233600000,"device":"b","temp":31}\n' >"$tmp/bom.ndjson"
expect_rc 0 "replay of files starting with a byte-order mark" "$vigil" replay "$tmp/good.yaml" "$tmp/bom.csv" "$tmp/bom.ndjson" \
  --stats "$tmp/bom.json" --no-progress
expect_grep "$tmp/out" '"key":{"device":"a"},"state":"raised","severity":"warning","ts":1732233600000' "BOM: the CSV header's ts column is read"
expect_grep "$tmp/out" '"key":{"device":"b"},"state":"raised"' "BOM: the first NDJSON line is read"
expect_grep "$tmp/bom.json" '"rejected_total":0' "BOM: nothing rejected"

# engine.key_ttl: a key silent for longer than the TTL loses its state, but
# never while a rule's sliding window still reaches its samples (here a
# 1-hour average): eviction does not change results.
cat >"$tmp/ttl.yaml" <<'YAML'
engine: {key_ttl: 1m}
rules:
  - name: avg-hot
    key: [device]
    when: avg(temp, 1h) > 30
  - name: hot
    key: [device]
    when: temp > 35
YAML
{
  echo '{"ts":1732233600000,"device":"a","temp":40}'   # avg 40: raise; hot: raise
  echo '{"ts":1732233610000,"device":"a","temp":10}'   # avg 25: clear; hot: clear
  for i in $(seq 1 30); do echo "{\"ts\":$((1732233610000 + i * 10000)),\"device\":\"b\",\"temp\":20}"; done
  echo '{"ts":1732233960000,"device":"a","temp":31}'   # the hour still holds 40 and 10: avg 27, no raise
} >"$tmp/ttl.ndjson"
expect_rc 0 "replay with key_ttl" "$vigil" replay "$tmp/ttl.yaml" "$tmp/ttl.ndjson" --stats "$tmp/ttl.json" --no-progress
if [ "$(grep -c '"rule":"avg-hot","key":{"device":"a"},"state":"raised"' "$tmp/out")" -eq 1 ] &&
   ! grep -q '"ts":1732233960000' "$tmp/out"; then
  echo "ok   key_ttl keeps a key whose 1-hour window still holds its samples (avg 27 at the return: no raise)"
else
  echo "FAIL: key_ttl changed the 1-hour average"; cat "$tmp/out"; fails=$((fails + 1))
fi
expect_grep "$tmp/ttl.json" '"evicted_keys":1,' "stats count the key evicted from the rule without aggregates"
sed -i 's/key_ttl: 1m/key_ttl: 24h/' "$tmp/ttl.yaml"
expect_rc 0 "replay with the default key_ttl" "$vigil" replay "$tmp/ttl.yaml" "$tmp/ttl.ndjson" --stats "$tmp/ttl.json" --no-progress
expect_grep "$tmp/ttl.json" '"evicted_keys":0,' "the default key_ttl evicts nothing here"

# vigil run on a finite file source: processes to the end, writes the file sink, exits 0.
cat >"$tmp/run.yaml" <<YAML
sources:
  - name: data
    file: {path: data.ndjson, follow: false}
rules:
  - name: hot
    key: [device]
    when: temp > 30
  - name: win
    key: [device]
    window: {size: 10s}
    when: max(temp) > 30
sinks:
  - file: {path: alerts.ndjson}
YAML
expect_rc 0 "run with follow: false exits 0 at the end" timeout 20 "$vigil" run "$tmp/run.yaml"
expect_grep "$tmp/alerts.ndjson" '"rule":"hot"' "run writes alerts to the file sink (path relative to the rules file)"
expect_grep "$tmp/vigil-state/dead-letter.ndjson" '"reason":"invalid_json","where":"[^"]*data.ndjson:3","message":"not json"' "run dead-letters rejected lines by default in the state dir, with reason and place"
expect_grep "$tmp/vigil-state/dead-letter.ndjson" '"reason":"not_object"' "run dead-letters a non-object"
expect_grep "$tmp/alerts.ndjson" '"rule":"win","key":{"device":"a"},"state":"raised","severity":"warning","ts":1010000' "run closes open windows at the end of a finite source"
cat >"$tmp/nosrc.yaml" <<'YAML'
rules:
  - {name: hot, when: temp > 30}
YAML
expect_rc 2 "run without sources" "$vigil" run "$tmp/nosrc.yaml"

# vigil run with follow: true keeps running, picks up appended lines, stops on SIGTERM with exit 0.
sed 's/follow: false/follow: true/; s/alerts.ndjson/follow-alerts.ndjson/' "$tmp/run.yaml" >"$tmp/follow.yaml"
: >"$tmp/follow-alerts.ndjson"
"$vigil" run "$tmp/follow.yaml" >"$tmp/run.out" 2>"$tmp/run.err" &
pid=$!
sleep 1
printf '{"ts":3000,"device":"b","temp":35}\n' >>"$tmp/data.ndjson"
for _ in $(seq 50); do grep -q '"device":"b"' "$tmp/follow-alerts.ndjson" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$rc" -eq 0 ]; then echo "ok   run stops on SIGTERM with exit 0"; else echo "FAIL: run exit $rc on SIGTERM"; fails=$((fails + 1)); fi
expect_grep "$tmp/follow-alerts.ndjson" '"key":{"device":"b"}' "run follows an appended line"

# Bash completion, generated from the CLI definition.
expect_rc 0 "vigil completion bash" "$vigil" completion bash
expect_rc 2 "vigil completion of an unknown shell" "$vigil" completion tcsh
"$vigil" completion bash >"$tmp/completion.bash"
complete_words() {  # complete_words WORD...: what bash offers for the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _vigil; echo "${COMPREPLY[*]}"' _ \
    "$tmp/completion.bash" "$@"
}
[ "$(complete_words vigil ru)" = "run" ] && echo "ok   completion: vigil ru -> run" ||
  { echo "FAIL: completion of 'ru': $(complete_words vigil ru)"; fails=$((fails + 1)); }
[ "$(complete_words vigil run --log-f)" = "--log-format" ] && echo "ok   completion: vigil run --log-f -> --log-format" ||
  { echo "FAIL: completion of 'run --log-f': $(complete_words vigil run --log-f)"; fails=$((fails + 1)); }
[ "$(complete_words vigil state ins)" = "inspect" ] && echo "ok   completion: vigil state ins -> inspect" ||
  { echo "FAIL: completion of 'state ins': $(complete_words vigil state ins)"; fails=$((fails + 1)); }
case " $(complete_words vigil sim --mq) " in *" --mqtt "*) echo "ok   completion: sim options include --mqtt";;
  *) echo "FAIL: completion of 'sim --mq': $(complete_words vigil sim --mq)"; fails=$((fails + 1));; esac

echo "$fails failed"
[ "$fails" -eq 0 ]
