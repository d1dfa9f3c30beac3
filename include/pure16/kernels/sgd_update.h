// The SGD update as one sweep over the parameter arena: each element's weight, gradient and
// momentum are read once, updated in binary32 registers and written back once, rounded to their
// dtypes to nearest or stochastically. optim::Sgd is its only caller; the formula is documented
// there (pure16/optim/sgd.h) and restated per element below.
#pragma once

#include <cstdint>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

struct SgdUpdateArgs {
  void* weights = nullptr;  // n elements of weight_type, updated in place
  DType weight_type = DType::f32;
  const void* grads = nullptr;  // n elements of grad_type, carrying the loss scale
  DType grad_type = DType::f32;
  void* momentum = nullptr;  // n elements of momentum_type, updated in place; nullptr: plain SGD
  DType momentum_type = DType::f32;
  int64_t n = 0;
  float inv_grad_scale = 1.0f;  // 1 / loss scale
  float lr = 0.0f;
  float momentum_factor = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  bool first = false;  // the momentum buffer starts at the gradient (its contents are not read)
  // Kahan-compensated weights: n elements of weight_type holding what rounding dropped from each
  // weight's last update, added to its next (nullptr: none). Weights then round to nearest.
  void* compensation = nullptr;
  // When set, n floats: the change each weight was meant to get, before rounding (telemetry).
  float* intended = nullptr;
  // Stochastic rounding of the stored weights and of the stored momentum, each where its dtype is
  // fp16/bf16 (f32 and f64 store exactly what binary32 holds; the other rounds to nearest); the
  // random word of element i is Philox(seed, stream, first_index + i) with the weights' and the
  // momentum's own streams.
  bool stochastic_weights = false;
  bool stochastic_momentum = false;
  uint64_t seed = 0, weight_stream = 0, momentum_stream = 0, first_index = 0;
};

/// For each element i, in binary32 (f64 values are rounded to binary32 on load):
///   g = grad * inv_grad_scale + weight_decay * w
///   m = first ? g : momentum_factor * m + g              (with momentum)
///   d = nesterov ? g + momentum_factor * m : m           (d = g without momentum)
///   w = w - lr * d                                       (without compensation)
///   u = (0 - lr * d) + c;  w' = w + u;  c = u - (w' - w)  (with it: w' and c round to nearest)
/// then m and w are stored, each rounded once. Every product and sum is rounded separately (no
/// fused multiply-add), so each variant gives the reference's bits.
void sgd_update(const SgdUpdateArgs& args);

}  // namespace pure16::kernels
