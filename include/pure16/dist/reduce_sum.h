// The pairwise sum that reduces 16-bit gradients across ranks: both operands widened to
// binary32 (exact), added in binary32, the sum rounded once to the storage dtype (nearest even).
// It is commutative bit for bit (IEEE addition is), which MPI asks of an op it may apply in any
// order. A reduction over p ranks applies it p - 1 times along some tree, so the result differs
// from the exact sum by at most p - 1 roundings of the 16-bit dtype, each relative to the
// partial sum it rounds; a 16-bit sum of fp32 partial sums would be the same.
#pragma once

#include <cstdint>

#include "pure16/tensor/dtype.h"

namespace pure16::dist {

/// inout[i] = round(float(inout[i]) + float(in[i])) for f16 and bf16; f32 and f64 add in their
/// own precision. The vector variants of kernels::add.
void sum_into(void* inout, const void* in, DType dtype, int64_t n);

}  // namespace pure16::dist
