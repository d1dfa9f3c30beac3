// The Adam and AdamW update as one sweep over the parameter arena, in the two ways optim::Adam
// keeps its state (pure16/optim/adam.h says why):
//
// - safe: the first moment m and the square root s of the second, both kept in the units of the
//   loss-scaled gradient (m S and sqrt(v) S), so each is representable wherever the gradient is;
//   arithmetic in binary32 registers, each stored value rounded once.
// - naive: what PyTorch's Adam does on fp16 tensors: m and v stored unscaled, every tensor
//   operation's result rounded to nearest in the state dtype (scalar reference only).
#pragma once

#include <cstdint>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

struct AdamUpdateArgs {
  void* weights = nullptr;  // n elements of weight_type, updated in place
  DType weight_type = DType::f32;
  const void* grads = nullptr;  // n elements of grad_type, carrying the loss scale S
  DType grad_type = DType::f32;
  void* exp_avg = nullptr;  // n elements of state_type, updated in place
  // n elements of state_type, updated in place: s = sqrt(v) S when safe, v itself when naive
  void* exp_avg_sq = nullptr;
  DType state_type = DType::f32;
  int64_t n = 0;
  bool naive = false;
  // safe: the stored m and s are multiplied by this first (the new loss scale over the one they
  // were kept in; a power of two, so exact) and saturate at the state dtype's largest finite value.
  float state_rescale = 1.0f;
  float inv_grad_scale = 1.0f;  // naive: 1 / S, unscales the gradient
  float grad_scale = 1.0f;      // safe: S, scales eps and Adam's L2 term into the gradient's units
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;  // Adam: added to the gradient as weight_decay * w
  float decoupled_decay = 0.0f;  // AdamW: lr * weight_decay, w -= decoupled_decay * w
  float step_size = 0.0f;        // lr / (1 - beta1^t)
  float bias_correction2_sqrt = 1.0f;  // sqrt(1 - beta2^t)
  // Kahan-compensated weights, n elements of weight_type as in SgdUpdateArgs (nullptr: none);
  // weights then round to nearest.
  void* compensation = nullptr;
  // When set, n floats: the change each weight was meant to get, before rounding (telemetry).
  float* intended = nullptr;
  // safe: stochastic rounding of the stored fp16/bf16 results, element i's word being
  // Philox(seed, stream, first_index + i) with the weights', m's and s's own streams. naive
  // rounds its state to nearest, as PyTorch, and its weights as asked.
  bool stochastic = false;
  uint64_t seed = 0, weight_stream = 0, exp_avg_stream = 0, exp_avg_sq_stream = 0, first_index = 0;
};

/// For each element i, safe, in binary32 operations each rounded to nearest (no fused
/// multiply-add, so every variant gives the reference's bits; f64 values load rounded to binary32):
///   clamp(x) = min(max(x, -M), M), M the state dtype's largest finite value
///   g  = grad + (weight_decay * S) * w
///   m  = beta1 * clamp(m * state_rescale) + (1 - beta1) * g
///   s  = sqrt(beta2 * (s' * s') + (1 - beta2) * (g * g)),  s' = clamp(s * state_rescale)
///   d  = step_size * (m / (s / bias_correction2_sqrt + eps * S)) + decoupled_decay * w
///   w  = w + (0 - d)                                     (without compensation)
///   u  = (0 - d) + c;  w' = w + u;  c = u - (w' - w)      (with it: w' and c round to nearest)
/// m and s stored rounded once each. Naive, with r() rounding to nearest in the state dtype:
///   g = r(grad * inv_grad_scale);  g = r(g + weight_decay * w) when weight_decay != 0
///   w = w * (1 - decoupled_decay), to nearest in W       when decoupled_decay != 0 (mul_)
///   m = r(m + (1 - beta1) * (g - m))                     (torch's lerp_)
///   v = r(r(beta2 * v) + (1 - beta2) * g * g)            (mul_, addcmul_)
///   q = r(r(r(sqrt(v)) / bias_correction2_sqrt) + eps)   (sqrt, div, add_: eps rounds away)
///   d = step_size * (m / q);  w = w + (0 - d)            (addcdiv_; q = 0 gives inf or NaN)
/// with the weight stored as the policy rounds it (or compensated as above).
void adam_update(const AdamUpdateArgs& args);

}  // namespace pure16::kernels
