// Float64 finite-difference gradient checker, applied to every layer.
//
// The layer runs in f64. With L = sum(y * r) for a fixed random r, backward(r) must give
// dL/dx and dL/dparams. Each is compared with the central difference (L(v+h) - L(v-h)) / 2h,
// whose error is h^2 |L'''| / 6 (truncation) + ~u |L| / h (rounding, u = 2^-53): with
// h = 1e-6 and O(1) values both are below 1e-9, so a tolerance of 1e-6 relative (to
// max(1, |analytic|)) leaves three orders of margin and still catches any wrong term.
#pragma once

#include <cstdint>
#include <string>

#include "pure16/nn/layer.h"

namespace pure16::testing {

struct GradcheckOptions {
  int64_t max_checks_per_tensor = 64;  // elements probed per tensor (spread over it)
  double step = 1e-6;
  double tolerance = 1e-6;
  double input_magnitude_min = 0.0;  // keep |x| above this (away from ReLU's kink)
  bool training = true;
  uint64_t seed = 1;
};

/// Builds the layer's parameters in f64, checks input and parameter gradients. Returns an empty
/// string on success, otherwise a description of the first mismatch.
std::string gradcheck(nn::Layer& layer, const Shape& input_shape, const GradcheckOptions& options = {});

}  // namespace pure16::testing
