#!/usr/bin/env bash
# The main job: installs what is missing, builds vigil, generates 6 hours of
# warehouse data with injected anomalies (overheating, a drifting sensor, a
# stuck sensor, a silent device and zone, malformed lines) and replays it
# through examples/warehouse/rules.yaml: alerts scroll on the terminal.
#   scripts/demo.sh [HOURS]     (default 6)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build-demo -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF
hours=${1:-6}
data=$(mktemp -d)/warehouse.ndjson
echo "== vigil sim: ${hours}h of data, 30 devices in zones nord/sud/est, every anomaly"
./build-demo/vigil sim --devices 30 --zones nord,sud,est --duration "${hours}h" --period 10s \
  --anomalies spike,drift,dropout,stuck,malformed --seed 7 --out "$data"
echo "== vigil replay examples/warehouse/rules.yaml (alerts below)"
./build-demo/vigil replay examples/warehouse/rules.yaml "$data" --format text --stats "${data%.ndjson}.stats.json" \
  --dead-letter "${data%.ndjson}.rejected.ndjson"
echo "== summary: $(cat "${data%.ndjson}.stats.json")"
echo "== rejected lines and their reasons: ${data%.ndjson}.rejected.ndjson"
