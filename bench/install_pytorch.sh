#!/usr/bin/env bash
# The PyTorch peer for bench/compare_pytorch.py, from Debian: PyTorch 1.13 with OpenBLAS built
# for OpenMP (without libopenblas0-openmp, python3-torch falls back to the reference BLAS), and
# torchvision 0.14, whose ResNets load pure16's exports in train_test_torchvision_export.
set -euo pipefail
SUDO=$([[ $(id -u) -eq 0 ]] && echo "" || echo sudo)
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  python3-torch python3-torchvision libopenblas0-openmp python3-numpy
