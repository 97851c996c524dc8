#!/usr/bin/env bash
# Fuzzing: builds every target of tests/fuzz with clang + libFuzzer (ASan,
# UBSan, leak detection) in build-fuzz/ and runs each for SECONDS (default
# 60), one after the other, starting from its committed corpus
# (tests/fuzz/corpus/<target>/). Exits non-zero on any finding (crash,
# failed check, leak, timeout, out-of-memory); its reproducer is kept in
# build-fuzz/findings/<target>/. New interesting inputs go to
# build-fuzz/work/<target>/ (minimize them into the corpus: tests/fuzz/README.md).
#   scripts/fuzz.sh [SECONDS]
# FUZZ_JOBS sets the build's parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

# clang and its runtime (libFuzzer, sanitizers) from Debian.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "fuzz: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.ccache}
export CCACHE_BASEDIR=$PWD
# -O1 without -DNDEBUG: asserts stay on.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DVIGIL_BUILD_FUZZ=ON -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target vigil_fuzzers -j"${FUZZ_JOBS:-$(nproc)}"

# target:max_len (bytes; messages 4 KiB, rules files and request bodies 16 KiB)
targets=(json_message:4096 timestamp:256 csv:4096 http_ingest:16384 topic:1024 expr:4096 rules_file:16384 decoder:1024)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for entry in "${targets[@]}"; do
  name=${entry%%:*}
  max_len=${entry##*:}
  work=build-fuzz/work/$name
  findings=build-fuzz/findings/$name
  mkdir -p "$work" "$findings"
  echo "== fuzz $name for ${seconds}s"
  if ! build-fuzz/tests/fuzz/${name}_fuzzer "$work" "tests/fuzz/corpus/$name" \
      -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$findings/" -print_final_stats=1 2>build-fuzz/fuzz-$name.log; then
    tail -n 60 build-fuzz/fuzz-$name.log
    failed+=("$name")
  else
    grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::average_exec_per_sec)" build-fuzz/fuzz-$name.log || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (reproducers in build-fuzz/findings/; logs build-fuzz/fuzz-<target>.log)"
  exit 1
fi
echo "fuzz: no finding in ${#targets[@]} targets (${seconds}s each)"
