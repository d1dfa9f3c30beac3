// The vector variants of the safe Adam update (pure16/kernels/adam_update.h), written once over
// a SIMD wrapper S like the SGD update (sgd_update_body.h), whose stores they share: each lane
// does the reference's binary32 operations in its order (division and square root are IEEE
// operations, correctly rounded in both), and stochastic rounding uses the same Philox words, so
// every variant gives the reference's bits for any thread count. The naive path, f64 and the
// telemetry's intended changes go to the reference. Include only from ISA translation units.
#pragma once

#include "kernels/sgd_update_body.h"

namespace pure16::kernels::simd {
namespace {

template <class S>
void adam_update(const AdamUpdateArgs& a) {
  if (a.naive || a.weight_type == DType::f64 || a.grad_type == DType::f64 || a.state_type == DType::f64 ||
      a.intended != nullptr)
    return adam_update_ref(a);
  const auto is16 = [](DType t) { return t == DType::f16 || t == DType::bf16; };
  const bool random_weights = a.stochastic && is16(a.weight_type) && a.compensation == nullptr;
  const bool random_state = a.stochastic && is16(a.state_type);
  dispatch_vector(a.weight_type, [&](auto weight_tag) {
    using W = typename decltype(weight_tag)::type;
    dispatch_vector(a.grad_type, [&](auto grad_tag) {
      using G = typename decltype(grad_tag)::type;
      dispatch_vector(a.state_type, [&](auto state_tag) {
        using T = typename decltype(state_tag)::type;
        W* w = static_cast<W*>(a.weights);
        const G* g = static_cast<const G*>(a.grads);
        T* m = static_cast<T*>(a.exp_avg);
        T* v = static_cast<T*>(a.exp_avg_sq);
        W* c = static_cast<W*>(a.compensation);
        const auto largest = S::set1(largest_finite<T>()), lowest = S::set1(-largest_finite<T>());
        const auto decay_scaled = S::set1(a.weight_decay * a.grad_scale);
        const auto eps_scaled = S::set1(a.eps * a.grad_scale);
        const auto beta1 = S::set1(a.beta1), beta2 = S::set1(a.beta2);
        const auto one_minus_beta1 = S::set1(1.0f - a.beta1), one_minus_beta2 = S::set1(1.0f - a.beta2);
        const auto rescale = S::set1(a.state_rescale), step_size = S::set1(a.step_size);
        const auto correction = S::set1(a.bias_correction2_sqrt), decoupled = S::set1(a.decoupled_decay);
        // Captured by value: a vector store's type may alias anything, so values reached through a
        // reference would be loaded again after each store (sgd_update_body.h).
        const auto clamp = [=](auto x) {
          return S::select(S::gt(x, largest), largest, S::select(S::lt(x, lowest), lowest, x));
        };
        const auto update = [=](int64_t i, auto count, const uint32_t* weight_words, const uint32_t* mean_words,
                                const uint32_t* root_words) {
          const auto weight = S::load(w + i, count);
          const auto grad = S::add(S::load(g + i, count), S::mul(decay_scaled, weight));
          const auto mean = clamp(S::mul(S::load(m + i, count), rescale));
          const auto root = clamp(S::mul(S::load(v + i, count), rescale));
          const auto new_mean = S::add(S::mul(beta1, mean), S::mul(one_minus_beta1, grad));
          const auto new_root =
              S::sqrt(S::add(S::mul(beta2, S::mul(root, root)), S::mul(one_minus_beta2, S::mul(grad, grad))));
          store_update<S>(m + i, new_mean, count, mean_words);
          store_update<S>(v + i, new_root, count, root_words);
          const auto direction = S::div(new_mean, S::add(S::div(new_root, correction), eps_scaled));
          const auto change = S::sub(S::zero(), S::add(S::mul(step_size, direction), S::mul(decoupled, weight)));
          if (c == nullptr) return store_update<S>(w + i, S::add(weight, change), count, weight_words);
          const auto compensated = S::add(change, S::load(c + i, count));
          S::store(w + i, S::add(weight, compensated), count);
          S::store(c + i, S::sub(compensated, S::sub(S::load(w + i, count), weight)), count);
        };
        parallel_chunks(a.n, [&](int64_t begin, int64_t end) {
          if (random_weights && random_state) {
            sweep_with_words<S>(
                begin, end, a.seed, std::array{a.weight_stream, a.exp_avg_stream, a.exp_avg_sq_stream}, a.first_index,
                [&](int64_t i, auto count, auto words) { update(i, count, words[0], words[1], words[2]); });
          } else if (random_state) {
            sweep_with_words<S>(
                begin, end, a.seed, std::array{a.exp_avg_stream, a.exp_avg_sq_stream}, a.first_index,
                [&](int64_t i, auto count, auto words) { update(i, count, nullptr, words[0], words[1]); });
          } else if (random_weights) {
            sweep_with_words<S>(
                begin, end, a.seed, std::array{a.weight_stream}, a.first_index,
                [&](int64_t i, auto count, auto words) { update(i, count, words[0], nullptr, nullptr); });
          } else {
            sweep<S>(begin, end, [&](int64_t i, auto count) { update(i, count, nullptr, nullptr, nullptr); });
          }
        });
      });
    });
  });
}

template <class S>
void register_vector_adam_update(KernelTable& table, Isa isa) {
  table.adam_update.set(adam_update<S>, isa);
}

}  // namespace
}  // namespace pure16::kernels::simd
