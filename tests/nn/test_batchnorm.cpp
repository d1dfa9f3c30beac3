// BatchNorm2d: float64 gradient checks in both modes, fp16 against a float64 evaluation of the
// same fp16 inputs with a bound derived below, the running statistics against PyTorch's
// formula, and a large-mean input that a one-pass variance would ruin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "pure16/nn/activation.h"
#include "pure16/nn/batchnorm.h"
#include "support/gradcheck.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

using testing::gradcheck;
using testing::GradcheckOptions;

PrecisionPolicy policy_for(DType dtype) {
  PrecisionPolicy p;
  p.name = "test";
  p.compute = p.master = p.optimizer_state = dtype;
  return p;
}

// Non-trivial affine parameters, so the gradients check the weight's role too.
void randomise_affine(BatchNorm2d& layer) {
  layer.weight().init = Init::uniform(1.5);
  layer.bias().init = Init::uniform(1.0);
}

TEST(BatchNormGradients, TrainingMode) {
  for (const Shape& shape : {Shape{4, 3, 3, 5}, Shape{2, 1, 1, 3}, Shape{3, 4, 2, 2}}) {
    BatchNorm2d layer(shape[3]);
    randomise_affine(layer);
    EXPECT_EQ(gradcheck(layer, shape), "") << shape_string(shape);
  }
}

TEST(BatchNormGradients, EvaluationMode) {
  BatchNorm2d layer(4, FusedActivation::none, 1e-3);
  randomise_affine(layer);
  layer.running_mean().init = Init::uniform(0.5);
  GradcheckOptions options;
  options.training = false;
  EXPECT_EQ(gradcheck(layer, {3, 2, 3, 4}, options), "");
}

// ---------------------------------------------------------------------------------------------
// Training-mode forward in fp16 against float64 on the same fp16 inputs.
//
// The kernel sums in binary32 (u32 = 2^-24) over blocks of 256 rows, then over the blocks: a sum
// of M terms has relative error <= g = gamma_(256 + ceil(M/256) + 2) (the +2 covers rounding
// the shifted terms and the division by M). With mu, var the exact statistics and x0 the shift
// (row 0):
//   mean    |m - mu| <= dm = g * mean|x - x0| + u32 |mu|
//   var     the computed deviations are (x - mu - (m - mu))(1 + u32) and sum((x - mu)) = 0, so
//           var' = (var + (m - mu)^2)(1 + theta), |theta| <= g + 2 u32
//   invstd  relative error <= ev / 2 + 3 u32 with ev = g + 2 u32 + dm^2 / var
//   h       |h - h*| <= dm invstd + |h*| (ev / 2 + 3 u32) + 2 u32 |h*|
//   y       |y32 - y*| <= |w| |h - h*| + 2 u32 (|w h*| + |b|), then one fp16 rounding:
//           |y - y*| <= e32 + u16 (|y*| + e32)
// A factor 1.01 absorbs the second-order terms.

struct Reference {
  std::vector<double> mean, var, y;
  std::vector<double> bound;
};

Reference reference_forward(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                            int64_t rows, int64_t channels, double eps, double u) {
  Reference r;
  r.mean.assign(size_t(channels), 0);
  r.var.assign(size_t(channels), 0);
  std::vector<double> spread(size_t(channels), 0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      r.mean[size_t(c)] += x[size_t(i * channels + c)] / double(rows);
      spread[size_t(c)] += std::abs(x[size_t(i * channels + c)] - x[size_t(c)]) / double(rows);
    }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const double d = x[size_t(i * channels + c)] - r.mean[size_t(c)];
      r.var[size_t(c)] += d * d / double(rows);
    }
  const double u32 = 0x1.0p-24;
  const double g = testing::gamma(256 + (rows + 255) / 256 + 2, u32);
  r.y.resize(x.size());
  r.bound.resize(x.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const size_t k = size_t(c), idx = size_t(i * channels + c);
      const double invstd = 1.0 / std::sqrt(r.var[k] + eps);
      const double h = (x[idx] - r.mean[k]) * invstd;
      r.y[idx] = h * w[k] + b[k];
      const double dm = g * spread[k] + u32 * std::abs(r.mean[k]);
      const double ev = g + 2 * u32 + dm * dm / r.var[k];
      const double eh = dm * invstd + std::abs(h) * (ev / 2 + 3 * u32) + 2 * u32 * std::abs(h);
      const double e32 = std::abs(w[k]) * eh + 2 * u32 * (std::abs(w[k] * h) + std::abs(b[k]));
      r.bound[idx] = 1.01 * (e32 + u * (std::abs(r.y[idx]) + e32));
    }
  return r;
}

struct Fp16Problem {
  BatchNorm2d layer;
  ParameterStore store;
  Tensor x;
  int64_t rows, channels;

  Fp16Problem(const Shape& shape, double center, double scale, uint64_t seed) : layer(shape[3]) {
    randomise_affine(layer);
    store.build(layer.parameters(), policy_for(DType::f16), seed, layer.buffers());
    std::vector<double> xs = testing::random_values(shape_numel(shape), seed + 1, -1.7, 1.7);
    for (double& v : xs) v = center + scale * v;
    x = Tensor::from_doubles(xs, shape, DType::f16);
    channels = shape[3];
    rows = x.numel() / channels;
  }
};

TEST(BatchNormFp16, TrainingForwardWithinDerivedBoundOfFloat64) {
  Fp16Problem p({8, 6, 5, 7}, 0.3, 2.0, 4);
  Context ctx;
  const Tensor y = p.layer.forward(p.x, ctx, RunOptions{});
  EXPECT_EQ(y.dtype(), DType::f16);
  ASSERT_EQ(ctx.saved.size(), 3u);
  for (const Tensor& t : ctx.saved) EXPECT_EQ(t.dtype(), DType::f16);  // saved state in the compute dtype
  const Reference r = reference_forward(p.x.to_doubles(), p.layer.weight().value.to_doubles(),
                                        p.layer.bias().value.to_doubles(), p.rows, p.channels, 1e-5, 0x1.0p-11);
  const std::vector<double> got = y.to_doubles();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], r.y[i], r.bound[i]) << i;
}

TEST(BatchNormFp16, LargeMeanNormalizesCorrectly) {
  // Mean 1000, std ~1 in fp16 (spacing 0.5 there): E[x^2] - E[x]^2 would be 1e6 - 1e6, hopeless
  // in fp16 (1e6 overflows it) and off by O(1) in binary32; the two-pass variance is exact to
  // within the bound.
  Fp16Problem p({16, 8, 8, 3}, 1000.0, 1.0, 9);
  p.layer.weight().value.fill(1.0);
  p.layer.bias().value.fill(0.0);
  Context ctx;
  const Tensor y = p.layer.forward(p.x, ctx, RunOptions{});
  const Reference r = reference_forward(p.x.to_doubles(), std::vector<double>(3, 1.0), std::vector<double>(3, 0.0),
                                        p.rows, p.channels, 1e-5, 0x1.0p-11);
  const std::vector<double> got = y.to_doubles();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], r.y[i], r.bound[i]) << i;
  for (int64_t c = 0; c < p.channels; ++c) {
    EXPECT_GT(r.var[size_t(c)], 0.5);  // the data really has unit-order spread
    double mean = 0, var = 0;
    for (int64_t i = 0; i < p.rows; ++i) mean += got[size_t(i * p.channels + c)] / double(p.rows);
    for (int64_t i = 0; i < p.rows; ++i) var += std::pow(got[size_t(i * p.channels + c)] - mean, 2) / double(p.rows);
    EXPECT_NEAR(mean, 0.0, 2e-3) << c;
    EXPECT_NEAR(var, 1.0, 2e-3) << c;
  }
}

TEST(BatchNormFp16, RunningStatisticsFollowPyTorchFormula) {
  // running = (1 - momentum) running + momentum * statistic, with the unbiased variance;
  // each update is computed in binary32 and rounded once to fp16.
  Fp16Problem p({4, 5, 5, 6}, -0.5, 1.5, 12);
  const double momentum = 0.1;
  std::vector<double> rm(size_t(p.channels), 0.0), rv(size_t(p.channels), 1.0);
  for (int step = 0; step < 3; ++step) {
    Context ctx;
    p.layer.forward(p.x, ctx, RunOptions{});
    const Reference r = reference_forward(p.x.to_doubles(), std::vector<double>(size_t(p.channels), 1.0),
                                          std::vector<double>(size_t(p.channels), 0.0), p.rows, p.channels, 1e-5,
                                          0x1.0p-11);
    const std::vector<double> got_m = p.layer.running_mean().value.to_doubles();
    const std::vector<double> got_v = p.layer.running_var().value.to_doubles();
    for (int64_t c = 0; c < p.channels; ++c) {
      const size_t k = size_t(c);
      // Rounding the previous fp16 value is part of the state: start each step from it.
      const double unbiased = r.var[k] * double(p.rows) / double(p.rows - 1);
      const double want_m = (1 - momentum) * rm[k] + momentum * r.mean[k];
      const double want_v = (1 - momentum) * rv[k] + momentum * unbiased;
      // One fp16 rounding plus binary32 arithmetic on O(1) values.
      EXPECT_NEAR(got_m[k], want_m, 0x1.0p-11 * std::abs(want_m) + 1e-6) << "step " << step << " channel " << c;
      EXPECT_NEAR(got_v[k], want_v, 0x1.0p-11 * std::abs(want_v) + 1e-6) << "step " << step << " channel " << c;
      rm[k] = got_m[k];
      rv[k] = got_v[k];
    }
  }
}

TEST(BatchNormFp16, EvaluationUsesRunningStatistics) {
  Fp16Problem p({2, 3, 3, 4}, 0.0, 1.0, 21);
  const std::vector<double> rm{0.5, -1.0, 2.0, 0.0}, rv{0.25, 4.0, 1.0, 9.0};
  p.layer.running_mean().value.copy_from(Tensor::from_doubles(rm, {4}, DType::f64));
  p.layer.running_var().value.copy_from(Tensor::from_doubles(rv, {4}, DType::f64));
  Context ctx;
  RunOptions eval;
  eval.training = false;
  const Tensor y = p.layer.forward(p.x, ctx, eval);
  const std::vector<double> xs = p.x.to_doubles(), got = y.to_doubles(), w = p.layer.weight().value.to_doubles(),
                            b = p.layer.bias().value.to_doubles();
  for (size_t i = 0; i < xs.size(); ++i) {
    const size_t c = i % 4;
    const double h = (xs[i] - rm[c]) / std::sqrt(rv[c] + 1e-5);
    const double want = h * w[c] + b[c];
    // binary32: add eps, sqrt, divide, subtract, two multiplies, an add (<= 8 u32 relative on |w h| + |b|), then fp16.
    const double e32 = 8 * 0x1.0p-24 * (std::abs(w[c] * h) + std::abs(b[c]));
    EXPECT_NEAR(got[i], want, e32 + 0x1.0p-11 * (std::abs(want) + e32)) << i;
  }
  // Running statistics are not touched in evaluation.
  EXPECT_EQ(p.layer.running_mean().value.to_doubles(), rm);
}

TEST(BatchNormFp16, BackwardWithinDerivedBoundOfFloat64) {
  // Backward reads the fp16 xhat and invstd. Their relative errors are <= u' = 1.01 u16 (one
  // rounding of an accurate binary32 value); dy is exact. With T = |dy| + |mean dy| +
  // |xhat| mean|dy xhat|, the bracket's error is <= 2 u' |xhat| mean|dy xhat| (xhat enters twice),
  // the scale w * invstd carries u', and dx is rounded once:
  //   |dx - dx*| <= |w invstd| (u' T + 2 u' |xhat| mean|dy xhat|) + u16 |dx*|   (times 1.01).
  Fp16Problem p({4, 4, 4, 3}, 0.2, 1.0, 31);
  const Shape shape = p.x.shape();
  const Tensor dy = Tensor::from_doubles(testing::random_values(p.x.numel(), 32), shape, DType::f16);
  p.store.zero_grads();
  Context ctx;
  p.layer.forward(p.x, ctx, RunOptions{});
  const Tensor dx = p.layer.backward(dy, ctx, RunOptions{});

  const int64_t rows = p.rows, channels = p.channels;
  const std::vector<double> w = p.layer.weight().value.to_doubles(), b = p.layer.bias().value.to_doubles(),
                            dys = dy.to_doubles(), got = dx.to_doubles();
  const Reference r = reference_forward(p.x.to_doubles(), w, b, rows, channels, 1e-5, 0x1.0p-11);
  const std::vector<double> xs = p.x.to_doubles();
  const double u = 0x1.0p-11, up = 1.01 * u;
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = size_t(c);
    const double invstd = 1.0 / std::sqrt(r.var[k] + 1e-5);
    double mdy = 0, mdyx = 0, mabs = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const size_t idx = size_t(i * channels + c);
      const double h = (xs[idx] - r.mean[k]) * invstd;
      mdy += dys[idx] / double(rows);
      mdyx += dys[idx] * h / double(rows);
      mabs += std::abs(dys[idx] * h) / double(rows);
    }
    EXPECT_NEAR(p.layer.bias().grad.to_doubles()[k], mdy * double(rows), 2 * u * mabs * double(rows) + 1e-3);
    for (int64_t i = 0; i < rows; ++i) {
      const size_t idx = size_t(i * channels + c);
      const double h = (xs[idx] - r.mean[k]) * invstd;
      const double want = w[k] * invstd * (dys[idx] - mdy - h * mdyx);
      const double t = std::abs(dys[idx]) + std::abs(mdy) + std::abs(h) * mabs;
      const double bound = 1.01 * (std::abs(w[k] * invstd) * (up * t + 2 * up * std::abs(h) * mabs) + u * std::abs(want));
      ASSERT_NEAR(got[idx], want, bound) << "row " << i << " channel " << c;
    }
  }
}

TEST(BatchNormFusedRelu, SameBitsAsBatchNormThenRelu) {
  // The fused layer must be the composition exactly (forward values, input gradient, parameter
  // gradients and running statistics), in every dtype and both modes: then its gradients are
  // those BatchNormGradients and the ReLU checks verify.
  const Shape shape{4, 5, 3, 6};
  for (DType dtype : {DType::f64, DType::f32, DType::f16, DType::bf16})
    for (bool training : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (training ? " training" : " evaluation"));
      BatchNorm2d fused(shape[3], FusedActivation::relu), plain(shape[3]);
      for (BatchNorm2d* layer : {&fused, &plain}) randomise_affine(*layer);
      ParameterStore fused_store, plain_store;
      fused_store.build(fused.parameters(), policy_for(dtype), 7, fused.buffers());
      plain_store.build(plain.parameters(), policy_for(dtype), 7, plain.buffers());
      fused_store.zero_grads();
      plain_store.zero_grads();
      ReLU relu;
      const Tensor x = Tensor::from_doubles(testing::random_values(shape_numel(shape), 8, -2, 2), shape, dtype);
      const Tensor dy = Tensor::from_doubles(testing::random_values(shape_numel(shape), 9, -1, 1), shape, dtype);
      RunOptions options;
      options.training = training;
      Context fused_ctx, plain_ctx, relu_ctx;
      const Tensor y = fused.forward(x, fused_ctx, options);
      const Tensor y_ref = relu.forward(plain.forward(x, plain_ctx, options), relu_ctx, options);
      EXPECT_EQ(y.to_doubles(), y_ref.to_doubles());
      const Tensor dx = fused.backward(dy, fused_ctx, options);
      const Tensor dx_ref = plain.backward(relu.backward(dy, relu_ctx, options), plain_ctx, options);
      EXPECT_EQ(dx.to_doubles(), dx_ref.to_doubles());
      EXPECT_EQ(fused.weight().grad.to_doubles(), plain.weight().grad.to_doubles());
      EXPECT_EQ(fused.bias().grad.to_doubles(), plain.bias().grad.to_doubles());
      EXPECT_EQ(fused.running_var().value.to_doubles(), plain.running_var().value.to_doubles());
      const std::vector<double> ys = y.to_doubles();
      EXPECT_GT(std::count(ys.begin(), ys.end(), 0.0), 0);  // the ReLU did cut
    }
  EXPECT_EQ(BatchNorm2d(3, FusedActivation::relu).name(), "BatchNorm2d(3)+ReLU");
}

TEST(BatchNorm, ParametersBuffersAndErrors) {
  BatchNorm2d layer(5);
  ASSERT_EQ(layer.parameters().size(), 2u);
  ASSERT_EQ(layer.buffers().size(), 2u);
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f32), 1, layer.buffers());
  EXPECT_EQ(store.parameter_count(), 10);
  EXPECT_EQ(layer.weight().value.to_doubles(), std::vector<double>(5, 1.0));
  EXPECT_EQ(layer.bias().value.to_doubles(), std::vector<double>(5, 0.0));
  EXPECT_EQ(layer.running_mean().value.to_doubles(), std::vector<double>(5, 0.0));
  EXPECT_EQ(layer.running_var().value.to_doubles(), std::vector<double>(5, 1.0));
  EXPECT_FALSE(layer.running_var().grad.defined());
  EXPECT_THROW(layer.output_shape({2, 3, 3, 4}), std::invalid_argument);
  Context ctx;
  // One value per channel cannot give a batch variance in training.
  EXPECT_THROW(layer.forward(Tensor::zeros({1, 1, 1, 5}, DType::f32), ctx, RunOptions{}), std::invalid_argument);
  EXPECT_THROW(BatchNorm2d(0), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::nn
