// Averages gradients over the ranks of a data-parallel job, bucket by bucket. Each gradient
// tensor (whatever its dtype: arenas may hold segments of several) is converted into its
// bucket's buffer of the communication dtype, the buffers are summed across ranks
// (Communicator::start_sum) while backward goes on, and the sums are converted back. Division by
// the number of ranks happens before the sum (DDP's choice: the sum of N gradients cannot
// overflow where one does not) or after it (one rounding fewer), each in binary32 with one
// rounding into the destination.
//
// Inf and NaN survive every step (a conversion, a binary32 sum, a division), so a gradient that
// overflowed on any rank makes the reduced gradient non-finite on every rank; the ranks hold the
// same bits, so the loss scaler's overflow check, run on the reduced gradients, skips the same
// steps on all of them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "pure16/dist/buckets.h"
#include "pure16/dist/communicator.h"
#include "pure16/tensor/tensor.h"

namespace pure16::dist {

enum class Division { before_sum, after_sum };

struct ReducerOptions {
  DType comm_dtype = DType::f16;
  int64_t bucket_bytes = kDefaultBucketBytes;
  int64_t first_bucket_bytes = kDefaultFirstBucketBytes;
  Division division = Division::before_sum;
};

/// Totals since the last take_stats().
struct ReduceStats {
  int64_t steps = 0;
  int64_t payload_bytes = 0;     // buffer bytes each rank handed to the sum, over all steps
  double comm_seconds = 0;       // time the collectives ran
  double exposed_seconds = 0;    // time the trainer waited for them after backward
  /// The share of communication that ran while backward was still computing.
  double hidden_fraction() const { return comm_seconds > 0 ? std::max(0.0, 1.0 - exposed_seconds / comm_seconds) : 0.0; }
};

class GradientReducer {
 public:
  /// `grads` in backward order (the reverse of the parameters'); views that stay valid for the
  /// reducer's life. Throws std::invalid_argument for a comm dtype other than f32, f16, bf16.
  GradientReducer(Communicator& comm, std::vector<Tensor> grads, const ReducerOptions& options);

  /// The first `complete` tensors (backward order) hold their final gradients of this step:
  /// starts the sum of every bucket made of them alone. Calls with a smaller count do nothing.
  void ready(int64_t complete);
  /// Starts the buckets not started yet, waits for all of them and writes the averaged
  /// gradients back. Ends the step.
  void finish();

  const std::vector<Bucket>& buckets() const { return buckets_; }
  /// Bytes of the buffers handed to the sum each step: elements times the comm dtype's size.
  int64_t payload_bytes_per_step() const;
  const ReducerOptions& options() const { return options_; }
  ReduceStats take_stats();

 private:
  void start(size_t bucket);

  Communicator& comm_;
  std::vector<Tensor> grads_;
  ReducerOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<std::vector<unsigned char>> buffers_;  // one per bucket, comm dtype
  std::vector<Ticket> tickets_;
  size_t started_ = 0;  // buckets started this step
  ReduceStats stats_;
};

/// dst[i] = round(src[i] * factor) into dst_type: src widened to binary32, multiplied (exact
/// for a factor of 1), rounded once. In chunks, with the converting kernels.
void convert_scaled(void* dst, DType dst_type, const void* src, DType src_type, int64_t n, float factor);

}  // namespace pure16::dist
