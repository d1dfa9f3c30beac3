// Philox4x32-10 counter-based generator (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11). A random word is a pure function of (key, counter), so stochastic rounding
// and dropout are reproducible from the seed whatever the thread count or chunking.
#pragma once

#include <array>
#include <cstdint>

namespace pure16 {

struct Philox4x32 {
  using Block = std::array<uint32_t, 4>;

  /// Four random words for the 128-bit counter (lo, hi) under the 64-bit key.
  static constexpr Block generate(uint64_t key, uint64_t counter_lo, uint64_t counter_hi = 0) {
    constexpr uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
    constexpr uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    Block c{uint32_t(counter_lo), uint32_t(counter_lo >> 32), uint32_t(counter_hi), uint32_t(counter_hi >> 32)};
    for (int round = 0; round < 10; ++round) {
      const uint64_t p0 = uint64_t(m0) * c[0];
      const uint64_t p1 = uint64_t(m1) * c[2];
      c = {uint32_t(p1 >> 32) ^ c[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k1, uint32_t(p0)};
      k0 += w0;
      k1 += w1;
    }
    return c;
  }

  /// One random word for element `index` of stream `stream`: four consecutive elements share
  /// one Philox block, so a sweep over n elements costs n/4 blocks.
  static constexpr uint32_t word(uint64_t key, uint64_t stream, uint64_t index) {
    return generate(key, index >> 2, stream)[index & 3];
  }
};

/// Uniform float in [0, 1) from a random word (24 random bits, exact in binary32).
constexpr float uniform_float(uint32_t word) { return float(word >> 8) * 0x1.0p-24f; }

}  // namespace pure16
