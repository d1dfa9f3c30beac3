// Model state for tests that need more than the initialisation gives.
#pragma once

#include <cstdint>

#include "pure16/nn/layer.h"

namespace pure16::testing {

/// Sets the model's buffers (BatchNorm running statistics, built as mean 0 and variance 1) to
/// seeded values, means in [-0.5, 0.5] and variances in [0.5, 2], so that evaluation mode and
/// anything that stores them see values a mix-up of mean, variance or channel would change.
void randomize_buffers(nn::Layer& model, uint64_t seed);

}  // namespace pure16::testing
