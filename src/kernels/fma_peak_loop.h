// The timed loop of every FMA-peak kind: kChains independent accumulators, so each multiply-add
// waits only on the one kChains instructions back (more than latency x ports in flight on
// current cores: 4 cycles x 2 ports = 8). Included by the ISA translation units, each with its
// vector type; unnamed namespace for the reason given in gemm_blocked.h.
#pragma once

#include <cstdint>

namespace pure16::kernels {
namespace {

constexpr int kChains = 12;

// Runs `iterations` rounds of kChains multiply-adds; returns a value derived from every chain
// so that none can be optimized away.
template <class Vec, class In, class Madd, class Reduce>
Vec fma_chains(int64_t iterations, In a, In b, Vec seed, Madd madd, Reduce reduce) {
  Vec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = seed;
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = madd(acc[i], a, b);
    // Keeps the compiler from hoisting or collapsing the loop (a and b are loop-invariant).
    // The operands are loop-invariant: hide them from the optimizer so the chains cannot be
    // folded (a barrier on an accumulator would push the whole array to memory).
    asm volatile("" : "+v"(a), "+v"(b));
  }
  for (int i = 1; i < kChains; ++i) acc[0] = reduce(acc[0], acc[i]);
  return acc[0];
}

}  // namespace
}  // namespace pure16::kernels
