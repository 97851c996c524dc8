# Shared by the kill tests of push sources (http_kill_test.sh,
# mqtt_kill_test.sh; sourced after tests/lib/test_lib.sh): their rules, the
# replay they are compared with, and the comparison.

# The rules and sink, to follow a `sources:` section in rules.yaml.
kill_test_rules() {
  cat <<'YAML'
rules:
  - name: hot
    key: [device]
    when: temp > 30
    clear_when: temp < 28
  - name: zone-cool
    key: [zone, device]
    when: temp < 20
sinks:
  - file: {path: alerts.ndjson}
YAML
}

# replay_expected DATA: `vigil replay` of DATA through $tmp/rules.yaml into
# $tmp/replay.ndjson; sets $expected (its alert transitions).
replay_expected() {
  "$vigil" replay "$tmp/rules.yaml" "$1" --out "$tmp/replay.ndjson" 2>/dev/null || { fail "replay"; finish; }
  expected=$(alert_set "$tmp/replay.ndjson" | wc -l)
  [ "$expected" -gt 1000 ] && ok "replay: $expected alert transitions over $(wc -l <"$1") messages" ||
    fail "replay gave only $expected alerts"
}

# expect_alerts_as_replay: the alerts of $tmp/alerts.ndjson, repeats
# removed, are those of the replay.
expect_alerts_as_replay() {
  alert_set "$tmp/alerts.ndjson" >"$tmp/got.set"
  alert_set "$tmp/replay.ndjson" >"$tmp/want.set"
  if cmp -s "$tmp/got.set" "$tmp/want.set"; then
    ok "alerts across the kill = vigil replay ($expected transitions; $(wc -l <"$tmp/alerts.ndjson") lines with repeats)"
  else
    fail "alerts differ from the replay: $(comm -13 "$tmp/got.set" "$tmp/want.set" | wc -l) missing, $(comm -23 "$tmp/got.set" "$tmp/want.set" | wc -l) extra"
  fi
}
