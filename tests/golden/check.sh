#!/usr/bin/env bash
# Replays every golden regression case (see README.md) with 1, 2 and 4 shards.
#   check.sh PATH/TO/vigil [PATH/TO/compare.py]
set -u
here=$(cd "$(dirname "$0")" && pwd)
vigil=$1
compare=${2:-$here/../../../shared/conformance/compare.py}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fails=0
for case in "$here"/*/; do
  name=$(basename "$case")
  for shards in 1 2 4; do
    if ! "$vigil" replay "$case/rules.yaml" "$case"/data.* --out "$out/$name.$shards" --shards "$shards" \
         2>"$out/$name.$shards.log"; then
      echo "FAIL $name shards=$shards: exit non-zero: $(tail -2 "$out/$name.$shards.log")"; fails=$((fails + 1)); continue
    fi
    if res=$(python3 "$compare" "$case/expected.ndjson" "$out/$name.$shards"); then
      echo "ok   $name shards=$shards: $(echo "$res" | head -1)"
    else
      echo "FAIL $name shards=$shards:"; echo "$res" | sed 's/^/     /'; fails=$((fails + 1))
    fi
  done
done
echo "$fails failed"
[ "$fails" -eq 0 ]
