// `pure16 bench train`: training images/s with the real training step on a fixed random batch,
// the achieved GFLOP/s as a fraction of the peak of the arithmetic the precision's GEMMs use,
// and the peak RSS of each configuration.
//
// ru_maxrss only ever grows within a process, so with several configurations each runs in a
// child process (this program, asked for that one configuration) and reports its own peak.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "pure16/nn/models.h"
#include "pure16/train/options.h"
#include "pure16/train/run.h"

namespace pure16::cli::bench {
namespace {

struct Config {
  std::string model, precision;
};

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

const nn::ModelInfo& model_info(const std::string& model) {
  for (const nn::ModelInfo& info : nn::model_infos())
    if (info.name == model) return info;
  throw std::invalid_argument("unknown model '" + model + "'");
}

// Times o.steps training steps after o.warmup untimed ones, in this process.
nlohmann::json train_here(const Options& o, const Config& c) {
  using Clock = std::chrono::steady_clock;
  const nn::ModelInfo& info = model_info(c.model);
  const int64_t batch = o.batch_size > 0 ? o.batch_size : default_batch(c.model);
  const int threads = all_threads(o);
  omp_set_num_threads(threads);
  train::TrainConfig config;
  config.model = c.model;
  train::PolicyOverrides overrides;
  overrides.accumulation = o.accumulation;
  overrides.convolution = o.convolution;
  config.policy = train::make_policy(c.precision, overrides);
  config.optimizer = optim::OptimizerConfig::sgd(0.01f, 0.9f, 0.0f, false);
  config.batch_size = batch;
  train::Run run(config, info.sample_shape, info.num_classes, 1);
  const PrecisionPolicy& policy = config.policy;
  Shape shape{batch};
  shape.insert(shape.end(), info.sample_shape.begin(), info.sample_shape.end());
  data::Batch data{random_tensor(shape, policy.compute, 7), std::vector<int32_t>(size_t(batch))};
  for (int64_t i = 0; i < batch; ++i) data.labels[size_t(i)] = int32_t(i % info.num_classes);
  for (int64_t i = 0; i < o.warmup; ++i) run.train_step(data);
  // The peak is measured before and after the timed steps and the better kept, as the kernel
  // benchmarks do: one measurement in a slow moment would inflate the fraction.
  const kernels::PeakKind kind = peak_kind_for(policy.compute, run.policy().accumulation);
  Peaks peaks;
  peaks.gflops(kind, threads);
  std::vector<double> times;
  for (int64_t i = 0; i < o.steps; ++i) {
    const auto start = Clock::now();
    run.train_step(data);
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const double step = times[times.size() / 2];
  const double images_per_second = double(batch) / step;
  Shape one{1};
  one.insert(one.end(), info.sample_shape.begin(), info.sample_shape.end());
  // Forward, input gradient and weight gradient: three times the forward work (the first
  // layer's skipped input gradient makes this a slight overestimate).
  const double gflops = 3.0 * double(run.model().forward_flops(one)) * images_per_second * 1e-9;
  const double peak = peaks.gflops(kind, threads);
  return {{"model", c.model},
          {"precision", c.precision},
          {"accumulation", kernels::accumulation_name(run.policy().accumulation)},
          {"accumulation_requested", kernels::accumulation_name(policy.accumulation)},
          {"convolution", kernels::conv_algorithm_name(policy.convolution)},
          {"batch", batch},
          {"threads", threads},
          {"steps", o.steps},
          {"warmup", o.warmup},
          {"median_step_seconds", step},
          {"images_per_second", images_per_second},
          {"gflops", gflops},
          {"peak_kind", kernels::peak_kind_name(kind)},
          {"peak_gflops", peak},
          {"fraction_of_peak", gflops / peak},
          {"activations_bytes", run.peak_activation_bytes()},
          {"peak_rss_mb", peak_rss_mb()}};
}

// Runs this program as `pure16 bench train --json` for the one configuration and returns its row.
nlohmann::json train_in_child(const Options& o, const Config& c) {
  // Model and precision names were checked against the known ones: nothing to quote.
  std::string command = "bench train --json --model " + c.model + " --precision " + c.precision +
                        " --threads " + std::to_string(all_threads(o)) + " --steps " + std::to_string(o.steps) +
                        " --warmup " + std::to_string(o.warmup);
  if (o.batch_size > 0) command += " --batch-size " + std::to_string(o.batch_size);
  if (!o.accumulation.empty()) command += " --accumulation " + o.accumulation;
  if (!o.convolution.empty()) command += " --convolution " + o.convolution;
  return nlohmann::json::parse(run_self("", command)).at("train").at(0);
}

}  // namespace

int run_train(const Options& o) {
  const std::vector<std::string> models =
      o.models.empty() ? std::vector<std::string>{"mlp", "resnet18-cifar", "resnet50"} : o.models;
  const std::vector<std::string> precisions = o.precisions.empty() ? PrecisionPolicy::preset_names() : o.precisions;
  std::vector<Config> configs;
  for (const std::string& model : models)
    for (const std::string& precision : precisions) configs.push_back({model, precision});
  const int threads = all_threads(o);
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "Training, " << threads << " thread" << (threads == 1 ? "" : "s") << ", random data: median of "
       << o.steps << " steps after " << o.warmup << " warm-up; GFLOP/s = 3 x forward FLOPs x images/s\n";
  for (const Config& c : configs) {
    const nlohmann::json row = configs.size() == 1 ? train_here(o, c) : train_in_child(o, c);
    rows.push_back(row);
    text << format("  %-15s %-10s %-9s batch %3lld %9.1f img/s %9.2f ms/step %7.1f GFLOP/s (%2.0f%% of %s)"
                   "  peak RSS %6.0f MB\n",
                   c.model.c_str(), c.precision.c_str(), row["accumulation"].get<std::string>().c_str(),
                   (long long)row["batch"].get<int64_t>(), row["images_per_second"].get<double>(),
                   1e3 * row["median_step_seconds"].get<double>(), row["gflops"].get<double>(),
                   100 * row["fraction_of_peak"].get<double>(), row["peak_kind"].get<std::string>().c_str(),
                   row["peak_rss_mb"].get<double>());
  }
  if (configs.size() > 1) text << "(each configuration ran in its own process, so its peak RSS is its own)\n";
  emit(o, {{"machine", machine_json(o)}, {"train", rows}}, text.str());
  return 0;
}

}  // namespace pure16::cli::bench
