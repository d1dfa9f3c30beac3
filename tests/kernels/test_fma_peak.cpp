// The FMA-peak measurement: every kind the CPU has gives a positive, finite rate, and a kind
// it lacks is refused by name. (No speed thresholds: these machines are shared.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "pure16/kernels/fma_peak.h"
#include "pure16/kernels/isa.h"

namespace pure16::kernels {
namespace {

TEST(FmaPeak, EveryAvailableKindMeasuresAPositiveRate) {
  const std::vector<PeakKind> kinds = available_peak_kinds();
  if (detected_isa() >= Isa::avx2) {
    ASSERT_FALSE(kinds.empty());
  }
  for (PeakKind kind : kinds) {
    const PeakResult r = measure_fma_peak(kind, 1, 0.005);
    EXPECT_TRUE(std::isfinite(r.gflops) && r.gflops > 0) << peak_kind_name(kind) << ": " << r.gflops;
    EXPECT_EQ(r.threads, 1);
  }
}

TEST(FmaPeak, KindsTheCpuLacksAreRefused) {
  const std::vector<PeakKind> kinds = available_peak_kinds();
  for (PeakKind kind : {PeakKind::f32_avx2, PeakKind::f32_avx512, PeakKind::bf16_dot, PeakKind::f16_avx512fp16}) {
    if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end()) continue;
    EXPECT_THROW(measure_fma_peak(kind, 1, 0.005), std::invalid_argument) << peak_kind_name(kind);
  }
  if (!kinds.empty()) {
    EXPECT_THROW(measure_fma_peak(kinds.front(), 0, 0.005), std::invalid_argument);
  }
}

}  // namespace
}  // namespace pure16::kernels
