// The check every layer with a ReLU fused in must pass: the bits of the same layer followed by
// a ReLU layer, forward and backward.
#pragma once

#include "pure16/nn/layer.h"

namespace pure16::testing {

/// Builds both layers' parameters in `dtype` from the same seed, runs `fused` and `plain` then
/// ReLU on the same random input, and expects equal outputs, input gradients and parameter
/// gradients (all of them, bias included), and a ReLU that cut at least one output.
void expect_fused_relu_gives_layer_then_relu(nn::Layer& fused, nn::Layer& plain, const Shape& input, DType dtype);

}  // namespace pure16::testing
