#include "pure16/kernels/fma_peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "pure16/kernels/isa.h"

namespace pure16::kernels {

// In the ISA translation units; each returns a value computed from all its chains.
double fma_peak_avx2(int64_t iterations);
double fma_peak_avx512(int64_t iterations);
double fma_peak_avx512bf16(int64_t iterations);
double fma_peak_avx512fp16(int64_t iterations);

namespace {

struct KindInfo {
  PeakKind kind;
  const char* name;
  Isa needs;
  double (*run)(int64_t);
  double flops_per_iteration;  // 12 chains x lanes x FLOP per lane
};

constexpr KindInfo kKinds[] = {
    {PeakKind::f32_avx2, "f32 (AVX2 FMA)", Isa::avx2, fma_peak_avx2, 12 * 8 * 2},
    {PeakKind::f32_avx512, "f32 (AVX-512 FMA)", Isa::avx512, fma_peak_avx512, 12 * 16 * 2},
    {PeakKind::bf16_dot, "bf16 (vdpbf16ps)", Isa::avx512bf16, fma_peak_avx512bf16, 12 * 16 * 4},
    {PeakKind::f16_avx512fp16, "f16 (AVX512-FP16 FMA)", Isa::avx512fp16, fma_peak_avx512fp16, 12 * 32 * 2},
};

const KindInfo& info(PeakKind kind) {
  for (const KindInfo& k : kKinds)
    if (k.kind == kind) return k;
  throw std::invalid_argument("unknown FMA peak kind");
}

}  // namespace

std::string_view peak_kind_name(PeakKind kind) { return info(kind).name; }

std::vector<PeakKind> available_peak_kinds() {
  std::vector<PeakKind> kinds;
  for (const KindInfo& k : kKinds)
    if (detected_isa() >= k.needs) kinds.push_back(k.kind);
  return kinds;
}

PeakResult measure_fma_peak(PeakKind kind, int threads, double seconds) {
  const KindInfo& k = info(kind);
  if (detected_isa() < k.needs)
    throw std::invalid_argument(std::string("this CPU cannot run ") + k.name + " (needs " +
                                std::string(isa_name(k.needs)) + ")");
  if (threads < 1) throw std::invalid_argument("FMA peak: threads must be positive, got " + std::to_string(threads));
  using Clock = std::chrono::steady_clock;
  // Many short repetitions, the best kept: on a shared machine a short one is more likely to
  // run undisturbed than a long one. The iteration count of one repetition is calibrated on one
  // thread; then every thread runs that many iterations at once.
  constexpr int kRepetitions = 10;
  const double rep_seconds = seconds / kRepetitions;
  int64_t iterations = 1 << 12;
  for (;;) {
    const auto start = Clock::now();
    volatile double sink = k.run(iterations);
    (void)sink;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed > rep_seconds / 4 || iterations > (int64_t(1) << 40)) {
      iterations = std::max<int64_t>(1, int64_t(double(iterations) * rep_seconds / std::max(elapsed, 1e-9)));
      break;
    }
    iterations *= 4;
  }
  double best = 0;
  for (int rep = 0; rep < kRepetitions; ++rep) {
    const auto start = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      volatile double sink = k.run(iterations);
      (void)sink;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, double(threads) * double(iterations) * k.flops_per_iteration / elapsed * 1e-9);
  }
  return {kind, threads, best};
}

}  // namespace pure16::kernels
