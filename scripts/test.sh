#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole test
# suite through ctest (unit tests, golden files, the shared conformance cases
# with 1, 2 and 4 shards, CLI tests).
#   scripts/test.sh              Release build in build/, every test
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/, unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.ccache}
# Paths relative to the checkout: a fresh clone (CI) reuses the cache.
export CCACHE_BASEDIR=$PWD
if [ "${1:-}" = "--sanitize" ]; then
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
