#!/usr/bin/env bash
# The live page (`/`) in headless Chromium (Debian's chromium, driven by
# playwright-core) against a running `vigil run`: once the page's event stream
# is connected, an alert raised through POST /api/v1/alerts must appear in its
# DOM within a second. A screenshot is kept as a test artifact.
#   live_page_test.sh PATH/TO/vigil ARTIFACT_DIR
set -u
vigil=$1
artifacts=$2
here=$(cd "$(dirname "$0")/../browser" && pwd)
mkdir -p "$artifacts"
command -v chromium >/dev/null || { echo "FAIL: chromium is not installed (scripts/setup.sh installs it)"; exit 1; }
command -v node >/dev/null || { echo "FAIL: node is not installed"; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --silent --no-audit --no-fund) || { echo "FAIL: npm ci in $here"; exit 1; }
fi
tmp=$(mktemp -d)
vpid=""
cleanup() { [ -n "$vpid" ] && kill "$vpid" 2>/dev/null && wait "$vpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$tmp/rules.yaml" <<YAML
http: {listen: "127.0.0.1:$port"}
sources:
  - name: api
    http: {}
rules:
  - {name: hot, key: [device], when: temp > 30, severity: critical}
YAML
"$vigil" run "$tmp/rules.yaml" >"$tmp/out" 2>"$tmp/err" &
vpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
node "$here/live_page_check.js" "http://127.0.0.1:$port" "$artifacts/live_page.png"
