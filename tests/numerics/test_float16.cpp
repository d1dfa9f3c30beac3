// fp16 / bf16: every bit pattern round-trips, widening is exact, and every boundary case of
// round-to-nearest-even (ties, overflow, subnormals, signed zero, infinities, NaN payloads).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "pure16/numerics/float16.h"

namespace pure16 {
namespace {

uint16_t h(float f) { return to_fp16(f).bits; }
uint16_t h(double d) { return to_fp16(d).bits; }
uint16_t b(float f) { return to_bf16(f).bits; }
uint16_t b(double d) { return to_bf16(d).bits; }
float bits_to_float(uint32_t u) { return std::bit_cast<float>(u); }

// The value of a binary16 / bfloat16 pattern, decoded independently of to_float.
double decode(uint16_t bits, int mant_bits, int bias) {
  const int exp_field = (bits & 0x7fff) >> mant_bits;
  const int mant = bits & ((1 << mant_bits) - 1);
  const double sign = bits & 0x8000 ? -1.0 : 1.0;
  if (exp_field == (0x7fff >> mant_bits)) return mant ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  if (exp_field == 0) return sign * std::ldexp(mant, 1 - bias - mant_bits);
  return sign * std::ldexp(mant + (1 << mant_bits), exp_field - bias - mant_bits);
}

// The conversions are constexpr.
static_assert(to_fp16(1.0f).bits == 0x3c00 && to_bf16(1.0f).bits == 0x3f80);
static_assert(to_float(fp16::from_bits(0xc000)) == -2.0f && to_float(bf16::from_bits(0x4040)) == 3.0f);

TEST(Float16, AllPatternsRoundTrip) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const fp16 x = fp16::from_bits(uint16_t(bits));
    const float f = to_float(x);
    const double expected = decode(uint16_t(bits), 10, 15);
    if (is_nan(x)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << bits;
      ASSERT_EQ(std::signbit(f), (bits & 0x8000) != 0) << std::hex << bits;
      // Back again: still NaN, same sign and payload, made quiet.
      ASSERT_EQ(to_fp16(f).bits, bits | 0x0200) << std::hex << bits;
      ASSERT_EQ(to_fp16(double(f)).bits, bits | 0x0200) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(double(f), expected) << std::hex << bits;
    ASSERT_EQ(std::signbit(f), (bits & 0x8000) != 0) << std::hex << bits;  // -0 stays -0
    ASSERT_EQ(to_double(x), expected);
    ASSERT_EQ(to_fp16(f).bits, bits) << std::hex << bits;
    ASSERT_EQ(to_fp16(double(f)).bits, bits) << std::hex << bits;
    ASSERT_EQ(from_float<fp16>(f).bits, bits);
    ASSERT_EQ(from_double<fp16>(expected).bits, bits);
    ASSERT_EQ(as_double(x), expected);
    ASSERT_EQ(is_finite(x), std::isfinite(expected));
  }
}

TEST(BFloat16, AllPatternsRoundTrip) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const bf16 x = bf16::from_bits(uint16_t(bits));
    const float f = to_float(x);
    const double expected = decode(uint16_t(bits), 7, 127);
    if (is_nan(x)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << bits;
      ASSERT_EQ(to_bf16(f).bits, bits | 0x0040) << std::hex << bits;
      ASSERT_EQ(to_bf16(double(f)).bits, bits | 0x0040) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(double(f), expected) << std::hex << bits;
    ASSERT_EQ(std::bit_cast<uint32_t>(f), bits << 16);
    ASSERT_EQ(to_bf16(f).bits, bits) << std::hex << bits;
    ASSERT_EQ(to_bf16(double(f)).bits, bits) << std::hex << bits;
    ASSERT_EQ(from_float<bf16>(f).bits, bits);
    ASSERT_EQ(from_double<bf16>(expected).bits, bits);
    ASSERT_EQ(is_finite(x), std::isfinite(expected));
  }
}

TEST(Float16, TiesGoToEven) {
  // Between 1 (0x3c00) and 1 + 2^-10 (0x3c01); between 0x3c01 and 0x3c02.
  EXPECT_EQ(h(1.0f + 0x1.0p-11f), 0x3c00);
  EXPECT_EQ(h(std::nextafter(1.0f + 0x1.0p-11f, 2.0f)), 0x3c01);
  EXPECT_EQ(h(std::nextafter(1.0f + 0x1.0p-11f, 0.0f)), 0x3c00);
  EXPECT_EQ(h(1.0f + 0x1.8p-10f), 0x3c02);
  EXPECT_EQ(h(std::nextafter(1.0f + 0x1.8p-10f, 0.0f)), 0x3c01);
  EXPECT_EQ(h(-(1.0f + 0x1.8p-10f)), 0xbc02);
  // Integers: fp16 holds every integer up to 2048, then only even ones.
  EXPECT_EQ(h(2049.0f), h(2048.0f));
  EXPECT_EQ(h(2051.0f), h(2052.0f));
  EXPECT_EQ(h(2050.0f), 0x6801);
  // A carry out of the mantissa into the exponent: 2 - 2^-11 lies halfway below 2.
  EXPECT_EQ(h(2.0f - 0x1.0p-11f), 0x4000);
  EXPECT_EQ(h(std::nextafter(2.0f - 0x1.0p-11f, 0.0f)), 0x3fff);
  // The same ties reached from double.
  EXPECT_EQ(h(1.0 + 0x1.0p-11), 0x3c00);
  EXPECT_EQ(h(1.0 + 0x1.8p-10), 0x3c02);
  EXPECT_EQ(h(2.0 - 0x1.0p-11), 0x4000);
}

TEST(Float16, LargestFiniteAndOverflow) {
  EXPECT_EQ(h(65504.0f), 0x7bff);
  EXPECT_EQ(h(65519.99f), 0x7bff);
  EXPECT_EQ(h(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(h(65520.0f), 0x7c00);  // the halfway point to 2^16 ties to the even (infinite) side
  EXPECT_EQ(h(-65520.0f), 0xfc00);
  EXPECT_EQ(h(65536.0f), 0x7c00);
  EXPECT_EQ(h(1e10f), 0x7c00);
  EXPECT_EQ(h(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(h(-std::numeric_limits<float>::max()), 0xfc00);
  EXPECT_EQ(h(65519.99999), 0x7bff);
  EXPECT_EQ(h(std::nextafter(65520.0, 0.0)), 0x7bff);
  EXPECT_EQ(h(65520.0), 0x7c00);
  EXPECT_EQ(h(1e300), 0x7c00);
  EXPECT_EQ(h(-std::numeric_limits<double>::max()), 0xfc00);
  EXPECT_EQ(to_float(fp16::from_bits(0x7bff)), 65504.0f);
}

TEST(Float16, SubnormalsAndUnderflow) {
  EXPECT_EQ(h(0x1.0p-14f), 0x0400);                  // smallest normal
  EXPECT_EQ(h(0x1.0p-14f - 0x1.0p-24f), 0x03ff);     // largest subnormal
  EXPECT_EQ(h(0x1.0p-14f - 0x1.0p-25f), 0x0400);     // tie between 0x03ff and 0x0400: to even
  EXPECT_EQ(h(0x1.0p-24f), 0x0001);                  // smallest subnormal
  EXPECT_EQ(h(0x1.0p-25f), 0x0000);                  // tie between 0 and 2^-24: to even (0)
  EXPECT_EQ(h(std::nextafter(0x1.0p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(h(-0x1.0p-25f), 0x8000);                 // negative underflow keeps the sign
  EXPECT_EQ(h(0x1.8p-24f), 0x0002);                  // 1.5 ulp: tie to even (2)
  EXPECT_EQ(h(0x1.4p-23f), 0x0002);                  // 2.5 ulp: tie to even (2)
  EXPECT_EQ(h(0x1.cp-23f), 0x0004);                  // 3.5 ulp: tie to even (4)
  EXPECT_EQ(h(0x1.0p-26f), 0x0000);
  EXPECT_EQ(h(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(h(-std::numeric_limits<float>::denorm_min()), 0x8000);
  EXPECT_EQ(h(0x1.0p-25), 0x0000);
  EXPECT_EQ(h(0x1.0p-25 + 0x1.0p-77), 0x0001);  // the next double above 2^-25
  EXPECT_EQ(h(std::numeric_limits<double>::denorm_min()), 0x0000);
  EXPECT_EQ(to_float(fp16::from_bits(0x0001)), 0x1.0p-24f);
  EXPECT_EQ(to_float(fp16::from_bits(0x03ff)), 0x1.ff8p-15f);
  EXPECT_EQ(to_float(fp16::from_bits(0x0200)), 0x1.0p-15f);
}

TEST(Float16, SignedZeroInfinityNaN) {
  EXPECT_EQ(h(0.0f), 0x0000);
  EXPECT_EQ(h(-0.0f), 0x8000);
  EXPECT_EQ(h(-0.0), 0x8000);
  EXPECT_TRUE(std::signbit(to_float(fp16::from_bits(0x8000))));
  EXPECT_EQ(h(INFINITY), 0x7c00);
  EXPECT_EQ(h(-INFINITY), 0xfc00);
  EXPECT_EQ(h(double(INFINITY)), 0x7c00);
  EXPECT_EQ(to_float(fp16::from_bits(0xfc00)), -INFINITY);
  // NaN: made quiet, top payload bits kept, sign kept; a payload only in the dropped low bits
  // still gives a NaN (never infinity).
  EXPECT_EQ(h(bits_to_float(0x7fc00000)), 0x7e00);
  EXPECT_EQ(h(bits_to_float(0xffc00000)), 0xfe00);
  EXPECT_EQ(h(bits_to_float(0x7f800001)), 0x7e00);  // signalling NaN, payload below fp16 precision
  EXPECT_EQ(h(bits_to_float(0xffa02000)), 0xff01);  // payload 0x202000 >> 13 = 0x101
  EXPECT_EQ(h(std::bit_cast<double>(0x7ff0000000000001ull)), 0x7e00);
  EXPECT_EQ(h(std::bit_cast<double>(0xfff4000000000000ull)), 0xff00);
  EXPECT_TRUE(is_nan(to_fp16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_nan(fp16::from_bits(0x7c01)));
  EXPECT_FALSE(is_nan(fp16::from_bits(0x7c00)));
  EXPECT_FALSE(is_finite(fp16::from_bits(0x7c00)));
  EXPECT_TRUE(is_finite(fp16::from_bits(0x7bff)));
}

TEST(Float16, DoubleInputIsRoundedOnce) {
  // Just above a halfway point: as a float it would round to the halfway point and then tie
  // to even, the wrong way. Converting the double directly must round up.
  const double above = 1.0 + 0x1.0p-11 + 0x1.0p-40;
  ASSERT_EQ(double(float(above)), 1.0 + 0x1.0p-11);
  EXPECT_EQ(h(above), 0x3c01);
  EXPECT_EQ(h(float(above)), 0x3c00);  // what double rounding would give
  // Just below a halfway point whose tie goes up.
  const double below = 1.0 + 0x1.8p-10 - 0x1.0p-40;
  ASSERT_EQ(double(float(below)), 1.0 + 0x1.8p-10);
  EXPECT_EQ(h(below), 0x3c01);
  EXPECT_EQ(h(float(below)), 0x3c02);
  // Near the overflow threshold and at the bottom of the subnormals.
  EXPECT_EQ(h(65520.0 - 0x1.0p-30), 0x7bff);
  EXPECT_EQ(h(float(65520.0 - 0x1.0p-30)), 0x7c00);
  EXPECT_EQ(h(0x1.0p-25 + 0x1.0p-60), 0x0001);
  EXPECT_EQ(h(float(0x1.0p-25 + 0x1.0p-60)), 0x0000);
  EXPECT_EQ(from_double<fp16>(above).bits, 0x3c01);
}

TEST(BFloat16, TiesOverflowAndSubnormals) {
  EXPECT_EQ(b(1.0f), 0x3f80);
  EXPECT_EQ(b(1.0f + 0x1.0p-8f), 0x3f80);  // tie to even
  EXPECT_EQ(b(std::nextafter(1.0f + 0x1.0p-8f, 2.0f)), 0x3f81);
  EXPECT_EQ(b(1.0f + 0x1.8p-7f), 0x3f82);  // tie to even
  EXPECT_EQ(b(-3.0f), 0xc040);
  // Largest finite bf16 is 0x7f7f = (2 - 2^-7) 2^127; the halfway point to 2^128 ties up.
  EXPECT_EQ(b(bits_to_float(0x7f7f7fff)), 0x7f7f);
  EXPECT_EQ(b(bits_to_float(0x7f7f8000)), 0x7f80);
  EXPECT_EQ(b(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(b(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(b(1e300), 0x7f80);
  EXPECT_EQ(b(0x1.fep127), 0x7f7f);
  EXPECT_EQ(b(0x1.ffp127), 0x7f80);
  EXPECT_EQ(b(0x1.ffp127 - 0x1.0p90), 0x7f7f);
  // Subnormals: bf16 keeps the top 7 mantissa bits of a float subnormal.
  EXPECT_EQ(b(bits_to_float(0x00800000)), 0x0080);  // smallest normal, 2^-126
  EXPECT_EQ(b(bits_to_float(0x00010000)), 0x0001);  // smallest subnormal, 2^-133
  EXPECT_EQ(b(bits_to_float(0x00008000)), 0x0000);  // 2^-134: tie to even (0)
  EXPECT_EQ(b(bits_to_float(0x00008001)), 0x0001);
  EXPECT_EQ(b(bits_to_float(0x00018000)), 0x0002);  // 1.5 ulp: tie to even
  EXPECT_EQ(b(bits_to_float(0x007f8000)), 0x0080);  // halfway from the largest subnormal to 2^-126
  EXPECT_EQ(b(bits_to_float(0x007f7fff)), 0x007f);
  EXPECT_EQ(b(bits_to_float(0x80000001)), 0x8000);
  EXPECT_EQ(b(0x1.0p-133), 0x0001);
  EXPECT_EQ(b(0x1.0p-134), 0x0000);
  EXPECT_EQ(b(0x1.0p-134 + 0x1.0p-160), 0x0001);  // a double above a tie that a float cannot hold
  EXPECT_EQ(b(float(0x1.0p-134 + 0x1.0p-160)), 0x0000);
  EXPECT_EQ(b(1e-300), 0x0000);
  EXPECT_EQ(b(-1e-300), 0x8000);
  EXPECT_EQ(to_float(bf16::from_bits(0x0001)), 0x1.0p-133f);
  // Double rounding in the normal range.
  EXPECT_EQ(b(1.0 + 0x1.0p-8 + 0x1.0p-40), 0x3f81);
  EXPECT_EQ(b(float(1.0 + 0x1.0p-8 + 0x1.0p-40)), 0x3f80);
}

TEST(BFloat16, SignedZeroInfinityNaN) {
  EXPECT_EQ(b(-0.0f), 0x8000);
  EXPECT_EQ(b(-0.0), 0x8000);
  EXPECT_EQ(b(INFINITY), 0x7f80);
  EXPECT_EQ(b(-INFINITY), 0xff80);
  EXPECT_EQ(b(double(-INFINITY)), 0xff80);
  EXPECT_EQ(b(bits_to_float(0x7fc00000)), 0x7fc0);
  EXPECT_EQ(b(bits_to_float(0x7fc00001)), 0x7fc0);  // NaN is never rounded into infinity
  EXPECT_EQ(b(bits_to_float(0x7f800001)), 0x7fc0);
  EXPECT_EQ(b(bits_to_float(0xff810000)), 0xffc1);
  EXPECT_EQ(b(std::bit_cast<double>(0x7ff0000000000001ull)), 0x7fc0);
  EXPECT_TRUE(is_nan(bf16::from_bits(0x7f81)));
  EXPECT_FALSE(is_nan(bf16::from_bits(0xff80)));
  EXPECT_FALSE(is_finite(bf16::from_bits(0xff80)));
}

}  // namespace
}  // namespace pure16
