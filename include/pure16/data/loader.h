// Seeded mini-batches over a Dataset, sharded across data-parallel ranks.
#pragma once

#include <cstdint>
#include <vector>

#include "pure16/data/batch_source.h"
#include "pure16/data/dataset.h"
#include "pure16/data/epoch_order.h"
#include "pure16/tensor/tensor.h"

namespace pure16::data {

/// Splits one epoch of a dataset into batches.
///
/// Order: each epoch's order is a pure function of (seed, epoch): a Fisher-Yates shuffle of all
/// samples driven by Philox keyed by the seed, or the natural order without shuffle. It does
/// not depend on the rank, so every rank computes the same epoch order.
///
/// Sharding is strided: rank r of W takes positions r, r + W, r + 2W, ... of the epoch order.
/// The shards of the W ranks partition the dataset; their sizes differ by at most one (the
/// first size() % W ranks hold one more sample), so their batch counts can differ by one.
///
/// The dataset is held by reference and must outlive the loader. The constructor checks it
/// once: consistent sizes, labels in [0, num_classes), finite inputs.
class Loader : public BatchSource {
 public:
  /// Throws std::invalid_argument for batch_size <= 0, world_size <= 0, rank outside
  /// [0, world_size), and for a dataset with inconsistent sizes, a label out of range or a
  /// non-finite input (the message names the dataset and the sample index). Starts at epoch 0.
  Loader(const Dataset& dataset, int64_t batch_size, bool shuffle, uint64_t seed, int64_t rank = 0,
         int64_t world_size = 1, ShardRemainder remainder = ShardRemainder::keep);

  /// Selects the order of epoch `epoch` (any value; epochs are independent of each other).
  void start_epoch(int64_t epoch) override;
  int64_t epoch() const { return epoch_; }

  /// ceil(shard_size() / batch_size): the last, partial batch is kept.
  int64_t num_batches() const override;
  /// The samples of this rank in one epoch.
  int64_t shard_size() const { return int64_t(order_.size()); }
  int64_t batch_size() const { return batch_size_; }

  /// Batch `index` of the current epoch, inputs converted from binary32 to `dtype` with
  /// round-to-nearest-even. Throws std::out_of_range for an index outside [0, num_batches()).
  Batch batch(int64_t index, DType dtype) override;
  Shape sample_shape() const override { return dataset_.sample_shape; }
  int64_t num_classes() const override { return dataset_.num_classes; }
  /// The dataset indices of batch `index`, in batch order.
  std::vector<int64_t> batch_indices(int64_t index) const;

 private:
  const Dataset& dataset_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t rank_;
  int64_t world_size_;
  ShardRemainder remainder_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;  // dataset indices of this rank's shard, in epoch order
};

}  // namespace pure16::data
