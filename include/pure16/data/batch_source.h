// What the trainer consumes: numbered batches of one epoch at a time. In-memory datasets
// (Loader) and decoding, augmenting pipelines (ImageLoader) both implement it.
#pragma once

#include <cstdint>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16::data {

struct Batch {
  Tensor inputs;                // (B, sample_shape...) in the requested dtype
  std::vector<int32_t> labels;  // (B)
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Selects the order (and augmentation) of epoch `epoch`, a pure function of (seed, epoch).
  virtual void start_epoch(int64_t epoch) = 0;
  /// Batches in the current epoch; the last one may be partial.
  virtual int64_t num_batches() const = 0;
  /// Batch `index` of the current epoch in `dtype`. Sources that prefetch serve ascending
  /// indices fastest; any index is valid.
  virtual Batch batch(int64_t index, DType dtype) = 0;
  virtual Shape sample_shape() const = 0;
  virtual int64_t num_classes() const = 0;
};

}  // namespace pure16::data
