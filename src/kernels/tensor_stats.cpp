// The scalar reference of tensor_stats: it classifies each element from its bits, so a subnormal
// is one in the data's own format whatever the CPU's flush-to-zero setting, and the exponent of a
// subnormal is that of its leading significand bit.
#include "pure16/kernels/tensor_stats.h"

#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace pure16::kernels {
namespace {

constexpr double kFp16Max = 65504.0;
constexpr double kBf16Max = 0x1.fep127;

template <class T>
struct Format;
template <>
struct Format<fp16> {
  using Bits = uint16_t;
  static constexpr int mantissa_bits = 10, exponent_bits = 5;
};
template <>
struct Format<bf16> {
  using Bits = uint16_t;
  static constexpr int mantissa_bits = 7, exponent_bits = 8;
};
template <>
struct Format<float> {
  using Bits = uint32_t;
  static constexpr int mantissa_bits = 23, exponent_bits = 8;
};
template <>
struct Format<double> {
  using Bits = uint64_t;
  static constexpr int mantissa_bits = 52, exponent_bits = 11;
};

template <class T>
void accumulate(TensorStats& s, const T* x, int64_t n) {
  using F = Format<T>;
  using Bits = typename F::Bits;
  constexpr int total_bits = 8 * sizeof(Bits);
  constexpr Bits magnitude_mask = Bits(~Bits(0)) >> 1;
  constexpr Bits mantissa_mask = Bits((Bits(1) << F::mantissa_bits) - 1);
  constexpr Bits exponent_all_ones = Bits((Bits(1) << F::exponent_bits) - 1);
  constexpr int bias = (1 << (F::exponent_bits - 1)) - 1;
  constexpr int smallest_subnormal_exponent = 1 - bias - F::mantissa_bits;
  static_assert(total_bits == 1 + F::exponent_bits + F::mantissa_bits);
  const int min_e = s.range.min_exponent, max_e = s.range.max_exponent;
  for (int64_t i = 0; i < n; ++i) {
    const Bits magnitude = std::bit_cast<Bits>(x[i]) & magnitude_mask;
    const Bits exponent_field = Bits(magnitude >> F::mantissa_bits);
    if (exponent_field == exponent_all_ones) {
      ++((magnitude & mantissa_mask) == 0 ? s.infs : s.nans);
      continue;
    }
    if (magnitude == 0) {
      ++s.zeros;
      continue;
    }
    int exponent;
    if (exponent_field == 0) {
      ++s.subnormals;
      exponent = smallest_subnormal_exponent + int(std::bit_width(magnitude)) - 1;
    } else {
      exponent = int(exponent_field) - bias;
    }
    const double value = std::fabs(as_double(x[i]));
    if (value > s.max_abs) s.max_abs = value;
    s.sum_squares += value * value;
    if (exponent < min_e)
      ++s.below_range;
    else if (exponent > max_e)
      ++s.above_range;
    else
      ++s.exponent_counts[size_t(exponent - min_e)];
    // 2^-24 and 2^-14 are fp16's smallest subnormal and normal, 2^-133 and 2^-126 bf16's.
    s.fp16_underflow += exponent < -24;
    s.fp16_below_normal += exponent < -14;
    s.fp16_overflow += value > kFp16Max;
    s.bf16_underflow += exponent < -133;
    s.bf16_below_normal += exponent < -126;
    s.bf16_overflow += value > kBf16Max;
  }
}

}  // namespace

ExponentRange histogram_exponents(DType dtype) {
  if (dtype == DType::f16) return {-24, 15};
  return {-40, 16};
}

TensorStats tensor_stats(const void* x, DType dtype, int64_t n) {
  if (n < 0) throw std::invalid_argument("tensor_stats: negative length " + std::to_string(n));
  TensorStats s;
  s.count = n;
  s.range = histogram_exponents(dtype);
  s.exponent_counts.assign(size_t(s.range.max_exponent - s.range.min_exponent + 1), 0);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    accumulate(s, static_cast<const T*>(x), n);
  });
  return s;
}

}  // namespace pure16::kernels
