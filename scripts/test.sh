#!/usr/bin/env bash
# Builds and runs the whole test suite: first a Release build, then the same tests under
# AddressSanitizer and UndefinedBehaviorSanitizer (all but the long training runs labelled
# "slow", which the Release pass covers). Installs what it needs, MNIST included
# (the real-data tests skip without it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/fetch_mnist.sh
jobs=$(nproc)

# Tests run side by side with one OpenMP thread each (tests that exercise threading set their
# own counts); the long training runs then run one at a time with every core. Running several
# multithreaded tests at once oversubscribes the cores, and spinning OpenMP barriers then make
# runs tens of times slower.
export OMP_NUM_THREADS=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build -j "$jobs" --output-on-failure --timeout 900 --label-exclude slow
OMP_NUM_THREADS=$jobs ctest --test-dir build --output-on-failure --timeout 1800 --label-regex slow

if [ "${PURE16_SKIP_SANITIZERS:-0}" != 1 ]; then
  cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPURE16_SANITIZE=ON \
    -DPURE16_BUILD_BENCH=OFF >/dev/null
  cmake --build build-sanitize -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize -j "$jobs" --output-on-failure --timeout 1800 --label-exclude slow
fi
