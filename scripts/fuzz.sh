#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ in build-fuzz (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer; only the file readers are compiled) and runs each for
# SECONDS_PER_TARGET seconds (default 60), one after another, over its seed corpus
# fuzz/corpus/<target>. What a run discovers is kept in build-fuzz/corpus/<target>, so later runs
# start from it. Fails on the first crash, sanitizer report, leak, uncaught exception, input
# slower than 10 s or use of more than 2 GB, leaving the input in build-fuzz/artifacts/ (save it
# in fuzz/regressions/<target>/ once fixed). Prints each target's execution count.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

scripts/install_deps.sh
cmake -S . -B build-fuzz -G Ninja -DPURE16_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
cmake --build build-fuzz -j "$(nproc)"

mkdir -p build-fuzz/artifacts
for source in fuzz/fuzz_*.cpp; do
  name=$(basename "$source" .cpp)
  target=${name#fuzz_}
  mkdir -p "build-fuzz/corpus/$target"
  log=build-fuzz/$name.log
  if ! "build-fuzz/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$target-" "build-fuzz/corpus/$target" "fuzz/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz.sh: $name failed (full log: $log; input: build-fuzz/artifacts/$target-*)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz.sh: $name: $runs executions in ${seconds} s, no failure"
done
