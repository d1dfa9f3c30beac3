#include "pure16/optim/sgd.h"

#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::optim {

Sgd::Sgd(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : Optimizer(store, config, policy, seed) {
  if (config_.momentum > 0.0f) momentum_ = Tensor::zeros({store_.numel()}, policy.optimizer_state);
}

std::vector<StateArena> Sgd::own_arenas() {
  if (!momentum_.defined()) return {};
  return {{"momentum", &momentum_}};
}

void Sgd::apply(float grad_scale, uint64_t step, float* intended) {
  kernels::SgdUpdateArgs a;
  a.weights = store_.master().raw();
  a.weight_type = store_.master().dtype();
  a.grads = store_.grads().raw();
  a.grad_type = store_.grads().dtype();
  if (momentum_.defined()) {
    a.momentum = momentum_.raw();
    a.momentum_type = momentum_.dtype();
  }
  if (compensation_.defined()) {
    a.compensation = compensation_.raw();
    a.compensation_type = compensation_.dtype();
  }
  a.intended = intended;
  a.n = store_.numel();
  a.inv_grad_scale = 1.0f / grad_scale;
  a.lr = config_.lr;
  a.momentum_factor = config_.momentum;
  a.weight_decay = config_.weight_decay;
  a.nesterov = config_.nesterov;
  a.first = steps_applied_ == 0;
  a.stochastic = rounding_ == Rounding::stochastic;
  a.seed = seed_;
  a.weight_stream = random_stream(RandomPurpose::weight_rounding, step);
  a.momentum_stream = random_stream(RandomPurpose::momentum_rounding, step);
  kernels::sgd_update(a);
}

}  // namespace pure16::optim
