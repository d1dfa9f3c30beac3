// Model state for tests that need more than the initialisation gives.
#pragma once

#include <cstdint>
#include <string>

#include "pure16/nn/layer.h"
#include "pure16/optim/optimizer.h"

namespace pure16::testing {

/// Sets the model's buffers (BatchNorm running statistics, built as mean 0 and variance 1) to
/// seeded values, means in [-0.5, 0.5] and variances in [0.5, 2], so that evaluation mode and
/// anything that stores them see values a mix-up of mean, variance or channel would change.
void randomize_buffers(nn::Layer& model, uint64_t seed);

/// Sets the BatchNorm running statistics to the batch statistics of each layer's input on `x`
/// (N, H, W, C), as a long training run would leave them, so that evaluation mode normalizes the
/// activations of this batch as training mode does: they stay of order one through any depth,
/// and the logits depend on every weight. One training-mode forward from zero statistics leaves
/// momentum * (batch statistics) in them (BatchNorm2d's default momentum, 0.1), scaled back here.
void calibrate_batchnorm(nn::Layer& model, const Tensor& x);

/// The bytes of every segment of `arena`, in group order.
std::string arena_bytes(const nn::Arena& arena);

/// Every state arena of the optimizer, and its scalars, as bytes: equal strings mean an
/// optimizer that continues identically.
std::string optimizer_state_bytes(optim::Optimizer& optimizer);

}  // namespace pure16::testing
