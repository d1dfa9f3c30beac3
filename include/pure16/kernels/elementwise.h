// Element-wise ops, reductions and the loss, on contiguous buffers with a run-time dtype.
//
// Arithmetic is done in binary32 (binary64 for f64) and each stored element is rounded once
// to its dtype with round-to-nearest-even, unless an op says otherwise. Reductions accumulate
// in binary32 (binary64 for f64). Each op runs the variant chosen by the dispatch table.
#pragma once

#include <cstdint>
#include <string_view>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

/// dst[i] = src[i] converted, round-to-nearest-even (exact when widening).
void convert(void* dst, DType dst_type, const void* src, DType src_type, int64_t n);
/// dst[i] = src[i] stochastically rounded to dst_type (f16 or bf16; f32 copies), the random
/// word for element i being Philox(seed, stream, first_index + i).
void convert_stochastic(void* dst, DType dst_type, const float* src, int64_t n, uint64_t seed, uint64_t stream,
                        uint64_t first_index);

/// out[i] = a[i] + b[i] (binary32 sum, one rounding to the dtype; binary64 for f64). out may
/// alias a or b.
void add(void* out, const void* a, const void* b, DType dtype, int64_t n);
/// y[r, c] += bias[c] for a (rows, cols) matrix; with `relu`, y[r, c] = max(y[r, c] + bias[c], 0)
/// (a following ReLU fused in: NaN and -0 give +0, as relu_forward).
void add_bias(void* y, const void* bias, DType dtype, int64_t rows, int64_t cols, bool relu = false);
/// y = max(x, 0). In place when y == x.
void relu_forward(void* y, const void* x, DType dtype, int64_t n);
/// dx = dy where y > 0, else 0.
void relu_backward(void* dx, const void* dy, const void* y, DType dtype, int64_t n);
/// out[c] = beta * out[c] + sum_r x[r, c]: the bias gradient. Sums in binary32 (f64: binary64),
/// then one rounding per output.
void sum_rows(void* out, const void* x, DType dtype, int64_t rows, int64_t cols, float beta);
/// Inverted dropout: y[i] = keep_i ? x[i] / (1 - p) : 0 with keep_i = uniform(Philox(seed,
/// stream, i)) >= p. The same call on dy computes the backward pass.
void dropout(void* y, const void* x, DType dtype, int64_t n, float p, uint64_t seed, uint64_t stream);
/// Number of infinite or NaN elements.
int64_t count_nonfinite(const void* x, DType dtype, int64_t n);
/// Sum of x[i]^2 in binary64, for the norms LARS takes per parameter. Each square is exact (a
/// binary32 or narrower significand squared fits binary64's 53 bits); the sum of each block of
/// 8192 elements and then of the blocks, in order, so the result does not depend on the thread
/// count, has relative error at most (n - 1) 2^-53 (n 2^-53 for f64, whose squares round). One
/// variant: a sweep per step over the weights and gradients costs little next to the update, and
/// vector lanes would be binary32.
double sum_squares(const void* x, DType dtype, int64_t n);

struct SoftmaxXentResult {
  double loss_sum = 0;  // sum over the batch of -log softmax(logits)[label]
  int64_t correct = 0;  // rows whose arg-max is the label
};
/// Softmax cross-entropy over (batch, classes) logits, computed in binary32 after subtracting
/// the row maximum, so fp16 logits cannot overflow the exponentials. If dlogits is non-null it
/// receives grad_scale * (softmax - onehot(label)) in the logits' dtype.
SoftmaxXentResult softmax_cross_entropy(void* dlogits, const void* logits, const int32_t* labels, DType dtype,
                                        int64_t batch, int64_t classes, float grad_scale);

/// The ISA level of the active variant of an element-wise op, by name ("convert", "relu", ...).
std::string_view elementwise_variant(std::string_view op);

}  // namespace pure16::kernels
