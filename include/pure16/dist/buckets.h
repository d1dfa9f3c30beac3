// Which gradients travel together. Tensors are taken in the order backward completes them (the
// reverse of the parameters' order), and a bucket closes once it holds `bucket_bytes` or more,
// so a bucket is ready as soon as backward has passed its first tensor's layer. The first bucket
// is smaller (DDP's default: 1 MiB), so communication starts early in backward.
#pragma once

#include <cstdint>
#include <vector>

namespace pure16::dist {

struct Bucket {
  int64_t first = 0;     // index of its first tensor in backward order
  int64_t count = 0;     // tensors
  int64_t elements = 0;  // their total size
};

constexpr int64_t kDefaultBucketBytes = int64_t(25) << 20;
constexpr int64_t kDefaultFirstBucketBytes = int64_t(1) << 20;

/// Consecutive runs of `sizes` (elements, in backward order) of `element_bytes` each: the first
/// closes at `first_bucket_bytes` or more, the others at `bucket_bytes` or more; a tensor larger
/// than a bucket is a bucket of its own, and no tensor is split. Throws std::invalid_argument
/// for a non-positive byte count or element size, or a negative tensor size.
std::vector<Bucket> assign_buckets(const std::vector<int64_t>& sizes, int64_t element_bytes, int64_t bucket_bytes,
                                   int64_t first_bucket_bytes = kDefaultFirstBucketBytes);

}  // namespace pure16::dist
