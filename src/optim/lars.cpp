#include "pure16/optim/lars.h"

#include <cmath>
#include <type_traits>

#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::optim {
namespace {

// The address of element `offset` of an arena.
template <class P>
P* at(P* base, DType dtype, int64_t offset) {
  using Byte = std::conditional_t<std::is_const_v<P>, const unsigned char, unsigned char>;
  return reinterpret_cast<Byte*>(base) + offset * int64_t(dtype_size(dtype));
}

double norm(const Tensor& arena, const nn::Parameter& p) {
  return std::sqrt(kernels::sum_squares(at(arena.raw(), arena.dtype(), p.offset), arena.dtype(), p.value.numel()));
}

}  // namespace

Lars::Lars(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : Optimizer(store, config, policy, seed),
      momentum_(Tensor::zeros({store_.numel()}, policy.optimizer_state)),
      local_lr_(store_.parameters().size(), 1.0) {}

std::vector<StateArena> Lars::own_arenas() { return {{"momentum", &momentum_}}; }

double Lars::local_lr(const nn::Parameter& p) const {
  for (size_t k = 0; k < store_.parameters().size(); ++k)
    if (store_.parameters()[k] == &p) return local_lr_[k];
  return 1.0;
}

void Lars::apply(float grad_scale, uint64_t step, float* intended) {
  Tensor& weights = store_.master();
  Tensor& grads = store_.grads();
  for (size_t k = 0; k < store_.parameters().size(); ++k) {
    const nn::Parameter& p = *store_.parameters()[k];
    const bool adapted = p.shape.size() > 1;
    double rate = 1.0;
    if (adapted) {
      const double w_norm = norm(weights, p), g_norm = norm(grads, p) / double(grad_scale);
      if (w_norm > 0 && g_norm > 0)
        rate = double(config_.trust_coefficient) * w_norm / (g_norm + double(config_.weight_decay) * w_norm);
    }
    local_lr_[k] = rate;
    kernels::SgdUpdateArgs a;
    a.weights = at(weights.raw(), weights.dtype(), p.offset);
    a.weight_type = weights.dtype();
    a.grads = at(grads.raw(), grads.dtype(), p.offset);
    a.grad_type = grads.dtype();
    a.momentum = at(momentum_.raw(), momentum_.dtype(), p.offset);
    a.momentum_type = momentum_.dtype();
    if (compensation_.defined()) {
      a.compensation = at(compensation_.raw(), compensation_.dtype(), p.offset);
      a.compensation_type = compensation_.dtype();
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
