#include "pure16/optim/sgd.h"

#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::optim {

Sgd::Sgd(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : Optimizer(store, config, policy, seed) {
  if (config_.momentum > 0.0f) momentum_ = store_.make_arena(&StateDTypes::optimizer_state);
}

std::vector<StateArena> Sgd::own_arenas() {
  if (!momentum_.defined()) return {};
  return {{"momentum", &momentum_}};
}

void Sgd::apply(float grad_scale, uint64_t step, float* intended) {
  for (size_t g = 0; g < store_.groups().size(); ++g) {
    const nn::ParameterGroup& group = store_.groups()[g];
    kernels::SgdUpdateArgs a;
    a.weights = store_.master().segment(g).raw();
    a.weight_type = store_.master().segment(g).dtype();
    a.grads = store_.grads().segment(g).raw();
    a.grad_type = store_.grads().segment(g).dtype();
    if (momentum_.defined()) {
      a.momentum = momentum_.segment(g).raw();
      a.momentum_type = momentum_.segment(g).dtype();
    }
    if (compensation_.defined()) {
      a.compensation = compensation_.segment(g).raw();
      a.compensation_type = compensation_.segment(g).dtype();
    }
    a.intended = intended == nullptr ? nullptr : intended + group.begin;
    a.n = group.numel;
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
    a.first_index = uint64_t(group.begin);
    kernels::sgd_update(a);
  }
}

}  // namespace pure16::optim
