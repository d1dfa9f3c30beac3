// `pure16 bench`: the machine's measured multiply-add peak, GEMM and convolution GFLOP/s, and
// training images/s, each figure also as a fraction of the peak of the arithmetic it runs on.
// Timings are the best (GEMM, convolution) or the median (training steps) of repeated runs;
// on a shared machine compare figures measured side by side in one run.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.h"
#include "pure16/kernels/conv.h"
#include "pure16/kernels/fma_peak.h"
#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/nn/models.h"
#include "pure16/train/trainer.h"

namespace pure16::cli {
namespace {

using kernels::Accumulation;
using kernels::PeakKind;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  int threads = 0;  // 0: all cores
  bool json = false;
  std::vector<std::string> shapes;   // gemm: MxNxK
  std::vector<std::string> models;   // train
  std::vector<std::string> precisions;
  std::string accumulation;          // train: override the presets'
  int64_t batch_size = 0;            // train: 0 = the model's default
  int64_t steps = 5;
  int64_t warmup = 1;
};

int all_threads(const BenchOptions& o) { return o.threads > 0 ? o.threads : omp_get_num_procs(); }

// The thread counts a kernel figure is given for: one core, and all the asked-for threads.
std::vector<int> thread_counts(const BenchOptions& o) {
  const int n = all_threads(o);
  return n > 1 ? std::vector<int>{1, n} : std::vector<int>{1};
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Best time of `f` over repetitions lasting at least ~0.3 s in all (and at least three).
double best_time(const std::function<void()>& f) {
  f();  // warm caches and per-thread buffers
  double best = 1e30, total = 0;
  for (int rep = 0; rep < 3 || (total < 0.3 && rep < 50); ++rep) {
    const auto start = Clock::now();
    f();
    const double t = seconds_since(start);
    best = std::min(best, t);
    total += t;
  }
  return best;
}

// Measured peaks, by kind and thread count, computed on first use.
class Peaks {
 public:
  double gflops(PeakKind kind, int threads) {
    const auto key = std::make_pair(int(kind), threads);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, kernels::measure_fma_peak(kind, threads).gflops).first;
    return it->second;
  }

 private:
  std::map<std::pair<int, int>, double> cache_;
};

bool has_kind(PeakKind kind) {
  const auto kinds = kernels::available_peak_kinds();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

// The arithmetic a GEMM of (dtype, accumulation) runs on here: fp16 FMAs for the f16 kinds on
// AVX512-FP16, otherwise binary32 FMAs (widening kernels; fp16 accumulation without AVX512-FP16
// is the scalar reference, still held to the binary32 peak).
PeakKind peak_kind_for(DType dtype, Accumulation acc) {
  if (dtype == DType::f16 && acc != Accumulation::f32 && kernels::gemm_variant(dtype, acc) == "avx512fp16")
    return PeakKind::f16_avx512fp16;
  if (kernels::active_isa() >= kernels::Isa::avx512 && has_kind(PeakKind::f32_avx512)) return PeakKind::f32_avx512;
  return PeakKind::f32_avx2;
}

std::string kind_label(DType dtype, Accumulation acc) {
  return std::string(dtype_name(dtype)) + " acc " + std::string(kernels::accumulation_name(acc));
}

void emit(const BenchOptions& o, const nlohmann::json& doc, const std::string& text) {
  if (o.json) std::cout << doc.dump(2) << "\n";
  else std::cout << text;
}

nlohmann::json machine_json(const BenchOptions& o) {
  return {{"detected_isa", kernels::isa_name(kernels::detected_isa())},
          {"active_isa", kernels::isa_name(kernels::active_isa())},
          {"cores", omp_get_num_procs()},
          {"threads", all_threads(o)}};
}

// ---------------------------------------------------------------------------------------------
int run_peak(const BenchOptions& o) {
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "FMA peak (GFLOP/s, multiply-add = 2 FLOP)\n";
  for (PeakKind kind : kernels::available_peak_kinds()) {
    text << "  " << kernels::peak_kind_name(kind) << ":";
    for (int t : thread_counts(o)) {
      const kernels::PeakResult r = kernels::measure_fma_peak(kind, t);
      rows.push_back({{"kind", kernels::peak_kind_name(kind)}, {"threads", t}, {"gflops", r.gflops}});
      char buf[64];
      std::snprintf(buf, sizeof buf, "  %d thread%s %.1f", t, t == 1 ? "" : "s", r.gflops);
      text << buf;
    }
    text << "\n";
  }
  emit(o, {{"machine", machine_json(o)}, {"peak", rows}}, text.str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
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
          {"r50 1x1 1024->256 @14", 8 * 14 * 14, 256, 1024, true}};
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

// Random values in [-1, 1) of `dtype`, n of them.
Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(size_t(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_doubles(v, shape, dtype);
}

const std::vector<std::pair<DType, Accumulation>>& gemm_kinds() {
  static const std::vector<std::pair<DType, Accumulation>> kinds{{DType::f32, Accumulation::f32},
                                                                 {DType::f16, Accumulation::f32},
                                                                 {DType::f16, Accumulation::f16},
                                                                 {DType::f16, Accumulation::f16_block},
                                                                 {DType::bf16, Accumulation::f32}};
  return kinds;
}

int run_gemm(const BenchOptions& o) {
  std::vector<GemmShape> shapes;
  for (const std::string& s : o.shapes) shapes.push_back(parse_shape(s));
  if (shapes.empty()) shapes = default_gemm_shapes();
  Peaks peaks;
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "GEMM GFLOP/s (fraction of the measured peak of the arithmetic used)\n";
  for (const GemmShape& shape : shapes) {
    for (const auto& [dtype, acc] : gemm_kinds()) {
      Tensor a = random_tensor({shape.m, shape.k}, dtype, 1);
      Tensor b = shape.trans_b ? random_tensor({shape.n, shape.k}, dtype, 2) : random_tensor({shape.k, shape.n}, dtype, 2);
      Tensor c = Tensor::zeros({shape.m, shape.n}, dtype);
      const PeakKind peak_kind = peak_kind_for(dtype, acc);
      char line[256];
      std::snprintf(line, sizeof line, "  %-24s %-16s %-10s", shape.name.c_str(), kind_label(dtype, acc).c_str(),
                    std::string(kernels::gemm_variant(dtype, acc)).c_str());
      text << line;
      for (int t : thread_counts(o)) {
        omp_set_num_threads(t);
        const double secs = best_time([&] { kernels::gemm(c, a, false, b, shape.trans_b, 1.0f, 0.0f, acc); });
        const double gflops = 2.0 * double(shape.m) * double(shape.n) * double(shape.k) / secs * 1e-9;
        const double peak = peaks.gflops(peak_kind, t);
        rows.push_back({{"shape", shape.name}, {"m", shape.m}, {"n", shape.n}, {"k", shape.k},
                        {"dtype", dtype_name(dtype)}, {"accumulation", kernels::accumulation_name(acc)},
                        {"variant", kernels::gemm_variant(dtype, acc)}, {"threads", t}, {"gflops", gflops},
                        {"peak_kind", kernels::peak_kind_name(peak_kind)}, {"peak_gflops", peak},
                        {"fraction_of_peak", gflops / peak}});
        std::snprintf(line, sizeof line, "  %dt %7.1f (%3.0f%% of %s)", t, gflops, 100 * gflops / peak,
                      std::string(kernels::peak_kind_name(peak_kind)).c_str());
        text << line;
      }
      text << "\n";
    }
  }
  omp_set_num_threads(all_threads(o));
  emit(o, {{"machine", machine_json(o)}, {"gemm", rows}}, text.str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
kernels::Conv2dShape conv(int64_t hw, int64_t cin, int64_t cout, int64_t k, int64_t stride) {
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

int run_conv(const BenchOptions& o) {
  const std::vector<std::pair<std::string, kernels::Conv2dShape>> layers{
      {"r50 3x3 64 @56", conv(56, 64, 64, 3, 1)},       {"r50 3x3 128 @28", conv(28, 128, 128, 3, 1)},
      {"r50 3x3 256 @14", conv(14, 256, 256, 3, 1)},    {"r50 3x3 512 @7", conv(7, 512, 512, 3, 1)},
      {"r50 1x1 64->256 @56", conv(56, 64, 256, 1, 1)}, {"r50 3x3/2 128 @56", conv(56, 128, 128, 3, 2)},
      {"r50 7x7/2 stem @224", conv(224, 3, 64, 7, 2)}};
  const std::vector<std::pair<DType, Accumulation>> kinds{
      {DType::f32, Accumulation::f32}, {DType::f16, Accumulation::f16_block}, {DType::f16, Accumulation::f32}};
  Peaks peaks;
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "Convolution GFLOP/s at batch 8 (forward / backward-data / backward-weight), " << all_threads(o)
       << " threads\n";
  const int t = all_threads(o);
  omp_set_num_threads(t);
  for (const auto& [name, s] : layers) {
    const double flops = 2.0 * double(s.batch * s.out_h() * s.out_w()) * double(s.out_channels) * double(s.patch());
    for (const auto& [dtype, acc] : kinds) {
      Tensor x = random_tensor({s.batch, s.in_h, s.in_w, s.in_channels}, dtype, 1);
      Tensor w = random_tensor({s.out_channels, s.kernel_h, s.kernel_w, s.group_in()}, dtype, 2);
      Tensor dy = random_tensor({s.batch, s.out_h(), s.out_w(), s.out_channels}, dtype, 3);
      Tensor y = Tensor::zeros(dy.shape(), dtype), dx = Tensor::zeros(x.shape(), dtype), dw = Tensor::zeros(w.shape(), dtype);
      const double fwd = flops / best_time([&] { kernels::conv2d_forward(y.raw(), x.raw(), w.raw(), dtype, acc, s); }) * 1e-9;
      const double bwd_data =
          flops / best_time([&] { kernels::conv2d_backward_data(dx.raw(), dy.raw(), w.raw(), dtype, acc, s); }) * 1e-9;
      const double bwd_weight =
          flops / best_time([&] { kernels::conv2d_backward_weight(dw.raw(), dy.raw(), x.raw(), dtype, acc, s); }) * 1e-9;
      const PeakKind kind = peak_kind_for(dtype, acc);
      const double peak = peaks.gflops(kind, t);
      rows.push_back({{"layer", name}, {"dtype", dtype_name(dtype)}, {"accumulation", kernels::accumulation_name(acc)},
                      {"threads", t}, {"forward_gflops", fwd}, {"backward_data_gflops", bwd_data},
                      {"backward_weight_gflops", bwd_weight}, {"peak_kind", kernels::peak_kind_name(kind)},
                      {"peak_gflops", peak}});
      char line[256];
      std::snprintf(line, sizeof line, "  %-22s %-16s %7.1f / %7.1f / %7.1f  (%2.0f%% / %2.0f%% / %2.0f%% of %s)\n",
                    name.c_str(), kind_label(dtype, acc).c_str(), fwd, bwd_data, bwd_weight, 100 * fwd / peak,
                    100 * bwd_data / peak, 100 * bwd_weight / peak, std::string(kernels::peak_kind_name(kind)).c_str());
      text << line;
    }
  }
  emit(o, {{"machine", machine_json(o)}, {"conv", rows}}, text.str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
int64_t default_batch(const std::string& model) {
  if (model == "mlp" || model == "lenet5") return 128;
  if (model.find("cifar") != std::string::npos) return 64;
  return 8;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

int run_train(const BenchOptions& o) {
  const std::vector<std::string> models = o.models.empty() ? std::vector<std::string>{"mlp", "resnet18-cifar", "resnet50"} : o.models;
  const std::vector<std::string> precisions =
      o.precisions.empty() ? PrecisionPolicy::preset_names() : o.precisions;
  const int threads = all_threads(o);
  omp_set_num_threads(threads);
  Peaks peaks;
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "Training images/s, " << threads << " threads (median step after " << o.warmup << " warm-up steps)\n";
  for (const std::string& model : models) {
    const nn::ModelInfo* info = nullptr;
    for (const nn::ModelInfo& i : nn::model_infos())
      if (i.name == model) info = &i;
    if (info == nullptr) throw std::invalid_argument("unknown model '" + model + "'");
    const int64_t batch = o.batch_size > 0 ? o.batch_size : default_batch(model);
    for (const std::string& precision : precisions) {
      PrecisionPolicy policy = PrecisionPolicy::preset(precision);
      if (!o.accumulation.empty()) policy.accumulation = kernels::parse_accumulation(o.accumulation);
      policy.validate();
      auto net = nn::build_model(model, info->sample_shape, info->num_classes);
      nn::ParameterStore store;
      store.build(net->parameters(), policy, 0, net->buffers());
      optim::Sgd sgd(store, optim::SgdConfig{0.01f, 0.9f, 0.0f, false}, policy, 0);
      train::Trainer trainer(*net, store, sgd, policy, 0);
      Shape shape{batch};
      shape.insert(shape.end(), info->sample_shape.begin(), info->sample_shape.end());
      data::Batch data{random_tensor(shape, policy.compute, 7), std::vector<int32_t>(size_t(batch))};
      for (int64_t i = 0; i < batch; ++i) data.labels[size_t(i)] = int32_t(i % info->num_classes);
      for (int64_t i = 0; i < o.warmup; ++i) trainer.train_step(data);
      std::vector<double> times;
      for (int64_t i = 0; i < o.steps; ++i) {
        const auto start = Clock::now();
        trainer.train_step(data);
        times.push_back(seconds_since(start));
      }
      std::sort(times.begin(), times.end());
      const double step = times[times.size() / 2];
      const double images_per_second = double(batch) / step;
      const Shape one{1, info->sample_shape[0], info->sample_shape[1], info->sample_shape[2]};
      // forward + input gradient + weight gradient: three times the forward work.
      const double gflops = 3.0 * double(net->forward_flops(one)) * images_per_second * 1e-9;
      const PeakKind kind = peak_kind_for(policy.compute, policy.accumulation);
      const double peak = peaks.gflops(kind, threads);
      rows.push_back({{"model", model}, {"precision", precision},
                      {"accumulation", kernels::accumulation_name(policy.accumulation)}, {"batch", batch},
                      {"threads", threads}, {"step_seconds", step}, {"images_per_second", images_per_second},
                      {"gflops", gflops}, {"peak_kind", kernels::peak_kind_name(kind)}, {"peak_gflops", peak},
                      {"fraction_of_peak", gflops / peak}, {"activations_bytes", trainer.peak_activation_bytes()},
                      {"process_peak_rss_mb", peak_rss_mb()}});
      char line[256];
      std::snprintf(line, sizeof line, "  %-15s %-11s %-9s batch %3lld  %8.1f img/s  %6.1f GFLOP/s (%2.0f%% of %s)\n",
                    model.c_str(), precision.c_str(), std::string(kernels::accumulation_name(policy.accumulation)).c_str(),
                    (long long)batch, images_per_second, gflops, 100 * gflops / peak,
                    std::string(kernels::peak_kind_name(kind)).c_str());
      text << line;
    }
  }
  text << "(process peak RSS " << peak_rss_mb() << " MB: ru_maxrss only grows, so run one configuration per "
       << "process for per-configuration memory)\n";
  emit(o, {{"machine", machine_json(o)}, {"train", rows}}, text.str());
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Measure the FMA peak, GEMM, convolution and training speed");
  sub->require_subcommand(1);
  auto common = [&](CLI::App* s) {
    s->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
    s->add_flag("--json", o->json, "Print one JSON document instead of a table");
  };
  CLI::App* peak = sub->add_subcommand("peak", "Multiply-add peak per arithmetic kind, 1 thread and all");
  common(peak);
  CLI::App* gemm = sub->add_subcommand("gemm", "GEMM GFLOP/s per dtype and accumulation, 1 thread and all");
  common(gemm);
  gemm->add_option("--shape", o->shapes, "MxNxK (repeatable; default: 1024^3 and ResNet-50 layers)");
  CLI::App* conv_cmd = sub->add_subcommand("conv", "Convolution GFLOP/s on ResNet-50 layers at batch 8");
  common(conv_cmd);
  CLI::App* train = sub->add_subcommand("train", "Training images/s on random data");
  common(train);
  std::vector<std::string> model_names;
  for (const nn::ModelInfo& info : nn::model_infos()) model_names.push_back(info.name);
  train->add_option("--model", o->models, "Models (repeatable; default: mlp, resnet18-cifar, resnet50)")
      ->check(CLI::IsMember(model_names));
  train->add_option("--precision", o->precisions, "Precisions (repeatable; default: all presets)")
      ->check(CLI::IsMember(PrecisionPolicy::preset_names()));
  train->add_option("--accumulation", o->accumulation, "GEMM accumulation for every precision (default: the preset's)")
      ->check(CLI::IsMember({"f32", "f16", "f16-block"}));
  train->add_option("--batch-size", o->batch_size, "Batch (default: 128 mlp/lenet5, 64 CIFAR models, 8 others)")
      ->check(CLI::PositiveNumber);
  train->add_option("--steps", o->steps, "Timed steps")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--warmup", o->warmup, "Untimed steps first")->check(CLI::NonNegativeNumber)->capture_default_str();
  return {sub, [o, peak, gemm, conv_cmd, train] {
            if (peak->parsed()) return run_peak(*o);
            if (gemm->parsed()) return run_gemm(*o);
            if (conv_cmd->parsed()) return run_conv(*o);
            return run_train(*o);
          }};
}

}  // namespace pure16::cli
