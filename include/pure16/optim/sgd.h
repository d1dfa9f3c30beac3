// SGD with momentum, Nesterov momentum and weight decay, as torch.optim.SGD (dampening 0):
//   g = grad / loss_scale + weight_decay * w
//   m = momentum * m + g                       (m starts at g)
//   d = nesterov ? g + momentum * m : m
//   w = w - lr * d
// The update is one sweep over the whole parameter arena. Arithmetic is binary32 in
// registers; each stored result (w in the master dtype, m in the state dtype) is rounded
// once, to nearest or stochastically as the precision policy says.
#pragma once

#include <cstdint>

#include "pure16/nn/parameters.h"
#include "pure16/precision/policy.h"

namespace pure16::optim {

struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  void validate() const;  // throws std::invalid_argument on negative or non-finite values
};

class Sgd {
 public:
  Sgd(nn::ParameterStore& store, const SgdConfig& config, const PrecisionPolicy& policy, uint64_t seed);

  /// Applies one update. `grad_scale` is the loss scale the gradients carry; `step` numbers
  /// the update and keys stochastic rounding, so a run is reproducible from its seed.
  void step(float grad_scale, uint64_t step);
  void set_lr(float lr) { config_.lr = lr; }
  const SgdConfig& config() const { return config_; }
  int64_t state_bytes() const { return momentum_.defined() ? int64_t(momentum_.nbytes()) : 0; }
  /// The momentum arena (undefined without momentum) and whether it holds a velocity yet
  /// (the first step sets m = g): with them a resumed run continues exactly.
  Tensor& momentum_buffer() { return momentum_; }
  const Tensor& momentum_buffer() const { return momentum_; }
  bool momentum_started() const { return momentum_started_; }
  void set_momentum_started(bool started) { momentum_started_ = started; }

 private:
  nn::ParameterStore& store_;
  SgdConfig config_;
  Rounding rounding_;
  uint64_t seed_;
  Tensor momentum_;  // (arena length,) in the policy's optimizer-state dtype; absent without momentum
  bool momentum_started_ = false;
};

}  // namespace pure16::optim
