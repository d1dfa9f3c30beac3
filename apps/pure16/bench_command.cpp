// `pure16 bench`: the machine's measured multiply-add peak, GEMM and convolution GFLOP/s, and
// training images/s, each figure also as a fraction of the peak of the arithmetic it runs on.
// Kernel timings are the best of repeated runs, training steps the median; on a shared machine
// compare figures measured side by side in one run. The modes live in bench_kernels.cpp and
// bench_train.cpp; this file registers them and measures the peak.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "commands.h"
#include "pure16/kernels/fma_peak.h"
#include "pure16/nn/models.h"
#include "pure16/precision/policy.h"

namespace pure16::cli {

namespace bench {

int run_peak(const Options& o) {
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  text << "FMA peak, GFLOP/s (a multiply-add is 2 FLOP)\n";
  for (kernels::PeakKind kind : kernels::available_peak_kinds()) {
    text << format("  %-22s", std::string(kernels::peak_kind_name(kind)).c_str());
    for (int t : thread_counts(o)) {
      const kernels::PeakResult r = kernels::measure_fma_peak(kind, t);
      rows.push_back({{"kind", kernels::peak_kind_name(kind)}, {"threads", t}, {"gflops", r.gflops}});
      text << format("  %d thread%s %7.1f", t, t == 1 ? " " : "s", r.gflops);
    }
    text << "\n";
  }
  emit(o, {{"machine", machine_json(o)}, {"peak", rows}}, text.str());
  return 0;
}

}  // namespace bench

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<bench::Options>();
  CLI::App* sub = app.add_subcommand("bench", "Measure the FMA peak, GEMM, convolution and training speed");
  sub->require_subcommand(1);
  const auto common = [&](CLI::App* s) {
    s->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
    s->add_flag("--json", o->json, "Print one JSON document instead of a table");
  };
  const auto kernel_kinds = [&](CLI::App* s) {
    s->add_option("--dtype", o->dtype, "Only this dtype (default: all)")->check(CLI::IsMember({"f32", "f16", "bf16"}));
    s->add_option("--accumulation", o->accumulation, "Only this accumulation (default: all)")
        ->check(CLI::IsMember({"f32", "f16", "f16-block"}));
  };
  CLI::App* peak = sub->add_subcommand("peak", "Multiply-add peak per arithmetic kind, 1 thread and all");
  common(peak);
  CLI::App* gemm = sub->add_subcommand("gemm", "GEMM GFLOP/s per dtype and accumulation, 1 thread and all");
  common(gemm);
  kernel_kinds(gemm);
  gemm->add_option("--shape", o->shapes, "MxNxK (repeatable; default: 1024^3 and ResNet-50 layers)");
  CLI::App* conv = sub->add_subcommand("conv", "Convolution GFLOP/s on ResNet-50 layers at batch 8");
  common(conv);
  kernel_kinds(conv);
  CLI::App* train = sub->add_subcommand("train", "Training images/s on random data");
  common(train);
  train->add_option("--model", o->models, "Models (repeatable; default: mlp, resnet18-cifar, resnet50)")
      ->check(CLI::IsMember(nn::model_names()));
  train->add_option("--precision", o->precisions, "Precisions (repeatable; default: all presets)")
      ->check(CLI::IsMember(PrecisionPolicy::preset_names()));
  train->add_option("--accumulation", o->accumulation, "GEMM accumulation for every precision (default: the preset's)")
      ->check(CLI::IsMember(kernels::accumulation_names()));
  train->add_option("--convolution", o->convolution, "Convolution algorithm for every precision (default: auto)")
      ->check(CLI::IsMember(kernels::conv_algorithm_names()));
  train->add_option("--batch-size", o->batch_size, "Batch (default: 128 mlp/lenet5, 64 CIFAR models, 8 others)")
      ->check(CLI::PositiveNumber);
  train->add_option("--steps", o->steps, "Timed steps")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--warmup", o->warmup, "Untimed steps first")->check(CLI::NonNegativeNumber)->capture_default_str();
  CLI::App* allreduce =
      sub->add_subcommand("allreduce", "Under mpirun: all-reduce time of fp32, fp16 and bf16 buffers (rank 0 prints)");
  common(allreduce);
  allreduce->add_option("--elements", o->elements, "Buffer sizes (repeatable; default: 256 Ki, 4 Mi, 25 M)")
      ->check(CLI::PositiveNumber);
  allreduce->add_option("--steps", o->steps, "Timed all-reduces")->check(CLI::PositiveNumber)->capture_default_str();
  allreduce->add_option("--warmup", o->warmup, "Untimed all-reduces first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return {sub, [o, peak, gemm, conv, allreduce] {
            if (allreduce->parsed()) return bench::run_allreduce(*o);
            if (peak->parsed()) return bench::run_peak(*o);
            if (gemm->parsed()) return bench::run_gemm(*o);
            if (conv->parsed()) return bench::run_conv(*o);
            return bench::run_train(*o);
          }};
}

}  // namespace pure16::cli
