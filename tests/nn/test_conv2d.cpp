// Conv2d: float64 gradient checks over the layer's settings, the GEMM path against the direct
// reference in every training dtype with bounds derived from the unit roundoff, and the layer's
// bookkeeping (shapes, initialisation, accumulation of parameter gradients, FLOPs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "pure16/kernels/conv.h"
#include "pure16/nn/conv2d.h"
#include "support/fused_activation.h"
#include "support/gradcheck.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

using kernels::Accumulation;
using kernels::Conv2dShape;
using testing::gradcheck;
using testing::GradcheckOptions;

PrecisionPolicy policy_for(DType dtype) {
  PrecisionPolicy p;
  p.name = "test";
  p.compute = p.master = p.optimizer_state = dtype;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Gradients against float64 finite differences.

struct GradCase {
  const char* name;
  Conv2dConfig config;
  Shape input;
};

class ConvGradients : public ::testing::TestWithParam<GradCase> {};

TEST_P(ConvGradients, MatchFiniteDifferences) {
  Conv2d layer(GetParam().config);
  GradcheckOptions options;
  options.max_checks_per_tensor = 40;
  EXPECT_EQ(gradcheck(layer, GetParam().input, options), "");
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, ConvGradients,
    ::testing::Values(
        GradCase{"k3_pad1_bias", {3, 4, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true}, {2, 5, 6, 3}},
        GradCase{"k3_stride2_pad1", {4, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, false}, {2, 7, 7, 4}},
        GradCase{"k3_dilation2", {3, 5, {3, 3}, {1, 1}, {2, 2}, {2, 2}, 1, true}, {1, 7, 8, 3}},
        GradCase{"groups2", {4, 6, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 2, true}, {2, 5, 5, 4}},
        GradCase{"depthwise", {4, 4, {3, 3}, {2, 1}, {1, 1}, {1, 1}, 4, false}, {2, 6, 5, 4}},
        GradCase{"depthwise_multiplier2", {3, 6, {3, 3}, {1, 1}, {0, 0}, {1, 1}, 3, true}, {1, 5, 5, 3}},
        GradCase{"nonsquare_2x5_stride2x1", {3, 4, {2, 5}, {2, 1}, {1, 2}, {1, 1}, 1, true}, {2, 6, 7, 3}},
        GradCase{"nonsquare_3x1_dilation2x1", {2, 3, {3, 1}, {1, 2}, {2, 0}, {2, 1}, 1, false}, {2, 6, 5, 2}},
        GradCase{"pointwise", {5, 3, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true}, {2, 3, 4, 5}},
        GradCase{"pointwise_groups2", {4, 6, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 2, false}, {2, 3, 3, 4}},
        GradCase{"pointwise_stride2", {4, 6, {1, 1}, {2, 2}, {0, 0}, {1, 1}, 1, false}, {2, 5, 5, 4}},
        GradCase{"k7_stride2_pad3", {3, 4, {7, 7}, {2, 2}, {3, 3}, {1, 1}, 1, false}, {1, 9, 9, 3}},
        GradCase{"k5_bias_relu", {2, 4, {5, 5}, {1, 1}, {2, 2}, {1, 1}, 1, true, FusedActivation::relu}, {2, 6, 6, 2}},
        GradCase{"k3_stride2_relu", {3, 4, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, false, FusedActivation::relu},
                 {2, 6, 5, 3}}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// The GEMM path and the direct reference in f32/f16/bf16 against a float64 evaluation of the
// same rounded inputs. Bounds (Higham ch. 3, gamma_n = n u / (1 - n u)), with S the sum of the
// absolute products entering an output, u the dtype's unit roundoff and g_n the accumulation's
// bound for a sum of n products (testing::accumulation_gamma):
//   forward          |y - y*| <= g_K S + u (|y*| + g_K S),  K = KH*KW*Cg
//   backward_data    stride 1: a convolution of dy, one sum of KH*KW*C_out/groups products per
//                    element, bounded as forward. Otherwise dP entries: g_{C_out/groups} S_P +
//                    u |dP|; col2im sums J <= KH*KW of them in binary32 (g_J(2^-24)) and rounds
//                    once more (u), once per workspace chunk touching the element (R <= J chunks)
//   backward_weight  one sum over the M output pixels plus the old dw: g_{M + 1} (S + |dw0|) and
//                    one rounding u

struct PrecisionCase {
  const char* name;
  Conv2dShape shape;
  int64_t workspace_bytes = kernels::kConvWorkspaceBytes;
};

Conv2dShape conv_shape(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t cout, std::array<int64_t, 2> k,
                       std::array<int64_t, 2> stride, std::array<int64_t, 2> pad, std::array<int64_t, 2> dil,
                       int64_t groups) {
  Conv2dShape s;
  s.batch = n;
  s.in_h = h;
  s.in_w = w;
  s.in_channels = cin;
  s.out_channels = cout;
  s.kernel_h = k[0];
  s.kernel_w = k[1];
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.pad_h = pad[0];
  s.pad_w = pad[1];
  s.dilation_h = dil[0];
  s.dilation_w = dil[1];
  s.groups = groups;
  return s;
}

struct DtypeCase {
  DType dtype;
  Accumulation acc;
  const char* name;
};
const DtypeCase kDtypes[] = {{DType::f32, Accumulation::f32, "f32"},
                             {DType::f16, Accumulation::f32, "f16_acc_f32"},
                             {DType::f16, Accumulation::f16, "f16_acc_f16"},
                             {DType::f16, Accumulation::f16_block, "f16_acc_f16_block"},
                             {DType::bf16, Accumulation::f32, "bf16_acc_f32"}};


// Tensors of the problem: x, w, dy, dw0 rounded to the dtype, and their float64 copies.
struct Problem {
  Conv2dShape s;
  Shape x_shape, w_shape, y_shape;
  Tensor x, w, dy, dw0;

  Problem(const Conv2dShape& shape, DType dtype, uint64_t seed) : s(shape) {
    x_shape = {s.batch, s.in_h, s.in_w, s.in_channels};
    w_shape = {s.out_channels, s.kernel_h, s.kernel_w, s.group_in()};
    y_shape = {s.batch, s.out_h(), s.out_w(), s.out_channels};
    x = Tensor::from_doubles(testing::random_values(shape_numel(x_shape), seed), x_shape, dtype);
    w = Tensor::from_doubles(testing::random_values(shape_numel(w_shape), seed + 1), w_shape, dtype);
    dy = Tensor::from_doubles(testing::random_values(shape_numel(y_shape), seed + 2), y_shape, dtype);
    dw0 = Tensor::from_doubles(testing::random_values(shape_numel(w_shape), seed + 3), w_shape, dtype);
  }
};

Tensor abs_of(const Tensor& t) {
  std::vector<double> v = t.to_doubles();
  for (double& e : v) e = std::abs(e);
  return Tensor::from_doubles(v, t.shape(), DType::f64);
}

// Exact values (float64 reference on the rounded inputs) and S = the same op on |inputs|.
struct Exact {
  std::vector<double> y, y_abs, dx, dx_abs, dw, dw_abs;
};

Exact exact_values(const Problem& p) {
  const Tensor x = p.x.to(DType::f64), w = p.w.to(DType::f64), dy = p.dy.to(DType::f64);
  const Tensor ax = abs_of(x), aw = abs_of(w), ady = abs_of(dy);
  auto run = [&](auto op, const Shape& out_shape, const Tensor& a, const Tensor& b, const Tensor* init) {
    Tensor out = init ? init->to(DType::f64) : Tensor::zeros(out_shape, DType::f64);
    op(out.raw(), a.raw(), b.raw(), DType::f64, p.s);
    return out.to_doubles();
  };
  const Tensor dw0 = p.dw0.to(DType::f64), adw0 = abs_of(dw0);
  Exact e;
  e.y = run(kernels::conv2d_forward_reference, p.y_shape, x, w, nullptr);
  e.y_abs = run(kernels::conv2d_forward_reference, p.y_shape, ax, aw, nullptr);
  e.dx = run(kernels::conv2d_backward_data_reference, p.x_shape, dy, w, nullptr);
  e.dx_abs = run(kernels::conv2d_backward_data_reference, p.x_shape, ady, aw, nullptr);
  e.dw = run(kernels::conv2d_backward_weight_reference, p.w_shape, dy, x, &dw0);
  e.dw_abs = run(kernels::conv2d_backward_weight_reference, p.w_shape, ady, ax, &adw0);  // S + |dw0|
  return e;
}

// Whether backward_data runs as convolutions of dy, each input gradient one sum over at most
// KH*KW*og products (stride 1 with padding at most the dilated kernel's extent less one, or any
// undilated convolution, by phases) rather than GEMM + col2im.
bool data_gradient_is_convolution(const Conv2dShape& s) {
  const bool undilated = s.dilation_h == 1 && s.dilation_w == 1;
  return undilated || (s.stride_h == 1 && s.stride_w == 1 && s.pad_h <= s.dilation_h * (s.kernel_h - 1) &&
                       s.pad_w <= s.dilation_w * (s.kernel_w - 1));
}

// The workspace chunks of backward_data's col2im path.
int64_t chunks(const PrecisionCase& c, size_t elem) {
  const int64_t rows = c.shape.batch * c.shape.out_h() * c.shape.out_w();
  const int64_t per_chunk = std::max<int64_t>(1, c.workspace_bytes / (c.shape.patch() * int64_t(elem)));
  const bool pointwise = c.shape.kernel_h == 1 && c.shape.kernel_w == 1 && c.shape.stride_h == 1 &&
                         c.shape.stride_w == 1 && c.shape.pad_h == 0 && c.shape.pad_w == 0;
  return pointwise ? 1 : (rows + per_chunk - 1) / per_chunk;
}

void expect_within(const std::vector<double>& got, const std::vector<double>& exact, const std::vector<double>& bound,
                   const std::string& what) {
  ASSERT_EQ(got.size(), exact.size());
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i)
    if (!(std::abs(got[i] - exact[i]) <= bound[i])) {
      ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", exact " << exact[i] << ", bound " << bound[i];
      ++failures;
    }
}

class ConvPrecision : public ::testing::TestWithParam<PrecisionCase> {};

TEST_P(ConvPrecision, GemmPathAndReferenceWithinRoundingBounds) {
  const PrecisionCase& c = GetParam();
  const Conv2dShape& s = c.shape;
  for (const DtypeCase& d : kDtypes) {
    SCOPED_TRACE(d.name);
    const Problem p(s, d.dtype, 17);
    const Exact e = exact_values(p);
    const double u = traits(d.dtype).unit_roundoff, u32 = 0x1.0p-24;
    const auto g_acc = [&](int64_t n) { return testing::accumulation_gamma(n, d.acc); };
    const int64_t rows = s.batch * s.out_h() * s.out_w(), j = s.kernel_h * s.kernel_w;
    // backward_data keeps a binary32 copy of the fp16/bf16 patch gradients beside them.
    const int64_t r_data = chunks(c, dtype_size(d.dtype) + (d.dtype == DType::f32 ? 0 : 4));

    std::vector<double> y_bound(e.y.size()), y_ref_bound(e.y.size());
    for (size_t i = 0; i < e.y.size(); ++i) {
      const double g = g_acc(s.patch()) * e.y_abs[i];
      y_bound[i] = g + u * (std::abs(e.y[i]) + g);
      const double gr = testing::gamma(s.patch(), u32) * e.y_abs[i];
      y_ref_bound[i] = gr + u * (std::abs(e.y[i]) + gr);
    }
    std::vector<double> dx_bound(e.dx.size()), dx_ref_bound(e.dx.size());
    for (size_t i = 0; i < e.dx.size(); ++i) {
      const double S = e.dx_abs[i];
      if (data_gradient_is_convolution(s)) {
        const double g = g_acc(j * s.group_out()) * S;
        dx_bound[i] = g + u * (std::abs(e.dx[i]) + g);
      } else {
        const double e1 = g_acc(s.group_out()) * S * (1 + u) + u * S;  // the dP entries
        const double e2 = testing::gamma(j, u32) * (S + e1);           // their binary32 sum
        dx_bound[i] = e1 + e2 + (r_data == 1 ? u * (std::abs(e.dx[i]) + e1 + e2) : double(j) * u * (S + e1 + e2));
      }
      const double gr = testing::gamma(j * s.group_out(), u32) * S;
      dx_ref_bound[i] = gr + u * (std::abs(e.dx[i]) + gr);
    }
    std::vector<double> dw_bound(e.dw.size()), dw_ref_bound(e.dw.size());
    for (size_t i = 0; i < e.dw.size(); ++i) {
      const double B = e.dw_abs[i];  // sum |dy x| + |dw0|
      const double g = g_acc(rows + 1) * B;
      dw_bound[i] = g + u * (std::abs(e.dw[i]) + g);
      const double gr = testing::gamma(rows + 1, u32) * B;
      dw_ref_bound[i] = gr + u * (std::abs(e.dw[i]) + gr);
    }

    // The direct reference in this dtype (binary32 sums; accumulation does not apply).
    if (d.acc == Accumulation::f32) {
      Tensor y = Tensor::zeros(p.y_shape, d.dtype), dx = Tensor::zeros(p.x_shape, d.dtype), dw = p.dw0.clone();
      kernels::conv2d_forward_reference(y.raw(), p.x.raw(), p.w.raw(), d.dtype, s);
      kernels::conv2d_backward_data_reference(dx.raw(), p.dy.raw(), p.w.raw(), d.dtype, s);
      kernels::conv2d_backward_weight_reference(dw.raw(), p.dy.raw(), p.x.raw(), d.dtype, s);
      expect_within(y.to_doubles(), e.y, y_ref_bound, "reference forward");
      expect_within(dx.to_doubles(), e.dx, dx_ref_bound, "reference backward_data");
      expect_within(dw.to_doubles(), e.dw, dw_ref_bound, "reference backward_weight");
    }
    // The GEMM path, with every GEMM variant this machine has.
    testing::for_each_isa([&](kernels::Isa isa) {
      SCOPED_TRACE(std::string(kernels::isa_name(isa)));
      Tensor y = Tensor::zeros(p.y_shape, d.dtype), dx = Tensor::zeros(p.x_shape, d.dtype), dw = p.dw0.clone();
      dx.fill(7.0);  // assigned, not accumulated: old contents must not matter
      kernels::conv2d_forward(y.raw(), p.x.raw(), p.w.raw(), d.dtype, d.acc, s, kernels::ConvAlgorithm::gemm);
      kernels::conv2d_backward_data(dx.raw(), p.dy.raw(), p.w.raw(), d.dtype, d.acc, s, kernels::ConvAlgorithm::gemm,
                                    c.workspace_bytes);
      kernels::conv2d_backward_weight(dw.raw(), p.dy.raw(), p.x.raw(), d.dtype, d.acc, s, kernels::ConvAlgorithm::gemm);
      expect_within(y.to_doubles(), e.y, y_bound, "forward");
      expect_within(dx.to_doubles(), e.dx, dx_bound, "backward_data");
      expect_within(dw.to_doubles(), e.dw, dw_bound, "backward_weight");
    });
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvPrecision,
    ::testing::Values(
        PrecisionCase{"k3_pad1", conv_shape(2, 9, 9, 16, 24, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1)},
        PrecisionCase{"k3_stride2", conv_shape(2, 9, 8, 8, 12, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1)},
        PrecisionCase{"k3_dilation2", conv_shape(1, 9, 9, 6, 10, {3, 3}, {1, 1}, {2, 2}, {2, 2}, 1)},
        PrecisionCase{"groups2", conv_shape(2, 7, 7, 8, 12, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 2)},
        PrecisionCase{"depthwise", conv_shape(2, 7, 7, 8, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 8)},
        PrecisionCase{"nonsquare", conv_shape(2, 8, 9, 5, 7, {2, 3}, {2, 1}, {1, 0}, {1, 1}, 1)},
        PrecisionCase{"pointwise", conv_shape(2, 6, 7, 40, 24, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 1)},
        PrecisionCase{"pointwise_groups2", conv_shape(2, 5, 5, 16, 8, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 2)},
        PrecisionCase{"pointwise_stride2", conv_shape(2, 7, 7, 16, 32, {1, 1}, {2, 2}, {0, 0}, {1, 1}, 1)},
        // K = 576 spans several GEMM cache blocks of the patch matrix (256 in K, 512 in N), so
        // patch rows are also read in pieces starting mid-row.
        PrecisionCase{"k3_deep", conv_shape(1, 5, 6, 64, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1)},
        // Input gradients by phases: a stride larger than the kernel (pixels no tap reaches), and
        // stride 1 with more padding than the flipped convolution allows.
        PrecisionCase{"k2_stride3", conv_shape(2, 8, 8, 3, 5, {2, 2}, {3, 3}, {1, 1}, {1, 1}, 1)},
        PrecisionCase{"k2_pad2", conv_shape(1, 5, 6, 3, 4, {2, 2}, {1, 1}, {2, 2}, {1, 1}, 1)},
        // Phases computed only where they land in the input: a one-tap phase whose first row is
        // cut (stride = kernel, padding 2), and input rows and columns past the last window,
        // which no output reads (their gradient is zero, written by the phase, not a memset).
        PrecisionCase{"k3_stride3_pad2", conv_shape(2, 8, 7, 3, 5, {3, 3}, {3, 3}, {2, 2}, {1, 1}, 1)},
        PrecisionCase{"k3_stride2_tail", conv_shape(2, 10, 9, 3, 5, {3, 3}, {2, 2}, {0, 0}, {1, 1}, 1)},
        // col2im (strided and dilated) with a workspace of a few patch rows: chunks end
        // mid-image, so col2im combines several.
        PrecisionCase{"k3_stride2_dilation2_chunked", conv_shape(2, 6, 6, 4, 6, {3, 3}, {2, 2}, {1, 1}, {2, 2}, 1),
                      7 * 36 * 2},
        PrecisionCase{"k3_stride2_dilation2_groups_chunked",
                      conv_shape(2, 7, 7, 4, 6, {3, 3}, {2, 2}, {1, 1}, {2, 2}, 2), 5 * 18 * 2}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// The layer.

TEST(Conv2d, HandComputedExample) {
  // One channel, 3x3 input 1..9, a 2x2 filter of ones: each output is its window's sum.
  Conv2d layer(1, 1, 2);
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f32), 1);
  layer.weight().value.fill(1.0);
  const Tensor x = Tensor::from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, DType::f32);
  Context ctx;
  EXPECT_EQ(layer.forward(x, ctx, RunOptions{}).to_doubles(), (std::vector<double>{12, 16, 24, 28}));
  // Padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
  Conv2d padded(1, 1, 2, 2, 1);
  ParameterStore store2;
  store2.build(padded.parameters(), policy_for(DType::f32), 1);
  padded.weight().value.fill(1.0);
  EXPECT_EQ(padded.forward(x, ctx, RunOptions{}).to_doubles(), (std::vector<double>{1, 5, 11, 28}));
}

TEST(Conv2d, ParameterShapesAndInitialisation) {
  Conv2d layer(Conv2dConfig{6, 4, {3, 5}, {1, 1}, {1, 2}, {1, 1}, 2, true});
  ASSERT_EQ(layer.parameters().size(), 2u);
  EXPECT_EQ(layer.weight().shape, (Shape{4, 3, 5, 3}));
  EXPECT_EQ(layer.bias().shape, (Shape{4}));
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f64), 3);
  const double bound = 1.0 / std::sqrt(3.0 * 5.0 * 3.0);  // fan_in = KH * KW * C_in / groups
  double max_abs = 0;
  for (double v : layer.weight().value.to_doubles()) max_abs = std::max(max_abs, std::abs(v));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.8 * bound);  // 180 draws fill the interval
  for (double v : layer.bias().value.to_doubles()) EXPECT_LE(std::abs(v), bound);
  EXPECT_EQ(Conv2d(3, 8, 3).parameters().size(), 1u);  // no bias by default, as torchvision's ResNets
}

TEST(Conv2d, OutputShapeAndErrors) {
  Conv2d layer(Conv2dConfig{3, 8, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, false});
  EXPECT_EQ(layer.output_shape({2, 32, 31, 3}), (Shape{2, 16, 16, 8}));
  EXPECT_THROW(layer.output_shape({2, 32, 32, 4}), std::invalid_argument);
  EXPECT_THROW(layer.output_shape({32, 32, 3}), std::invalid_argument);
  EXPECT_THROW(Conv2d(5, 8, 3).output_shape({1, 2, 2, 5}), std::invalid_argument);  // smaller than the kernel
  EXPECT_THROW(Conv2d(5, 8, 3, 4).output_shape({1, 2, 2, 5}), std::invalid_argument);  // also with a stride
  EXPECT_THROW(Conv2d(Conv2dConfig{6, 4, {3, 3}, {1, 1}, {0, 0}, {1, 1}, 4, false}), std::invalid_argument);
  EXPECT_THROW(Conv2d(3, 4, 3, 0), std::invalid_argument);
  try {
    layer.output_shape({2, 32, 32, 4});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 32, 32, 4]"), std::string::npos) << e.what();
  }
  // An input of another dtype is converted to the weights' (a layer kept in fp32 sees fp16 inputs).
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f16), 1);
  Context ctx;
  EXPECT_EQ(layer.forward(Tensor::zeros({1, 8, 8, 3}, DType::f32), ctx, RunOptions{}).dtype(), DType::f16);
}

TEST(Conv2d, ParameterGradientsAccumulate) {
  Conv2d layer(Conv2dConfig{2, 3, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true});
  ParameterStore store;
  store.build(layer.parameters(), policy_for(DType::f64), 1);
  const Tensor x = Tensor::from_doubles(testing::random_values(2 * 4 * 4 * 2, 5), {2, 4, 4, 2}, DType::f64);
  const Tensor dy = Tensor::from_doubles(testing::random_values(2 * 4 * 4 * 3, 6), {2, 4, 4, 3}, DType::f64);
  store.zero_grads();
  Context ctx;
  layer.forward(x, ctx, RunOptions{});
  layer.backward(dy, ctx, RunOptions{}, false);
  const std::vector<double> once = store.grads().segment(0).to_doubles();
  layer.backward(dy, ctx, RunOptions{}, false);
  const std::vector<double> twice = store.grads().segment(0).to_doubles();
  for (size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(twice[i], 2 * once[i], 1e-12 * (1 + std::abs(once[i])));
}

TEST(Conv2d, FusedReluGivesTheBitsOfConv2dThenRelu) {
  // With and without a bias, in every dtype (the fused layer's gradients are also checked
  // against float64 finite differences above).
  for (DType dtype : {DType::f64, DType::f32, DType::f16, DType::bf16})
    for (bool bias : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (bias ? " bias" : " no bias"));
      Conv2dConfig config{3, 7, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, bias};
      Conv2d plain(config);
      config.activation = FusedActivation::relu;
      Conv2d fused(config);
      testing::expect_fused_relu_gives_layer_then_relu(fused, plain, {2, 6, 5, 3}, dtype);
    }
  EXPECT_EQ(Conv2d(2, 3, 5, 1, 2, true, FusedActivation::relu).name(), "Conv2d(2, 3, kernel (5, 5), padding (2, 2), bias)+ReLU");
}

TEST(Conv2d, ForwardFlopsCountMultiplyAddsTwice) {
  Conv2d layer(Conv2dConfig{8, 16, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 2, false});
  // Output (2, 4, 4, 16), each output a sum of 3 * 3 * 4 products.
  EXPECT_EQ(layer.forward_flops({2, 8, 8, 8}), 2 * (2 * 4 * 4 * 16) * (3 * 3 * 4));
}

}  // namespace
}  // namespace pure16::nn
