#include "pure16/optim/lars.h"

#include <cmath>

#include "pure16/kernels/elementwise.h"

namespace pure16::optim {
namespace {

double norm(const Tensor& t) { return std::sqrt(kernels::sum_squares(t.raw(), t.dtype(), t.numel())); }

}  // namespace

Lars::Lars(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : Sgd(store, config, policy, seed), local_lr_(store_.parameters().size(), 1.0) {}

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
    const Tensor weights = store_.master().view(p), grads = store_.grads().view(p);
    if (adapted) {
      const double w_norm = norm(weights), g_norm = norm(grads) / double(grad_scale);
      if (w_norm > 0 && g_norm > 0)
        rate = double(config_.trust_coefficient) * w_norm / (g_norm + double(config_.weight_decay) * w_norm);
    }
    local_lr_[k] = rate;
    // local_lr (g + wd w) = g_scaled (local_lr / S) + (local_lr wd) w: the kernel's g.
    update_stretch(weights, grads, momentum_.defined() ? momentum_.view(p) : Tensor(),
                   compensation_.defined() ? compensation_.view(p) : Tensor(), p.offset,
                   float(rate / double(grad_scale)), adapted ? float(rate * double(config_.weight_decay)) : 0.0f, step,
                   intended);
  }
}

}  // namespace pure16::optim
