#!/usr/bin/env bash
# Builds and runs the whole test suite: a Release build, then an AddressSanitizer and
# UndefinedBehaviorSanitizer build, and last a short libFuzzer run over the file readers
# (scripts/fuzz.sh). Each test runs once. Most run under the sanitizers only; these run in
# Release instead: the long training runs labelled "slow"; the kernel tests' second run under
# PURE16_ISA=scalar (it only adds the environment variable); the bitwise comparison of the fp16
# sums of every GEMM variant with the scalar reference (44 s under ASan, mostly in the reference;
# GemmKinds runs the same kernels on those shapes under the sanitizers); the thread-count
# comparison (pure arithmetic, twice); the ResNet checkpoint resumes (the MLP ones run the same save and restore
# code on a model a hundred times smaller); the SIGKILL-and-resume runs of the CLI (a process test
# of that same code, about eight minutes under the sanitizers); the PyTorch comparisons; the
# training steps of ResNet-18 and ResNet-50 in tests of the CIFAR reader, the memory report and
# BatchNorm's statistics dtype (a minute and a half under the sanitizers: CifarForward and the MLP
# runs of those tests' files take the same code paths there); and the
# command-line tests of tests/apps (processes of the CLI, whose library code the sanitizer pass
# runs through the library's own tests; under the sanitizers they took five minutes).
# Installs what it needs, MNIST included (the real-data tests skip without it). About 20
# minutes on 2 cores (README).
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
# Each test runs once, in the build that checks it hardest: under the sanitizers, but for the
# tests named above, which run in Release. Only their executables are built in Release.
release_only='_env_scalar$|Fp16AccumulationsGiveTheReferenceBits|KillAndResume|ThreadCount|ResNetWithBatchNormStatistics|TorchvisionExport|TrainsResNet18Cifar|^Memory\.|BatchNormStatisticsKeepTheirOwnDtype'
# Every test file of tests/apps is a target apps_test_<name> (tests/CMakeLists.txt's rule).
apps_targets=()
for file in tests/apps/test_*.cpp; do apps_targets+=("apps_$(basename "$file" .cpp)"); done
release_targets=(pure16_cli kernels_test_gemm kernels_test_elementwise train_test_threads train_test_checkpoint
  train_test_mnist_accuracy nn_test_resnet50_training train_test_torchvision_export data_test_cifar train_test_memory
  train_test_trainer "${apps_targets[@]}")
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ "${PURE16_SKIP_SANITIZERS:-0}" = 1 ]; then
  cmake --build build -j "$jobs"
  ctest --test-dir build -j "$jobs" --output-on-failure --timeout 900 --label-exclude slow
else
  cmake --build build -j "$jobs" --target "${release_targets[@]}"
  ctest --test-dir build -j "$jobs" --output-on-failure --timeout 900 --label-regex apps
  ctest --test-dir build -j "$jobs" --output-on-failure --timeout 900 --label-exclude 'slow|apps' \
    --tests-regex "$release_only"
fi
OMP_NUM_THREADS=$jobs ctest --test-dir build --output-on-failure --timeout 1800 --label-regex slow

if [ "${PURE16_SKIP_SANITIZERS:-0}" != 1 ]; then
  # The instrumented build compiled at -O1 -g1 took 15 of the suite's 30 minutes on 2 cores. Now
  # it compiles at -O0 (the kernels at -O1: CMakeLists.txt), with line tables so reports name file
  # and line, and only the executables of the tests it runs: not the CLI, whose tests (tests/apps)
  # run in Release, nor the slow tests. Their test entries then say NOT_BUILT and are left out by
  # name; a target that fails to build stops the script before that.
  cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1" \
    -DPURE16_SANITIZE=ON -DPURE16_BUILD_BENCH=OFF >/dev/null
  # The slow tests (the targets tests/CMakeLists.txt names in PURE16_SLOW_TESTS) run in Release only.
  slow_targets=" $(sed -n 's/^set(PURE16_SLOW_TESTS \(.*\))$/\1/p' tests/CMakeLists.txt) "
  sanitized_targets=()
  for file in tests/*/test_*.cpp; do
    area=$(basename "$(dirname "$file")")
    target="${area}_$(basename "$file" .cpp)"
    [ "$area" = apps ] || [[ "$slow_targets" == *" $target "* ]] || sanitized_targets+=("$target")
  done
  # The readers' fuzz targets replay their corpus and saved crashers here too (fuzz/CMakeLists.txt).
  for file in fuzz/fuzz_*.cpp; do sanitized_targets+=("$(basename "$file" .cpp)_replay"); done
  cmake --build build-sanitize -j "$jobs" --target "${sanitized_targets[@]}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize -j "$jobs" --output-on-failure --timeout 1800 --label-exclude 'slow|apps' \
    --exclude-regex "$release_only|_NOT_BUILT\$"
fi

# 5 s of libFuzzer per reader, after a clang build of only the readers: under a minute on 2
# cores in all. Longer campaigns: scripts/fuzz.sh SECONDS_PER_TARGET.
if [ "${PURE16_SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh 5
fi
