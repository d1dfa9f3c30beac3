// IEEE binary16 and bfloat16 storage types with exact, portable conversions.
//
// Rounding is done by one generic routine, round_binary<>, that maps a binary32 or binary64
// bit pattern to any narrower binary format with round-to-nearest-even (or with a caller's
// random bits, for stochastic rounding). It handles subnormals in both source and target,
// overflow to infinity and NaN (kept NaN, made quiet, payload truncated). It is the scalar
// reference that every vectorized conversion is tested against.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

namespace pure16 {

/// IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits.
struct fp16 {
  uint16_t bits = 0;
  static constexpr fp16 from_bits(uint16_t b) { return fp16{b}; }
};
/// bfloat16: the upper half of a binary32 (1 sign, 8 exponent, 7 mantissa bits).
struct bf16 {
  uint16_t bits = 0;
  static constexpr bf16 from_bits(uint16_t b) { return bf16{b}; }
};
static_assert(sizeof(fp16) == 2 && std::is_trivially_copyable_v<fp16>);
static_assert(sizeof(bf16) == 2 && std::is_trivially_copyable_v<bf16>);

namespace detail {

template <int ExpBits, int MantBits>
struct BinaryFormat {
  static constexpr int exp_bits = ExpBits;
  static constexpr int mant_bits = MantBits;
  static constexpr int bias = (1 << (ExpBits - 1)) - 1;
};
using Binary16 = BinaryFormat<5, 10>;
using BFloat16 = BinaryFormat<8, 7>;
using Binary32 = BinaryFormat<8, 23>;
using Binary64 = BinaryFormat<11, 52>;

// Rounds the source bit pattern to the target format. With Stochastic, `random` supplies
// uniformly distributed bits and the result rounds away from zero with probability equal to
// the discarded fraction of one target ulp (exact for up to 32 discarded bits).
template <class Target, class Source, bool Stochastic, class Bits>
constexpr uint16_t round_binary(Bits x, uint32_t random = 0) {
  constexpr int src_width = Source::exp_bits + Source::mant_bits + 1;
  constexpr Bits one = 1;
  constexpr Bits mant_mask = (one << Source::mant_bits) - 1;
  constexpr Bits exp_mask = ((one << Source::exp_bits) - 1) << Source::mant_bits;
  constexpr uint16_t target_inf = uint16_t(((1u << Target::exp_bits) - 1) << Target::mant_bits);
  const uint16_t sign = uint16_t((x >> (src_width - 1)) << (Target::exp_bits + Target::mant_bits));
  const Bits magnitude = x & (exp_mask | mant_mask);

  if ((magnitude & exp_mask) == exp_mask) {  // infinity or NaN
    if ((magnitude & mant_mask) == 0) return sign | target_inf;
    const uint16_t payload = uint16_t((magnitude & mant_mask) >> (Source::mant_bits - Target::mant_bits));
    return sign | target_inf | uint16_t(1u << (Target::mant_bits - 1)) | payload;
  }
  const int biased = int(magnitude >> Source::mant_bits);
  if (biased == 0 && (magnitude & mant_mask) == 0) return sign;  // zero
  // value = significand * 2^(exponent - Source::mant_bits), significand with its implicit bit
  const Bits significand = biased == 0 ? (magnitude & mant_mask) : ((magnitude & mant_mask) | (one << Source::mant_bits));
  const int exponent = (biased == 0 ? 1 : biased) - Source::bias;
  if (exponent > Target::bias) return sign | target_inf;

  constexpr int target_min_exponent = 1 - Target::bias;
  const bool target_normal = exponent >= target_min_exponent;
  const int shift = (Source::mant_bits - Target::mant_bits) + (target_normal ? 0 : target_min_exponent - exponent);
  if (shift > Source::mant_bits + 1 + 32) return sign;  // far below half the smallest subnormal

  Bits kept = shift >= src_width ? 0 : significand >> shift;
  if constexpr (Stochastic) {
    static_assert(std::is_same_v<Source, Binary32>, "stochastic rounding takes binary32 input");
    // Round up when r < dropped for r uniform in [0, 2^shift): probability dropped / 2^shift.
    // Beyond 32 discarded bits (only far below the smallest subnormal) the top 32 are compared.
    if (shift >= 1 && shift <= 32) {
      // shift == 32 == src_width: everything is dropped (a 32-bit shift by 32 would be UB).
      const Bits dropped = shift == src_width ? significand : significand & ((one << shift) - 1);
      if (Bits(random >> (32 - shift)) < dropped) kept += 1;
    } else if (shift > 32) {
      if (Bits(random) < (significand >> (shift - 32))) kept += 1;
    }
  } else {
    if (shift >= 1 && shift <= src_width) {
      const Bits half = one << (shift - 1);
      const Bits dropped = shift == src_width ? significand : significand & ((one << shift) - 1);
      if (dropped > half || (dropped == half && (kept & 1))) kept += 1;
    }
  }
  // For normal results `kept` carries the implicit bit, which adds one to the exponent field;
  // a rounding carry past the top of the mantissa then moves into the exponent by itself.
  const Bits field = target_normal ? (Bits(exponent + Target::bias - 1) << Target::mant_bits) + kept : kept;
  if (field >= target_inf) return sign | target_inf;
  return sign | uint16_t(field);
}

}  // namespace detail

constexpr fp16 to_fp16(float f) {
  return fp16{detail::round_binary<detail::Binary16, detail::Binary32, false>(std::bit_cast<uint32_t>(f))};
}
constexpr fp16 to_fp16(double d) {
  return fp16{detail::round_binary<detail::Binary16, detail::Binary64, false>(std::bit_cast<uint64_t>(d))};
}
constexpr bf16 to_bf16(float f) {
  return bf16{detail::round_binary<detail::BFloat16, detail::Binary32, false>(std::bit_cast<uint32_t>(f))};
}
constexpr bf16 to_bf16(double d) {
  return bf16{detail::round_binary<detail::BFloat16, detail::Binary64, false>(std::bit_cast<uint64_t>(d))};
}

/// Stochastic rounding: `random` must be 32 uniformly distributed bits.
constexpr fp16 to_fp16_stochastic(float f, uint32_t random) {
  return fp16{detail::round_binary<detail::Binary16, detail::Binary32, true>(std::bit_cast<uint32_t>(f), random)};
}
constexpr bf16 to_bf16_stochastic(float f, uint32_t random) {
  return bf16{detail::round_binary<detail::BFloat16, detail::Binary32, true>(std::bit_cast<uint32_t>(f), random)};
}

/// Exact widening: every binary16 value is a binary32 value.
constexpr float to_float(fp16 h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  const uint32_t exp = (h.bits >> 10) & 0x1fu;
  uint32_t mant = h.bits & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    // Subnormal: normalise the mantissa into a binary32 normal.
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400u) == 0);
    return std::bit_cast<float>(sign | uint32_t(112 - e) << 23 | (mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(sign | (exp + 112) << 23 | mant << 13);
}
constexpr float to_float(bf16 b) { return std::bit_cast<float>(uint32_t(b.bits) << 16); }
constexpr float to_float(float f) { return f; }
constexpr double to_double(fp16 h) { return double(to_float(h)); }
constexpr double to_double(bf16 b) { return double(to_float(b)); }

constexpr bool is_nan(fp16 h) { return (h.bits & 0x7c00u) == 0x7c00u && (h.bits & 0x3ffu) != 0; }
constexpr bool is_finite(fp16 h) { return (h.bits & 0x7c00u) != 0x7c00u; }
constexpr bool is_nan(bf16 b) { return (b.bits & 0x7f80u) == 0x7f80u && (b.bits & 0x7fu) != 0; }
constexpr bool is_finite(bf16 b) { return (b.bits & 0x7f80u) != 0x7f80u; }

/// Converts a float to storage type T with round-to-nearest-even (identity for float/double).
template <class T>
constexpr T from_float(float f) {
  if constexpr (std::is_same_v<T, fp16>) return to_fp16(f);
  else if constexpr (std::is_same_v<T, bf16>) return to_bf16(f);
  else return T(f);
}
/// Converts a double to T with a single round-to-nearest-even (no double rounding via float).
template <class T>
constexpr T from_double(double d) {
  if constexpr (std::is_same_v<T, fp16>) return to_fp16(d);
  else if constexpr (std::is_same_v<T, bf16>) return to_bf16(d);
  else return T(d);
}
template <class T>
constexpr double as_double(T v) {
  if constexpr (std::is_same_v<T, fp16> || std::is_same_v<T, bf16>) return double(to_float(v));
  else return double(v);
}

}  // namespace pure16
