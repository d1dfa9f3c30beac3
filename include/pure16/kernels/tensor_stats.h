// Numerics statistics of a tensor, for telemetry: how many elements are zero, subnormal,
// infinite or NaN in the tensor's own dtype, its largest finite magnitude and L2 norm, a histogram
// of binary exponents, and, for wider data, how much of it fp16 or bf16 could not hold.
#pragma once

#include <cstdint>
#include <vector>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

/// The binary exponents the histogram of a dtype has one bucket each for. f16 is bucketed over
/// its whole range: from its smallest subnormal, 2^-24, to its largest finite value's, 2^15. f32,
/// bf16 and f64 reach 2^-149 (bf16 2^-133) to 2^127, which would be hundreds of mostly empty
/// buckets: they get [-40, 16], which holds every fp16 value, with a bucket below and one above.
struct ExponentRange {
  int min_exponent;
  int max_exponent;
};
ExponentRange histogram_exponents(DType dtype);

struct TensorStats {
  int64_t count = 0;
  int64_t zeros = 0;       // +0 and -0
  int64_t subnormals = 0;  // in the data's own dtype
  int64_t infs = 0;
  int64_t nans = 0;
  double max_abs = 0;      // the largest finite magnitude
  double sum_squares = 0;  // over the finite elements, in binary64
  /// exponent_counts[i]: finite non-zero elements with floor(log2|x|) = range.min_exponent + i.
  ExponentRange range{0, 0};
  std::vector<int64_t> exponent_counts;
  int64_t below_range = 0;  // finite non-zero elements under 2^min_exponent (never for f16)
  int64_t above_range = 0;  // finite elements at or over 2^(max_exponent + 1) (never for f16)
  /// What fp16 and bf16 would make of the data (meaningful for f32 and f64 data): non-zero
  /// finite elements below the smallest subnormal (they flush to zero, or at best become the
  /// smallest subnormal), below the smallest normal (they lose precision), and finite elements
  /// larger than the largest finite value (they round to infinity or to that value).
  int64_t fp16_underflow = 0, fp16_below_normal = 0, fp16_overflow = 0;
  int64_t bf16_underflow = 0, bf16_below_normal = 0, bf16_overflow = 0;
};

/// The statistics of x[0, n) of `dtype`, in one pass, the same for any thread count.
TensorStats tensor_stats(const void* x, DType dtype, int64_t n);

}  // namespace pure16::kernels
