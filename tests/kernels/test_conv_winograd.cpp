// Winograd F(2x2, 3x3) convolutions against float64 evaluations of the same rounded inputs, within
// the bounds kernels/conv_winograd.h derives (binary32 transforms and sums: gamma_n(2^-24) times
// the transforms applied to absolute values, then one rounding to the dtype), in every dtype and
// on every ISA level; the same bits for any thread count; and when `auto` chooses it.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "pure16/kernels/conv.h"
#include "pure16/kernels/isa.h"
#include "support/reference.h"

namespace pure16::kernels {
namespace {

// The transforms' matrices, entry by entry as the bounds use them (absolute values).
constexpr double kBt[4][4] = {{1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}};  // |B^T|
constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};   // |G|
constexpr double kAt[2][4] = {{1, 1, 1, 0}, {0, 1, 1, 1}};                              // |A^T|

Conv2dShape shape3x3(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t pad) {
  Conv2dShape s;
  s.batch = n;
  s.in_h = h;
  s.in_w = w;
  s.in_channels = cin;
  s.out_channels = cout;
  s.kernel_h = s.kernel_w = 3;
  s.pad_h = s.pad_w = pad;
  return s;
}

// NHWC element (n, y, x, c) of `v`, 0 outside the image.
double at(const std::vector<double>& v, int64_t h, int64_t w, int64_t channels, int64_t n, int64_t y, int64_t x,
          int64_t c) {
  if (y < 0 || y >= h || x < 0 || x >= w) return 0.0;
  return v[size_t(((n * h + y) * w + x) * channels + c)];
}

// |B^T| |d| |B| of the 4x4 input pixels at (top, left), channel c.
std::array<double, 16> abs_input_transform(const std::vector<double>& ax, const Conv2dShape& s, int64_t n, int64_t top,
                                           int64_t left, int64_t c) {
  std::array<double, 16> v{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const double d = at(ax, s.in_h, s.in_w, s.in_channels, n, top + i, left + j, c);
      for (int xi = 0; xi < 4; ++xi)
        for (int nu = 0; nu < 4; ++nu) v[size_t(4 * xi + nu)] += kBt[xi][i] * kBt[nu][j] * d;
    }
  return v;
}

// |G| |g| |G^T| of filter (o, c), w stored (C_out, 3, 3, C_in).
std::array<double, 16> abs_filter_transform(const std::vector<double>& aw, int64_t cin, int64_t o, int64_t c) {
  std::array<double, 16> u{};
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      const double g = aw[size_t(((o * 3 + a) * 3 + b) * cin + c)];
      for (int xi = 0; xi < 4; ++xi)
        for (int nu = 0; nu < 4; ++nu) u[size_t(4 * xi + nu)] += kG[xi][a] * kG[nu][b] * g;
    }
  return u;
}

// |V| of every tile (numbered (n, tile row, tile column)) and input channel: 16 values each.
std::vector<double> abs_input_transforms(const std::vector<double>& ax, const Conv2dShape& s) {
  const int64_t rows = (s.out_h() + 1) / 2, cols = (s.out_w() + 1) / 2;
  std::vector<double> v;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t th = 0; th < rows; ++th)
      for (int64_t tw = 0; tw < cols; ++tw)
        for (int64_t c = 0; c < s.in_channels; ++c) {
          const auto t = abs_input_transform(ax, s, n, 2 * th - s.pad_h, 2 * tw - s.pad_w, c);
          v.insert(v.end(), t.begin(), t.end());
        }
  return v;
}

// The forward bound's magnitude, |A^T| [sum_c |U_c| . |V_c|] |A|, for every output element.
std::vector<double> forward_magnitude(const std::vector<double>& ax, const std::vector<double>& aw,
                                      const Conv2dShape& s) {
  const int64_t oh = s.out_h(), ow = s.out_w(), ci = s.in_channels, co = s.out_channels;
  const int64_t rows = (oh + 1) / 2, cols = (ow + 1) / 2;
  const std::vector<double> v = abs_input_transforms(ax, s);
  std::vector<double> u;
  for (int64_t o = 0; o < co; ++o)
    for (int64_t c = 0; c < ci; ++c) {
      const auto f = abs_filter_transform(aw, ci, o, c);
      u.insert(u.end(), f.begin(), f.end());
    }
  std::vector<double> out(size_t(s.batch * oh * ow * co));
  for (int64_t tile = 0; tile < s.batch * rows * cols; ++tile) {
    const int64_t n = tile / (rows * cols), th = 2 * (tile / cols % rows), tw = 2 * (tile % cols);
    for (int64_t o = 0; o < co; ++o) {
      std::array<double, 16> m{};
      for (int64_t c = 0; c < ci; ++c)
        for (size_t p = 0; p < 16; ++p) m[p] += u[size_t((o * ci + c) * 16) + p] * v[size_t((tile * ci + c) * 16) + p];
      for (int r = 0; r < 2 && th + r < oh; ++r)
        for (int q = 0; q < 2 && tw + q < ow; ++q) {
          double sum = 0;
          for (int xi = 0; xi < 4; ++xi)
            for (int nu = 0; nu < 4; ++nu) sum += kAt[r][xi] * kAt[q][nu] * m[size_t(4 * xi + nu)];
          out[size_t(((n * oh + th + r) * ow + tw + q) * co + o)] = sum;
        }
    }
  }
  return out;
}

// The filter gradient bound's magnitude, |G^T| [sum_t |A| |dy_t| |A^T| . |V_t|] |G| + |dw_old|.
std::vector<double> weight_grad_magnitude(const std::vector<double>& ady, const std::vector<double>& ax,
                                          const std::vector<double>& adw0, const Conv2dShape& s) {
  const int64_t oh = s.out_h(), ow = s.out_w(), ci = s.in_channels, co = s.out_channels;
  const int64_t rows = (oh + 1) / 2, cols = (ow + 1) / 2, tiles = s.batch * rows * cols;
  const std::vector<double> v = abs_input_transforms(ax, s);
  std::vector<double> dm(size_t(tiles * co * 16));  // |A| |dy_t| |A^T| per tile and output channel
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t n = tile / (rows * cols), th = 2 * (tile / cols % rows), tw = 2 * (tile % cols);
    for (int64_t o = 0; o < co; ++o)
      for (int xi = 0; xi < 4; ++xi)
        for (int nu = 0; nu < 4; ++nu)
          for (int r = 0; r < 2; ++r)
            for (int q = 0; q < 2; ++q)
              dm[size_t((tile * co + o) * 16 + 4 * xi + nu)] +=
                  kAt[r][xi] * kAt[q][nu] * at(ady, oh, ow, co, n, th + r, tw + q, o);
  }
  std::vector<double> out = adw0;
  for (int64_t o = 0; o < co; ++o)
    for (int64_t c = 0; c < ci; ++c) {
      std::array<double, 16> du{};
      for (int64_t tile = 0; tile < tiles; ++tile)
        for (size_t p = 0; p < 16; ++p)
          du[p] += dm[size_t((tile * co + o) * 16) + p] * v[size_t((tile * ci + c) * 16) + p];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
          double sum = 0;
          for (int xi = 0; xi < 4; ++xi)
            for (int nu = 0; nu < 4; ++nu) sum += kG[xi][a] * kG[nu][b] * du[size_t(4 * xi + nu)];
          out[size_t(((o * 3 + a) * 3 + b) * ci + c)] += sum;
        }
    }
  return out;
}

// The input gradient's filters as a forward convolution's: (C_in, 3, 3, C_out), flipped.
std::vector<double> flipped_filters(const std::vector<double>& w, const Conv2dShape& s) {
  std::vector<double> f(w.size());
  for (int64_t o = 0; o < s.out_channels; ++o)
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t c = 0; c < s.in_channels; ++c)
          f[size_t(((c * 3 + 2 - a) * 3 + 2 - b) * s.out_channels + o)] =
              w[size_t(((o * 3 + a) * 3 + b) * s.in_channels + c)];
  return f;
}

std::vector<double> abs_of(std::vector<double> v) {
  for (double& e : v) e = std::abs(e);
  return v;
}

std::vector<double> reference(void (*op)(void*, const void*, const void*, DType, const Conv2dShape&),
                              std::vector<double> out, const std::vector<double>& a, const std::vector<double>& b,
                              const Conv2dShape& s) {
  op(out.data(), a.data(), b.data(), DType::f64, s);
  return out;
}

void expect_within(const Tensor& got_tensor, const std::vector<double>& exact, const std::vector<double>& magnitude,
                   int64_t n, double u, const std::string& what) {
  const std::vector<double> got = got_tensor.to_doubles();
  ASSERT_EQ(got.size(), exact.size());
  const double g = testing::gamma(n, 0x1.0p-24);
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i) {
    const double e = g * magnitude[i], bound = e + u * (std::abs(exact[i]) + e);
    if (!(std::abs(got[i] - exact[i]) <= bound)) {
      ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", exact " << exact[i] << ", bound " << bound;
      ++failures;
    }
  }
}

struct WinogradCase {
  const char* name;
  Conv2dShape shape;
};

class WinogradPrecision : public ::testing::TestWithParam<WinogradCase> {};

TEST_P(WinogradPrecision, WithinTheDerivedBoundsInEveryDtypeAndIsa) {
  const Conv2dShape& s = GetParam().shape;
  ASSERT_EQ(conv_algorithm_used(ConvAlgorithm::winograd, DType::f32, Accumulation::f32, s), ConvAlgorithm::winograd);
  const Shape x_shape{s.batch, s.in_h, s.in_w, s.in_channels}, w_shape{s.out_channels, 3, 3, s.in_channels};
  const Shape y_shape{s.batch, s.out_h(), s.out_w(), s.out_channels};
  // The input gradient is the forward convolution of dy with the flipped filters, padded 2 - pad.
  Conv2dShape t = shape3x3(s.batch, s.out_h(), s.out_w(), s.out_channels, s.in_channels, 2 - s.pad_h);
  const int64_t tiles = s.batch * ((s.out_h() + 1) / 2) * ((s.out_w() + 1) / 2);
  for (const DType dtype : {DType::f32, DType::f16, DType::bf16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor x = Tensor::from_doubles(testing::random_values(shape_numel(x_shape), 5), x_shape, dtype);
    const Tensor w = Tensor::from_doubles(testing::random_values(shape_numel(w_shape), 6), w_shape, dtype);
    const Tensor dy = Tensor::from_doubles(testing::random_values(shape_numel(y_shape), 7), y_shape, dtype);
    const Tensor dw0 = Tensor::from_doubles(testing::random_values(shape_numel(w_shape), 8), w_shape, dtype);
    const std::vector<double> xd = x.to_doubles(), wd = w.to_doubles(), dyd = dy.to_doubles(), dw0d = dw0.to_doubles();
    const std::vector<double> y_exact =
        reference(conv2d_forward_reference, std::vector<double>(shape_numel(y_shape)), xd, wd, s);
    const std::vector<double> dx_exact =
        reference(conv2d_backward_data_reference, std::vector<double>(shape_numel(x_shape)), dyd, wd, s);
    const std::vector<double> dw_exact = reference(conv2d_backward_weight_reference, dw0d, dyd, xd, s);
    const std::vector<double> y_mag = forward_magnitude(abs_of(xd), abs_of(wd), s);
    const std::vector<double> dx_mag = forward_magnitude(abs_of(dyd), abs_of(flipped_filters(wd, s)), t);
    const std::vector<double> dw_mag = weight_grad_magnitude(abs_of(dyd), abs_of(xd), abs_of(dw0d), s);
    const double u = traits(dtype).unit_roundoff;
    testing::for_each_isa([&](Isa isa) {
      SCOPED_TRACE(std::string(isa_name(isa)));
      Tensor y = Tensor::zeros(y_shape, dtype), dx = Tensor::zeros(x_shape, dtype), dw = dw0.clone();
      y.fill(7.0);  // assigned, not accumulated: old contents must not matter
      dx.fill(7.0);
      conv2d_forward(y.raw(), x.raw(), w.raw(), dtype, Accumulation::f32, s, ConvAlgorithm::winograd);
      conv2d_backward_data(dx.raw(), dy.raw(), w.raw(), dtype, Accumulation::f32, s, ConvAlgorithm::winograd);
      conv2d_backward_weight(dw.raw(), dy.raw(), x.raw(), dtype, Accumulation::f32, s, ConvAlgorithm::winograd);
      expect_within(y, y_exact, y_mag, s.in_channels + 11, u, "forward");
      expect_within(dx, dx_exact, dx_mag, s.out_channels + 11, u, "backward_data");
      expect_within(dw, dw_exact, dw_mag, tiles + 10, u, "backward_weight");
    });
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, WinogradPrecision,
    ::testing::Values(
        // Odd output sizes (tiles cut at the bottom and right), channel counts off every vector width.
        WinogradCase{"pad1_odd", shape3x3(2, 7, 9, 5, 6, 1)}, WinogradCase{"pad0", shape3x3(1, 8, 6, 16, 8, 0)},
        WinogradCase{"pad2", shape3x3(1, 5, 5, 3, 4, 2)}, WinogradCase{"one_pixel", shape3x3(3, 1, 1, 4, 3, 1)},
        // 144 tiles, more than one chunk (128 tiles at 512 channels in all): the filter gradient
        // adds chunks, and the last chunk is a short one.
        WinogradCase{"two_chunks", shape3x3(1, 24, 24, 8, 504, 1)}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Winograd, SameBitsForAnyThreadCount) {
  const Conv2dShape s = shape3x3(1, 24, 24, 8, 504, 1);  // two chunks
  const Shape x_shape{s.batch, s.in_h, s.in_w, s.in_channels}, w_shape{s.out_channels, 3, 3, s.in_channels};
  const Shape y_shape{s.batch, s.out_h(), s.out_w(), s.out_channels};
  const Tensor x = Tensor::from_doubles(testing::random_values(shape_numel(x_shape), 1), x_shape, DType::f16);
  const Tensor w = Tensor::from_doubles(testing::random_values(shape_numel(w_shape), 2), w_shape, DType::f16);
  const Tensor dy = Tensor::from_doubles(testing::random_values(shape_numel(y_shape), 3), y_shape, DType::f16);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<double>> results;
  for (const int n : {1, 2, 3}) {
    omp_set_num_threads(n);
    Tensor y = Tensor::zeros(y_shape, DType::f16), dx = Tensor::zeros(x_shape, DType::f16);
    Tensor dw = Tensor::zeros(w_shape, DType::f16);
    conv2d_forward(y.raw(), x.raw(), w.raw(), DType::f16, Accumulation::f32, s, ConvAlgorithm::winograd);
    conv2d_backward_data(dx.raw(), dy.raw(), w.raw(), DType::f16, Accumulation::f32, s, ConvAlgorithm::winograd);
    conv2d_backward_weight(dw.raw(), dy.raw(), x.raw(), DType::f16, Accumulation::f32, s, ConvAlgorithm::winograd);
    std::vector<double> all = y.to_doubles();
    for (const Tensor* t : {&dx, &dw}) {
      const std::vector<double> v = t->to_doubles();
      all.insert(all.end(), v.begin(), v.end());
    }
    results.push_back(all);
  }
  omp_set_num_threads(threads);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(Winograd, RunsOnlyWhereItApplies) {
  const Conv2dShape resnet = shape3x3(8, 16, 16, 64, 64, 1);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::gemm, DType::f16, Accumulation::f32, resnet), ConvAlgorithm::gemm);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::winograd, DType::f16, Accumulation::f32, resnet),
            ConvAlgorithm::winograd);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::automatic, DType::f32, Accumulation::f32, resnet),
            ConvAlgorithm::winograd);
  // Asked for, but the shape, the sums or the dtype are not Winograd's: the GEMM path runs.
  Conv2dShape strided = resnet, dilated = resnet, grouped = resnet, wide_pad = resnet, five = resnet;
  strided.stride_h = 2;
  dilated.dilation_w = 2;
  grouped.groups = 2;
  wide_pad.pad_h = 3;
  five.kernel_h = five.kernel_w = 5;
  for (const Conv2dShape& s : {strided, dilated, grouped, wide_pad, five})
    EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::winograd, DType::f16, Accumulation::f32, s), ConvAlgorithm::gemm);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::winograd, DType::f16, Accumulation::f16_block, resnet),
            ConvAlgorithm::gemm);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::winograd, DType::f16, Accumulation::f16, resnet), ConvAlgorithm::gemm);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::winograd, DType::f64, Accumulation::f32, resnet), ConvAlgorithm::gemm);
  // auto: f16 sums where fp16 FMAs are native leave Winograd out; so do a 3-channel stem and bf16
  // where its dot products run at twice the binary32 rate.
  const ConvAlgorithm f16_auto =
      conv_algorithm_used(ConvAlgorithm::automatic, DType::f16, Accumulation::automatic, resnet);
  EXPECT_EQ(f16_auto, active_isa() >= Isa::avx512fp16 ? ConvAlgorithm::gemm : ConvAlgorithm::winograd);
  EXPECT_EQ(conv_algorithm_used(ConvAlgorithm::automatic, DType::f16, Accumulation::f32, shape3x3(8, 32, 32, 3, 64, 1)),
            ConvAlgorithm::gemm);
  EXPECT_EQ(
      conv_algorithm_used(ConvAlgorithm::automatic, DType::bf16, Accumulation::f32, resnet),
      gemm_variant(DType::bf16, Accumulation::f32) == "avx512bf16" ? ConvAlgorithm::gemm : ConvAlgorithm::winograd);
}

TEST(Winograd, AlgorithmNamesRoundTrip) {
  for (const std::string& name : conv_algorithm_names())
    EXPECT_EQ(conv_algorithm_name(parse_conv_algorithm(name)), name);
  EXPECT_EQ(conv_algorithm_names(), (std::vector<std::string>{"auto", "gemm", "winograd"}));
  try {
    parse_conv_algorithm("fft");
    FAIL() << "no error for an unknown algorithm";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown convolution algorithm 'fft' (auto, gemm, winograd)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace pure16::kernels
