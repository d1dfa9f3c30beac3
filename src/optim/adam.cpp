#include "pure16/optim/adam.h"

#include <cmath>
#include <stdexcept>

#include "pure16/kernels/adam_update.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::optim {

Adam::Adam(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed,
           bool decoupled)
    : Optimizer(store, config, policy, seed), decoupled_(decoupled) {
  exp_avg_ = store_.make_arena(&StateDTypes::optimizer_state);
  exp_avg_sq_ = store_.make_arena(&StateDTypes::optimizer_state);
}

std::vector<StateArena> Adam::own_arenas() {
  return {{"exp_avg", &exp_avg_}, {config_.naive ? "exp_avg_sq" : "exp_avg_sq_sqrt", &exp_avg_sq_}};
}

StateScalars Adam::own_scalars() const {
  if (config_.naive) return {};
  return {{"state_scale", state_scale_}};
}

void Adam::restore_own_scalars(const StateScalars& scalars) {
  if (config_.naive) return;
  const double scale = scalar_named(scalars, "state_scale");
  if (!(scale > 0) || !std::isfinite(scale))
    throw std::invalid_argument("optimizer state: state_scale must be a positive finite number");
  state_scale_ = scale;
}

void Adam::apply(float grad_scale, uint64_t step, float* intended) {
  // The state is all zeros before the first step, in any scale.
  if (steps_applied_ == 0) state_scale_ = grad_scale;
  const double t = double(steps_applied_ + 1);
  for (size_t g = 0; g < store_.groups().size(); ++g) {
    const nn::ParameterGroup& group = store_.groups()[g];
    kernels::AdamUpdateArgs a;
    a.weights = store_.master().segment(g).raw();
    a.weight_type = store_.master().segment(g).dtype();
    a.grads = store_.grads().segment(g).raw();
    a.grad_type = store_.grads().segment(g).dtype();
    a.exp_avg = exp_avg_.segment(g).raw();
    a.exp_avg_sq = exp_avg_sq_.segment(g).raw();
    a.state_type = exp_avg_.segment(g).dtype();
    if (compensation_.defined()) a.compensation = compensation_.segment(g).raw();
    a.intended = intended == nullptr ? nullptr : intended + group.begin;
    a.n = group.numel;
    a.naive = config_.naive;
    a.state_rescale = float(double(grad_scale) / state_scale_);
    a.inv_grad_scale = 1.0f / grad_scale;
    a.grad_scale = grad_scale;
    a.beta1 = config_.beta1;
    a.beta2 = config_.beta2;
    a.eps = config_.eps;
    a.weight_decay = decoupled_ ? 0.0f : config_.weight_decay;
    a.decoupled_decay = decoupled_ ? config_.lr * config_.weight_decay : 0.0f;
    // Bias corrections in binary64 (as PyTorch's Python floats), each rounded once to binary32.
    a.step_size = float(double(config_.lr) / (1.0 - std::pow(double(config_.beta1), t)));
    a.bias_correction2_sqrt = float(std::sqrt(1.0 - std::pow(double(config_.beta2), t)));
    a.stochastic = rounding_ == Rounding::stochastic;
    a.seed = seed_;
    a.weight_stream = random_stream(RandomPurpose::weight_rounding, step);
    a.exp_avg_stream = random_stream(RandomPurpose::exp_avg_rounding, step);
    a.exp_avg_sq_stream = random_stream(RandomPurpose::exp_avg_sq_rounding, step);
    a.first_index = uint64_t(group.begin);
    kernels::adam_update(a);
  }
  state_scale_ = grad_scale;
}

}  // namespace pure16::optim
