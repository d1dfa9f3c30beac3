#!/usr/bin/env bash
# The main job: installs what it needs, fetches MNIST, builds, and trains the default model
# (784-512-512-10 MLP, pure FP16, dynamic loss scaling, stochastic rounding) for 5 epochs.
# Extra arguments go to `pure16 train`, e.g. scripts/train_mnist.sh --precision fp32
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/fetch_mnist.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target pure16_cli

# pure-fp16 multiplies in fp16 (f16-block accumulation), which is fast only with AVX512-FP16; on
# other CPUs that GEMM is the scalar reference, so the main job sums in binary32 there instead
# (unless told otherwise).
extra=()
if build/pure16 info --json | grep -q '"f16/f16-block": *"scalar"' && [[ " $* " != *" --accumulation"* ]]; then
  echo "train_mnist.sh: no AVX512-FP16 here: training with --accumulation f32" >&2
  extra=(--accumulation f32)
fi
build/pure16 train "${extra[@]}" "$@"
