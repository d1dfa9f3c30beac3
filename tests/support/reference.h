// Helpers shared by the tests: seeded random data, the error-bound constants of floating-point
// analysis (Higham, "Accuracy and Stability of Numerical Algorithms", ch. 3), and the loop over
// the kernel variants this machine can run.
#pragma once

#include <cstdint>
#include <vector>

#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"

namespace pure16::testing {

/// n values uniform in [lo, hi), reproducible from the seed.
std::vector<double> random_values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0);

/// gamma_n = n u / (1 - n u): the bound on the relative error of n sequential roundings.
double gamma(int64_t n, double unit_roundoff);

/// The relative error bound of a GEMM sum of n products under `acc` (kernels/gemm.h): gamma_n
/// of binary32 or fp16, or for f16_block gamma_b(2^-11) + (1 + gamma_b(2^-11)) gamma_{n/b+2}(2^-24)
/// with b = min(n, block length).
double accumulation_gamma(int64_t n, kernels::Accumulation acc);

/// The ISA levels a kernel test must cover: every supported level up to the cap that was
/// active when the test started (PURE16_ISA), so `PURE16_ISA=scalar` confines a run to the
/// reference. Calls set_isa_cap for each level in turn; restores the starting cap after.
template <class F>
void for_each_isa(F&& f) {
  const kernels::Isa start = kernels::active_isa();
  for (kernels::Isa isa : kernels::supported_isas()) {
    if (isa > start) break;
    kernels::set_isa_cap(isa);
    f(isa);
  }
  kernels::set_isa_cap(start);
}

}  // namespace pure16::testing
