#include "pure16/optim/lars.h"

#include <cmath>

#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::optim {
namespace {

double norm(const Tensor& t) { return std::sqrt(kernels::sum_squares(t.raw(), t.dtype(), t.numel())); }

}  // namespace

Lars::Lars(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : Optimizer(store, config, policy, seed),
      momentum_(store_.make_arena(&StateDTypes::optimizer_state)),
      local_lr_(store_.parameters().size(), 1.0) {}

std::vector<StateArena> Lars::own_arenas() { return {{"momentum", &momentum_}}; }

double Lars::local_lr(const nn::Parameter& p) const {
  for (size_t k = 0; k < store_.parameters().size(); ++k)
    if (store_.parameters()[k] == &p) return local_lr_[k];
  return 1.0;
}

void Lars::apply(float grad_scale, uint64_t step, float* intended) {
  for (size_t k = 0; k < store_.parameters().size(); ++k) {
    const nn::Parameter& p = *store_.parameters()[k];
    const bool adapted = p.shape.size() > 1;
    double rate = 1.0;
    Tensor weights = store_.master().view(p), grads = store_.grads().view(p), momentum = momentum_.view(p);
    if (adapted) {
      const double w_norm = norm(weights), g_norm = norm(grads) / double(grad_scale);
      if (w_norm > 0 && g_norm > 0)
        rate = double(config_.trust_coefficient) * w_norm / (g_norm + double(config_.weight_decay) * w_norm);
    }
    local_lr_[k] = rate;
    kernels::SgdUpdateArgs a;
    a.weights = weights.raw();
    a.weight_type = weights.dtype();
    a.grads = grads.raw();
    a.grad_type = grads.dtype();
    a.momentum = momentum.raw();
    a.momentum_type = momentum.dtype();
    if (compensation_.defined()) {
      Tensor compensation = compensation_.view(p);
      a.compensation = compensation.raw();
      a.compensation_type = compensation.dtype();
    }
    a.intended = intended == nullptr ? nullptr : intended + p.offset;
    a.n = p.value.numel();
    // local_lr (g + wd w) = g_scaled (local_lr / S) + (local_lr wd) w: the kernel's g.
    a.inv_grad_scale = float(rate / double(grad_scale));
    a.weight_decay = adapted ? float(rate * double(config_.weight_decay)) : 0.0f;
    a.lr = config_.lr;
    a.momentum_factor = config_.momentum;
    a.first = steps_applied_ == 0;
    a.stochastic = rounding_ == Rounding::stochastic;
    a.seed = seed_;
    a.weight_stream = random_stream(RandomPurpose::weight_rounding, step);
    a.momentum_stream = random_stream(RandomPurpose::momentum_rounding, step);
    a.first_index = uint64_t(p.offset);
    kernels::sgd_update(a);
  }
}

}  // namespace pure16::optim
