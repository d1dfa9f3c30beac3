#!/usr/bin/env bash
# The main job: installs what it needs, fetches MNIST, builds, and trains the default model
# (784-512-512-10 MLP, pure FP16, dynamic loss scaling, stochastic rounding of the weights) for 5 epochs.
# Extra arguments go to `pure16 train`, e.g. scripts/train_mnist.sh --precision fp32
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/fetch_mnist.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target pure16_cli

# Every preset leaves the GEMM accumulation to the CPU (auto): fp16 sums where fp16 FMAs are
# native, binary32 elsewhere, so this runs at full speed on any x86-64.
build/pure16 train "$@"
