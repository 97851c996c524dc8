# Helpers shared by the shell tests (sourced, not run; tests/faults, tests/cli,
# tests/bridges, tests/plugins): result
# lines, free ports, waiting, metrics, and a cleanup trap that stops every
# process the test started (by pid) and unmounts what it mounted.
set -u
tmp=$(mktemp -d)
pids=()
mounts=()
fails=0
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
finish() { echo "$fails failed"; [ "$fails" -eq 0 ]; exit $?; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() {  # wait_for SECONDS CMD...: until CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.1; done
}
# metric NAME{labels}: its value in vigil's /metrics on $hport (empty when absent).
metric() { curl -sf -m 5 "http://127.0.0.1:$hport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
metric_at_least() { local v; v=$(metric "$1"); [ -n "$v" ] && awk -v v="$v" -v n="$2" 'BEGIN{exit !(v >= n)}'; }
# ingest NDJSON-TEXT: POST to vigil's HTTP ingest; fails unless 2xx.
ingest() { curl -sf -m 10 -H 'Content-Type: application/x-ndjson' --data-binary "$1" "http://127.0.0.1:$hport/api/v1/ingest" >/dev/null; }
# Alerts of NDJSON files as sorted unique "id state ts" lines.
alert_set() { python3 "$(dirname "${BASH_SOURCE[0]}")/alert_set.py" "$@"; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
# lines_more_than FILE N: FILE has more than N lines (a function, so that
# wait_for evaluates it again on every try).
lines_more_than() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -gt "$2" ]; }
