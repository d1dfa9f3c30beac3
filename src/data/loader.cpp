#include "pure16/data/loader.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "pure16/kernels/elementwise.h"
#include "pure16/data/epoch_order.h"

namespace pure16::data {
namespace {

void check_dataset(const Dataset& d) {
  const std::string what = "dataset '" + d.name + "'";
  for (int64_t dim : d.sample_shape)
    if (dim < 0) throw std::invalid_argument(what + ": negative dimension in sample shape " + shape_string(d.sample_shape));
  const int64_t numel = d.sample_numel();
  if (int64_t(d.inputs.size()) != d.size() * numel)
    throw std::invalid_argument(what + ": " + std::to_string(d.inputs.size()) + " input values for " +
                                std::to_string(d.size()) + " samples of shape " + shape_string(d.sample_shape));
  for (int64_t i = 0; i < d.size(); ++i) {
    const int32_t label = d.labels[size_t(i)];
    if (label < 0 || label >= d.num_classes)
      throw std::invalid_argument(what + ": sample " + std::to_string(i) + " has label " + std::to_string(label) +
                                  " outside [0, " + std::to_string(d.num_classes) + ")");
  }
  for (size_t j = 0; j < d.inputs.size(); ++j)
    if (!std::isfinite(d.inputs[j]))
      throw std::invalid_argument(what + ": sample " + std::to_string(int64_t(j) / numel) + " has a non-finite input (" +
                                  std::to_string(d.inputs[j]) + " at element " + std::to_string(int64_t(j) % numel) + ")");
}

}  // namespace

Loader::Loader(const Dataset& dataset, int64_t batch_size, bool shuffle, uint64_t seed, int64_t rank,
               int64_t world_size, ShardRemainder remainder)
    : dataset_(dataset),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      rank_(rank),
      world_size_(world_size),
      remainder_(remainder) {
  if (batch_size <= 0) throw std::invalid_argument("Loader: batch size must be positive, got " + std::to_string(batch_size));
  if (world_size <= 0) throw std::invalid_argument("Loader: world size must be positive, got " + std::to_string(world_size));
  if (rank < 0 || rank >= world_size)
    throw std::invalid_argument("Loader: rank " + std::to_string(rank) + " is outside [0, " + std::to_string(world_size) + ")");
  check_dataset(dataset);
  start_epoch(0);
}

void Loader::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  order_ = epoch_order(dataset_.size(), shuffle_, seed_, epoch, rank_, world_size_, remainder_);
}

int64_t Loader::num_batches() const { return (shard_size() + batch_size_ - 1) / batch_size_; }

std::vector<int64_t> Loader::batch_indices(int64_t index) const {
  if (index < 0 || index >= num_batches())
    throw std::out_of_range("Loader: batch " + std::to_string(index) + " of dataset '" + dataset_.name + "' is outside [0, " +
                            std::to_string(num_batches()) + ")");
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min(begin + batch_size_, shard_size());
  return std::vector<int64_t>(order_.begin() + begin, order_.begin() + end);
}

Batch Loader::batch(int64_t index, DType dtype) {
  const std::vector<int64_t> indices = batch_indices(index);
  const int64_t rows = int64_t(indices.size());
  const int64_t numel = dataset_.sample_numel();
  Shape shape{rows};
  shape.insert(shape.end(), dataset_.sample_shape.begin(), dataset_.sample_shape.end());

  Batch batch;
  batch.inputs = Tensor::zeros(shape, dtype);
  batch.labels.resize(size_t(rows));
  std::byte* out = static_cast<std::byte*>(batch.inputs.raw());
  const size_t row_bytes = size_t(numel) * dtype_size(dtype);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t sample = indices[size_t(r)];
    kernels::convert(out + size_t(r) * row_bytes, dtype, dataset_.inputs.data() + sample * numel, DType::f32, numel);
    batch.labels[size_t(r)] = dataset_.labels[size_t(sample)];
  }
  return batch;
}

}  // namespace pure16::data
