// The Adam update: the public entry point and its scalar reference, one element at a time in the
// order pure16/kernels/adam_update.h states; the vector variants (adam_update_body.h) must give
// these bits on the safe path, and leave the naive one to it.
#include "pure16/kernels/adam_update.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/elementwise_reference.h"
#include "kernels/kernel_table.h"

namespace pure16::kernels {
namespace {

// x rounded to nearest in T and back: one PyTorch tensor operation's result on fp16 tensors.
template <class T>
float stored(float x) {
  return float(as_double(from_double<T>(double(x))));
}

}  // namespace

void adam_update_ref(const AdamUpdateArgs& a) {
  dispatch(a.weight_type, [&](auto weight_tag) {
    using W = typename decltype(weight_tag)::type;
    dispatch(a.grad_type, [&](auto grad_tag) {
      using G = typename decltype(grad_tag)::type;
      dispatch(a.state_type, [&](auto state_tag) {
        using T = typename decltype(state_tag)::type;
        W* w = static_cast<W*>(a.weights);
        const G* g = static_cast<const G*>(a.grads);
        T* m = static_cast<T*>(a.exp_avg);
        T* v = static_cast<T*>(a.exp_avg_sq);
        W* c = static_cast<W*>(a.compensation);
        const float largest = largest_finite<T>();
        const float decay_scaled = a.weight_decay * a.grad_scale, eps_scaled = a.eps * a.grad_scale;
        const float one_minus_beta1 = 1.0f - a.beta1, one_minus_beta2 = 1.0f - a.beta2;
#pragma omp parallel for schedule(static) if (a.n > kParallelThreshold)
        for (int64_t i = 0; i < a.n; ++i) {
          const uint64_t index = a.first_index + uint64_t(i);
          float weight = float(as_double(w[i]));
          float change;
          if (a.naive) {
            float grad = stored<T>(float(as_double(g[i])) * a.inv_grad_scale);
            if (a.weight_decay != 0.0f) grad = stored<T>(grad + a.weight_decay * weight);
            if (a.decoupled_decay != 0.0f) weight = stored<W>(weight * (1.0f - a.decoupled_decay));
            const float mean = float(as_double(m[i])), square = float(as_double(v[i]));
            const float new_mean = stored<T>(mean + one_minus_beta1 * (grad - mean));
            const float new_square = stored<T>(stored<T>(a.beta2 * square) + one_minus_beta2 * grad * grad);
            m[i] = from_double<T>(double(new_mean));
            v[i] = from_double<T>(double(new_square));
            const float denom =
                stored<T>(stored<T>(stored<T>(std::sqrt(new_square)) / a.bias_correction2_sqrt) + a.eps);
            change = 0.0f - a.step_size * (new_mean / denom);
          } else {
            const auto clamp = [largest](float x) { return x > largest ? largest : x < -largest ? -largest : x; };
            const float grad = float(as_double(g[i])) + decay_scaled * weight;
            const float mean = clamp(float(as_double(m[i])) * a.state_rescale);
            const float root = clamp(float(as_double(v[i])) * a.state_rescale);
            const float new_mean = a.beta1 * mean + one_minus_beta1 * grad;
            const float new_root = std::sqrt(a.beta2 * (root * root) + one_minus_beta2 * (grad * grad));
            m[i] = round_from<T>(new_mean, a.stochastic, a.seed, a.exp_avg_stream, index);
            v[i] = round_from<T>(new_root, a.stochastic, a.seed, a.exp_avg_sq_stream, index);
            change = 0.0f - (a.step_size * (new_mean / (new_root / a.bias_correction2_sqrt + eps_scaled)) +
                             a.decoupled_decay * weight);
          }
          if (c == nullptr) {
            w[i] = round_from<W>(weight + change, a.stochastic, a.seed, a.weight_stream, index);
            if (a.intended != nullptr) a.intended[i] = change;
            continue;
          }
          const float compensated = change + float(as_double(c[i]));
          w[i] = from_double<W>(double(weight + compensated));
          c[i] = from_double<W>(double(compensated - (float(as_double(w[i])) - weight)));
          if (a.intended != nullptr) a.intended[i] = compensated;
        }
      });
    });
  });
}

void adam_update(const AdamUpdateArgs& args) {
  if (args.n < 0) throw std::invalid_argument("adam_update: negative length " + std::to_string(args.n));
  if (args.n == 0) return;
  kernel_table().adam_update.fn(args);
}

}  // namespace pure16::kernels
