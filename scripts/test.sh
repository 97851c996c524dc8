#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole test
# suite through ctest (unit tests, golden files, the shared conformance cases
# with 1, 2 and 4 shards, CLI tests).
#   scripts/test.sh              Release build in build/, every test
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/, unit tests
#   scripts/test.sh --tsan       ThreadSanitizer build in build-tsan/, the pipeline's threaded tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.ccache}
# Paths relative to the checkout: a fresh clone (CI) reuses the cache.
export CCACHE_BASEDIR=$PWD
if [ "${1:-}" = "--tsan" ]; then
  # Only what the threaded tests need: the pipeline with its shard and alert
  # threads, the rings and tables they share (tests labelled `pipeline`).
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_SANITIZE_THREAD=ON -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
  cmake --build build-tsan -j"$(nproc)" --target pipeline_tests engine_tests
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  ctest --test-dir build-tsan -R 'PipelineTest|DoorbellTest|SpscRingTest|AppendOnlyTableTest|LatestTableTest|LatestSeriesTest|EngineTest|EngineMetricsTest|AlertDispatcher' \
    --output-on-failure -j"$(nproc)" --timeout 600
elif [ "${1:-}" = "--sanitize" ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan -L unit --output-on-failure -j"$(nproc)" --timeout 600
else
  # Explicit options: a build/ configured by demo.sh (tests off) must not hide the tests.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_BENCH=ON -DVIGIL_SANITIZE=OFF >/dev/null
  cmake --build build -j"$(nproc)"
  ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
fi
