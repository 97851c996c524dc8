#!/usr/bin/env bash
# Checks the deployment examples, so they cannot rot or drift from vigil:
#   * examples/prometheus: promtool check config, check rules, test rules;
#     every alert has a severity label, a summary and a description;
#   * examples/grafana/vigil.json: valid JSON, a Grafana dashboard with the
#     ${DS_PROMETHEUS} input, every query valid PromQL (checked by promtool);
#   * every metric name in the dashboard, the alerting rules and their tests,
#     and docs/deployment.md is one that vigil exposes (the table of
#     docs/metrics.md) or one that is designed but not exposed yet
#     (tests/examples/planned_metrics.txt);
#   * examples/systemd/vigil.service: reloads with SIGHUP, runs `vigil run`,
#     and passes `systemd-analyze verify` when that is available.
# Needs promtool (Debian package prometheus) and python3.
#   examples_check.sh REPO_ROOT
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 REPO_ROOT" >&2
  exit 2
fi
root=$(cd "$1" && pwd)
prom=$root/examples/prometheus
dashboard=$root/examples/grafana/vigil.json
unit=$root/examples/systemd/vigil.service
metrics_doc=$root/docs/metrics.md
planned=$root/tests/examples/planned_metrics.txt

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
# check NAME CMD...: runs CMD, shows its output indented, counts the result.
check() {
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then
    sed 's/^/     /' "$tmp/out"
    ok "$name"
  else
    sed 's/^/     /' "$tmp/out"
    fail "$name"
  fi
}

for tool in promtool python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL $tool not found: install it (Debian: apt-get install prometheus python3; scripts/setup.sh does)" >&2
    exit 1
  fi
done
for f in "$prom/prometheus.yml" "$prom/vigil-alerts.yml" "$prom/vigil-alerts.test.yml" "$dashboard" "$unit" \
         "$metrics_doc" "$planned"; do
  if [ ! -f "$f" ]; then
    echo "FAIL missing file: $f" >&2
    exit 1
  fi
done

# --- Prometheus ------------------------------------------------------------
check "promtool check config examples/prometheus/prometheus.yml" promtool check config "$prom/prometheus.yml"
check "promtool check rules examples/prometheus/vigil-alerts.yml" promtool check rules "$prom/vigil-alerts.yml"
check "promtool test rules examples/prometheus/vigil-alerts.test.yml" \
  promtool test rules "$prom/vigil-alerts.test.yml"

# Every alerting rule: a severity label, a summary and a description.
alerts_complete() {
  awk '
    function close_rule() {
      if (name != "" && !(sev && sum && desc)) {
        printf "alert %s lacks:%s%s%s\n", name, sev ? "" : " severity", sum ? "" : " summary", desc ? "" : " description"
        bad = 1
      }
    }
    /^[[:space:]]*- alert:/ { close_rule(); name = $3; sev = sum = desc = 0; n++ }
    /^[[:space:]]*- record:/ { close_rule(); name = "" }
    /^[[:space:]]+severity:/ { sev = 1 }
    /^[[:space:]]+summary:/ { sum = 1 }
    /^[[:space:]]+description:/ { desc = 1 }
    END { close_rule(); if (n == 0) { print "no alerting rule found"; bad = 1 } else if (!bad) print n " alerting rules, each with severity, summary and description"; exit bad }
  ' "$prom/vigil-alerts.yml"
}
check "every alert of vigil-alerts.yml has severity, summary and description" alerts_complete

# The unit tests cover at least these alerts.
tests_cover() {
  local a missing=0
  for a in VigilDown VigilCheckpointStale VigilSourceDisconnected; do
    if grep -q "alertname: $a\$" "$prom/vigil-alerts.test.yml"; then
      echo "$a is unit-tested"
    else
      echo "$a has no test in vigil-alerts.test.yml"
      missing=1
    fi
  done
  return $missing
}
check "vigil-alerts.test.yml tests VigilDown, VigilCheckpointStale, VigilSourceDisconnected" tests_cover

# --- Grafana ---------------------------------------------------------------
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
check "examples/grafana/vigil.json is valid JSON (python3 -m json.tool)" \
  bash -c 'python3 -m json.tool "$1" >/dev/null && echo "parses"' _ "$dashboard"

# Structure, and every query written out as a recording rule (dashboard
# variables replaced by plain values) so that promtool parses it as PromQL.
dashboard_structure() {
  python3 - "$dashboard" "$tmp/dashboard-queries.yml" <<'PY'
import json, sys

with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
errors = []
if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
    errors.append(f"schemaVersion {d.get('schemaVersion')!r}: expected 36 or later")
inputs = [i.get("name") for i in d.get("__inputs", [])]
if "DS_PROMETHEUS" not in inputs:
    errors.append("no DS_PROMETHEUS entry in __inputs")

panels = []
def walk(ps):
    for p in ps:
        panels.append(p)
        walk(p.get("panels", []))
walk(d.get("panels", []))

ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)):
    errors.append("panel ids are not unique")
queries = []
for p in panels:
    if p.get("type") == "row":
        continue
    title = p.get("title", "?")
    ds = p.get("datasource") or {}
    if ds.get("uid") != "${DS_PROMETHEUS}":
        errors.append(f"panel '{title}': datasource is not ${{DS_PROMETHEUS}}")
    if not p.get("targets"):
        errors.append(f"panel '{title}': no query")
    for t in p.get("targets", []):
        if not t.get("expr"):
            errors.append(f"panel '{title}': target {t.get('refId')} has no expr")
        else:
            queries.append((title, t["expr"]))
for v in d.get("templating", {}).get("list", []):
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    if v.get("type") == "query" and q and q.startswith("label_values("):
        # label_values(SELECTOR, label): the selector must be valid PromQL.
        queries.append((f"variable {v.get('name')}", q[len("label_values("):q.rindex(",")]))

subst = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$job": "vigil", "$instance": ".*"}
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, q) in enumerate(queries):
        for k, v in subst.items():
            q = q.replace(k, v)
        if "$" in q:
            errors.append(f"panel '{title}': unknown variable in {q!r}")
        out.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(q)}\n")
for e in errors:
    print(e)
if errors:
    sys.exit(1)
print(f"schemaVersion {d['schemaVersion']}, {len(panels)} panels, {len(queries)} queries, datasource ${{DS_PROMETHEUS}}")
PY
}
check "vigil.json: Grafana dashboard structure" dashboard_structure
if [ -f "$tmp/dashboard-queries.yml" ]; then
  check "vigil.json: every query is valid PromQL (promtool check rules)" \
    promtool check rules "$tmp/dashboard-queries.yml"
fi

# --- Metric names ------------------------------------------------------------
# Names exposed today: the backquoted names in the first column of the table
# of docs/metrics.md, with their type (second column). Names designed but not
# exposed yet: planned_metrics.txt, each of which docs/metrics.md must mention.
metric_names() {
  local files=("$dashboard" "$prom/vigil-alerts.yml" "$prom/vigil-alerts.test.yml")
  [ -f "$root/docs/deployment.md" ] && files+=("$root/docs/deployment.md")
  python3 - "$metrics_doc" "$planned" "${files[@]}" <<'PY'
import re, sys

doc_path, planned_path, *files = sys.argv[1:]
doc = open(doc_path, encoding="utf-8").read()
exposed = {}
for line in doc.splitlines():
    if not line.startswith("|"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 2:
        continue
    for name in re.findall(r"`([a-z_:][a-z0-9_:]*)`", cells[0]):
        exposed[name] = cells[1]
if not exposed:
    print(f"no metric found in the table of {doc_path}")
    sys.exit(1)

errors = []
planned = {}
for n, line in enumerate(open(planned_path, encoding="utf-8"), 1):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    parts = line.split()
    planned[parts[0]] = parts[1] if len(parts) > 1 else ""
    if not re.search(r"\b" + re.escape(parts[0]) + r"\b", doc):
        errors.append(f"{planned_path}:{n}: {parts[0]} is not mentioned in docs/metrics.md "
                      "(a planned metric must be documented as such)")
    if parts[0] in exposed:
        print(f"note: {parts[0]} is now in the table of docs/metrics.md: delete it from planned_metrics.txt")

known = dict(planned)
known.update(exposed)

def resolve(token):
    if token in known:
        return token
    for suffix in ("_bucket", "_sum", "_count"):
        base = token[: -len(suffix)] if token.endswith(suffix) else None
        if base and known.get(base) == "histogram":
            return base
    return None

token_re = re.compile(r"(?<![A-Za-z0-9_:])((?:vigil|process)_[a-z0-9_]+)")
used = {}
for path in files:
    text = open(path, encoding="utf-8").read()
    for m in token_re.finditer(text):
        tok = m.group(1)
        base = resolve(tok)
        if base is None:
            line = text.count("\n", 0, m.start()) + 1
            errors.append(f"{path}:{line}: {tok} is neither in docs/metrics.md's table nor in planned_metrics.txt")
        else:
            used.setdefault(base, set()).add(path.rsplit("/", 1)[-1])

for e in errors:
    print(e)
if errors:
    sys.exit(1)
for name in sorted(used):
    tag = "planned" if name in planned and name not in exposed else "exposed"
    print(f"{name} ({tag}): {', '.join(sorted(used[name]))}")
PY
}
check "metric names of the dashboard, the alerts and docs/deployment.md are those of docs/metrics.md (or planned)" \
  metric_names

# The dashboard shows at least these.
dashboard_covers() {
  local m missing=0
  for m in vigil_messages_received_total vigil_messages_rejected_total vigil_events_processed_total \
           vigil_pipeline_latency_seconds_bucket vigil_event_lag_seconds_bucket vigil_queue_depth \
           vigil_alerts_total vigil_alerts_active vigil_source_connected vigil_checkpoint_duration_seconds \
           vigil_checkpoint_last_success_timestamp_seconds vigil_outbox_depth process_cpu_seconds_total \
           process_resident_memory_bytes; do
    if ! grep -q "\"expr\": \".*$m" "$dashboard"; then
      echo "no query on $m"
      missing=1
    fi
  done
  [ $missing -eq 0 ] && echo "every required metric has a panel"
  return $missing
}
check "vigil.json has a panel for each required metric" dashboard_covers

# --- systemd -----------------------------------------------------------------
unit_reload() {
  grep -E '^ExecStart=/usr/bin/vigil run ' "$unit" || { echo "no ExecStart=/usr/bin/vigil run ..."; return 1; }
  # shellcheck disable=SC2016  # a literal $MAINPID
  grep -E '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" || { echo "no ExecReload=/bin/kill -HUP \$MAINPID"; return 1; }
}
check "vigil.service: ExecStart runs vigil, ExecReload sends SIGHUP" unit_reload
if command -v systemd-analyze >/dev/null; then
  # /usr/bin/vigil is not installed here: verify a copy that runs /bin/true.
  mkdir -p "$tmp/unit"
  sed 's#/usr/bin/vigil#/bin/true#g' "$unit" >"$tmp/unit/vigil.service"
  check "systemd-analyze verify vigil.service (ExecStart binary replaced by /bin/true)" \
    systemd-analyze verify "$tmp/unit/vigil.service"
else
  echo "skip systemd-analyze verify: systemd-analyze not installed"
fi

echo "examples_check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
