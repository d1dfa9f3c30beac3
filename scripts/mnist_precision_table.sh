#!/usr/bin/env bash
# Trains the default MLP on MNIST for 5 epochs under each precision configuration and prints
# a Markdown table of per-epoch test accuracy (the README's results table). Assumes a built
# build/pure16 and fetched MNIST (scripts/train_mnist.sh does both). The fp16 rows name their
# accumulation, so the table is the same on every CPU (the f16 ones are emulated, and slower,
# without AVX512-FP16).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

configs=(
  "fp32|--precision fp32"
  "mixed-fp16 (dynamic loss scale)|--precision mixed-fp16"
  "pure-fp16 (dynamic, stochastic, f16-block accumulation)|--precision pure-fp16 --accumulation f16-block"
  "pure-fp16, dynamic, stochastic momentum too|--precision pure-fp16 --accumulation f16-block --momentum-rounding stochastic"
  "pure-fp16, dynamic, nearest|--precision pure-fp16 --accumulation f16-block --rounding nearest"
  "pure-fp16, no loss scale, nearest|--precision pure-fp16 --accumulation f16-block --loss-scale none --rounding nearest"
  "pure-fp16, dynamic, stochastic, f32 accumulation|--precision pure-fp16 --accumulation f32"
  "pure-fp16, dynamic, stochastic, plain f16 accumulation|--precision pure-fp16 --accumulation f16"
  "mixed-bf16|--precision mixed-bf16"
  "pure-bf16 (stochastic)|--precision pure-bf16"
)
# Speed is left to bench/: on a shared machine a training run's images/s says little.
echo "| configuration | epoch 1 | epoch 2 | epoch 3 | epoch 4 | epoch 5 | weights+grads+optimizer+master bytes |"
echo "|---|---|---|---|---|---|---|"
for entry in "${configs[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  # shellcheck disable=SC2086
  build/pure16 train --epochs 5 --batch-size 128 --lr 0.05 --momentum 0.9 --seed 0 $args --log "$out/log.jsonl" >/dev/null
  python3 - "$name" "$out/log.jsonl" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path)]
epochs = [r for r in rows if not r.get("final")]
final = rows[-1]
accs = " | ".join(f"{100 * r['test_accuracy']:.2f}%" for r in epochs)
m = final["memory"]
total = m["weights_bytes"] + m["gradients_bytes"] + m["optimizer_bytes"] + m["master_weights_bytes"]
print(f"| {name} | {accs} | {total:,} |")
PY
done
