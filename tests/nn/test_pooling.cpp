// Pooling layers: float64 gradient checks, hand-computed examples (padding, arg-max routing,
// count_include_pad, NaN), and fp16 against float64 within the rounding bound.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "pure16/nn/pooling.h"
#include "support/gradcheck.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

using testing::gradcheck;
using testing::GradcheckOptions;

TEST(PoolingGradients, MaxPool) {
  MaxPool2d overlapping(3, 2, 1);  // ResNet's stem pool: windows overlap and read padding
  EXPECT_EQ(gradcheck(overlapping, {2, 7, 7, 3}), "");
  MaxPool2d tiled(2);
  EXPECT_EQ(gradcheck(tiled, {2, 6, 5, 2}), "");
}

TEST(PoolingGradients, AvgPool) {
  AvgPool2d with_pad(3, 2, 1);
  EXPECT_EQ(gradcheck(with_pad, {2, 7, 6, 3}), "");
  AvgPool2d without_pad_count(3, 2, 1, false);
  EXPECT_EQ(gradcheck(without_pad_count, {2, 7, 6, 3}), "");
  AvgPool2d tiled(2);
  EXPECT_EQ(gradcheck(tiled, {1, 4, 6, 2}), "");
}

TEST(PoolingGradients, GlobalAvgPool) {
  GlobalAvgPool2d layer;
  EXPECT_EQ(gradcheck(layer, {2, 3, 4, 5}), "");
}

Tensor run_forward(Layer& layer, const Tensor& x, Context& ctx) { return layer.forward(x, ctx, RunOptions{}); }

TEST(MaxPool, PaddingNeverWinsAndGradientGoesToTheArgMax) {
  // 1 image, 3x3, 1 channel, all negative: a zero-padded max would return 0 at the borders.
  const Tensor x = Tensor::from_doubles({-5, -2, -7, -1, -9, -3, -8, -4, -6}, {1, 3, 3, 1}, DType::f32);
  MaxPool2d layer(3, 2, 1);  // output 2x2, windows centred at (0,0), (0,2), (2,0), (2,2)
  Context ctx;
  const Tensor y = run_forward(layer, x, ctx);
  EXPECT_EQ(y.to_doubles(), (std::vector<double>{-1, -2, -1, -3}));
  const Tensor dy = Tensor::from_doubles({1, 10, 100, 1000}, {1, 2, 2, 1}, DType::f32);
  // -1 (row 1, col 0) wins two windows: its gradient is the sum.
  EXPECT_EQ(layer.backward(dy, ctx, RunOptions{}).to_doubles(),
            (std::vector<double>{0, 10, 0, 101, 0, 1000, 0, 0, 0}));
}

TEST(MaxPool, TiesGoToTheFirstAndNaNPropagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // Two channels interleaved (NHWC): channel 0 is all -inf, channel 1 has a tie and a NaN window.
  const Tensor x = Tensor::from_doubles({-inf, 3, -inf, 3, -inf, 1, -inf, nan}, {1, 2, 2, 2}, DType::f16);
  MaxPool2d layer(2);
  Context ctx;
  const std::vector<double> y = run_forward(layer, x, ctx).to_doubles();
  EXPECT_EQ(y[0], -inf);
  EXPECT_TRUE(std::isnan(y[1]));
  const Tensor dy = Tensor::from_doubles({2, 5}, {1, 1, 1, 2}, DType::f16);
  const std::vector<double> dx = layer.backward(dy, ctx, RunOptions{}).to_doubles();
  EXPECT_EQ(dx, (std::vector<double>{2, 0, 0, 0, 0, 0, 0, 5}));  // first -inf; the NaN
  // Without the NaN the first of the tied 3s wins.
  const Tensor x2 = Tensor::from_doubles({0, 3, 0, 3, 0, 1, 0, 2}, {1, 2, 2, 2}, DType::f16);
  Context ctx2;
  run_forward(layer, x2, ctx2);
  EXPECT_EQ(layer.backward(dy, ctx2, RunOptions{}).to_doubles(), (std::vector<double>{2, 5, 0, 0, 0, 0, 0, 0}));
}

TEST(AvgPool, CountIncludePadFollowsPyTorch) {
  const Tensor x = Tensor::from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, DType::f64);
  Context ctx;
  AvgPool2d include(3, 2, 1);  // corner windows hold 4 inputs and 5 padding zeros
  EXPECT_EQ(run_forward(include, x, ctx).to_doubles(),
            (std::vector<double>{12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9}));
  AvgPool2d exclude(3, 2, 1, false);
  EXPECT_EQ(run_forward(exclude, x, ctx).to_doubles(), (std::vector<double>{3, 4, 6, 7}));
  const Tensor dy = Tensor::from_doubles({4, 4, 4, 4}, {1, 2, 2, 1}, DType::f64);
  // The centre element is in all four windows, each passing dy / 4.
  EXPECT_EQ(exclude.backward(dy, ctx, RunOptions{}).to_doubles(), (std::vector<double>{1, 2, 1, 2, 4, 2, 1, 2, 1}));
}

TEST(GlobalAvgPool, MeansOverPixelsPerChannel) {
  const Tensor x = Tensor::from_doubles({1, 10, 2, 20, 3, 30, 6, 60}, {1, 2, 2, 2}, DType::f32);
  GlobalAvgPool2d layer;
  Context ctx;
  EXPECT_EQ(run_forward(layer, x, ctx).to_doubles(), (std::vector<double>{3, 30}));
  EXPECT_EQ(layer.output_shape({5, 7, 7, 2048}), (Shape{5, 2048}));
  const Tensor dy = Tensor::from_doubles({4, 8}, {1, 2}, DType::f32);
  EXPECT_EQ(layer.backward(dy, ctx, RunOptions{}).to_doubles(), (std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2}));
}

TEST(Pooling, Fp16AveragesWithinRoundingBound) {
  // A window sum of n fp16 values in binary32 (gamma_n(2^-24)), divided (one more u32) and
  // rounded once to fp16: |y - y*| <= (gamma_n + u32) mean|x| + u16 |y*|, up to second order.
  const Shape shape{2, 9, 9, 16};
  const Tensor x = Tensor::from_doubles(testing::random_values(shape_numel(shape), 3, -4, 4), shape, DType::f16);
  const Tensor x64 = x.to(DType::f64);
  struct Case {
    std::unique_ptr<Layer> layer;
    int64_t n;  // most inputs in one window
  };
  std::vector<Case> cases;
  cases.push_back({std::make_unique<AvgPool2d>(3, 2, 1), 9});
  cases.push_back({std::make_unique<GlobalAvgPool2d>(), 81});
  for (Case& c : cases) {
    Context ctx;
    const std::vector<double> got = c.layer->forward(x, ctx, RunOptions{}).to_doubles();
    const std::vector<double> want = c.layer->forward(x64, ctx, RunOptions{}).to_doubles();
    std::vector<double> xa = x64.to_doubles();
    for (double& v : xa) v = std::abs(v);
    const std::vector<double> mag =
        c.layer->forward(Tensor::from_doubles(xa, shape, DType::f64), ctx, RunOptions{}).to_doubles();
    const double g = testing::gamma(c.n + 1, 0x1.0p-24);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1.001 * (g * mag[i] + 0x1.0p-11 * std::abs(want[i]))) << c.layer->name() << " " << i;
  }
}

TEST(Pooling, Fp16AndBf16MaxPoolAreExact) {
  // A maximum and the routing of a gradient to it involve no rounding: in fp16 and bf16 the
  // forward output and the input gradient equal the float64 results (gradients are small
  // integers, whose sums over overlapping windows are exact).
  const Shape shape{2, 9, 9, 6};
  for (DType dtype : {DType::f16, DType::bf16}) {
    const Tensor x = Tensor::from_doubles(testing::random_values(shape_numel(shape), 5, -4, 4), shape, dtype);
    MaxPool2d pool(3, 2, 1);
    Context ctx, ctx64;
    const Tensor y = pool.forward(x, ctx, RunOptions{});
    const Tensor y64 = pool.forward(x.to(DType::f64), ctx64, RunOptions{});
    EXPECT_EQ(y.to_doubles(), y64.to_doubles()) << dtype_name(dtype);
    std::vector<double> ones(size_t(shape_numel(y.shape())));
    for (size_t i = 0; i < ones.size(); ++i) ones[i] = double(i % 7);
    const Tensor dx = pool.backward(Tensor::from_doubles(ones, y.shape(), dtype), ctx, RunOptions{}, true);
    const Tensor dx64 = pool.backward(Tensor::from_doubles(ones, y.shape(), DType::f64), ctx64, RunOptions{}, true);
    EXPECT_EQ(dx.to_doubles(), dx64.to_doubles()) << dtype_name(dtype);
  }
}

TEST(Pooling, RejectsBadSettingsAndShapes) {
  EXPECT_THROW(MaxPool2d(3, 1, 2), std::invalid_argument);  // padding more than half the kernel
  EXPECT_THROW(AvgPool2d(0), std::invalid_argument);
  EXPECT_THROW(MaxPool2d(2).output_shape({1, 4, 4}), std::invalid_argument);
  EXPECT_THROW(MaxPool2d(5).output_shape({1, 4, 4, 1}), std::invalid_argument);
  EXPECT_EQ(MaxPool2d(3, 2, 1).output_shape({2, 112, 112, 64}), (Shape{2, 56, 56, 64}));
  EXPECT_EQ(AvgPool2d(2).output_shape({2, 7, 7, 3}), (Shape{2, 3, 3, 3}));
}

}  // namespace
}  // namespace pure16::nn
