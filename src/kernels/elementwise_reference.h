// The scalar reference of each element-wise op (elementwise_scalar.cpp), callable by the
// vector variants for what they do not handle themselves: f64 and conversions involving it.
#pragma once

#include <cstdint>

#include <bit>
#include <limits>
#include <type_traits>

#include "pure16/kernels/adam_update.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/philox.h"

namespace pure16::kernels {

/// Element count above which the element-wise ops (reference and variants) use OpenMP threads.
constexpr int64_t kParallelThreshold = 1 << 15;

void convert_ref(void* dst, DType dst_type, const void* src, DType src_type, int64_t n);
void convert_stochastic_ref(void* dst, DType dst_type, const float* src, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t first_index);
void add_ref(void* out, const void* a, const void* b, DType dtype, int64_t n);
void add_bias_ref(void* y, const void* bias, DType dtype, int64_t rows, int64_t cols, bool relu);
void relu_forward_ref(void* y, const void* x, DType dtype, int64_t n);
void relu_backward_ref(void* dx, const void* dy, const void* y, DType dtype, int64_t n);
void sum_rows_ref(void* out, const void* x, DType dtype, int64_t rows, int64_t cols, float beta);
void dropout_ref(void* y, const void* x, DType dtype, int64_t n, float p, uint64_t seed, uint64_t stream);
int64_t count_nonfinite_ref(const void* x, DType dtype, int64_t n);
SoftmaxXentResult softmax_cross_entropy_ref(void* dlogits, const void* logits, const int32_t* labels, DType dtype,
                                            int64_t batch, int64_t classes, float grad_scale);
void sgd_update_ref(const SgdUpdateArgs& args);    // in sgd_update.cpp
void adam_update_ref(const AdamUpdateArgs& args);  // in adam_update.cpp

/// The largest finite value of T that binary32 holds (f64 values load rounded to binary32).
template <class T>
constexpr float largest_finite() {
  if constexpr (std::is_same_v<T, fp16>) return 65504.0f;
  if constexpr (std::is_same_v<T, bf16>) return std::bit_cast<float>(0x7f7f0000u);
  return std::numeric_limits<float>::max();
}

/// T rounded from binary32: stochastically with Philox(seed, stream, index) where asked and T is
/// 16 bits wide, else to nearest (exact for f32 and f64). The optimizers' stores.
template <class T>
T round_from(float x, bool stochastic, uint64_t seed, uint64_t stream, uint64_t index) {
  if constexpr (std::is_same_v<T, fp16>) {
    if (stochastic) return to_fp16_stochastic(x, Philox4x32::word(seed, stream, index));
  } else if constexpr (std::is_same_v<T, bf16>) {
    if (stochastic) return to_bf16_stochastic(x, Philox4x32::word(seed, stream, index));
  }
  return from_double<T>(double(x));
}

}  // namespace pure16::kernels
