// Tensor copies between dtypes: to(), copy_from() and from_doubles() round once to nearest
// even, for contiguous and strided sources and destinations; to_doubles() widens exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16 {
namespace {

constexpr DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::f64};

// x rounded once from double to dtype d, as a double.
double rounded(double x, DType d) {
  return dispatch(d, [&](auto tag) { return as_double(from_double<typename decltype(tag)::type>(x)); });
}

// Values that exercise rounding in every dtype: ties of fp16 and bf16, values beyond fp16's
// range and below its subnormals, signed zero, and ordinary values with long mantissas.
std::vector<double> test_values(int64_t n) {
  std::vector<double> v = {1.0 + 0x1.0p-11, 1.0 + 0x1.8p-10, 1.0 + 0x1.0p-8, 1.0 + 0x1.0p-11 + 0x1.0p-40,
                           70000.0, -65520.0, 0x1.0p-25, 0x1.0p-30, -0.0, 1.0 / 3.0, 0.1, -2.0e-3};
  for (int64_t i = int64_t(v.size()); i < n; ++i) v.push_back(std::sin(double(i)) * std::pow(2.0, double(i % 40 - 20)));
  v.resize(size_t(n));
  return v;
}

TEST(TensorCopy, FromDoublesRoundsOnce) {
  const std::vector<double> v = test_values(40);
  for (DType d : kAll) {
    const Tensor t = Tensor::from_doubles(v, {5, 8}, d);
    EXPECT_EQ(t.dtype(), d);
    const std::vector<double> back = t.to_doubles();
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_EQ(back[i], rounded(v[i], d)) << dtype_name(d) << " element " << i;
      EXPECT_EQ(std::signbit(back[i]), std::signbit(rounded(v[i], d)));
    }
  }
  // Spot checks: no double rounding through float, overflow, underflow.
  const std::vector<double> h = Tensor::from_doubles(v, {40}, DType::f16).to_doubles();
  EXPECT_EQ(h[0], 1.0);
  EXPECT_EQ(h[1], 1.0 + 0x1.0p-9);
  EXPECT_EQ(h[3], 1.0 + 0x1.0p-10);
  EXPECT_EQ(h[4], INFINITY);
  EXPECT_EQ(h[5], -INFINITY);
  EXPECT_EQ(h[6], 0.0);
  EXPECT_TRUE(std::signbit(h[8]));
  EXPECT_EQ(Tensor::from_doubles(v, {40}, DType::bf16).to_doubles()[2], 1.0);
  EXPECT_EQ(Tensor::from_doubles(v, {40}, DType::f64).to_doubles(), v);
}

TEST(TensorCopy, ToBetweenAllDtypes) {
  const std::vector<double> v = test_values(60);
  for (DType from : kAll) {
    const Tensor src = Tensor::from_doubles(v, {3, 4, 5}, from);
    for (DType to : kAll) {
      const Tensor dst = src.to(to);
      EXPECT_EQ(dst.dtype(), to);
      EXPECT_EQ(dst.shape(), src.shape());
      EXPECT_TRUE(dst.is_contiguous());
      EXPECT_NE(dst.storage(), src.storage());
      const std::vector<double> got = dst.to_doubles();
      const std::vector<double> s = src.to_doubles();
      for (size_t i = 0; i < v.size(); ++i)
        ASSERT_EQ(got[i], rounded(s[i], to)) << dtype_name(from) << " -> " << dtype_name(to) << " element " << i;
    }
  }
}

TEST(TensorCopy, ToFromStridedSources) {
  const std::vector<double> v = test_values(60);
  for (DType from : kAll) {
    const Tensor base = Tensor::from_doubles(v, {3, 4, 5}, from);
    // A transpose, a slice of the middle dimension, and both.
    const std::vector<Tensor> views = {base.transpose(0, 2), base.slice(1, 1, 3), base.slice(2, 1, 4).transpose(0, 1)};
    for (const Tensor& view : views) {
      ASSERT_FALSE(view.is_contiguous());
      // The expected values, by index arithmetic from the view's strides.
      std::vector<double> expected;
      const Shape& shape = view.shape();
      for (int64_t flat = 0; flat < view.numel(); ++flat) expected.push_back(view.item(flat));
      for (DType to : kAll) {
        const Tensor dst = view.to(to);
        EXPECT_EQ(dst.shape(), shape);
        EXPECT_TRUE(dst.is_contiguous());
        const std::vector<double> got = dst.to_doubles();
        ASSERT_EQ(got.size(), expected.size());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_EQ(got[i], rounded(expected[i], to)) << dtype_name(from) << " -> " << dtype_name(to) << " element " << i;
      }
    }
  }
  // item() itself against hand-computed positions: base[i][j][k] = v[20 i + 5 j + k].
  const Tensor base = Tensor::from_doubles(v, {3, 4, 5}, DType::f64);
  const Tensor view = base.slice(2, 1, 4).transpose(0, 1);  // (4, 3, 3): view[j][i][k'] = base[i][j][k' + 1]
  EXPECT_EQ(view.item(0), v[1]);
  EXPECT_EQ(view.item(1 * 9 + 2 * 3 + 2), v[20 * 2 + 5 * 1 + 3]);
}

TEST(TensorCopy, CopyFromBetweenAllDtypes) {
  const std::vector<double> v = test_values(24);
  for (DType from : kAll) {
    const Tensor src = Tensor::from_doubles(v, {4, 6}, from);
    for (DType to : kAll) {
      Tensor dst = Tensor::zeros({4, 6}, to);
      const void* before = dst.raw();
      dst.copy_from(src);
      EXPECT_EQ(dst.raw(), before);  // in place
      const std::vector<double> s = src.to_doubles(), got = dst.to_doubles();
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(got[i], rounded(s[i], to)) << dtype_name(from) << " -> " << dtype_name(to) << " element " << i;
    }
  }
}

TEST(TensorCopy, CopyFromStridedSourceAndDestination) {
  const std::vector<double> v = test_values(24);
  for (DType from : kAll) {
    for (DType to : kAll) {
      const Tensor src = Tensor::from_doubles(v, {4, 6}, from);
      const std::vector<double> s = src.to_doubles();
      // Strided source (transpose) into a contiguous destination.
      Tensor dst = Tensor::zeros({6, 4}, to);
      dst.copy_from(src.transpose(0, 1));
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t c = 0; c < 4; ++c) ASSERT_EQ(dst.item(r * 4 + c), rounded(s[size_t(c * 6 + r)], to));
      // Contiguous source into a strided destination: columns 1..3 of a (4, 8) tensor.
      Tensor wide = Tensor::zeros({4, 8}, to);
      wide.fill(-5.0);
      const Tensor part = src.slice(1, 0, 3).contiguous();
      Tensor window = wide.slice(1, 1, 4);
      window.copy_from(part);
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t c = 0; c < 8; ++c) {
          const double expected = c >= 1 && c < 4 ? rounded(s[size_t(r * 6 + c - 1)], to) : -5.0;
          ASSERT_EQ(wide.item(r * 8 + c), expected) << dtype_name(from) << " -> " << dtype_name(to) << " at " << r << "," << c;
        }
      // Strided into strided: a transposed destination.
      Tensor square = Tensor::zeros({6, 4}, to);
      square.transpose(0, 1).copy_from(src);  // square[c][r] = src[r][c]
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t c = 0; c < 6; ++c) ASSERT_EQ(square.item(c * 4 + r), rounded(s[size_t(r * 6 + c)], to));
    }
  }
}

TEST(TensorCopy, WideningIsExact) {
  // Every fp16 and bf16 value survives to(f32) and to(f64) and back.
  std::vector<double> all_h, all_b;
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const fp16 h = fp16::from_bits(uint16_t(bits));
    const bf16 b = bf16::from_bits(uint16_t(bits));
    if (is_finite(h)) all_h.push_back(to_double(h));
    if (is_finite(b)) all_b.push_back(to_double(b));
  }
  for (auto [values, d] : {std::pair{&all_h, DType::f16}, std::pair{&all_b, DType::bf16}}) {
    const Tensor t = Tensor::from_doubles(*values, {int64_t(values->size())}, d);
    for (DType wide : {DType::f32, DType::f64}) {
      const Tensor w = t.to(wide);
      EXPECT_EQ(w.to_doubles(), *values);
      EXPECT_EQ(w.to(d).to_doubles(), *values);
    }
  }
}

TEST(TensorCopy, EmptyTensors) {
  const Tensor e = Tensor::zeros({0, 4}, DType::f16);
  EXPECT_EQ(e.to(DType::f32).numel(), 0);
  EXPECT_TRUE(e.to_doubles().empty());
  Tensor d = Tensor::zeros({0, 4}, DType::bf16);
  d.copy_from(e);
  EXPECT_EQ(Tensor::from_doubles({}, {0}, DType::f64).numel(), 0);
}

}  // namespace
}  // namespace pure16
