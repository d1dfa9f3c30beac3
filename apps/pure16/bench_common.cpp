#include "bench_common.h"

#include <omp.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <stdexcept>

#include "pure16/kernels/isa.h"

namespace pure16::cli::bench {

using kernels::PeakKind;

int all_threads(const Options& o) { return o.threads > 0 ? o.threads : omp_get_num_procs(); }

std::vector<int> thread_counts(const Options& o) {
  const int n = all_threads(o);
  return n > 1 ? std::vector<int>{1, n} : std::vector<int>{1};
}

double best_time(const std::function<void()>& f, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  f();  // warms caches and per-thread buffers
  double best = 1e30, total = 0;
  for (int rep = 0; rep < 3 || (total < min_seconds && rep < 50); ++rep) {
    const auto start = Clock::now();
    f();
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::min(best, t);
    total += t;
  }
  return best;
}

double Peaks::measured(PeakKind kind, int threads) {
  // Measured again at every use, right after the kernel it is the denominator of, and the best
  // of the run kept: the machine's speed drifts, and a peak taken in a slow moment once made
  // kernels measured in a fast one exceed 100%. A running maximum can only understate fractions.
  const double now = kernels::measure_fma_peak(kind, threads, 0.05).gflops;
  double& best = best_[std::make_pair(kind, threads)];
  best = std::max(best, now);
  return best;
}

double Peaks::best_time_beside_peak(PeakKind kind, int threads, const std::function<void()>& f) {
  // A denominator measured once, in a slow moment, once put a kernel at 174% of it (and a fast
  // one would understate it). Alternating the two over the same second lets both best-ofs come
  // from the machine's fast moments.
  constexpr int kRounds = 5;
  double best = 1e30;
  for (int round = 0; round < kRounds; ++round) {
    best = std::min(best, best_time(f, 0.06));
    measured(kind, threads);
    if (threads > 1) measured(kind, 1);
  }
  return best;
}

double Peaks::gflops(PeakKind kind, int threads) {
  // On a shared machine a neighbour's work lowers a measurement on all cores far more than one
  // on a single core (which has a core to spare), and a low peak would inflate every fraction.
  // Scaling the one-core figure errs the other way (all-core clocks may be lower), which only
  // understates fractions.
  const double one = measured(kind, 1);
  return threads == 1 ? one : std::max(measured(kind, threads), threads * one);
}

PeakKind peak_kind_for(DType dtype, kernels::Accumulation acc) {
  if (dtype == DType::f16 && acc != kernels::Accumulation::f32 && kernels::gemm_variant(dtype, acc) == "avx512fp16")
    return PeakKind::f16_avx512fp16;
  if (dtype == DType::bf16 && kernels::gemm_variant(dtype, acc) == "avx512bf16") return PeakKind::bf16_dot;
  // Without AVX-512 the binary32 kernels are AVX2 (or the scalar reference, which is still held
  // to the best binary32 rate of the machine).
  const auto kinds = kernels::available_peak_kinds();
  const bool avx512 = std::find(kinds.begin(), kinds.end(), PeakKind::f32_avx512) != kinds.end();
  return avx512 && kernels::active_isa() >= kernels::Isa::avx512 ? PeakKind::f32_avx512 : PeakKind::f32_avx2;
}

std::string kind_label(const GemmKind& kind) {
  return std::string(dtype_name(kind.first)) + " acc " + std::string(kernels::accumulation_name(kind.second));
}

std::vector<GemmKind> select_kinds(const std::vector<GemmKind>& all, const Options& o) {
  std::vector<GemmKind> kinds;
  for (const GemmKind& kind : all) {
    // fp16 sums in the scalar reference (a CPU without AVX-512, or PURE16_ISA below it) take
    // minutes on these shapes: they run only when their accumulation is asked for by name.
    const bool scalar_fp16_sums =
        kind.second != kernels::Accumulation::f32 && kernels::gemm_variant(kind.first, kind.second) == "scalar";
    if ((o.dtype.empty() || parse_dtype(o.dtype) == kind.first) &&
        (o.accumulation.empty() ? !scalar_fp16_sums : kernels::parse_accumulation(o.accumulation) == kind.second))
      kinds.push_back(kind);
  }
  if (kinds.empty())
    throw std::invalid_argument("no kernel benchmarked for --dtype " + o.dtype + " --accumulation " + o.accumulation +
                                " (f16 accumulation exists for f16 data only)");
  return kinds;
}

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(size_t(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_doubles(v, shape, dtype);
}

nlohmann::json machine_json(const Options& o) {
  return {{"detected_isa", kernels::isa_name(kernels::detected_isa())},
          {"active_isa", kernels::isa_name(kernels::active_isa())},
          {"auto_accumulation_f16",
           kernels::accumulation_name(kernels::resolve_accumulation(DType::f16, kernels::Accumulation::automatic))},
          {"cores", omp_get_num_procs()},
          {"threads", all_threads(o)}};
}

std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

void emit(const Options& o, const nlohmann::json& doc, const std::string& text) {
  if (o.json) std::cout << doc.dump(2) << "\n";
  else std::cout << text;
}

std::string run_self(const std::string& prefix, const std::string& args) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string quoted = "'";
  for (char ch : self) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  quoted += "'";
  const std::string command = prefix + (prefix.empty() ? "" : " ") + quoted + " " + args;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("failed: " + command);
  return out;
}

}  // namespace pure16::cli::bench
