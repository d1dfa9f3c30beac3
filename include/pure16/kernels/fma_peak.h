// The machine's measured multiply-add peak per arithmetic kind: the denominator of every
// "fraction of peak" pure16 reports. Each kind runs enough independent chains of its widest
// vector multiply-add to fill the FMA pipes, on each of `threads` OpenMP threads at once.
#pragma once

#include <string_view>
#include <vector>

namespace pure16::kernels {

enum class PeakKind {
  f32_avx2,        // vfmadd231ps ymm: 8 lanes
  f32_avx512,      // vfmadd231ps zmm: 16 lanes
  bf16_dot,        // vdpbf16ps zmm: 32 bf16 products summed pairwise into 16 binary32 lanes
  f16_avx512fp16,  // vfmadd231ph zmm: 32 lanes
};

std::string_view peak_kind_name(PeakKind kind);
/// The kinds this CPU can run (by detected ISA, whatever PURE16_ISA says).
std::vector<PeakKind> available_peak_kinds();

struct PeakResult {
  PeakKind kind;
  int threads = 1;
  double gflops = 0;  // a multiply-add counts as two FLOP; vdpbf16ps as four per lane
};

/// Measures the peak: the best of ten repetitions lasting about `seconds` in all. Throws
/// std::invalid_argument for a kind the CPU lacks or for threads < 1.
PeakResult measure_fma_peak(PeakKind kind, int threads, double seconds = 0.2);

}  // namespace pure16::kernels
