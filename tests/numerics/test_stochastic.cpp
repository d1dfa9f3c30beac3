// Stochastic rounding to fp16 / bf16 with Philox words: the result is always one of the two
// neighbouring values, exact values stay exact, the mean is the input (unbiased), and the
// result is reproducible from (seed, stream, index).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "pure16/numerics/float16.h"
#include "pure16/numerics/philox.h"

namespace pure16 {
namespace {

#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
constexpr int64_t kDraws = 100'000;
#else
constexpr int64_t kDraws = 1'000'000;
#endif
constexpr uint64_t kSeed = 0x5eed;

struct Half {
  static uint16_t rne(float x) { return to_fp16(x).bits; }
  static uint16_t sr(float x, uint32_t r) { return to_fp16_stochastic(x, r).bits; }
  static double value(uint16_t bits) { return double(to_float(fp16::from_bits(bits))); }
  static constexpr uint16_t kInf = 0x7c00;
};
struct Brain {
  static uint16_t rne(float x) { return to_bf16(x).bits; }
  static uint16_t sr(float x, uint32_t r) { return to_bf16_stochastic(x, r).bits; }
  static double value(uint16_t bits) { return double(to_float(bf16::from_bits(bits))); }
  static constexpr uint16_t kInf = 0x7f80;
};

// The magnitude pattern of the largest value <= |x| (round-to-nearest-even, stepped back by
// one when it went up; RNE is verified bit-exactly in test_rounding_reference).
template <class F>
uint16_t floor_magnitude(float x) {
  uint16_t m = F::rne(std::fabs(x)) & 0x7fff;
  if (F::value(m) > std::fabs(x)) --m;
  return m;
}

// Draws N stochastic roundings of x with words Philox(kSeed, stream, i) and checks they are
// all one of the two neighbours and that their mean is within 5 standard deviations of x:
// with p = (|x| - lo) / (hi - lo) the mean of N draws has standard deviation
// (hi - lo) sqrt(p (1 - p) / N).
template <class F>
void check_unbiased(float x, uint64_t stream, int64_t draws = kDraws) {
  SCOPED_TRACE("x = " + std::to_string(x) + " (" + std::to_string(std::bit_cast<uint32_t>(x)) + ")");
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const uint16_t lo = floor_magnitude<F>(x), hi = uint16_t(lo + 1);
  const double lo_v = F::value(lo), hi_v = F::value(hi);
  ASSERT_LT(lo_v, std::fabs(double(x)));
  ASSERT_LT(std::fabs(double(x)), hi_v);
  int64_t ups = 0;
  for (int64_t i = 0; i < draws; ++i) {
    const uint16_t r = F::sr(x, Philox4x32::word(kSeed, stream, uint64_t(i)));
    ASSERT_TRUE(r == (sign | lo) || r == (sign | hi)) << "got 0x" << std::hex << r << ", neighbours 0x" << (sign | lo)
                                                      << " and 0x" << (sign | hi);
    ups += r == (sign | hi);
  }
  const double ulp = hi_v - lo_v;
  const double p = (std::fabs(double(x)) - lo_v) / ulp;
  const double mean = lo_v + ulp * double(ups) / double(draws);
  const double sd = ulp * std::sqrt(p * (1 - p) / double(draws));
  EXPECT_NEAR(mean, std::fabs(double(x)), 5 * sd) << "p = " << p << ", round-ups " << ups << " of " << draws;
}

TEST(Stochastic, ExactValuesStayExact) {
  const std::vector<uint32_t> words = {0u, 1u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu, 0x12345678u};
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const fp16 h = fp16::from_bits(uint16_t(bits));
    const bf16 b = bf16::from_bits(uint16_t(bits));
    for (uint32_t w : words) {
      if (is_nan(h)) {
        ASSERT_TRUE(is_nan(to_fp16_stochastic(to_float(h), w)));
      } else {
        ASSERT_EQ(to_fp16_stochastic(to_float(h), w).bits, bits) << std::hex << bits << " word " << w;
      }
      if (is_nan(b)) {
        ASSERT_TRUE(is_nan(to_bf16_stochastic(to_float(b), w)));
      } else {
        ASSERT_EQ(to_bf16_stochastic(to_float(b), w).bits, bits) << std::hex << bits << " word " << w;
      }
    }
  }
}

template <class F>
void check_neighbours_random(uint64_t stream, int min_exp, int max_exp) {
  // Random floats with exponents in [min_exp, max_exp], random words: never outside the two
  // neighbours (the upper one may be infinity just above the largest finite value).
  uint64_t state = stream;
  for (int64_t i = 0; i < kDraws; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t mant = uint32_t(state >> 41) & 0x7fffffu;
    const int e = min_exp + int((state >> 20) % uint64_t(max_exp - min_exp + 1));
    const float x = std::bit_cast<float>((state >> 63 ? 0x80000000u : 0u) | uint32_t(e + 127) << 23 | mant);
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const uint16_t lo = floor_magnitude<F>(x);
    const uint16_t r = F::sr(x, Philox4x32::word(kSeed, stream, uint64_t(i)));
    ASSERT_TRUE(r == (sign | lo) || (F::value(lo) != std::fabs(x) && r == (sign | (lo + 1))))
        << std::hex << "x bits " << std::bit_cast<uint32_t>(x) << " gave " << r << ", lower neighbour " << (sign | lo);
  }
}

TEST(Stochastic, NeverOutsideTheNeighbours) {
  check_neighbours_random<Half>(1, -40, 15);   // normal, subnormal and far below the subnormals
  check_neighbours_random<Brain>(2, -126, 127);
  // bf16 subnormals come from float subnormals (exponent field 0).
  uint64_t state = 3;
  for (int64_t i = 0; i < kDraws / 10; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const float x = std::bit_cast<float>(uint32_t(state >> 41) & 0x807fffffu);
    const uint16_t lo = floor_magnitude<Brain>(x);
    const uint16_t r = Brain::sr(x, Philox4x32::word(kSeed, 3, uint64_t(i))) & 0x7fff;
    ASSERT_TRUE(r == lo || (Brain::value(lo) != std::fabs(x) && r == lo + 1)) << std::hex << std::bit_cast<uint32_t>(x);
  }
}

TEST(Fp16Stochastic, UnbiasedNormal) {
  check_unbiased<Half>(1.0f + 0x1.333p-12f, 10);  // 0.3 ulp above 1
  check_unbiased<Half>(-3.14159265f, 11);
  check_unbiased<Half>(1000.1f, 12);
  check_unbiased<Half>(0x1.0p-14f * 1.9f, 13);    // just above the smallest normal
  check_unbiased<Half>(7.0e-4f, 14);
}

TEST(Fp16Stochastic, UnbiasedNearMaxFinite) {
  check_unbiased<Half>(65494.4f, 20);              // 0.7 of the way from 65472 to 65504
  check_unbiased<Half>(-65480.0f, 21);
  // Between the largest finite value and 2^16 the upper neighbour is infinity: reached with
  // probability (x - 65504) / 32, and nothing else.
  int64_t infs = 0;
  for (int64_t i = 0; i < kDraws; ++i) {
    const uint16_t r = Half::sr(65512.0f, Philox4x32::word(kSeed, 22, uint64_t(i)));
    ASSERT_TRUE(r == 0x7bff || r == 0x7c00);
    infs += r == 0x7c00;
  }
  EXPECT_NEAR(double(infs) / double(kDraws), 0.25, 5 * std::sqrt(0.25 * 0.75 / double(kDraws)));
  EXPECT_EQ(Half::sr(65536.0f, 0), 0x7c00);
  EXPECT_EQ(Half::sr(1e30f, 0), 0x7c00);
}

TEST(Fp16Stochastic, UnbiasedSubnormal) {
  check_unbiased<Half>(0x1.0p-24f * 5.37f, 30);
  check_unbiased<Half>(0x1.0p-24f * 0.25f, 31);
  check_unbiased<Half>(-0x1.0p-24f * 1000.5f, 32);
}

TEST(Fp16Stochastic, UnbiasedAtEveryShift) {
  // 1.3 * 2^e for e from the smallest normal exponent down to 2^-45: every number of
  // discarded bits from 13 (normal) through 32 and beyond, where the rounding probability
  // becomes tiny. Far below 2^-24 the lower neighbour is zero.
  for (int e = -14; e >= -45; --e) {
    SCOPED_TRACE("exponent " + std::to_string(e));
    check_unbiased<Half>(std::ldexp(1.3f, e), uint64_t(100 - e), kDraws / 4);
  }
}

TEST(Bf16Stochastic, Unbiased) {
  check_unbiased<Brain>(1.0f + 0x1.333p-9f, 40);   // 0.3 ulp above 1
  check_unbiased<Brain>(-3.14159265f, 41);
  check_unbiased<Brain>(1.0e30f, 42);
  check_unbiased<Brain>(3.38e38f, 43);              // between 0x7f7e and 0x7f7f (max finite)
  check_unbiased<Brain>(std::bit_cast<float>(0x00012345u), 44);  // bf16 subnormal
  check_unbiased<Brain>(std::bit_cast<float>(0x80000007u), 45);  // far below the smallest bf16 subnormal
  check_unbiased<Brain>(std::bit_cast<float>(0x00800001u), 46);  // just above the smallest normal
}

TEST(Stochastic, ReproducibleFromSeedStreamAndIndex) {
  const float x = 1.0f + 0x1.8p-12f;  // p = 0.375 for fp16
  std::vector<uint16_t> a, b, other_stream, other_seed;
  for (uint64_t i = 0; i < 256; ++i) {
    a.push_back(Half::sr(x, Philox4x32::word(kSeed, 7, i)));
    b.push_back(Half::sr(x, Philox4x32::word(kSeed, 7, i)));
    other_stream.push_back(Half::sr(x, Philox4x32::word(kSeed, 8, i)));
    other_seed.push_back(Half::sr(x, Philox4x32::word(kSeed + 1, 7, i)));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other_stream);
  EXPECT_NE(a, other_seed);
  // The word depends only on its index: computing index 200 alone gives the same result.
  EXPECT_EQ(Half::sr(x, Philox4x32::word(kSeed, 7, 200)), a[200]);
  // Deterministic thresholds: the rule is "round up when the word, scaled to the dropped
  // bits, is below the dropped fraction", so word 0 rounds every inexact value up and the
  // largest word rounds every value down.
  EXPECT_EQ(Half::sr(x, 0), 0x3c01);
  EXPECT_EQ(Half::sr(x, 0xffffffffu), 0x3c00);
  const float almost_up = std::nextafter(1.0f + 0x1.0p-10f, 0.0f);  // 8191/8192 ulp above 1
  EXPECT_EQ(Half::sr(almost_up, 0xffffffffu), 0x3c00);
  EXPECT_EQ(Half::sr(almost_up, 0xfff7ffffu), 0x3c01);  // top 13 bits 8190 < 8191
  EXPECT_EQ(Brain::sr(1.0f + 0x1.0p-20f, 0), 0x3f81);
  EXPECT_EQ(Brain::sr(1.0f + 0x1.0p-20f, 0xffffffffu), 0x3f80);
}

// Regression: at exactly 32 discarded bits (fp16, inputs in [2^-33, 2^-32)) the mask of the
// dropped bits was computed with a 32-bit shift by 32, undefined behaviour that rounded
// those inputs down always at -O0. A constant expression with UB does not compile.
static_assert(to_fp16_stochastic(0x1.4cccccp-33f, 0).bits == 0x0001);
static_assert(to_fp16_stochastic(0x1.4cccccp-33f, 0xffffffffu).bits == 0x0000);
static_assert(to_fp16_stochastic(-0x1.0p-33f, 0).bits == 0x8001);

TEST(Stochastic, SpecialValues) {
  for (uint32_t w : {0u, 0xffffffffu}) {
    EXPECT_EQ(to_fp16_stochastic(INFINITY, w).bits, 0x7c00);
    EXPECT_EQ(to_fp16_stochastic(-INFINITY, w).bits, 0xfc00);
    EXPECT_EQ(to_fp16_stochastic(-0.0f, w).bits, 0x8000);
    EXPECT_TRUE(is_nan(to_fp16_stochastic(NAN, w)));
    EXPECT_EQ(to_bf16_stochastic(-INFINITY, w).bits, 0xff80);
    EXPECT_EQ(to_bf16_stochastic(-0.0f, w).bits, 0x8000);
    EXPECT_TRUE(is_nan(to_bf16_stochastic(std::bit_cast<float>(0x7f800001u), w)));
  }
  // Above the largest finite bf16 the upper neighbour is infinity.
  EXPECT_EQ(to_bf16_stochastic(std::numeric_limits<float>::max(), 0).bits, 0x7f80);
  EXPECT_EQ(to_bf16_stochastic(std::numeric_limits<float>::max(), 0xffffffffu).bits, 0x7f7f);
}

}  // namespace
}  // namespace pure16
