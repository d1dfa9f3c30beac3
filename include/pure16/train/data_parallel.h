// Data-parallel training: the callback that makes a Run one rank of a job of N processes, each
// training the same model on its own shard of every global batch (DDP's scheme).
//
// - At construction, rank 0's weights, master weights, buffers and optimizer state are copied to
//   every rank, so the ranks start from the same bits whatever each initialized or restored.
// - During backward, as each top-level layer's backward begins, the gradients of the layers
//   after it are final: every bucket made of them alone starts its sum (dist::GradientReducer),
//   so communication overlaps the rest of backward. after_backward waits for the rest and writes
//   the averaged gradients back, before the loss scaler's overflow check.
// - Every other random stream (stochastic rounding of the update above all) is keyed by seed and
//   step, not by rank, and every rank applies the same update to the same gradients, so the
//   weights stay bitwise equal; dropout alone draws per rank (dropout_key).
// - BatchNorm normalizes with the rank's local batch statistics, as DDP does; the running
//   statistics are averaged over the ranks at each epoch's end (before evaluation and the
//   epoch's checkpoint), at max_steps, and every `buffer_sync_every` steps (the checkpoint
//   interval), so every rank holds, and rank 0 saves, the same model. With `sync_batchnorm`,
//   training steps normalize with the statistics of the global batch instead (PyTorch's
//   SyncBatchNorm: per BatchNorm layer, one sum over the ranks after each of forward's two
//   passes and one in backward), which keeps the running statistics equal on every rank.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "pure16/dist/communicator.h"
#include "pure16/dist/gradient_reducer.h"
#include "pure16/kernels/batchnorm.h"
#include "pure16/train/run.h"

namespace pure16::train {

struct DataParallelOptions {
  std::optional<DType> comm_dtype;  // default: the policy's compute dtype
  int64_t bucket_bytes = dist::kDefaultBucketBytes;
  int64_t first_bucket_bytes = dist::kDefaultFirstBucketBytes;
  dist::Division division = dist::Division::before_sum;
  bool overlap = true;             // start buckets during backward; false: all after it
  int64_t buffer_sync_every = 0;   // also average the running statistics every N steps (0: never)
  bool sync_batchnorm = false;     // batch statistics of the global batch, not the rank's
};

class DataParallel : public Callback, private nn::LayerObserver, private kernels::ReplicaSum {
 public:
  /// Joins `run` to `comm`'s job (Run::set_communicator), copies rank 0's state to every rank
  /// and adds itself as `run`'s next callback (before a Checkpointer added after it, so buffers
  /// are averaged before a checkpoint). A collective: every rank constructs it at the same
  /// point. `run` and `comm` must outlive it.
  DataParallel(Run& run, dist::Communicator& comm, const DataParallelOptions& options = {});
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  void before_step(Run&) override { complete_ = 0; }
  void after_backward(Run&) override { reducer_.finish(); }
  void after_batch(Run& run, const BatchProgress& progress) override;

  /// Replaces every buffer (BatchNorm's running statistics) with its mean over the ranks:
  /// summed in binary32, divided by N, rounded once to the buffer's dtype. A collective.
  void average_buffers();
  /// FNV-1a over the bytes of the weights, master weights, buffers and optimizer state.
  uint64_t state_hash() const;
  /// Whether every rank's state_hash equals rank 0's; the same answer on every rank. A collective.
  bool replicas_identical();

  const dist::GradientReducer& reducer() const { return reducer_; }
  dist::ReduceStats take_stats() { return reducer_.take_stats(); }

 private:
  void on_forward(const std::string&, const Tensor&) override {}
  void on_backward(const std::string& path, const Tensor&) override;
  void sum(float* values, int64_t n) override { comm_.sum(values, n, DType::f32); }
  void sum(double* values, int64_t n) override { comm_.sum(values, n, DType::f64); }

  Run& run_;
  dist::Communicator& comm_;
  DataParallelOptions options_;
  dist::GradientReducer reducer_;
  // Gradients (backward order) that are final when the top-level layer of that name starts its backward.
  std::unordered_map<std::string, int64_t> complete_at_;
  int64_t complete_ = 0;
};

/// The reducer's options for `run`'s gradients: its compute dtype unless `options` names one.
dist::ReducerOptions reducer_options(const Run& run, const DataParallelOptions& options);

}  // namespace pure16::train
