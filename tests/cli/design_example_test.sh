#!/usr/bin/env bash
# DESIGN.md's own example rules file (the first ```yaml block of its "Rules
# file (YAML)" section) passes `vigil check`: external tests hold vigil to
# DESIGN.md to the letter. The example's plugin rule names
# ./librule_kurtosis.so, copied beside the file from the example plugins;
# VIGIL_TOKEN, which its http section names, is set.
#   design_example_test.sh PATH/TO/vigil PLUGIN_DIR [DESIGN.md]
# DESIGN.md defaults to ../shared/DESIGN.md beside the checkout; when it is
# absent the test is skipped (exit 77) with a message saying so.
set -u
vigil=$(realpath "$1")
plugins=$2
here=$(cd "$(dirname "$0")" && pwd)
design=${3:-$here/../../../shared/DESIGN.md}
if [ ! -f "$design" ]; then
  echo "SKIP: $design not found (DESIGN.md lives in ../shared beside the checkout)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

awk '/^```yaml/ { inside = 1; next } inside && /^```/ { exit } inside { print }' "$design" >"$tmp/rules.yaml"
if grep -q '^rules:' "$tmp/rules.yaml"; then ok "extracted the example ($(wc -l <"$tmp/rules.yaml") lines)"; else fail "no rules file in the first yaml block of $design"; fi
cp "$plugins/librule_kurtosis.so" "$tmp/" && ok "librule_kurtosis.so beside it" || fail "no $plugins/librule_kurtosis.so"

(cd "$tmp" && VIGIL_TOKEN=design-example-token "$vigil" check rules.yaml) >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ]; then ok "vigil check accepts it: $(cat "$tmp/out")"; else fail "vigil check exit $rc:"; sed 's/^/   | /' "$tmp/err"; fi
# From another directory too: relative paths are the rules file's.
VIGIL_TOKEN=design-example-token "$vigil" check "$tmp/rules.yaml" >"$tmp/out" 2>"$tmp/err" &&
  ok "also when checked from elsewhere" || { fail "vigil check $tmp/rules.yaml:"; sed 's/^/   | /' "$tmp/err"; }

[ "$fails" -eq 0 ] && echo "all design example checks passed" || echo "$fails failure(s)"
[ "$fails" -eq 0 ]
