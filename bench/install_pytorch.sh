#!/usr/bin/env bash
# The PyTorch peer for bench/compare_pytorch.py, from Debian: PyTorch 1.13 with OpenBLAS built
# for OpenMP (without libopenblas0-openmp, python3-torch falls back to the reference BLAS).
set -euo pipefail
SUDO=$([[ $(id -u) -eq 0 ]] && echo "" || echo sudo)
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  python3-torch libopenblas0-openmp python3-numpy
