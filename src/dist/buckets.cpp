#include "pure16/dist/buckets.h"

#include <stdexcept>
#include <string>

namespace pure16::dist {

std::vector<Bucket> assign_buckets(const std::vector<int64_t>& sizes, int64_t element_bytes, int64_t bucket_bytes,
                                   int64_t first_bucket_bytes) {
  if (element_bytes <= 0 || bucket_bytes <= 0 || first_bucket_bytes <= 0)
    throw std::invalid_argument("assign_buckets: element size " + std::to_string(element_bytes) + ", bucket " +
                                std::to_string(bucket_bytes) + " B and first bucket " +
                                std::to_string(first_bucket_bytes) + " B must be positive");
  std::vector<Bucket> buckets;
  Bucket open;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0) throw std::invalid_argument("assign_buckets: tensor " + std::to_string(i) + " has a negative size");
    if (open.count == 0) open.first = int64_t(i);
    ++open.count;
    open.elements += sizes[i];
    const int64_t limit = buckets.empty() ? first_bucket_bytes : bucket_bytes;
    if (open.elements * element_bytes >= limit) {
      buckets.push_back(open);
      open = Bucket{};
    }
  }
  if (open.count > 0) buckets.push_back(open);
  return buckets;
}

}  // namespace pure16::dist
