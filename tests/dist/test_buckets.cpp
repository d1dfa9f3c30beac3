// Bucket assignment: consecutive tensors in backward order, the first bucket small, no tensor
// split, every tensor in exactly one bucket.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "pure16/dist/buckets.h"

namespace pure16::dist {
namespace {

TEST(Buckets, FirstSmallThenUpToTheCapWithoutSplittingTensors) {
  // Elements of 2 bytes; first bucket 100 B (50 elements), others 400 B (200 elements).
  const std::vector<int64_t> sizes{10, 30, 20, 5, 150, 60, 500, 1, 1};
  const std::vector<Bucket> b = assign_buckets(sizes, 2, 400, 100);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].first, 0);  // 10 + 30 + 20 = 60 elements: closes at 120 B >= 100 B
  EXPECT_EQ(b[0].count, 3);
  EXPECT_EQ(b[0].elements, 60);
  EXPECT_EQ(b[1].first, 3);  // 5 + 150 + 60 = 215 elements: 430 B >= 400 B
  EXPECT_EQ(b[1].count, 3);
  EXPECT_EQ(b[2].first, 6);  // a tensor larger than a bucket travels alone
  EXPECT_EQ(b[2].count, 1);
  EXPECT_EQ(b[2].elements, 500);
  EXPECT_EQ(b[3].first, 7);  // the remainder, below the cap
  EXPECT_EQ(b[3].count, 2);
}

TEST(Buckets, CoverEveryTensorOnceInOrder) {
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < 300; ++i) sizes.push_back((i * 7919) % 1000 + (i % 5 == 0 ? 0 : 1));
  for (int64_t cap : {int64_t(1), int64_t(64), int64_t(4096), int64_t(1) << 30}) {
    const std::vector<Bucket> buckets = assign_buckets(sizes, 4, cap, std::min<int64_t>(cap, 256));
    int64_t next = 0, elements = 0;
    for (const Bucket& b : buckets) {
      EXPECT_EQ(b.first, next);
      EXPECT_GT(b.count, 0);
      int64_t sum = 0;
      for (int64_t t = b.first; t < b.first + b.count; ++t) sum += sizes[size_t(t)];
      EXPECT_EQ(sum, b.elements);
      next += b.count;
      elements += b.elements;
    }
    EXPECT_EQ(next, int64_t(sizes.size()));
    if (cap == (int64_t(1) << 30)) {
      EXPECT_EQ(buckets.size(), 2u);  // the first at 256 B, then one
    }
  }
}

TEST(Buckets, EmptyAndInvalid) {
  EXPECT_TRUE(assign_buckets({}, 2, 100).empty());
  EXPECT_THROW(assign_buckets({1}, 0, 100), std::invalid_argument);
  EXPECT_THROW(assign_buckets({1}, 2, 0), std::invalid_argument);
  EXPECT_THROW(assign_buckets({-1}, 2, 100), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::dist
