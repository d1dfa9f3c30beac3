// n values of one dtype as raw bytes, for kernel tests that hand raw pointers to a kernel and
// compute the expected bits element by element.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "pure16/numerics/float16.h"
#include "pure16/tensor/dtype.h"
#include "support/reference.h"

namespace pure16::testing {

struct RawBuffer {
  DType dtype;
  std::vector<unsigned char> bytes;
  RawBuffer(DType t, int64_t n) : dtype(t), bytes(size_t(n) * dtype_size(t)) {}
  /// n values uniform in [lo, hi), rounded to nearest into the dtype.
  static RawBuffer random(DType t, int64_t n, uint64_t seed, double lo, double hi) {
    RawBuffer b(t, n);
    const std::vector<double> v = random_values(n, seed, lo, hi);
    for (int64_t i = 0; i < n; ++i) b.set(i, v[size_t(i)]);
    return b;
  }
  /// Element i as a kernel loads it: exactly, or f64 rounded to binary32.
  float get(int64_t i) const {
    return dispatch(dtype, [&](auto tag) {
      typename decltype(tag)::type v;
      std::memcpy(&v, bytes.data() + size_t(i) * sizeof(v), sizeof(v));
      return float(as_double(v));
    });
  }
  void set(int64_t i, double value) {
    dispatch(dtype, [&](auto tag) {
      const auto v = from_double<typename decltype(tag)::type>(value);
      std::memcpy(bytes.data() + size_t(i) * sizeof(v), &v, sizeof(v));
    });
  }
  /// `value` rounded to nearest in the dtype, as binary32.
  float rounded(float value) const {
    RawBuffer b(dtype, 1);
    b.set(0, double(value));
    return b.get(0);
  }
  /// `value` rounded into element i: stochastically with `word` for fp16/bf16 when asked.
  void store(int64_t i, float value, bool stochastic, uint32_t word) {
    if (stochastic && dtype == DType::f16) return set_bits(i, to_fp16_stochastic(value, word).bits);
    if (stochastic && dtype == DType::bf16) return set_bits(i, to_bf16_stochastic(value, word).bits);
    set(i, double(value));
  }
  void set_bits(int64_t i, uint16_t b) { std::memcpy(bytes.data() + size_t(i) * 2, &b, 2); }
  void* data() { return bytes.data(); }
};

}  // namespace pure16::testing
