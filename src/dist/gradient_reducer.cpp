#include "pure16/dist/gradient_reducer.h"

#include <chrono>
#include <stdexcept>

#include "pure16/kernels/elementwise.h"

namespace pure16::dist {

void convert_scaled(void* dst, DType dst_type, const void* src, DType src_type, int64_t n, float factor) {
  if (factor == 1.0f) return kernels::convert(dst, dst_type, src, src_type, n);
  constexpr int64_t kChunk = 4096;
  float scratch[kChunk];
  const size_t src_size = traits(src_type).size, dst_size = traits(dst_type).size;
  for (int64_t at = 0; at < n; at += kChunk) {
    const int64_t len = std::min(kChunk, n - at);
    kernels::convert(scratch, DType::f32, static_cast<const unsigned char*>(src) + at * src_size, src_type, len);
    for (int64_t i = 0; i < len; ++i) scratch[i] *= factor;
    kernels::convert(static_cast<unsigned char*>(dst) + at * dst_size, dst_type, scratch, DType::f32, len);
  }
}

GradientReducer::GradientReducer(Communicator& comm, std::vector<Tensor> grads, const ReducerOptions& options)
    : comm_(comm), grads_(std::move(grads)), options_(options) {
  if (options.comm_dtype == DType::f64)
    throw std::invalid_argument("gradient reducer: the communication dtype must be f32, f16 or bf16, not f64");
  std::vector<int64_t> sizes;
  for (const Tensor& g : grads_) {
    if (!g.is_contiguous()) throw std::invalid_argument("gradient reducer: gradients must be contiguous");
    sizes.push_back(g.numel());
  }
  const int64_t element_bytes = int64_t(traits(options.comm_dtype).size);
  buckets_ = assign_buckets(sizes, element_bytes, options.bucket_bytes, options.first_bucket_bytes);
  for (const Bucket& b : buckets_) buffers_.emplace_back(size_t(b.elements * element_bytes));
  tickets_.resize(buckets_.size());
}

int64_t GradientReducer::payload_bytes_per_step() const {
  int64_t elements = 0;
  for (const Bucket& b : buckets_) elements += b.elements;
  return elements * int64_t(traits(options_.comm_dtype).size);
}

void GradientReducer::start(size_t bucket) {
  const Bucket& b = buckets_[bucket];
  const float factor = options_.division == Division::before_sum ? 1.0f / float(comm_.size()) : 1.0f;
  unsigned char* at = buffers_[bucket].data();
  const size_t element_bytes = traits(options_.comm_dtype).size;
  for (int64_t t = b.first; t < b.first + b.count; ++t) {
    const Tensor& g = grads_[size_t(t)];
    convert_scaled(at, options_.comm_dtype, g.raw(), g.dtype(), g.numel(), factor);
    at += size_t(g.numel()) * element_bytes;
  }
  tickets_[bucket] = comm_.start_sum(buffers_[bucket].data(), b.elements, options_.comm_dtype);
}

void GradientReducer::ready(int64_t complete) {
  while (started_ < buckets_.size()) {
    const Bucket& b = buckets_[started_];
    if (b.first + b.count > complete) return;
    start(started_++);
  }
}

void GradientReducer::finish() {
  while (started_ < buckets_.size()) start(started_++);
  const float factor = options_.division == Division::after_sum ? 1.0f / float(comm_.size()) : 1.0f;
  const size_t element_bytes = traits(options_.comm_dtype).size;
  for (size_t bucket = 0; bucket < buckets_.size(); ++bucket) {
    const auto waiting = std::chrono::steady_clock::now();
    stats_.comm_seconds += comm_.wait(tickets_[bucket]);
    stats_.exposed_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - waiting).count();
    const Bucket& b = buckets_[bucket];
    const unsigned char* at = buffers_[bucket].data();
    for (int64_t t = b.first; t < b.first + b.count; ++t) {
      Tensor& g = grads_[size_t(t)];
      convert_scaled(g.raw(), g.dtype(), at, options_.comm_dtype, g.numel(), factor);
      at += size_t(g.numel()) * element_bytes;
    }
  }
  stats_.payload_bytes += payload_bytes_per_step();
  ++stats_.steps;
  started_ = 0;
}

ReduceStats GradientReducer::take_stats() {
  const ReduceStats stats = stats_;
  stats_ = {};
  return stats;
}

}  // namespace pure16::dist
