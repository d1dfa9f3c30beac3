#include "pure16/optim/sgd.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::optim {

void SgdConfig::validate() const {
  auto check = [](float v, const char* what) {
    if (!(v >= 0.0f) || !std::isfinite(v))
      throw std::invalid_argument(std::string("SGD: ") + what + " must be a finite non-negative number, got " + std::to_string(v));
  };
  check(lr, "learning rate");
  check(momentum, "momentum");
  check(weight_decay, "weight decay");
  if (nesterov && momentum == 0.0f) throw std::invalid_argument("SGD: Nesterov momentum needs momentum > 0");
}

Sgd::Sgd(nn::ParameterStore& store, const SgdConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : store_(store), config_(config), rounding_(policy.update_rounding), seed_(seed) {
  config_.validate();
  if (config_.momentum > 0.0f) momentum_ = Tensor::zeros({store_.numel()}, policy.optimizer_state);
}

void Sgd::step(float grad_scale, uint64_t step) {
  kernels::SgdUpdateArgs a;
  a.weights = store_.master().raw();
  a.weight_type = store_.master().dtype();
  a.grads = store_.grads().raw();
  a.grad_type = store_.grads().dtype();
  if (momentum_.defined()) {
    a.momentum = momentum_.raw();
    a.momentum_type = momentum_.dtype();
  }
  a.n = store_.numel();
  a.inv_grad_scale = 1.0f / grad_scale;
  a.lr = config_.lr;
  a.momentum_factor = config_.momentum;
  a.weight_decay = config_.weight_decay;
  a.nesterov = config_.nesterov;
  a.first = !momentum_started_;
  a.stochastic = rounding_ == Rounding::stochastic;
  a.seed = seed_;
  a.weight_stream = random_stream(RandomPurpose::weight_rounding, step);
  a.momentum_stream = random_stream(RandomPurpose::momentum_rounding, step);
  kernels::sgd_update(a);
  momentum_started_ = true;
  if (store_.has_master_copy()) store_.refresh_values_from_master();
}

}  // namespace pure16::optim
