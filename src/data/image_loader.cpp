#include "pure16/data/image_loader.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include "pure16/kernels/elementwise.h"
#include "pure16/data/epoch_order.h"

namespace pure16::data {
namespace {

// The error of one sample as std::runtime_error naming its source, unless it already does.
std::exception_ptr name_source(std::exception_ptr error, const std::string& source) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    const std::string message = e.what();
    if (message.find(source) != std::string::npos) return error;
    return std::make_exception_ptr(std::runtime_error(source + ": " + message));
  } catch (...) {
    return std::make_exception_ptr(std::runtime_error(source + ": unknown error"));
  }
}

}  // namespace

ImageLoader::ImageLoader(const ImageDataset& dataset, Pipeline pipeline, ImageLoaderOptions options)
    : dataset_(dataset),
      pipeline_(std::move(pipeline)),
      options_(options),
      window_(std::max(options.prefetch, options.workers)) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument("ImageLoader: " + what); };
  if (options.batch_size <= 0) fail("batch size must be positive, got " + std::to_string(options.batch_size));
  if (options.world_size <= 0) fail("world size must be positive, got " + std::to_string(options.world_size));
  if (options.rank < 0 || options.rank >= options.world_size)
    fail("rank " + std::to_string(options.rank) + " is outside [0, " + std::to_string(options.world_size) + ")");
  if (options.workers < 0) fail("workers must be non-negative, got " + std::to_string(options.workers));
  if (options.prefetch <= 0) fail("prefetch must be positive, got " + std::to_string(options.prefetch));
  if (dataset.size() <= 0) fail("dataset '" + dataset.name() + "' is empty");

  // The sample size: fixed by the pipeline, or that of the first readable sample.
  std::optional<ImageSize> size = pipeline_.output_size();
  for (int64_t i = 0; !size; ++i) {
    Image image;
    try {
      image = dataset_.image(i);
    } catch (const std::exception&) {
      if (!options.skip_unreadable || i + 1 == dataset.size()) throw;
      continue;
    }
    try {
      image = pipeline_.augment(std::move(image), options.seed, 0, i);
    } catch (...) {
      std::rethrow_exception(name_source(std::current_exception(), dataset_.source(i)));
    }
    size = ImageSize{image.height, image.width};
  }
  sample_shape_ = {(*size)[0], (*size)[1], pipeline_.channels()};

  start_epoch(0);
  active_ = false;  // the first start_epoch or batch() starts the workers' prefetching
  try {
    for (int64_t w = 0; w < options.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    throw;
  }
}

ImageLoader::~ImageLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void ImageLoader::start_epoch(int64_t epoch) {
  // Computed outside the lock: workers read order_ only under it, and only the consumer's
  // thread writes it.
  std::vector<int64_t> shard =
      epoch_order(dataset_.size(), options_.shuffle, options_.seed, epoch, options_.rank, options_.world_size,
                  options_.remainder);

  std::map<int64_t, Prepared> stale;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(shard);
    stale.swap(ready_);
    in_flight_.clear();
    next_claim_ = 0;
    consumer_next_ = 0;
    active_ = true;
  }
  work_cv_.notify_all();
}

int64_t ImageLoader::num_batches() const { return (shard_size() + options_.batch_size - 1) / options_.batch_size; }

std::vector<int64_t> ImageLoader::batch_indices(int64_t index) const {
  if (index < 0 || index >= num_batches())
    throw std::out_of_range("ImageLoader: batch " + std::to_string(index) + " of dataset '" + dataset_.name() +
                            "' is outside [0, " + std::to_string(num_batches()) + ")");
  const int64_t begin = index * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, shard_size());
  return std::vector<int64_t>(order_.begin() + begin, order_.begin() + end);
}

ImageLoader::Prepared ImageLoader::prepare(const std::vector<int64_t>& indices, int64_t epoch, DType dtype,
                                           const std::atomic<uint64_t>* generation, uint64_t my_generation) const {
  Prepared prepared;
  try {
    const int64_t numel = shape_numel(sample_shape_);
    const int64_t height = sample_shape_[0], width = sample_shape_[1];
    Shape shape{int64_t(indices.size())};
    shape.insert(shape.end(), sample_shape_.begin(), sample_shape_.end());
    Tensor inputs = Tensor::zeros(shape, dtype);
    std::byte* out = static_cast<std::byte*>(inputs.raw());
    const size_t row_bytes = size_t(numel) * dtype_size(dtype);
    std::vector<float> values(static_cast<size_t>(numel));
    std::exception_ptr first_skipped;
    int64_t rows = 0;
    for (const int64_t sample : indices) {
      if (generation != nullptr && generation->load() != my_generation) return prepared;  // abandoned
      Image image;
      try {
        image = dataset_.image(sample);
      } catch (...) {
        std::exception_ptr named = name_source(std::current_exception(), dataset_.source(sample));
        if (!options_.skip_unreadable) std::rethrow_exception(named);
        if (!first_skipped) first_skipped = named;
        ++prepared.skipped;
        continue;
      }
      try {
        const int32_t label = dataset_.label(sample);
        if (label < 0 || label >= dataset_.num_classes())
          throw std::runtime_error("label " + std::to_string(label) + " is outside [0, " +
                                   std::to_string(dataset_.num_classes()) + ")");
        image = pipeline_.augment(std::move(image), options_.seed, epoch, sample);
        if (image.height != height || image.width != width)
          throw std::runtime_error("image is " + std::to_string(image.height) + "x" + std::to_string(image.width) +
                                   " after the transforms, expected " + std::to_string(height) + "x" +
                                   std::to_string(width) + " (every image of a batch must have the same size)");
        pipeline_.normalize(image, values.data());
        kernels::convert(out + size_t(rows) * row_bytes, dtype, values.data(), DType::f32, numel);
        prepared.batch.labels.push_back(label);
        ++rows;
      } catch (...) {
        std::rethrow_exception(name_source(std::current_exception(), dataset_.source(sample)));
      }
    }
    if (rows == 0) {
      throw std::runtime_error("every image of the batch is unreadable; the first: " + [&] {
        try {
          std::rethrow_exception(first_skipped);
        } catch (const std::exception& e) {
          return std::string(e.what());
        } catch (...) {
          return std::string("unknown error");
        }
      }());
    }
    if (rows < int64_t(indices.size())) {
      shape[0] = rows;
      Tensor kept = Tensor::zeros(shape, dtype);
      std::memcpy(kept.raw(), inputs.raw(), size_t(rows) * row_bytes);
      inputs = kept;
    }
    prepared.batch.inputs = inputs;
  } catch (...) {
    prepared.error = std::current_exception();
  }
  return prepared;
}

void ImageLoader::worker_loop() {
  // Each worker converts one sample at a time: an OpenMP team per worker would only compete
  // with the training step's threads for the cores.
  omp_set_num_threads(1);
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] {
      return stop_ || (active_ && next_claim_ < num_batches() && next_claim_ < consumer_next_ + window_);
    });
    if (stop_) return;
    const int64_t index = next_claim_++;
    const uint64_t generation = generation_.load();
    const std::vector<int64_t> indices = batch_indices(index);
    const int64_t epoch = epoch_;
    in_flight_.insert(index);
    lock.unlock();
    Prepared prepared = prepare(indices, epoch, dtype_hint_.load(), &generation_, generation);
    lock.lock();
    if (generation_.load() != generation) continue;  // start_epoch moved on: drop it
    in_flight_.erase(index);
    ready_.emplace(index, std::move(prepared));
    ready_cv_.notify_all();
  }
}

Batch ImageLoader::batch(int64_t index, DType dtype) {
  const std::vector<int64_t> indices = batch_indices(index);
  dtype_hint_.store(dtype);
  std::optional<Prepared> prepared;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    active_ = true;
    consumer_next_ = index + 1;
    // Batches behind this one will not be asked for in ascending order: let them go.
    ready_.erase(ready_.begin(), ready_.lower_bound(index));
    ready_cv_.wait(lock, [&] { return ready_.count(index) != 0 || in_flight_.count(index) == 0; });
    if (auto it = ready_.find(index); it != ready_.end()) {
      prepared.emplace(std::move(it->second));
      ready_.erase(it);
    } else if (index >= next_claim_) {
      next_claim_ = index + 1;  // built here; the workers go on after it
    }
  }
  work_cv_.notify_all();
  if (!prepared) prepared.emplace(prepare(indices, epoch_, dtype, nullptr, 0));
  return finish(std::move(*prepared), indices, epoch_, dtype);
}

Batch ImageLoader::finish(Prepared prepared, const std::vector<int64_t>& indices, int64_t epoch, DType dtype) {
  if (prepared.error) std::rethrow_exception(prepared.error);
  if (prepared.batch.inputs.dtype() != dtype) {
    // Rounding binary32 to `dtype` now gives what preparing in `dtype` would have; from any
    // other dtype it would not, so then prepare again.
    if (prepared.batch.inputs.dtype() == DType::f32)
      prepared.batch.inputs = prepared.batch.inputs.to(dtype);
    else
      return finish(prepare(indices, epoch, dtype, nullptr, 0), indices, epoch, dtype);
  }
  skipped_ += prepared.skipped;
  return std::move(prepared.batch);
}

}  // namespace pure16::data
