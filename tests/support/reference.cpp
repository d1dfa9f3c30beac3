#include "support/reference.h"

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

}  // namespace pure16::testing
