// Philox4x32-10: the known-answer vectors of the Random123 distribution (kat_vectors), the
// packing of key and counter words, and the derived word() / uniform_float().
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>

#include "pure16/numerics/philox.h"

namespace pure16 {
namespace {

using Block = Philox4x32::Block;

// generate(key, counter_lo, counter_hi) packs k0 = low 32 bits of key, k1 = high; counter
// words c0, c1 = low, high of counter_lo and c2, c3 = low, high of counter_hi.
Block philox(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  return Philox4x32::generate(uint64_t(k1) << 32 | k0, uint64_t(c1) << 32 | c0, uint64_t(c3) << 32 | c2);
}

TEST(Philox, Random123KnownAnswers) {
  EXPECT_EQ(philox(0, 0, 0, 0, 0, 0), (Block{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu),
            (Block{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u),
            (Block{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, IsConstexpr) {
  constexpr Block b = Philox4x32::generate(0, 0, 0);
  static_assert(b[0] == 0x6627e8d5u && b[3] == 0x9b00dbd8u);
  constexpr uint32_t w = Philox4x32::word(0, 0, 2);
  static_assert(w == 0xbc57ac4cu);
}

TEST(Philox, WordIndexesBlocksOfFour) {
  for (uint64_t key : {0ull, 42ull, 0x0123456789abcdefull}) {
    for (uint64_t stream : {0ull, 1ull, 0xffffffff00000000ull}) {
      for (uint64_t index : {0ull, 1ull, 2ull, 3ull, 4ull, 1000001ull, 0xfffffffffffffffull}) {
        EXPECT_EQ(Philox4x32::word(key, stream, index), Philox4x32::generate(key, index >> 2, stream)[index & 3]);
      }
    }
  }
}

TEST(Philox, EveryInputWordMatters) {
  // Changing one bit of any key or counter word changes the block.
  const Block base = Philox4x32::generate(0x1111222233334444ull, 0x5555666677778888ull, 0x9999aaaabbbbccccull);
  std::set<Block> seen{base};
  for (int bit : {0, 31, 32, 63}) {
    seen.insert(Philox4x32::generate(0x1111222233334444ull ^ (1ull << bit), 0x5555666677778888ull, 0x9999aaaabbbbccccull));
    seen.insert(Philox4x32::generate(0x1111222233334444ull, 0x5555666677778888ull ^ (1ull << bit), 0x9999aaaabbbbccccull));
    seen.insert(Philox4x32::generate(0x1111222233334444ull, 0x5555666677778888ull, 0x9999aaaabbbbccccull ^ (1ull << bit)));
  }
  EXPECT_EQ(seen.size(), 13u);
}

TEST(Philox, WordsLookUniform) {
  // Each of the 32 bits is set about half the time; uniform_float has mean 1/2, variance 1/12.
  constexpr int64_t n = 1 << 18;
  int64_t ones[32] = {};
  double sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t w = Philox4x32::word(7, 3, uint64_t(i));
    for (int b = 0; b < 32; ++b) ones[b] += (w >> b) & 1;
    const double u = uniform_float(w);
    sum += u;
    sum_sq += u * u;
  }
  const double sd = std::sqrt(0.25 / n) * n;  // of a bit count
  for (int b = 0; b < 32; ++b) EXPECT_NEAR(double(ones[b]), n / 2.0, 5 * sd) << "bit " << b;
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum_sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
}

TEST(Philox, UniformFloatRange) {
  EXPECT_EQ(uniform_float(0), 0.0f);
  EXPECT_EQ(uniform_float(0xffffffffu), 1.0f - 0x1.0p-24f);
  EXPECT_LT(uniform_float(0xffffffffu), 1.0f);
  EXPECT_EQ(uniform_float(0x80000000u), 0.5f);
  EXPECT_EQ(uniform_float(0x000000ffu), 0.0f);  // only the top 24 bits count
  EXPECT_EQ(uniform_float(0x00000100u), 0x1.0p-24f);
}

}  // namespace
}  // namespace pure16
