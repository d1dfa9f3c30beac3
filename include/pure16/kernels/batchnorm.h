// Batch normalization of an NHWC tensor viewed as a (rows = N*H*W, C) matrix: statistics per
// channel (column), over the rows.
//
// Every tensor argument has the one dtype (the compute dtype: fp16 in pure-fp16). Inside, all
// arithmetic is binary32 (binary64 for f64), and the reductions accumulate in binary32 over
// fixed blocks of rows summed in order, so results do not depend on the thread count. The
// variance is two-pass: the mean first (of x - x[0], so its error scales with the spread, not
// the magnitude), then the mean of squared deviations from it; one pass with E[x^2] - E[x]^2
// cancels catastrophically when |mean| >> std. Each stored value is rounded once.
//
// Backward needs only xhat = (x - mean) * invstd and invstd, both written by forward:
// xhat stays accurate in fp16 whatever the mean is, whereas x and an fp16-rounded mean would
// not (at |mean| = 1000 fp16's spacing is 0.5, half a standard deviation of unit-variance data).
#pragma once

#include <cstdint>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

/// Sums per-channel values over the replicas of a data-parallel job, for synchronized batch
/// normalization (PyTorch's SyncBatchNorm): every replica calls it at the same points, in the
/// same order, with its own values, and receives the sums over all replicas in place.
class ReplicaSum {
 public:
  virtual ~ReplicaSum() = default;
  virtual void sum(float* values, int64_t n) = 0;
  virtual void sum(double* values, int64_t n) = 0;
};

/// Training mode, with the batch statistics (needs rows >= 2):
///   mean, invstd (C)      = batch mean and 1 / sqrt(biased variance + eps)
///   xhat (rows, C)        = (x - mean) * invstd
///   y (rows, C)           = xhat * weight + bias
///   running_mean/var (C)  = (1 - momentum) * running + momentum * (mean, unbiased variance)
/// y may alias x (no other aliasing). With `relu`, y = max(xhat * weight + bias, 0) instead
/// (a following ReLU fused in: the same bits as rounding y and then applying the ReLU).
/// The running statistics are of `statistics_dtype` (the policy's; the rest is of `dtype`): their
/// update is computed at the accumulation precision of `dtype` and rounded once.
/// With `replicas`, the statistics are those of every replica's rows together: the replicas'
/// row counts and rows * local mean are summed into the mean, then the squared deviations from
/// it into the variance (two passes still, one collective after each).
void batchnorm_forward_training(void* y, void* xhat, void* mean, void* invstd, void* running_mean, void* running_var,
                                const void* x, const void* weight, const void* bias, DType dtype,
                                DType statistics_dtype, int64_t rows, int64_t channels, double eps, double momentum,
                                bool relu = false, ReplicaSum* replicas = nullptr);

/// Evaluation mode, with the running statistics: invstd = 1 / sqrt(running_var + eps),
/// xhat = (x - running_mean) * invstd, y = xhat * weight + bias (max(..., 0) with `relu`).
/// y may alias x.
void batchnorm_forward_inference(void* y, void* xhat, void* invstd, const void* x, const void* running_mean,
                                 const void* running_var, const void* weight, const void* bias, DType dtype,
                                 DType statistics_dtype, int64_t rows, int64_t channels, double eps, bool relu = false);

/// dweight (C) += sum_r dy * xhat; dbias (C) += sum_r dy. If dx is non-null it is assigned
///   batch statistics:  dx = weight * invstd * (dy - mean_r(dy) - xhat * mean_r(dy * xhat))
///   running statistics: dx = weight * invstd * dy
/// (the first differentiates through the batch mean and variance, the second treats them as
/// constants). dy, xhat (rows, C); invstd, weight (C). Given relu_output (the y of a forward
/// with `relu`, (rows, C)), dy is the gradient of that output: every dy where y <= 0 (or NaN)
/// counts as 0, as a separate ReLU's backward would have made it.
/// With `replicas` (and batch statistics, of a forward given the same replicas), the means of dy
/// and dy * xhat in dx are over every replica's rows; dweight and dbias stay this replica's own
/// sums, which data parallelism averages with the other gradients.
void batchnorm_backward(void* dx, void* dweight, void* dbias, const void* dy, const void* xhat, const void* invstd,
                        const void* weight, DType dtype, int64_t rows, int64_t channels, bool batch_statistics,
                        const void* relu_output = nullptr, ReplicaSum* replicas = nullptr);

}  // namespace pure16::kernels
