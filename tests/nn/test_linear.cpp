// Linear in each training dtype against a float64 evaluation of the same rounded inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "pure16/nn/activation.h"
#include "pure16/nn/linear.h"
#include "support/fused_activation.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

PrecisionPolicy policy_for(DType dtype) {
  PrecisionPolicy p;
  p.name = "test";
  p.compute = p.master = p.optimizer_state = dtype;
  return p;
}

class LinearPrecision : public ::testing::TestWithParam<DType> {};

TEST_P(LinearPrecision, ForwardWithinRoundingBound) {
  const DType dtype = GetParam();
  const int64_t batch = 9, in = 200, out = 17;
  Linear layer(in, out);
  ParameterStore store;
  store.build(layer.parameters(), policy_for(dtype), 5);
  const Tensor x = Tensor::from_doubles(testing::random_values(batch * in, 11), {batch, in}, dtype);
  Context ctx;
  const Tensor y = layer.forward(x, ctx, RunOptions{});

  // y = x W^T + b: a K-term sum accumulated in binary32 (error <= gamma_K(2^-24) sum|x w|),
  // rounded to the dtype (u_d), then the bias added in binary32 (u32) and rounded again (u_d).
  const std::vector<double> xv = x.to_doubles(), wv = layer.weight().value.to_doubles(),
                            bv = layer.bias().value.to_doubles(), yv = y.to_doubles();
  const double u = traits(dtype).unit_roundoff;
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t c = 0; c < out; ++c) {
      double exact = 0, magnitude = 0;
      for (int64_t k = 0; k < in; ++k) {
        exact += xv[size_t(r * in + k)] * wv[size_t(c * in + k)];
        magnitude += std::abs(xv[size_t(r * in + k)] * wv[size_t(c * in + k)]);
      }
      const double u32 = 0x1.0p-24;
      const double g = testing::gamma(in, u32) * magnitude;
      const double product_error = g + u * (std::abs(exact) + g);
      const double bound = product_error + (u32 + u + u * u32) * (std::abs(exact) + std::abs(bv[size_t(c)]) + product_error);
      EXPECT_NEAR(yv[size_t(r * out + c)], exact + bv[size_t(c)], bound) << "row " << r << " col " << c;
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LinearPrecision, ::testing::Values(DType::f32, DType::f16, DType::bf16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Linear, RejectsWrongInputShape) {
  Linear layer(4, 3);
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f32), 1);
  Context ctx;
  try {
    layer.forward(Tensor::zeros({2, 5}, DType::f32), ctx, RunOptions{});
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

// A layer kept in fp32 among fp16 ones (PrecisionPolicy::keep_fp32) computes in its parameters'
// dtype: its input is converted where it enters, its output stays fp32, the gradient it returns
// is in the input's dtype, and an fp16 run's fp16 accumulation becomes binary32 sums for it.
TEST(Linear, ComputesInItsParametersDtype) {
  Linear layer(4, 3);
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f32), 1);
  const Tensor x = Tensor::from_doubles(testing::random_values(8, 3), {2, 4}, DType::f16);
  RunOptions fp16_run;
  fp16_run.accumulation = kernels::Accumulation::f16_block;
  Context ctx, reference_ctx;
  const Tensor y = layer.forward(x, ctx, fp16_run);
  EXPECT_EQ(y.dtype(), DType::f32);
  EXPECT_EQ(y.to_doubles(), layer.forward(x.to(DType::f32), reference_ctx, RunOptions{}).to_doubles());
  const Tensor dy = Tensor::from_doubles(testing::random_values(6, 4), {2, 3}, DType::f32);
  const Tensor dx = layer.backward(dy, ctx, fp16_run);
  EXPECT_EQ(dx.dtype(), DType::f16);
  EXPECT_EQ(dx.to_doubles(), layer.backward(dy, reference_ctx, RunOptions{}).to(DType::f16).to_doubles());
  // An output gradient of another dtype is converted to the output's first.
  Context ctx16;
  layer.forward(x, ctx16, fp16_run);
  EXPECT_EQ(layer.backward(dy.to(DType::f16), ctx16, fp16_run).to_doubles(),
            layer.backward(dy.to(DType::f16).to(DType::f32), reference_ctx, RunOptions{}).to(DType::f16).to_doubles());
}

TEST(Linear, ParameterGradientsAccumulate) {
  Linear layer(3, 2);
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f32), 1);
  const Tensor x = Tensor::from_doubles({1, 2, 3}, {1, 3}, DType::f32);
  const Tensor dy = Tensor::from_doubles({1, -1}, {1, 2}, DType::f32);
  store.zero_grads();
  for (int i = 0; i < 2; ++i) {
    Context ctx;
    layer.forward(x, ctx, RunOptions{});
    layer.backward(dy, ctx, RunOptions{});
  }
  EXPECT_EQ(layer.weight().grad.to_doubles(), (std::vector<double>{2, 4, 6, -2, -4, -6}));
  EXPECT_EQ(layer.bias().grad.to_doubles(), (std::vector<double>{2, -2}));
}

TEST(Linear, FusedReluGivesTheBitsOfLinearThenRelu) {
  // With and without a bias, in every dtype (Linear's gradients are checked against float64
  // finite differences in test_gradients.cpp, ReLU's exactly in the kernel tests).
  for (DType dtype : {DType::f64, DType::f32, DType::f16, DType::bf16})
    for (bool bias : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (bias ? " bias" : " no bias"));
      Linear fused(40, 33, bias, FusedActivation::relu), plain(40, 33, bias);
      testing::expect_fused_relu_gives_layer_then_relu(fused, plain, {6, 40}, dtype);
    }
  EXPECT_EQ(Linear(2, 3, true, FusedActivation::relu).name(), "Linear(2, 3)+ReLU");
}

}  // namespace
}  // namespace pure16::nn
