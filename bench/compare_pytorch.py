#!/usr/bin/python3
"""Training speed of pure16 against PyTorch on the same machine, threads and models, in one run.

Each configuration trains on a fixed random batch: SGD (momentum 0.9), cross-entropy, the same
architecture and batch size on both sides. pure16 runs as `pure16 bench train --json`, one
process per configuration; PyTorch runs in this process. The two sides are interleaved over
--repeats rounds and each figure is the median of its rounds, so a noisy neighbour slows both.

Making the peer fair (docs/PERFORMANCE.md):
  * Debian's python3-torch links the reference BLAS unless libopenblas0-openmp is installed
    (bench/install_pytorch.sh installs it);
  * OpenBLAS 0.3.21 misdetects Sapphire Rapids unless OPENBLAS_CORETYPE=SkylakeX is set (this
    script sets it before importing torch);
  * torch.set_num_threads(threads) is called, and torch's own report of its threads and build is
    printed;
  * PyTorch 1.13 cannot train in fp16 on a CPU, so its fp32 (NCHW or channels_last, whichever
    is faster, both reported) is the mode to beat; bf16 autocast is reported too.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")

import torch  # noqa: E402  (after the environment it reads at load)
import torch.nn as nn  # noqa: E402

DEFAULT_BATCH = {"mlp": 128, "resnet18-cifar": 64, "resnet50": 8}
INPUT = {"mlp": (1, 28, 28), "resnet18-cifar": (3, 32, 32), "resnet50": (3, 224, 224)}
CLASSES = {"mlp": 10, "resnet18-cifar": 10, "resnet50": 1000}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # torchvision v1.5: stride here
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet(nn.Module):
    """torchvision's layout; `cifar` swaps the 7x7/2 stem and max-pool for a 3x3/1 stem (as pure16)."""

    def __init__(self, block, layers, classes, cifar):
        super().__init__()
        stem = [nn.Conv2d(3, 64, 3, 1, 1, bias=False)] if cifar else [nn.Conv2d(3, 64, 7, 2, 3, bias=False)]
        stem += [nn.BatchNorm2d(64), nn.ReLU()]
        if not cifar:
            stem.append(nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for i, count in enumerate(layers):
            width = 64 * 2**i
            for j in range(count):
                blocks.append(block(cin, width, 2 if (j == 0 and i > 0) else 1))
                cin = width * block.expansion
        self.body = nn.Sequential(*stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.body(x))


def torch_model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10))
    if name == "resnet18-cifar":
        return ResNet(BasicBlock, [2, 2, 2, 2], 10, cifar=True)
    if name == "resnet50":
        return ResNet(Bottleneck, [3, 4, 6, 3], 1000, cifar=False)
    raise ValueError(name)


def torch_images_per_second(name, mode, batch, steps, warmup):
    """mode: fp32, fp32-channels_last, bf16 (autocast)."""
    torch.manual_seed(0)
    model = torch_model(name)
    x = torch.randn(batch, *INPUT[name])
    y = torch.randint(0, CLASSES[name], (batch,))
    if mode == "fp32-channels_last" and name != "mlp":
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=(mode == "bf16")):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def pure16_images_per_second(binary, name, precision, batch, steps, warmup, threads):
    out = subprocess.run([binary, "bench", "train", "--json", "--model", name, "--precision", precision,
                          "--batch-size", str(batch), "--steps", str(steps), "--warmup", str(warmup),
                          "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    row = json.loads(out)["train"][0]
    return row["images_per_second"], row


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pure16", default=os.path.join(os.path.dirname(__file__), "..", "build", "pure16"))
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--models", nargs="+", default=["mlp", "resnet18-cifar"], choices=sorted(DEFAULT_BATCH))
    p.add_argument("--pure16-precisions", nargs="+", default=["pure-fp16", "fp32"])
    p.add_argument("--torch-modes", nargs="+", default=["fp32", "fp32-channels_last", "bf16"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()} (asked {args.threads}), "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print(torch.__config__.parallel_info().strip())
    print("\n".join(line for line in torch.__config__.show().splitlines() if "BLAS" in line or "MKLDNN" in line
                    or "CPU capability" in line))
    info = subprocess.run([args.pure16, "info"], check=True, capture_output=True, text=True).stdout
    print(info.strip())

    results = []
    for name in args.models:
        batch = DEFAULT_BATCH[name]
        samples = {("pure16", prec): [] for prec in args.pure16_precisions}
        samples.update({("torch", mode): [] for mode in args.torch_modes if not (name == "mlp" and "channels_last" in mode)})
        for _ in range(args.repeats):
            for side, config in samples:
                if side == "pure16":
                    ips, _ = pure16_images_per_second(args.pure16, name, config, batch, args.steps, args.warmup,
                                                      args.threads)
                else:
                    ips = torch_images_per_second(name, config, batch, args.steps, args.warmup)
                samples[(side, config)].append(ips)
        medians = {key: statistics.median(v) for key, v in samples.items()}
        torch_fp32 = max(v for (side, mode), v in medians.items() if side == "torch" and mode.startswith("fp32"))
        torch_fp32_mode = max(((mode, v) for (side, mode), v in medians.items() if side == "torch" and
                               mode.startswith("fp32")), key=lambda mv: mv[1])[0]
        for (side, config), ips in medians.items():
            results.append({"model": name, "batch": batch, "threads": args.threads, "side": side, "config": config,
                            "images_per_second": ips, "rounds": samples[(side, config)],
                            "ratio_to_best_torch_fp32": ips / torch_fp32})
        print(f"\n{name}, batch {batch}, {args.threads} threads (median of {args.repeats} rounds; "
              f"best PyTorch fp32: {torch_fp32_mode})")
        print(f"  {'side':7s} {'configuration':20s} {'img/s':>9s} {'vs PyTorch fp32':>16s}")
        for (side, config), ips in medians.items():
            print(f"  {side:7s} {config:20s} {ips:9.1f} {ips / torch_fp32:15.2f}x")
        bf16 = medians.get(("torch", "bf16"))
        for prec in args.pure16_precisions:
            line = f"  pure16 {prec} / PyTorch fp32 = {medians[('pure16', prec)] / torch_fp32:.2f}"
            if bf16:
                line += f", / PyTorch bf16 = {medians[('pure16', prec)] / bf16:.2f}"
            print(line)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"torch": torch.__version__, "threads": args.threads, "results": results}, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    sys.exit(main())
