// The three passes over the rows that batch normalization is made of, as dispatch-table ops:
// column sums, normalization and the input gradient (batchnorm.cpp strings them together).
// The scalar reference of each is batchnorm.cpp's; the vector variants (batchnorm_body.h) give
// its bits: every channel is a lane doing the reference's binary32 operations in its order.
// fp16, bf16 and f32 data; f64 runs the reference's binary64 code and never reaches the table.
#pragma once

#include <cstdint>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

struct KernelTable;

/// Rows per block of a column sum: each block sums its rows in order into its own partials, so
/// results do not depend on how blocks are split over threads.
constexpr int64_t kBatchnormBlockRows = 256;
/// Elements (rows x channels) below which a pass stays on the calling thread.
constexpr int64_t kBatchnormParallelThreshold = 1 << 14;

enum class BatchnormSum {
  shifted,            // x - center[c]                        (one sum per channel)
  squared_deviation,  // (x - center[c])^2                    (one sum per channel)
  gradient,           // g, then g * xhat with g = dy, or 0 where mask[r, c] <= 0 (or NaN) when
                      // a mask (a fused ReLU's output) is given; a = dy, b = xhat (two sums)
};
constexpr int batchnorm_sum_count(BatchnormSum kind) { return kind == BatchnormSum::gradient ? 2 : 1; }

/// partial[(block * S + s) * channels + c] = sum s of channel c over the rows of that block
/// (S = batchnorm_sum_count(kind); blocks of kBatchnormBlockRows rows).
using BatchnormSumsFn = void (*)(BatchnormSum kind, float* partial, const void* a, const void* b, const void* mask,
                                 DType dtype, int64_t rows, int64_t channels, const float* center);
/// xhat = (x - mean) * invstd, y = xhat * weight + bias (from the unrounded xhat), with `relu`
/// y = (that > 0 ? that : 0); y may alias x.
using BatchnormNormalizeFn = void (*)(void* y, void* xhat, const void* x, DType dtype, int64_t rows, int64_t channels,
                                      const float* mean, const float* invstd, const float* weight, const float* bias,
                                      bool relu);
/// dx = scale * ((g - mean_dy) - xhat * mean_dy_xhat), g = dy masked as for BatchnormSum::gradient.
using BatchnormInputGradFn = void (*)(void* dx, const void* dy, const void* xhat, const void* mask, DType dtype,
                                      int64_t rows, int64_t channels, const float* scale, const float* mean_dy,
                                      const float* mean_dy_xhat);

void register_batchnorm_scalar(KernelTable& table);

}  // namespace pure16::kernels
