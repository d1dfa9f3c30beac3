// Checks a torchvision-layout export against PyTorch itself (tests/python/check_torchvision_export.py),
// with the tolerance derived in torch_check.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "pure16/nn/sequential.h"
#include "pure16/precision/policy.h"
#include "support/cli.h"

namespace pure16::testing {

/// Whether /usr/bin/python3 imports torch and torchvision (bench/install_pytorch.sh installs them).
bool torch_available();

/// The most pure16's logits of `model` on `inputs` (evaluation mode, binary32 sums) can differ
/// from exact arithmetic on the same weights: `depth` convolution and Linear layers on the longest
/// path, each summing at most `fan_in` products (derivation in torch_check.cpp).
double logits_tolerance(nn::Sequential& model, const Tensor& inputs, const PrecisionPolicy& policy, int64_t depth,
                        int64_t fan_in);

/// Runs the PyTorch check: `weights` (torchvision layout) loaded strictly into `model_name`'s
/// torchvision module, run in float64 on `inputs` (float32 (N, H, W, C) in a file), must give
/// `logits` (float32 (N, classes) in a file) within `tolerance`. Exit code 0 when it does.
CliResult check_with_torch(const std::filesystem::path& weights, const std::string& model_name, const Shape& image,
                           const std::filesystem::path& inputs, const std::filesystem::path& logits, double tolerance,
                           const std::filesystem::path& scratch);

}  // namespace pure16::testing
