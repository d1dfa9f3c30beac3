#!/usr/bin/python3
"""Training speed of pure16 against PyTorch on the same machine, threads and models, in one run.

Each configuration trains on a fixed random batch: SGD (momentum 0.9), cross-entropy, the same
architecture and batch size on both sides. pure16 runs as `pure16 bench train --json`, one
process per configuration; PyTorch runs in this process. The two sides are interleaved over
--repeats rounds and each figure is the median of its rounds, so a noisy neighbour slows both.

Making the peer fair (docs/PERFORMANCE.md):
  * Debian's python3-torch links the reference BLAS unless libopenblas0-openmp is installed
    (bench/install_pytorch.sh installs it);
  * OpenBLAS 0.3.21 misdetects the CPUs with AVX512-FP16 unless OPENBLAS_CORETYPE=SkylakeX is set
    (this script sets it where the CPU has AVX-512, and OMP_NUM_THREADS, before importing torch;
    on a CPU without AVX-512 SkylakeX kernels stop torch with SIGILL);
  * torch.set_num_threads(threads) is called, and torch's own report of its threads and build is
    printed;
  * PyTorch 1.13 cannot train in fp16 on a CPU, so its fp32 (NCHW or channels_last, whichever
    is faster, both reported) is the mode to beat; of bf16 it has autocast (`bf16`) and a model
    cast whole to bf16 (`bf16-pure`, `model.bfloat16()`: bf16 weights, gradients and momentum,
    pure16's pure-bf16), and each pure16 precision is set against the faster of the two as well.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--pure16", default=os.path.join(here, "..", "build", "pure16"),
                   help="the pure16 binary (default: build/pure16)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--models", nargs="+", default=["mlp", "resnet18-cifar", "resnet50"],
                   choices=["mlp", "resnet18-cifar", "resnet50"])
    p.add_argument("--pure16-precisions", nargs="+", default=["pure-fp16", "pure-bf16", "fp32"],
                   help="pure16 presets (any of `pure16 info --json`'s presets)")
    p.add_argument("--torch-modes", nargs="+", default=None,
                   choices=["fp32", "fp32-channels_last", "bf16", "bf16-pure"],
                   help="default: all four, but the bf16 ones only where the CPU has avx512_bf16 or amx_bf16 "
                        "(without them PyTorch 1.13's bf16 training ran for over 20 minutes a round)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds; each figure is their median")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per run (their median step time counts); default: 100 for the MLP, whose "
                        "steps take milliseconds, else 5")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    return p.parse_args()


ARGS = parse_args()
_PRESETS = json.loads(subprocess.run([ARGS.pure16, "info", "--json"], check=True, capture_output=True,
                                     text=True).stdout)["presets"]
for _precision in ARGS.pure16_precisions:
    if _precision not in _PRESETS:
        sys.exit(f"compare_pytorch.py: unknown pure16 precision {_precision!r} (one of {', '.join(_PRESETS)})")


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


CPU_FLAGS = cpu_flags()
if ARGS.torch_modes is None:
    ARGS.torch_modes = ["fp32", "fp32-channels_last"]
    if CPU_FLAGS & {"avx512_bf16", "amx_bf16"}:
        ARGS.torch_modes += ["bf16", "bf16-pure"]
    else:
        print("compare_pytorch.py: no avx512_bf16 or amx_bf16 on this CPU, so PyTorch's bf16 modes are left out "
              "(ask for them with --torch-modes)", file=sys.stderr)

# Read by OpenBLAS and OpenMP when torch loads them, so set before the import. A value already in
# the environment wins (OPENBLAS_CORETYPE=Haswell with ONEDNN_MAX_CPU_ISA=AVX2 caps PyTorch to
# AVX2, beside PURE16_ISA=avx2).
CORETYPE_FROM_ENVIRONMENT = "OPENBLAS_CORETYPE" in os.environ
if "avx512f" in CPU_FLAGS:
    os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

DEFAULT_BATCH = {"mlp": 128, "resnet18-cifar": 64, "resnet50": 8}
# A run should outlast the shared machine's millisecond-scale hiccups: five MLP steps took 20 ms,
# and single rounds then ranged over 5x.
DEFAULT_STEPS = {"mlp": 100, "resnet18-cifar": 5, "resnet50": 5}
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


def steps_for(name):
    return ARGS.steps if ARGS.steps is not None else DEFAULT_STEPS[name]


def torch_images_per_second(name, mode, batch, steps, warmup):
    """mode: fp32, fp32-channels_last, bf16 (autocast), bf16-pure (model and data in bf16)."""
    torch.manual_seed(0)
    model = torch_model(name)
    x = torch.randn(batch, *INPUT[name])
    if mode == "bf16-pure":
        model = model.bfloat16()
        x = x.bfloat16()
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
    """One `pure16 bench train` process for this configuration."""
    out = subprocess.run([binary, "bench", "train", "--json", "--model", name, "--precision", precision,
                          "--batch-size", str(batch), "--steps", str(steps), "--warmup", str(warmup),
                          "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["train"][0]["images_per_second"]


def onednn_kernels():
    """The ISA oneDNN (torch's convolutions) runs on and its fp32 and bf16 convolution kernels,
    from its verbose log in a child process: on CPUs with AMX, bf16 autocast runs on AMX tiles,
    not on the AVX-512 FMAs pure16 uses."""
    probe = ("import torch\n"
             "c = torch.nn.Conv2d(16, 16, 3, padding=1)\n"
             "x = torch.randn(2, 16, 8, 8)\n"
             "c(x)\n"
             "with torch.autocast('cpu', dtype=torch.bfloat16):\n"
             "    c(x)\n")
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    log = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout
    isa = [line.split(",isa:", 1)[1] for line in log.splitlines() if ",isa:" in line]
    convs = [line.split(",")[4] for line in log.splitlines() if ",exec," in line and ",convolution," in line]
    return {"isa": isa[0] if isa else "unknown", "fp32_conv": convs[0] if convs else "unknown",
            "bf16_conv": convs[1] if len(convs) > 1 else "unknown"}


def header(threads):
    """What the peer is: version, threads, BLAS and ISA, and pure16's kernels."""
    info = subprocess.run([ARGS.pure16, "info"], check=True, capture_output=True, text=True).stdout
    return {"torch": torch.__version__, "threads_asked": threads, "torch_threads": torch.get_num_threads(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "torch_parallel_info": torch.__config__.parallel_info().strip(),
            "torch_config": torch.__config__.show().strip(), "onednn": onednn_kernels(), "pure16_info": info.strip()}


def best_mode(medians, prefix):
    """The fastest PyTorch mode whose name starts with prefix, or None."""
    modes = [(v, mode) for (side, mode), v in medians.items() if side == "torch" and mode.startswith(prefix)]
    return max(modes)[1] if modes else None


def ratio_rows(name, batch, medians):
    """pure16 precision against the fastest PyTorch fp32 layout and the fastest bf16 mode."""
    rows = []
    for (side, prec), ips in medians.items():
        if side != "pure16":
            continue
        for mode in (best_mode(medians, "fp32"), best_mode(medians, "bf16")):
            if mode is not None:
                rows.append({"model": name, "batch": batch, "pure16_precision": prec, "pure16_images_per_second": ips,
                             "torch_mode": mode, "torch_images_per_second": medians[("torch", mode)],
                             "ratio": ips / medians[("torch", mode)]})
    return rows


def main():
    threads = ARGS.threads
    torch.set_num_threads(threads)
    head = header(threads)
    if not ARGS.json:
        print(f"torch {head['torch']}: {head['torch_threads']} threads (asked {threads}), "
              f"OPENBLAS_CORETYPE={head['OPENBLAS_CORETYPE']} " +
              ("(from the environment)" if CORETYPE_FROM_ENVIRONMENT else
               "(set where the CPU has AVX-512, which OpenBLAS 0.3.21 can misdetect)"))
        print(head["torch_parallel_info"])
        print(head["torch_config"])
        print(f"oneDNN ISA: {head['onednn']['isa']}; convolution kernels: fp32 {head['onednn']['fp32_conv']}, "
              f"bf16 {head['onednn']['bf16_conv']}")
        print(head["pure16_info"])
        steps = ", ".join(f"{name} {steps_for(name)}" for name in ARGS.models)
        print(f"\n{ARGS.repeats} interleaved rounds of {ARGS.warmup} warm-up + timed steps ({steps}) per run; "
              "img/s = batch / median step time; figures are the medians of the rounds.", flush=True)

    runs, ratios = [], []
    for name in ARGS.models:
        batch = DEFAULT_BATCH[name]
        samples = {("pure16", prec): [] for prec in ARGS.pure16_precisions}
        # The MLP has no convolutions, so its layout does not matter.
        samples.update({("torch", mode): [] for mode in ARGS.torch_modes
                        if not (name == "mlp" and mode == "fp32-channels_last")})
        for _ in range(ARGS.repeats):
            for side, config in samples:
                if side == "pure16":
                    ips = pure16_images_per_second(ARGS.pure16, name, config, batch, steps_for(name), ARGS.warmup,
                                                   threads)
                else:
                    ips = torch_images_per_second(name, config, batch, steps_for(name), ARGS.warmup)
                samples[(side, config)].append(ips)
        medians = {key: statistics.median(v) for key, v in samples.items()}
        fastest = {best_mode(medians, "fp32"), best_mode(medians, "bf16")}
        for (side, config), ips in medians.items():
            runs.append({"model": name, "batch": batch, "threads": threads, "side": side, "config": config,
                         "images_per_second": ips, "rounds": samples[(side, config)]})
        ratios += ratio_rows(name, batch, medians)
        if not ARGS.json:
            print(f"\n{name}, batch {batch}, {threads} threads")
            for (side, config), ips in medians.items():
                rounds = ", ".join(f"{r:.1f}" for r in samples[(side, config)])
                best = "  (fastest PyTorch " + config[:4] + ")" if side == "torch" and config in fastest else ""
                print(f"  {side:7s} {config:20s} {ips:10.1f} img/s   rounds: {rounds}{best}", flush=True)

    if ARGS.json:
        print(json.dumps({**head, "repeats": ARGS.repeats, "steps": {name: steps_for(name) for name in ARGS.models},
                          "warmup": ARGS.warmup, "runs": runs,
                          "ratios": ratios}, indent=2))
        return 0
    print(f"\n{'model':15s} {'batch':>5s}  {'pure16 precision':16s} {'img/s':>9s}  {'torch mode':19s} "
          f"{'img/s':>9s} {'ratio':>6s}")
    for r in ratios:
        print(f"{r['model']:15s} {r['batch']:5d}  {r['pure16_precision']:16s} {r['pure16_images_per_second']:9.1f}  "
              f"{r['torch_mode']:19s} {r['torch_images_per_second']:9.1f} {r['ratio']:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
