// The SGD update: the public entry point and its scalar reference, one element at a time in the
// order pure16/kernels/sgd_update.h states; the vector variants (sgd_update_body.h) must give
// these bits.
#include "pure16/kernels/sgd_update.h"

#include <stdexcept>
#include <string>

#include "kernels/elementwise_reference.h"
#include "kernels/kernel_table.h"

namespace pure16::kernels {

void sgd_update_ref(const SgdUpdateArgs& a) {
  const bool with_momentum = a.momentum != nullptr;
  dispatch(a.weight_type, [&](auto weight_tag) {
    using W = typename decltype(weight_tag)::type;
    dispatch(a.grad_type, [&](auto grad_tag) {
      using G = typename decltype(grad_tag)::type;
      dispatch(with_momentum ? a.momentum_type : DType::f32, [&](auto momentum_tag) {
        using M = typename decltype(momentum_tag)::type;
        W* w = static_cast<W*>(a.weights);
        const G* g = static_cast<const G*>(a.grads);
        M* m = static_cast<M*>(a.momentum);
        W* c = static_cast<W*>(a.compensation);
#pragma omp parallel for schedule(static) if (a.n > kParallelThreshold)
        for (int64_t i = 0; i < a.n; ++i) {
          const uint64_t index = a.first_index + uint64_t(i);
          const float weight = float(as_double(w[i]));
          const float grad = float(as_double(g[i])) * a.inv_grad_scale + a.weight_decay * weight;
          float direction = grad;
          if (with_momentum) {
            const float velocity = a.first ? grad : a.momentum_factor * float(as_double(m[i])) + grad;
            m[i] = round_from<M>(velocity, a.stochastic_momentum, a.seed, a.momentum_stream, index);
            direction = a.nesterov ? grad + a.momentum_factor * velocity : velocity;
          }
          const float step_change = a.lr * direction;
          if (c == nullptr) {
            w[i] = round_from<W>(weight - step_change, a.stochastic_weights, a.seed, a.weight_stream, index);
            if (a.intended != nullptr) a.intended[i] = 0.0f - step_change;
            continue;
          }
          const float change = (0.0f - step_change) + float(as_double(c[i]));
          w[i] = from_double<W>(double(weight + change));
          c[i] = from_double<W>(double(change - (float(as_double(w[i])) - weight)));
          if (a.intended != nullptr) a.intended[i] = change;
        }
      });
    });
  });
}

void sgd_update(const SgdUpdateArgs& args) {
  if (args.n < 0) throw std::invalid_argument("sgd_update: negative length " + std::to_string(args.n));
  if (args.n == 0) return;
  kernel_table().sgd_update.fn(args);
}

}  // namespace pure16::kernels
