// What the `pure16 bench` modes share: their options, timing, the measured peaks that every
// figure is a fraction of, and the output in either form (a table or one JSON document).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pure16/kernels/fma_peak.h"
#include "pure16/kernels/gemm.h"
#include "pure16/tensor/tensor.h"

namespace pure16::cli::bench {

struct Options {
  int threads = 0;  // 0: all cores
  bool json = false;
  std::vector<std::string> shapes;  // gemm: MxNxK
  std::string dtype;                // gemm, conv: only this dtype ("" = all)
  std::string accumulation;         // gemm, conv: only this accumulation; train: override the presets'
  std::string convolution;          // train: the convolution algorithm (default: the presets', auto)
  std::vector<std::string> models;  // train
  std::vector<std::string> precisions;
  int64_t batch_size = 0;  // train: 0 = the model's default
  int64_t steps = 5;
  int64_t warmup = 1;
  std::vector<int64_t> elements;  // allreduce: buffer sizes
};

int run_peak(const Options& o);
int run_gemm(const Options& o);
int run_conv(const Options& o);
int run_train(const Options& o);
int run_allreduce(const Options& o);

/// Runs this program with `args` (already quoted where needed) after `prefix` (a launcher such
/// as mpirun, or ""), and returns its standard output. Throws std::runtime_error naming the
/// command when it fails.
std::string run_self(const std::string& prefix, const std::string& args);

int all_threads(const Options& o);
/// The thread counts a kernel figure is given for: one core, and all the asked-for threads.
std::vector<int> thread_counts(const Options& o);

/// Best time in seconds of `f` over repetitions lasting at least `min_seconds` in all (at least
/// three, at most fifty), after one untimed call.
double best_time(const std::function<void()>& f, double min_seconds = 0.3);

/// The peaks figures are fractions of, by kind and thread count: measured anew at each use (call
/// it right after timing the kernel), the best of the run so far returned; for several threads
/// the larger of their measurement and threads x the one-thread measurement.
class Peaks {
 public:
  double gflops(kernels::PeakKind kind, int threads);
  /// Best time of `f` (as best_time) over five rounds, the peak of `kind` on `threads` (and on
  /// one thread) measured after each: the kernel and its denominator sampled over the same time.
  double best_time_beside_peak(kernels::PeakKind kind, int threads, const std::function<void()>& f);

 private:
  double measured(kernels::PeakKind kind, int threads);

  std::map<std::pair<kernels::PeakKind, int>, double> best_;
};

/// The arithmetic a GEMM of (dtype, acc) runs on with the active kernels, i.e. the peak its
/// speed is a fraction of: fp16 FMAs for the f16 accumulations on AVX512-FP16; vdpbf16ps for bf16
/// where the avx512bf16 variant runs; binary32 FMAs otherwise (fp16 data summed in binary32, and
/// fp16 sums emulated in binary32, run on the binary32 units).
kernels::PeakKind peak_kind_for(DType dtype, kernels::Accumulation acc);

using GemmKind = std::pair<DType, kernels::Accumulation>;
/// "f16 acc f16-block"
std::string kind_label(const GemmKind& kind);
/// The kinds of `all` that match --dtype and --accumulation (without --accumulation, fp16 sums
/// only where a vector variant runs them); throws std::invalid_argument when none does.
std::vector<GemmKind> select_kinds(const std::vector<GemmKind>& all, const Options& o);

/// Uniform values in [-1, 1), reproducible from the seed.
Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed);

/// The CPU and thread count, for the JSON documents.
nlohmann::json machine_json(const Options& o);
/// printf into a std::string, for the table rows.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// Prints `doc` (--json) or `text`.
void emit(const Options& o, const nlohmann::json& doc, const std::string& text);

}  // namespace pure16::cli::bench
