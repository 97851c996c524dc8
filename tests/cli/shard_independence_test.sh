#!/usr/bin/env bash
# Replay output is the same multiset of alerts (every field: id, value, count,
# message...) for 1, 2 and 4 shards, on simulated warehouse data with every
# anomaly and every rule kind (examples/warehouse/rules.yaml), and as NDJSON or
# split into several files (merged in event time).
#   shard_independence_test.sh PATH/TO/vigil PROJECT_DIR
set -eu
vigil=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$vigil" sim --devices 40 --zones nord,sud,est --duration 6h --anomalies all --seed 11 --out "$tmp/data.ndjson"
for n in 1 2 4; do
  "$vigil" replay "$root/examples/warehouse/rules.yaml" "$tmp/data.ndjson" --shards "$n" --out "$tmp/a$n.ndjson" \
    --no-progress 2>/dev/null
  sort "$tmp/a$n.ndjson" >"$tmp/s$n.ndjson"
done
alerts=$(wc -l <"$tmp/s1.ndjson")
[ "$alerts" -gt 50 ] || { echo "FAIL: only $alerts alerts, the data set should raise many"; exit 1; }
for kind in overheat zone-warm sensor-drift temp-spike sensor-stuck device-silent zone-silent; do
  grep -q "\"rule\":\"$kind\"" "$tmp/s1.ndjson" || { echo "FAIL: no alert of rule $kind"; exit 1; }
done
cmp "$tmp/s1.ndjson" "$tmp/s2.ndjson" || { echo "FAIL: 1 vs 2 shards differ"; diff "$tmp/s1.ndjson" "$tmp/s2.ndjson" | head; exit 1; }
cmp "$tmp/s1.ndjson" "$tmp/s4.ndjson" || { echo "FAIL: 1 vs 4 shards differ"; diff "$tmp/s1.ndjson" "$tmp/s4.ndjson" | head; exit 1; }
# Split by device into 3 files: the event-time merge gives the same alerts.
awk -v d="$tmp" '{ n = (NR % 3); print > (d "/part" n ".ndjson") }' "$tmp/data.ndjson"
"$vigil" replay "$root/examples/warehouse/rules.yaml" "$tmp/part0.ndjson" "$tmp/part1.ndjson" "$tmp/part2.ndjson" \
  --shards 2 --out "$tmp/split.ndjson" --no-progress 2>/dev/null
sort "$tmp/split.ndjson" | cmp - "$tmp/s1.ndjson" || { echo "FAIL: split input differs"; exit 1; }
echo "ok: $alerts alerts, identical for 1, 2 and 4 shards and for split input"
