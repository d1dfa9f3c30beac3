// The vector variants of the SGD update (pure16/kernels/sgd_update.h), written once over a SIMD
// wrapper S like the element-wise ops, whose helpers they use (elementwise_body.h): each lane
// does the reference's binary32 operations in its order, and stochastic rounding uses the same
// Philox words, so every variant gives the reference's bits for any thread count. Include only
// from ISA translation units (internal linkage, as elementwise_body.h explains).
#pragma once

#include "kernels/elementwise_body.h"

namespace pure16::kernels::simd {
namespace {

/// Stores x into T, stochastically with the words at `words` when given and T is 16 bits wide.
template <class S, class T, class Count>
void store_update(T* p, typename S::F x, Count count, const uint32_t* words) {
  if constexpr (std::is_same_v<T, fp16>) {
    if (words != nullptr) return S::store_bits(p, fp16_bits_stochastic<S>(x, S::load_u32(words, count)), count);
  } else if constexpr (std::is_same_v<T, bf16>) {
    if (words != nullptr) return S::store_bits(p, bf16_bits_stochastic<S>(x, S::load_u32(words, count)), count);
  }
  S::store(p, x, count);
}

template <class S>
void sgd_update(const SgdUpdateArgs& a) {
  const bool with_momentum = a.momentum != nullptr;
  if (a.weight_type == DType::f64 || a.grad_type == DType::f64 || (with_momentum && a.momentum_type == DType::f64))
    return sgd_update_ref(a);
  const auto is16 = [](DType t) { return t == DType::f16 || t == DType::bf16; };
  // Words are made only for the stores that round stochastically.
  const bool random_weights = a.stochastic_weights && is16(a.weight_type) && a.compensation == nullptr;
  const bool random_momentum = a.stochastic_momentum && with_momentum && is16(a.momentum_type);
  dispatch_vector(a.weight_type, [&](auto weight_tag) {
    using W = typename decltype(weight_tag)::type;
    dispatch_vector(a.grad_type, [&](auto grad_tag) {
      using G = typename decltype(grad_tag)::type;
      dispatch_vector(with_momentum ? a.momentum_type : DType::f32, [&](auto momentum_tag) {
        using M = typename decltype(momentum_tag)::type;
        W* w = static_cast<W*>(a.weights);
        const G* g = static_cast<const G*>(a.grads);
        M* m = static_cast<M*>(a.momentum);
        W* c = static_cast<W*>(a.compensation);
        const auto inv_scale = S::set1(a.inv_grad_scale), decay = S::set1(a.weight_decay);
        const auto mu = S::set1(a.momentum_factor), lr = S::set1(a.lr);
        const bool first = a.first, nesterov = a.nesterov;
        float* const intended = a.intended;
        // Captured by value: a vector store's type may alias anything, so values reached through a
        // reference would be loaded again after each store (f32 SGD: 40% of the sweep).
        const auto update = [=](int64_t i, auto count, const uint32_t* weight_words, const uint32_t* momentum_words) {
          const auto weight = S::load(w + i, count);
          const auto grad = S::add(S::mul(S::load(g + i, count), inv_scale), S::mul(decay, weight));
          auto direction = grad;
          if (with_momentum) {
            const auto velocity = first ? grad : S::add(S::mul(mu, S::load(m + i, count)), grad);
            store_update<S>(m + i, velocity, count, momentum_words);
            direction = nesterov ? S::add(grad, S::mul(mu, velocity)) : velocity;
          }
          const auto step_change = S::mul(lr, direction);
          if (c == nullptr) {
            if (intended != nullptr) S::store(intended + i, S::sub(S::zero(), step_change), count);
            return store_update<S>(w + i, S::sub(weight, step_change), count, weight_words);
          }
          const auto change = S::add(S::sub(S::zero(), step_change), S::load(c + i, count));
          if (intended != nullptr) S::store(intended + i, change, count);
          S::store(w + i, S::add(weight, change), count);
          S::store(c + i, S::sub(change, S::sub(S::load(w + i, count), weight)), count);
        };
        parallel_chunks(a.n, [&](int64_t begin, int64_t end) {
          if (random_weights && random_momentum) {
            sweep_with_words<S>(begin, end, a.seed, std::array{a.weight_stream, a.momentum_stream}, a.first_index,
                                [&](int64_t i, auto count, auto words) { update(i, count, words[0], words[1]); });
          } else if (random_weights || random_momentum) {
            sweep_with_words<S>(begin, end, a.seed, std::array{random_weights ? a.weight_stream : a.momentum_stream},
                                a.first_index, [&](int64_t i, auto count, auto words) {
                                  update(i, count, random_weights ? words[0] : nullptr,
                                         random_momentum ? words[0] : nullptr);
                                });
          } else {
            sweep<S>(begin, end, [&](int64_t i, auto count) { update(i, count, nullptr, nullptr); });
          }
        });
      });
    });
  });
}

template <class S>
void register_vector_sgd_update(KernelTable& table, Isa isa) {
  table.sgd_update.set(sgd_update<S>, isa);
}

}  // namespace
}  // namespace pure16::kernels::simd
