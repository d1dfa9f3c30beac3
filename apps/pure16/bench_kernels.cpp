// `pure16 bench gemm` and `pure16 bench conv`: GFLOP/s of the GEMM and convolution kernels on
// ResNet-50's layers at batch 8, per dtype and accumulation, each as a fraction of the measured
// peak of the arithmetic the kernel runs on.
#include <omp.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "pure16/kernels/conv.h"

namespace pure16::cli::bench {
namespace {

using kernels::Accumulation;
using kernels::PeakKind;


struct GemmShape {
  std::string name;
  int64_t m, n, k;
  bool trans_b;
};

// 1024^3, and ResNet-50's convolutions at batch 8 as GEMMs (M = N*H*W output pixels, N = C_out,
// K = KH*KW*C_in; forward multiplies by the weights stored (C_out, K), i.e. B transposed).
std::vector<GemmShape> default_gemm_shapes() {
  return {{"square 1024", 1024, 1024, 1024, false},
          {"r50 conv2 3x3 64 @56", 8 * 56 * 56, 64, 9 * 64, true},
          {"r50 conv3 3x3 128 @28", 8 * 28 * 28, 128, 9 * 128, true},
          {"r50 conv4 3x3 256 @14", 8 * 14 * 14, 256, 9 * 256, true},
          {"r50 conv5 3x3 512 @7", 8 * 7 * 7, 512, 9 * 512, true},
          {"r50 1x1 64->256 @56", 8 * 56 * 56, 256, 64, true},
          {"r50 1x1 1024->256 @14", 8 * 14 * 14, 256, 1024, true},
          {"r50 1x1 512->2048 @7", 8 * 7 * 7, 2048, 512, true}};
}

GemmShape parse_shape(const std::string& text) {
  GemmShape s{text, 0, 0, 0, false};
  char x1 = 0, x2 = 0;
  std::istringstream in(text);
  if (!(in >> s.m >> x1 >> s.n >> x2 >> s.k) || x1 != 'x' || x2 != 'x' || s.m <= 0 || s.n <= 0 || s.k <= 0 ||
      !in.eof())
    throw std::invalid_argument("--shape: expected MxNxK with positive sizes, got '" + text + "'");
  return s;
}

kernels::Conv2dShape conv_shape(int64_t hw, int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  kernels::Conv2dShape s;
  s.batch = 8;
  s.in_h = s.in_w = hw;
  s.in_channels = cin;
  s.out_channels = cout;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = k / 2;
  return s;
}

}  // namespace

int run_gemm(const Options& o) {
  std::vector<GemmShape> shapes;
  for (const std::string& s : o.shapes) shapes.push_back(parse_shape(s));
  if (shapes.empty()) shapes = default_gemm_shapes();
  const std::vector<GemmKind> kinds = select_kinds(kernels::gemm_kinds(), o);
  Peaks peaks;
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "GEMM GFLOP/s (fraction of the measured peak of the arithmetic used)\n";
  for (const GemmShape& shape : shapes) {
    for (const GemmKind& kind : kinds) {
      const auto [dtype, acc] = kind;
      Tensor a = random_tensor({shape.m, shape.k}, dtype, 1);
      Tensor b = random_tensor(shape.trans_b ? Shape{shape.n, shape.k} : Shape{shape.k, shape.n}, dtype, 2);
      Tensor c = Tensor::zeros({shape.m, shape.n}, dtype);
      const PeakKind peak_kind = peak_kind_for(dtype, acc);
      const std::string peak_name(kernels::peak_kind_name(peak_kind));
      text << format("  %-24s %-17s %-10s", shape.name.c_str(), kind_label(kind).c_str(),
                     std::string(kernels::gemm_variant(dtype, acc)).c_str());
      for (int t : thread_counts(o)) {
        omp_set_num_threads(t);
        const double secs = peaks.best_time_beside_peak(
            peak_kind, t, [&] { kernels::gemm(c, a, false, b, shape.trans_b, 1.0f, 0.0f, acc); });
        const double gflops = 2.0 * double(shape.m) * double(shape.n) * double(shape.k) / secs * 1e-9;
        const double peak = peaks.gflops(peak_kind, t);
        rows.push_back({{"shape", shape.name}, {"m", shape.m}, {"n", shape.n}, {"k", shape.k},
                        {"dtype", dtype_name(dtype)}, {"accumulation", kernels::accumulation_name(acc)},
                        {"variant", kernels::gemm_variant(dtype, acc)}, {"threads", t}, {"gflops", gflops},
                        {"peak_kind", peak_name}, {"peak_gflops", peak}, {"fraction_of_peak", gflops / peak}});
        text << format("  %dt %7.1f (%3.0f%%)", t, gflops, 100 * gflops / peak);
      }
      text << "  of " << peak_name << "\n";
    }
  }
  omp_set_num_threads(all_threads(o));
  emit(o, {{"machine", machine_json(o)}, {"gemm", rows}}, text.str());
  return 0;
}

int run_conv(const Options& o) {
  const std::vector<std::pair<std::string, kernels::Conv2dShape>> layers{
      {"r50 3x3 64 @56", conv_shape(56, 64, 64, 3, 1)},
      {"r50 3x3 128 @28", conv_shape(28, 128, 128, 3, 1)},
      {"r50 3x3 256 @14", conv_shape(14, 256, 256, 3, 1)},
      {"r50 3x3 512 @7", conv_shape(7, 512, 512, 3, 1)},
      {"r50 1x1 64->256 @56", conv_shape(56, 64, 256, 1, 1)},
      {"r50 1x1 512->2048 @7", conv_shape(7, 512, 2048, 1, 1)},
      {"r50 3x3/2 128 @56", conv_shape(56, 128, 128, 3, 2)},
      {"r50 7x7/2 stem @224", conv_shape(224, 3, 64, 7, 2)}};
  const std::vector<GemmKind> kinds = select_kinds(kernels::gemm_kinds(), o);
  const int t = all_threads(o);
  omp_set_num_threads(t);
  Peaks peaks;
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "Convolution GFLOP/s at batch 8, " << t << " thread" << (t == 1 ? "" : "s")
       << ": forward / backward-data / backward-weight (fractions of the peak named; winograd counts\n"
       << "the GEMM path's FLOPs)\n";
  for (const auto& [name, s] : layers) {
    const double flops = 2.0 * double(s.batch * s.out_h() * s.out_w()) * double(s.out_channels) * double(s.patch());
    for (const GemmKind& kind : kinds) {
      const auto [dtype, acc] = kind;
      Tensor x = random_tensor({s.batch, s.in_h, s.in_w, s.in_channels}, dtype, 1);
      Tensor w = random_tensor({s.out_channels, s.kernel_h, s.kernel_w, s.group_in()}, dtype, 2);
      Tensor dy = random_tensor({s.batch, s.out_h(), s.out_w(), s.out_channels}, dtype, 3);
      Tensor y = Tensor::zeros(dy.shape(), dtype), dx = Tensor::zeros(x.shape(), dtype);
      Tensor dw = Tensor::zeros(w.shape(), dtype);
      const PeakKind peak_kind = peak_kind_for(dtype, acc);
      const auto rate = [&](const std::function<void()>& f) {
        return flops / peaks.best_time_beside_peak(peak_kind, t, f) * 1e-9;
      };
      // Winograd's rates count the GEMM path's FLOPs: the same work done, so the two compare.
      for (const kernels::ConvAlgorithm algorithm : {kernels::ConvAlgorithm::gemm, kernels::ConvAlgorithm::winograd}) {
        if (kernels::conv_algorithm_used(algorithm, dtype, acc, s) != algorithm) continue;
        const double fwd = rate([&] { kernels::conv2d_forward(y.raw(), x.raw(), w.raw(), dtype, acc, s, algorithm); });
        const double bwd_data =
            rate([&] { kernels::conv2d_backward_data(dx.raw(), dy.raw(), w.raw(), dtype, acc, s, algorithm); });
        const double bwd_weight =
            rate([&] { kernels::conv2d_backward_weight(dw.raw(), dy.raw(), x.raw(), dtype, acc, s, algorithm); });
        const std::string peak_name(kernels::peak_kind_name(peak_kind));
        const std::string algorithm_name(kernels::conv_algorithm_name(algorithm));
        const double peak = peaks.gflops(peak_kind, t);
        rows.push_back({{"layer", name},
                        {"dtype", dtype_name(dtype)},
                        {"accumulation", kernels::accumulation_name(acc)},
                        {"algorithm", algorithm_name},
                        {"threads", t},
                        {"gflops_per_pass", flops * 1e-9},
                        {"forward_gflops", fwd},
                        {"backward_data_gflops", bwd_data},
                        {"backward_weight_gflops", bwd_weight},
                        {"peak_kind", peak_name},
                        {"peak_gflops", peak},
                        {"forward_fraction_of_peak", fwd / peak},
                        {"backward_data_fraction_of_peak", bwd_data / peak},
                        {"backward_weight_fraction_of_peak", bwd_weight / peak}});
        text << format("  %-22s %-17s %-8s %7.1f / %7.1f / %7.1f  (%3.0f%% / %3.0f%% / %3.0f%% of %s)\n", name.c_str(),
                       kind_label(kind).c_str(), algorithm_name.c_str(), fwd, bwd_data, bwd_weight, 100 * fwd / peak,
                       100 * bwd_data / peak, 100 * bwd_weight / peak, peak_name.c_str());
      }
    }
  }
  emit(o, {{"machine", machine_json(o)}, {"conv", rows}}, text.str());
  return 0;
}

}  // namespace pure16::cli::bench
