#include "support/reference.h"

#include <algorithm>
#include <random>

namespace pure16::testing {

std::vector<double> random_values(int64_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> out(static_cast<size_t>(n));
  for (double& v : out) v = dist(rng);
  return out;
}

double gamma(int64_t n, double unit_roundoff) {
  const double nu = double(n) * unit_roundoff;
  return nu / (1.0 - nu);
}

double accumulation_gamma(int64_t n, kernels::Accumulation acc) {
  const double u16 = 0x1.0p-11, u32 = 0x1.0p-24;
  switch (acc) {
    case kernels::Accumulation::f32: return gamma(n, u32);
    case kernels::Accumulation::f16: return gamma(n, u16);
    case kernels::Accumulation::f16_block: {
      const int64_t block = std::min(n, kernels::kF16AccumulationBlock);
      const int64_t blocks = (n + kernels::kF16AccumulationBlock - 1) / kernels::kF16AccumulationBlock;
      const double g16 = gamma(block, u16);
      return g16 + (1 + g16) * gamma(blocks + 2, u32);
    }
    // What fp16 data resolves it to: the wider bound of the dtypes it can mean.
    case kernels::Accumulation::automatic:
      return accumulation_gamma(n, kernels::resolve_accumulation(DType::f16, acc));
  }
  return 0;
}

}  // namespace pure16::testing
