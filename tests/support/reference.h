// Helpers shared by the tests: seeded random data and the error-bound constants of
// floating-point analysis (Higham, "Accuracy and Stability of Numerical Algorithms", ch. 3).
#pragma once

#include <cstdint>
#include <vector>

namespace pure16::testing {

/// n values uniform in [lo, hi), reproducible from the seed.
std::vector<double> random_values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0);

/// gamma_n = n u / (1 - n u): the bound on the relative error of n sequential roundings.
double gamma(int64_t n, double unit_roundoff);

}  // namespace pure16::testing
