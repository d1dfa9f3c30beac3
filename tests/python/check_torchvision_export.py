#!/usr/bin/env python3
"""Loads a torchvision-layout export of pure16 into the equivalent PyTorch model and checks its
logits against pure16's.

The file is read by the safetensors format's own rules (an 8-byte little-endian header length,
a JSON header, the tensors' little-endian bytes), not by pure16's reader nor the safetensors
package, so the check does not share a bug with either. The model is loaded with
load_state_dict(strict=True), so every key and shape must be torchvision's, and run in float64
in eval mode on the given images; the script fails if any logit differs from pure16's by more
than the tolerance.

  check_torchvision_export.py --weights model.safetensors --model resnet18-cifar \
      --image 32 32 3 --inputs images.f32 --logits logits.f32 --tolerance 1e-3

inputs: float32 (N, H, W, C), as pure16 ran them; logits: float32 (N, classes), what it gave.
Exit status 0: within the tolerance; 1: not; 2: bad arguments or files.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torchvision
from torch import nn

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def read_safetensors(path):
    """{name: tensor} and the metadata of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} runs past the end")
    header = json.loads(data[8:8 + header_len])
    metadata = header.pop("__metadata__", {})
    body = data[8 + header_len:]
    tensors, covered = {}, 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        dtype = np.dtype(DTYPES[entry["dtype"]])
        shape = entry["shape"]
        if begin != covered or end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name} has offsets {begin}..{end}, expected {covered} and "
                             f"{int(np.prod(shape, dtype=np.int64))} elements of {dtype.itemsize} bytes")
        array = np.frombuffer(body, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin).copy()
        if entry["dtype"] == "BF16":  # the upper half of a binary32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = torch.from_numpy(array.reshape(shape))
        covered = end
    if covered != len(body):
        raise ValueError(f"{path}: {len(body) - covered} bytes after the last tensor")
    return tensors, metadata


class LeNet5(nn.Module):
    """pure16's lenet5 (src/nn/lenet.cpp) with its key names."""

    def __init__(self, height, width, channels, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        map_h, map_w = (height // 2 - 4) // 2, (width // 2 - 4) // 2
        self.fc1 = nn.Linear(16 * map_h * map_w, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # (c, h, w) order: the export permuted fc1's columns to match
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class Mlp(nn.Module):
    """pure16's mlp (src/nn/models.cpp) with its key names."""

    def __init__(self, height, width, channels, classes):
        super().__init__()
        self.fc1 = nn.Linear(height * width * channels, 512)
        self.fc2 = nn.Linear(512, 512)
        self.fc3 = nn.Linear(512, classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def build(name, image, classes):
    height, width, channels = image
    if name == "lenet5":
        return LeNet5(height, width, channels, classes)
    if name == "mlp":
        return Mlp(height, width, channels, classes)
    base = name.removesuffix("-cifar")
    if base not in ("resnet18", "resnet34", "resnet50"):
        raise ValueError(f"unknown model {name}")
    model = getattr(torchvision.models, base)(num_classes=classes)
    model.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    if name.endswith("-cifar"):  # pure16's CIFAR stem: a 3x3/1 convolution and no max-pool
        model.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--image", type=int, nargs=3, required=True, metavar=("H", "W", "C"))
    p.add_argument("--inputs", required=True)
    p.add_argument("--logits", required=True)
    p.add_argument("--tolerance", type=float, required=True)
    args = p.parse_args()
    try:
        state, metadata = read_safetensors(args.weights)
        classes = state["fc3.bias" if args.model in ("lenet5", "mlp") else "fc.bias"].shape[0]
        model = build(args.model, args.image, classes).double()
        model.load_state_dict(state, strict=True)
        images = np.fromfile(args.inputs, dtype="<f4").reshape(-1, *args.image)
        expected = np.fromfile(args.logits, dtype="<f4").reshape(images.shape[0], classes)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"check_torchvision_export: {e}", file=sys.stderr)
        return 2
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).double()  # NHWC -> NCHW
        logits = model(x).numpy()
    diff = np.abs(logits - expected.astype(np.float64))
    print(f"{args.model} ({metadata.get('pure16_dtype', '?')} export): max |torch - pure16| = {diff.max():.3e} "
          f"over {diff.size} logits of max magnitude {np.abs(logits).max():.3e}, tolerance {args.tolerance:.3e}")
    return 0 if diff.max() <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
