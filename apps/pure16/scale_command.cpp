// `pure16 scale`: what data-parallel training of a model would gain from fp16 gradients on a
// cluster, projected from measurements. It measures the model's training step here (`bench
// train`), fits the ring all-reduce's alpha and beta to all-reduces run under mpirun at a few
// rank counts here (`bench allreduce`), shows how well the fit reproduces those runs, and then
// projects the step at 8 to 1024 ranks on a cluster of the given link bandwidth and latency,
// for fp32 and for fp16 gradients.
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "commands.h"
#include "pure16/dist/buckets.h"
#include "pure16/dist/ring_model.h"
#include "pure16/nn/models.h"

namespace pure16::cli {
namespace {

struct ScaleOptions {
  std::string model = "resnet50";
  std::string precision = "pure-fp16";
  int64_t batch_size = 0;      // per rank; 0: bench train's default for the model
  double step_seconds = 0;     // 0: measure
  std::vector<int> measured_ranks{2, 4};
  std::vector<int64_t> elements{int64_t(1) << 20, int64_t(1) << 22, int64_t(1) << 24};
  int threads = 0;
  double link_gbps = 100;
  double latency_us = 5;
  double bucket_mb = double(dist::kDefaultBucketBytes) / (1 << 20);
  // Backward does two GEMMs for forward's one (input and weight gradients): two thirds of a step.
  double backward_fraction = 2.0 / 3.0;
  std::string mpirun = "mpirun --allow-run-as-root --oversubscribe --bind-to none";
};

int64_t parameter_count(const std::string& model) {
  for (const nn::ModelInfo& info : nn::model_infos())
    if (info.name == model) {
      const std::unique_ptr<nn::Sequential> built = nn::build_model(model, info.sample_shape, info.num_classes, {});
      int64_t count = 0;
      for (const nn::Parameter* p : built->parameters()) {
        int64_t n = 1;
        for (int64_t d : p->shape) n *= d;
        count += n;
      }
      return count;
    }
  throw std::invalid_argument("--model " + model + " is not a model of the zoo");
}

int run_scale(const ScaleOptions& o) {
  const int64_t params = parameter_count(o.model);
  const double bucket_bytes = o.bucket_mb * (1 << 20);
  double step = o.step_seconds;
  std::string batch_text = o.batch_size > 0 ? std::to_string(o.batch_size) : "bench's default";
  if (step <= 0) {
    std::string args = "bench train --json --model " + o.model + " --precision " + o.precision + " --steps 3 --warmup 1";
    if (o.batch_size > 0) args += " --batch-size " + std::to_string(o.batch_size);
    if (o.threads > 0) args += " --threads " + std::to_string(o.threads);
    const nlohmann::json row = nlohmann::json::parse(bench::run_self("", args)).at("train").at(0);
    step = row.at("median_step_seconds").get<double>();
    batch_text = std::to_string(row.at("batch").get<int64_t>());
  }
  std::printf("model %s: %lld parameters; a training step (%s, batch %s per rank) takes %.3f s here, %.0f%% of it "
              "backward\n",
              o.model.c_str(), (long long)params, o.precision.c_str(), batch_text.c_str(), step,
              100 * o.backward_fraction);

  // All-reduces here, at each rank count, for both dtypes.
  std::vector<dist::RingSample> samples[2];  // fp32, fp16
  std::string elements;
  for (int64_t n : o.elements) elements += " --elements " + std::to_string(n);
  for (int ranks : o.measured_ranks) {
    const std::string out = bench::run_self(o.mpirun + " -np " + std::to_string(ranks),
                                            "bench allreduce --json --steps 5 --warmup 1" + elements);
    const nlohmann::json doc = nlohmann::json::parse(out);
    for (const nlohmann::json& row : doc.at("allreduce")) {
      const std::string dtype = row.at("dtype");
      if (dtype == "bf16") continue;
      samples[dtype == "f16" ? 1 : 0].push_back(
          {row.at("ranks").get<int64_t>(), row.at("bytes").get<double>(), row.at("seconds").get<double>()});
    }
  }
  const char* names[2] = {"fp32", "fp16"};
  std::printf("\nring all-reduce fitted to the runs here: time = 2(p-1) alpha + 2((p-1)/p) n beta\n");
  dist::RingModel here[2];
  for (int d = 0; d < 2; ++d) {
    here[d] = dist::fit_ring(samples[d]);
    std::printf("  %s: alpha %.1f us, beta %.3g s/B (%.2f GB/s)\n", names[d], here[d].alpha * 1e6, here[d].beta,
                1e-9 / here[d].beta);
    for (const dist::RingSample& s : samples[d])
      std::printf("    p %lld, %11.0f B: measured %9.3f ms, fit %9.3f ms (%+.0f%%)\n", (long long)s.ranks, s.bytes,
                  1e3 * s.seconds, 1e3 * here[d].seconds(s.ranks, s.bytes),
                  100 * (here[d].seconds(s.ranks, s.bytes) / s.seconds - 1));
  }
  for (int ranks : o.measured_ranks) {
    std::printf("  this machine, %d ranks, this model's gradients:", ranks);
    for (int d = 0; d < 2; ++d) {
      const double bytes = double(params) * (d == 0 ? 4 : 2);
      const dist::StepProjection p = dist::project_step(here[d], ranks, bytes, bucket_bytes,
                                                        double(dist::kDefaultFirstBucketBytes), step,
                                                        o.backward_fraction * step);
      std::printf("  %s all-reduce %.3f s, step %.3f s, efficiency %.0f%%", names[d], p.comm_seconds,
                  p.step_seconds, 100 * p.efficiency);
    }
    std::printf("\n");
  }

  const dist::RingModel cluster = dist::RingModel::link(o.link_gbps, o.latency_us);
  std::printf("\nprojection on a cluster of %.0f Gbit/s links and %.1f us latency, %.0f MB buckets, the step's "
              "compute as measured here:\n",
              o.link_gbps, o.latency_us, o.bucket_mb);
  std::printf("%6s | %-44s | %-44s\n", "ranks", "fp32 gradients: comm, step, hidden, efficiency",
              "fp16 gradients: comm, step, hidden, efficiency");
  for (int ranks = 8; ranks <= 1024; ranks *= 2) {
    std::printf("%6d", ranks);
    for (int d = 0; d < 2; ++d) {
      const double bytes = double(params) * (d == 0 ? 4 : 2);
      const dist::StepProjection p = dist::project_step(cluster, ranks, bytes, bucket_bytes,
                                                        double(dist::kDefaultFirstBucketBytes), step,
                                                        o.backward_fraction * step);
      std::printf(" | %8.4f s %8.4f s %5.1f%% %6.1f%%         ", p.comm_seconds, p.step_seconds, 100 * p.hidden_fraction,
                  100 * p.efficiency);
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace

Command add_scale_command(CLI::App& app) {
  auto o = std::make_shared<ScaleOptions>();
  CLI::App* sub = app.add_subcommand(
      "scale", "Project data-parallel step time at 8..1024 ranks, fp32 vs fp16 gradients, from measurements here");
  sub->add_option("--model", o->model, "Model")->check(CLI::IsMember(nn::model_names()))->capture_default_str();
  sub->add_option("--precision", o->precision, "Precision of the measured step")
      ->check(CLI::IsMember(PrecisionPolicy::preset_names()))
      ->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "Batch per rank of the measured step (default: bench train's)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--step-seconds", o->step_seconds, "Use this compute time per step instead of measuring it")
      ->check(CLI::PositiveNumber);
  sub->add_option("--threads", o->threads, "Threads of the measured step (default: all cores)")->check(CLI::PositiveNumber);
  sub->add_option("--measure-ranks", o->measured_ranks, "Rank counts of the all-reduces run here")
      ->delimiter(',')
      ->check(CLI::Range(2, 64))
      ->capture_default_str();
  sub->add_option("--elements", o->elements, "Buffer sizes of the all-reduces run here")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--link-gbps", o->link_gbps, "The planned cluster's link bandwidth, Gbit/s")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--latency-us", o->latency_us, "The planned cluster's latency per message, microseconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--bucket-mb", o->bucket_mb, "Gradient bucket size (alpha is paid per bucket)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--mpirun", o->mpirun, "How to launch the all-reduce runs")->capture_default_str();
  return {sub, [o] { return run_scale(*o); }};
}

}  // namespace pure16::cli
