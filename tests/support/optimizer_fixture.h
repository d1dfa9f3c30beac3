// A small parameter store for optimizer tests: a 40x50 weight and a 40-element bias, laid out by
// the policy, with gradients set from seeded values.
#pragma once

#include <cstdint>
#include <vector>

#include "pure16/nn/parameters.h"
#include "support/reference.h"

namespace pure16::testing {

struct OptimizerFixture {
  nn::Parameter weight, bias;
  nn::ParameterStore store;
  explicit OptimizerFixture(const PrecisionPolicy& policy) {
    weight.name = "weight";
    weight.shape = {40, 50};
    weight.init = nn::Init::uniform(1.0);
    bias.name = "bias";
    bias.shape = {40};
    bias.init = nn::Init::uniform(1.0);
    store.build({&weight, &bias}, policy, 3);
  }
  /// Gradients uniform in [-1, 1), stored carrying the loss scale `scale`.
  void set_grads(uint64_t seed, double scale) { store_scaled(random_values(store.numel(), seed), scale); }
  /// Gradients of magnitude in [lo, hi) and random sign, stored carrying `scale`.
  void set_grads(uint64_t seed, double lo, double hi, double scale) {
    const std::vector<double> magnitude = random_values(store.numel(), seed, lo, hi);
    const std::vector<double> sign = random_values(store.numel(), seed + 1000);
    std::vector<double> g(magnitude.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = sign[i] < 0 ? -magnitude[i] : magnitude[i];
    store_scaled(g, scale);
  }

 private:
  void store_scaled(std::vector<double> g, double scale) {
    for (double& value : g) value *= scale;
    store.grads().segment(0).copy_from(Tensor::from_doubles(g, {store.numel()}, store.grads().segment(0).dtype()));
  }
};

}  // namespace pure16::testing
