// tensor_stats against counts made in float64 from each element's value: hand-built tensors
// with known numbers of zeros, subnormals, infinities and NaNs in f16, bf16 and f32, exact
// histograms, and the fp16/bf16 counterfactuals of f32 data.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "pure16/kernels/tensor_stats.h"
#include "pure16/tensor/tensor.h"

namespace pure16::kernels {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

double smallest_normal(DType dtype) {
  switch (dtype) {
    case DType::f16: return 0x1p-14;
    case DType::bf16:
    case DType::f32: return 0x1p-126;
    case DType::f64: break;
  }
  return 0x1p-1022;
}

// The statistics computed from values alone, in float64: what tensor_stats must find.
TensorStats reference_stats(const std::vector<double>& values, DType dtype) {
  TensorStats s;
  s.count = int64_t(values.size());
  s.range = histogram_exponents(dtype);
  s.exponent_counts.assign(size_t(s.range.max_exponent - s.range.min_exponent + 1), 0);
  for (double v : values) {
    if (std::isnan(v)) {
      ++s.nans;
      continue;
    }
    if (std::isinf(v)) {
      ++s.infs;
      continue;
    }
    if (v == 0) {
      ++s.zeros;
      continue;
    }
    const double a = std::fabs(v);
    if (a < smallest_normal(dtype)) ++s.subnormals;
    s.max_abs = std::max(s.max_abs, a);
    s.sum_squares += a * a;
    const int e = std::ilogb(a);
    if (e < s.range.min_exponent)
      ++s.below_range;
    else if (e > s.range.max_exponent)
      ++s.above_range;
    else
      ++s.exponent_counts[size_t(e - s.range.min_exponent)];
    s.fp16_underflow += a < 0x1p-24;
    s.fp16_below_normal += a < 0x1p-14;
    s.fp16_overflow += a > 65504.0;
    s.bf16_underflow += a < 0x1p-133;
    s.bf16_below_normal += a < 0x1p-126;
    s.bf16_overflow += a > 0x1.fep127;
  }
  return s;
}

void expect_same(const TensorStats& got, const TensorStats& want) {
  EXPECT_EQ(got.count, want.count);
  EXPECT_EQ(got.zeros, want.zeros);
  EXPECT_EQ(got.subnormals, want.subnormals);
  EXPECT_EQ(got.infs, want.infs);
  EXPECT_EQ(got.nans, want.nans);
  EXPECT_EQ(got.max_abs, want.max_abs);
  EXPECT_NEAR(got.sum_squares, want.sum_squares, 1e-12 * want.sum_squares);
  EXPECT_EQ(got.range.min_exponent, want.range.min_exponent);
  EXPECT_EQ(got.exponent_counts, want.exponent_counts);
  EXPECT_EQ(got.below_range, want.below_range);
  EXPECT_EQ(got.above_range, want.above_range);
  EXPECT_EQ(got.fp16_underflow, want.fp16_underflow);
  EXPECT_EQ(got.fp16_below_normal, want.fp16_below_normal);
  EXPECT_EQ(got.fp16_overflow, want.fp16_overflow);
  EXPECT_EQ(got.bf16_underflow, want.bf16_underflow);
  EXPECT_EQ(got.bf16_below_normal, want.bf16_below_normal);
  EXPECT_EQ(got.bf16_overflow, want.bf16_overflow);
}

// Values exactly representable in `dtype`, so the tensor holds what the reference counts.
TensorStats stats_of(const std::vector<double>& values, DType dtype) {
  const Tensor t = Tensor::from_doubles(values, {int64_t(values.size())}, dtype);
  expect_same(tensor_stats(t.raw(), dtype, t.numel()), reference_stats(t.to_doubles(), dtype));
  return tensor_stats(t.raw(), dtype, t.numel());
}

TEST(TensorStats, Fp16KnownCounts) {
  // 3 zeros, 5 subnormals, 2 infinities, 3 NaNs, 4 normals.
  const std::vector<double> values{0.0,       -0.0,    0.0,  0x1p-24, -0x1p-24, 0x3p-24, 0x1p-15, 1023 * 0x1p-24,
                                   kInf,      -kInf,   kNan, kNan,    -kNan,    1.0,     -2.0,    65504.0,
                                   0x1p-14};
  const TensorStats s = stats_of(values, DType::f16);
  EXPECT_EQ(s.zeros, 3);
  EXPECT_EQ(s.subnormals, 5);
  EXPECT_EQ(s.infs, 2);
  EXPECT_EQ(s.nans, 3);
  EXPECT_EQ(s.max_abs, 65504.0);
  EXPECT_EQ(s.range.min_exponent, -24);
  EXPECT_EQ(s.range.max_exponent, 15);
  std::vector<int64_t> histogram(40, 0);
  histogram[0] = 2;             // +-2^-24
  histogram[1] = 1;             // 3 * 2^-24
  histogram[-15 + 24] = 2;      // 2^-15 and 1023 * 2^-24
  histogram[-14 + 24] = 1;      // the smallest normal
  histogram[0 + 24] = 1;        // 1
  histogram[1 + 24] = 1;        // -2
  histogram[15 + 24] = 1;       // 65504
  EXPECT_EQ(s.exponent_counts, histogram);
  EXPECT_EQ(s.below_range + s.above_range, 0);
}

TEST(TensorStats, Bf16KnownCounts) {
  // 2 zeros, 3 subnormals (below 2^-126), 1 infinity, 2 NaNs, and normals inside and outside [-40, 16].
  const std::vector<double> values{0.0,  -0.0,     0x1p-133, 0x1p-127, -0x3p-130, kInf,    kNan,   kNan,
                                   1e30, 0x1p-41, 0x1p-40,  0x1p16,   0x1p17,    0x1p127, -1.5};
  const TensorStats s = stats_of(values, DType::bf16);
  EXPECT_EQ(s.zeros, 2);
  EXPECT_EQ(s.subnormals, 3);
  EXPECT_EQ(s.infs, 1);
  EXPECT_EQ(s.nans, 2);
  EXPECT_EQ(s.below_range, 4);  // the subnormals, 2^-41
  EXPECT_EQ(s.above_range, 3);  // 1e30, 2^17, 2^127
  EXPECT_EQ(s.exponent_counts.front(), 1);  // 2^-40
  EXPECT_EQ(s.exponent_counts.back(), 1);   // 2^16
}

TEST(TensorStats, Fp32CounterfactualsOfFp16AndBf16) {
  std::vector<double> values;
  auto add = [&values](double v, int copies) { values.insert(values.end(), size_t(copies), v); };
  add(1e-8, 7);          // below fp16's smallest subnormal, 2^-24 ~ 6e-8
  add(-1e-6, 4);         // fp16 subnormal range
  add(0.25, 10);         // fine everywhere
  add(65504.0, 1);       // fp16's largest: no overflow
  add(70000.0, 2);       // fp16 overflow
  add(3.4e38, 1);        // over bf16's largest finite, 0x1.fep127, still finite in f32
  add(0x1p-130, 3);      // subnormal in bf16 and f32 alike (they share the exponent range)
  add(1e-41, 2);         // below bf16's smallest subnormal, an f32 subnormal
  add(0.0, 5);
  const TensorStats s = stats_of(values, DType::f32);
  EXPECT_EQ(s.count, 35);
  EXPECT_EQ(s.fp16_underflow, 7 + 3 + 2);
  EXPECT_EQ(s.fp16_below_normal, 7 + 4 + 3 + 2);
  EXPECT_EQ(s.fp16_overflow, 2 + 1);
  EXPECT_EQ(s.bf16_underflow, 2);
  EXPECT_EQ(s.bf16_below_normal, 3 + 2);
  EXPECT_EQ(s.bf16_overflow, 1);
  EXPECT_EQ(s.subnormals, 3 + 2);
  EXPECT_EQ(s.zeros, 5);
}

TEST(TensorStats, RandomDataOfEveryDtypeMatchesFloat64Counts) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-150, 130), mantissa(1, 2);
  std::uniform_int_distribution<int> special(0, 19);
  std::vector<double> values(20000);
  for (double& v : values) {
    const int kind = special(rng);
    v = kind == 0 ? 0.0 : kind == 1 ? kInf : kind == 2 ? kNan : std::ldexp(mantissa(rng), int(exponent(rng)));
    if (kind % 2) v = -v;
  }
  for (DType dtype : {DType::f16, DType::bf16, DType::f32, DType::f64}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    stats_of(values, dtype);  // values out of range round to 0 or infinity: the reference sees the same
  }
}

TEST(TensorStats, EmptyAndNegativeLengths) {
  const TensorStats s = tensor_stats(nullptr, DType::f16, 0);
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.max_abs, 0);
  EXPECT_THROW(tensor_stats(nullptr, DType::f16, -1), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::kernels
