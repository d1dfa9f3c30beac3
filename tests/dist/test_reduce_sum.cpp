// The op that sums 16-bit gradients across ranks, against binary64: one pairwise sum is the
// exact sum rounded once (binary32 holds 2p + 2 bits of fp16's and bf16's p, so rounding the
// binary32 sum again is innocuous: Figueroa 1995), and a sum over p ranks along any tree is
// within p - 1 roundings.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "pure16/dist/reduce_sum.h"
#include "pure16/numerics/float16.h"

namespace pure16::dist {
namespace {

template <class T>
T round_to(double x);
template <>
fp16 round_to<fp16>(double x) { return to_fp16(x); }
template <>
bf16 round_to<bf16>(double x) { return to_bf16(x); }

template <class T>
DType dtype_of();
template <>
DType dtype_of<fp16>() { return DType::f16; }
template <>
DType dtype_of<bf16>() { return DType::bf16; }

// Random bit patterns: subnormals, normals, the largest finite, infinities and NaN.
template <class T>
std::vector<T> random_patterns(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x.bits = uint16_t(rng());
  return v;
}

template <class T>
void check_pairwise_is_one_rounding() {
  const int64_t n = 1 << 16;
  std::vector<T> a(static_cast<size_t>(n)), b = random_patterns<T>(n, 2);
  // Every bit pattern, each against a random partner.
  for (int64_t i = 0; i < n; ++i) a[size_t(i)].bits = uint16_t(i);
  std::vector<T> sum = a, swapped = b;
  sum_into(sum.data(), b.data(), dtype_of<T>(), n);
  sum_into(swapped.data(), a.data(), dtype_of<T>(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double exact = to_double(a[size_t(i)]) + to_double(b[size_t(i)]);  // exact in binary64
    const T expected = round_to<T>(exact);
    if (std::isnan(exact)) {
      EXPECT_TRUE(is_nan(sum[size_t(i)])) << i;
    } else {
      EXPECT_EQ(sum[size_t(i)].bits, expected.bits) << to_double(a[size_t(i)]) << " + " << to_double(b[size_t(i)]);
    }
    if (!std::isnan(exact)) {
      EXPECT_EQ(sum[size_t(i)].bits, swapped[size_t(i)].bits) << "not commutative at " << i;
    }
  }
}

TEST(ReduceSum, Fp16PairwiseSumIsTheExactSumRoundedOnce) { check_pairwise_is_one_rounding<fp16>(); }
TEST(ReduceSum, Bf16PairwiseSumIsTheExactSumRoundedOnce) { check_pairwise_is_one_rounding<bf16>(); }

// p ranks' gradients reduced along two trees (a chain and a butterfly, as MPI may choose): each
// within (p - 1) u sum |x_i| of the exact sum, u being the dtype's unit roundoff, since every
// partial sum is at most sum |x_i| in magnitude and each pairwise sum adds one rounding.
template <class T>
void check_tree_bound(double u) {
  const int ranks = 8;
  const int64_t n = 4096;
  std::mt19937 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::vector<T>> grads(ranks, std::vector<T>(size_t(n)));
  for (auto& g : grads)
    for (T& x : g) x = round_to<T>(normal(rng) * std::ldexp(1.0, int(rng() % 20) - 14));
  std::vector<T> chain = grads[0];
  for (int r = 1; r < ranks; ++r) sum_into(chain.data(), grads[size_t(r)].data(), dtype_of<T>(), n);
  std::vector<std::vector<T>> level = grads;
  while (level.size() > 1) {
    std::vector<std::vector<T>> next;
    for (size_t r = 0; r < level.size(); r += 2) {
      sum_into(level[r].data(), level[r + 1].data(), dtype_of<T>(), n);
      next.push_back(level[r]);
    }
    level = next;
  }
  for (int64_t i = 0; i < n; ++i) {
    double exact = 0, magnitude = 0;
    for (int r = 0; r < ranks; ++r) {
      exact += to_double(grads[size_t(r)][size_t(i)]);
      magnitude += std::fabs(to_double(grads[size_t(r)][size_t(i)]));
    }
    // Subnormal results round to an absolute grid: half its spacing per rounding on top.
    const double bound = (ranks - 1) * (u * magnitude + std::ldexp(1.0, dtype_of<T>() == DType::f16 ? -25 : -134));
    EXPECT_LE(std::fabs(to_double(chain[size_t(i)]) - exact), bound) << i;
    EXPECT_LE(std::fabs(to_double(level[0][size_t(i)]) - exact), bound) << i;
  }
}

TEST(ReduceSum, Fp16SumOverEightRanksWithinSevenRoundings) { check_tree_bound<fp16>(std::ldexp(1.0, -11)); }
TEST(ReduceSum, Bf16SumOverEightRanksWithinSevenRoundings) { check_tree_bound<bf16>(std::ldexp(1.0, -8)); }

// An overflow anywhere reaches every rank as inf or NaN: what makes the loss scaler skip the
// same steps everywhere.
TEST(ReduceSum, OverflowAndNanPropagate) {
  std::vector<fp16> a{to_fp16(65504.0), to_fp16(1.0), fp16::from_bits(0x7c00), fp16::from_bits(0x7e00)};
  const std::vector<fp16> b{to_fp16(32.0), fp16::from_bits(0x7c00), fp16::from_bits(0xfc00), to_fp16(2.0)};
  sum_into(a.data(), b.data(), DType::f16, 4);
  EXPECT_EQ(a[0].bits, 0x7c00);  // 65536 rounds to inf (65520 and above do)
  EXPECT_EQ(a[1].bits, 0x7c00);
  EXPECT_TRUE(is_nan(a[2]));
  EXPECT_TRUE(is_nan(a[3]));
}

}  // namespace
}  // namespace pure16::dist
