#include "pure16/data/epoch_order.h"

#include <numeric>
#include <utility>

#include "pure16/numerics/philox.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::data {
namespace {

// A uniform integer in [0, bound) from 64 random bits by multiply-shift (Lemire); the bias is
// below bound / 2^64, negligible for any dataset.
uint64_t below(uint64_t bound, uint32_t hi, uint32_t lo) {
  const unsigned __int128 product = (unsigned __int128)(uint64_t(hi) << 32 | lo) * bound;
  return uint64_t(product >> 64);
}

}  // namespace

std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch, int64_t rank,
                                 int64_t world_size, ShardRemainder remainder) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (shuffle) {
    for (int64_t i = size - 1; i > 0; --i) {
      const Philox4x32::Block r = Philox4x32::generate(seed ^ kShuffleKey, uint64_t(i), uint64_t(epoch));
      std::swap(order[size_t(i)], order[size_t(below(uint64_t(i) + 1, r[0], r[1]))]);
    }
  }
  if (world_size == 1) return order;
  const int64_t end = remainder == ShardRemainder::drop ? size - size % world_size : size;
  std::vector<int64_t> shard;
  shard.reserve(size_t((size + world_size - 1) / world_size));
  for (int64_t p = rank; p < end; p += world_size) shard.push_back(order[size_t(p)]);
  return shard;
}

}  // namespace pure16::data
