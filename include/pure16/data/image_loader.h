// Batches of decoded, augmented images, prepared ahead of the trainer by worker threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pure16/data/batch_source.h"
#include "pure16/data/epoch_order.h"
#include "pure16/data/image.h"
#include "pure16/data/transforms.h"

namespace pure16::data {

struct ImageLoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  ShardRemainder remainder = ShardRemainder::keep;  // epoch_order
  /// Threads that decode and augment; 0 prepares each batch in the caller of batch().
  int64_t workers = 2;
  /// Batches prepared ahead of the one the consumer last asked for (at least one per worker).
  int64_t prefetch = 3;
  /// Drop samples whose image cannot be read (counted by skipped_images()) instead of failing.
  bool skip_unreadable = false;
};

/// Splits one epoch of an ImageDataset into batches of transformed images, (B, H, W, C).
///
/// Order and sharding are those of Loader: a Philox Fisher-Yates shuffle keyed by (seed,
/// epoch), and rank r of W takes positions r, r + W, ... of it. Sample i of epoch e is
/// augmented with the pipeline's randomness for (seed, e, i), so a batch is a pure function of
/// (seed, epoch, index), whatever the number of workers.
///
/// Workers prepare batches in ascending order, up to max(prefetch, workers) beyond the last one
/// asked for; batch(i) hands over batch i when it is ready (and builds it in the caller if it
/// was never scheduled, so any index works). Nothing is prepared before the first start_epoch
/// or batch() call. start_epoch abandons the work of the previous epoch; the destructor stops
/// and joins the workers.
///
/// Errors: an exception while preparing a sample (an unreadable image) is rethrown by batch()
/// for that batch, as std::runtime_error naming the sample's source. With skip_unreadable such
/// samples are left out of their batch, which is then smaller, and counted; a batch none of
/// whose samples can be read is still an error. Every transformed image must have the size of
/// sample_shape(), else batch() throws naming the file.
///
/// The dataset is held by reference and must outlive the loader; it is read from the workers.
class ImageLoader : public BatchSource {
 public:
  /// Throws std::invalid_argument for a batch size, world size or prefetch <= 0, negative
  /// workers, a rank outside [0, world_size) or an empty dataset. When the pipeline does not
  /// fix the output size, reads and transforms sample 0 to learn it (and throws as batch()).
  ImageLoader(const ImageDataset& dataset, Pipeline pipeline, ImageLoaderOptions options);
  ~ImageLoader() override;
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  void start_epoch(int64_t epoch) override;
  int64_t epoch() const { return epoch_; }
  int64_t num_batches() const override;
  int64_t shard_size() const { return int64_t(order_.size()); }
  Batch batch(int64_t index, DType dtype) override;
  Shape sample_shape() const override { return sample_shape_; }
  int64_t num_classes() const override { return dataset_.num_classes(); }
  /// The dataset indices of batch `index` of the current epoch (before any skipping).
  std::vector<int64_t> batch_indices(int64_t index) const;
  /// Samples dropped so far from the batches handed out (skip_unreadable).
  int64_t skipped_images() const { return skipped_.load(); }

 private:
  struct Prepared {
    Batch batch;
    int64_t skipped = 0;
    std::exception_ptr error;
  };
  Prepared prepare(const std::vector<int64_t>& indices, int64_t epoch, DType dtype,
                   const std::atomic<uint64_t>* generation, uint64_t my_generation) const;
  Batch finish(Prepared prepared, const std::vector<int64_t>& indices, int64_t epoch, DType dtype);
  void worker_loop();

  const ImageDataset& dataset_;
  const Pipeline pipeline_;
  const ImageLoaderOptions options_;
  const int64_t window_;  // max(prefetch, workers): batches claimed beyond the consumer's
  Shape sample_shape_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;  // dataset indices of this rank's shard, in epoch order
  std::atomic<int64_t> skipped_{0};

  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable work_cv_;      // workers wait for work
  std::condition_variable ready_cv_;     // the consumer waits for a batch
  std::atomic<uint64_t> generation_{0};  // bumped by start_epoch; stale work is dropped
  bool active_ = false;                  // nothing is prepared before the first start_epoch/batch
  bool stop_ = false;
  int64_t next_claim_ = 0;                     // the next batch a worker takes
  int64_t consumer_next_ = 0;                  // one past the batch last asked for: the prefetch window's base
  std::atomic<DType> dtype_hint_{DType::f32};  // the dtype last asked for; workers produce it
  std::set<int64_t> in_flight_;
  std::map<int64_t, Prepared> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace pure16::data
