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

void Sgd::update_stretch(Tensor weights, Tensor grads, Tensor momentum, Tensor compensation, size_t first_index,
                         float grad_factor, float weight_decay, uint64_t step, float* intended) {
  kernels::SgdUpdateArgs a;
  a.weights = weights.raw();
  a.weight_type = weights.dtype();
  a.grads = grads.raw();
  a.grad_type = grads.dtype();
  if (momentum.defined()) {
    a.momentum = momentum.raw();
    a.momentum_type = momentum.dtype();
  }
  if (compensation.defined()) a.compensation = compensation.raw();
  a.intended = intended == nullptr ? nullptr : intended + first_index;
  a.n = weights.numel();
  a.inv_grad_scale = grad_factor;
  a.weight_decay = weight_decay;
  a.lr = config_.lr;
  a.momentum_factor = config_.momentum;
  a.nesterov = config_.nesterov;
  a.first = steps_applied_ == 0;
  a.stochastic_weights = rounding_ == Rounding::stochastic;
  a.stochastic_momentum = momentum_rounding_ == Rounding::stochastic;
  a.seed = seed_;
  a.weight_stream = random_stream(RandomPurpose::weight_rounding, step);
  a.momentum_stream = random_stream(RandomPurpose::momentum_rounding, step);
  a.first_index = uint64_t(first_index);
  kernels::sgd_update(a);
}

void Sgd::apply(float grad_scale, uint64_t step, float* intended) {
  for (size_t g = 0; g < store_.groups().size(); ++g)
    update_stretch(store_.master().segment(g), store_.grads().segment(g),
                   momentum_.defined() ? momentum_.segment(g) : Tensor(),
                   compensation_.defined() ? compensation_.segment(g) : Tensor(), store_.groups()[g].begin,
                   1.0f / grad_scale, config_.weight_decay, step, intended);
}

}  // namespace pure16::optim
