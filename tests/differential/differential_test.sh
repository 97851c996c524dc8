#!/usr/bin/env bash
# Random cases through ref.py (an independent implementation of DESIGN.md's
# semantics) and `vigil replay` with 1 and 3 shards; see README.md.
#   differential_test.sh PATH/TO/vigil [FIRST_SEED] [COUNT]
set -u
here=$(cd "$(dirname "$0")" && pwd)
vigil=$(realpath "$1")
first=${2:-1}
count=${3:-40}
python3 -c 'import yaml' 2>/dev/null || { echo "python3-yaml is missing (scripts/setup.sh installs it)"; exit 1; }
work=$(mktemp -d)
ok=0
bad=0
for ((seed = first; seed < first + count; seed++)); do
  d=$work/$seed
  mkdir -p "$d"
  python3 "$here/gen.py" "$seed" "$d"
  inputs=$(ls "$d"/in* | sort | tr '\n' ' ')
  if ! "$vigil" check "$d/rules.yaml" >"$d/check.log" 2>&1; then
    echo "FAIL seed $seed: vigil check refused the rules: $(tail -2 "$d/check.log")"; bad=$((bad + 1)); continue
  fi
  python3 "$here/ref.py" "$d/rules.yaml" $inputs --out "$d/ref.ndjson" --meta "$d/ref.meta" --stats "$d/ref.stats" \
    2>"$d/ref.err" || { echo "FAIL seed $seed: ref.py failed: $(tail -2 "$d/ref.err")"; bad=$((bad + 1)); continue; }
  for n in 1 3; do
    "$vigil" replay "$d/rules.yaml" $inputs --out "$d/v$n.ndjson" --stats "$d/v$n.stats" --shards "$n" --no-progress \
      >"$d/v$n.log" 2>&1 || echo "seed $seed: vigil replay exited non-zero (shards $n)"
  done
  if python3 "$here/cmp.py" "$d/ref.ndjson" "$d/ref.meta" "$d/v1.ndjson" "$d/v3.ndjson" "$d/ref.stats" "$d/v1.stats" \
       >"$d/cmp.txt"; then
    ok=$((ok + 1))
    rm -rf "$d"
  else
    bad=$((bad + 1))
    echo "FAIL seed $seed (case kept in $d):"
    head -8 "$d/cmp.txt" | sed 's/^/    /'
  fi
done
echo "$ok agreed, $bad disagreed (seeds $first..$((first + count - 1)))"
[ "$bad" -eq 0 ] && rm -rf "$work"
[ "$bad" -eq 0 ]
