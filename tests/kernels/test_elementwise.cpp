// The element-wise ops at every ISA level the CPU supports, for every dtype, against float64
// (long double where f64 itself is under test) computations: bit equality where the op is
// exact (conversions, stochastic rounding, relu, dropout), and elsewhere error bounds derived
// from the unit roundoff u of the arithmetic (binary32; binary64 for f64) and u_T of the
// stored dtype (Higham, "Accuracy and Stability of Numerical Algorithms", ch. 3).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/isa.h"
#include "pure16/numerics/philox.h"
#include "pure16/tensor/dtype.h"
#include "support/reference.h"

namespace pure16::kernels {
namespace {

using pure16::testing::for_each_isa;
using pure16::testing::gamma;

constexpr DType kAllTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64};
constexpr int64_t kSizes[] = {1, 7, 33, 1000, 100003};  // tails for 8 and 16 lanes; the last one threaded
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Unit roundoff of the arithmetic the kernels do on a dtype.
double compute_u(DType t) { return t == DType::f64 ? 0x1.0p-53 : 0x1.0p-24; }
/// Unit roundoff of storing into the dtype.
double store_u(DType t) { return traits(t).unit_roundoff; }
/// Half the smallest subnormal: the absolute error of a rounding to the dtype near zero.
double store_abs(DType t) {
  switch (t) {
    case DType::f32: return 0x1.0p-150;
    case DType::f16: return 0x1.0p-25;
    case DType::bf16: return 0x1.0p-134;
    case DType::f64: break;
  }
  return 0x1.0p-1074;  // the smallest subnormal (half of it is not a double)
}
/// Relative error bound of the exponential the softmax uses: the vector variants' polynomial
/// (checked directly by SoftmaxExponentialIsAccurate), above libm's expf / exp.
double exp_error(DType t) { return t == DType::f64 ? 0x1.0p-51 : 0x1.0p-22; }

/// n elements of one dtype in a byte buffer, read and written as double.
class Array {
 public:
  Array(DType dtype, int64_t n) : dtype_(dtype), n_(n), bytes_(size_t(n) * dtype_size(dtype)) {}
  static Array random(DType dtype, int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
    Array a(dtype, n);
    const std::vector<double> values = pure16::testing::random_values(n, seed, lo, hi);
    for (int64_t i = 0; i < n; ++i) a.set(i, values[size_t(i)]);
    return a;
  }

  DType dtype() const { return dtype_; }
  int64_t size() const { return n_; }
  void* data() { return bytes_.data(); }
  const void* data() const { return bytes_.data(); }

  double at(int64_t i) const {
    return dispatch(dtype_, [&](auto tag) {
      typename decltype(tag)::type v;
      std::memcpy(&v, bytes_.data() + size_t(i) * sizeof(v), sizeof(v));
      return as_double(v);
    });
  }
  void set(int64_t i, double value) {  // rounded to nearest even, as the reference's from_double
    dispatch(dtype_, [&](auto tag) {
      const auto v = from_double<typename decltype(tag)::type>(value);
      std::memcpy(bytes_.data() + size_t(i) * sizeof(v), &v, sizeof(v));
    });
  }
  uint64_t bits(int64_t i) const {
    uint64_t b = 0;
    std::memcpy(&b, bytes_.data() + size_t(i) * dtype_size(dtype_), dtype_size(dtype_));
    return b;
  }
  void set_bits(int64_t i, uint64_t b) {
    std::memcpy(bytes_.data() + size_t(i) * dtype_size(dtype_), &b, dtype_size(dtype_));
  }

 private:
  DType dtype_;
  int64_t n_;
  std::vector<unsigned char> bytes_;
};

std::string hex(uint64_t bits) {
  std::ostringstream s;
  s << "0x" << std::hex << bits;
  return s.str();
}

/// Requires bit equality; reports the first difference.
void expect_same_bits(const Array& actual, const Array& expected, const Array* input = nullptr) {
  ASSERT_EQ(actual.size(), expected.size());
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < actual.size(); ++i)
    if (actual.bits(i) != expected.bits(i) && mismatches++ == 0) first = i;
  EXPECT_EQ(mismatches, 0) << "first at " << first << ": got " << hex(actual.bits(first)) << ", expected "
                           << hex(expected.bits(first))
                           << (input != nullptr ? ", input " + hex(input->bits(first)) : std::string());
}

/// Requires |actual[i] - exact[i]| <= bound[i] (NaN nowhere); reports the first violation.
void expect_within(const Array& actual, const std::vector<long double>& exact, const std::vector<double>& bound) {
  int64_t violations = 0, first = -1;
  for (int64_t i = 0; i < actual.size(); ++i) {
    const double error = double(std::fabs((long double)actual.at(i) - exact[size_t(i)]));
    if (!(error <= bound[size_t(i)]) && violations++ == 0) first = i;
  }
  EXPECT_EQ(violations, 0) << "first at " << first << ": got " << actual.at(first) << ", exact "
                           << double(exact[size_t(first)]) << ", bound " << bound[size_t(first)];
}

std::string where(Isa isa, DType dtype, int64_t n) {
  return std::string(isa_name(isa)) + " " + std::string(dtype_name(dtype)) + " n=" + std::to_string(n);
}

// Infinities, NaNs (quiet and signaling, both signs, with payloads), zeros, extreme finite
// and subnormal values, as bit patterns of each dtype.
std::vector<uint64_t> special_bits(DType t) {
  switch (t) {
    case DType::f32:
      return {0x0,        0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fa5a5a5, 0x1,
              0x80000001, 0x7f7fffff, 0xff7fffff, 0x00800000, 0x007fffff, 0x477fe000, 0x477ff000, 0x33000000};
    case DType::f16:
      return {0x0, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7c01, 0x7d5a, 0x1, 0x8001, 0x7bff, 0xfbff, 0x0400, 0x03ff};
    case DType::bf16:
      return {0x0, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x7fa5, 0x1, 0x8001, 0x7f7f, 0xff7f, 0x0080, 0x007f};
    case DType::f64: break;
  }
  return {0x0,
          0x8000000000000000,
          0x7ff0000000000000,
          0xfff0000000000000,
          0x7ff8000000000000,
          0xfff8000000000001,
          0x7ff0000000000001,
          0x7ff5a5a5a5a5a5a5,
          0x1,
          0x7fefffffffffffff,
          0x40effc0000000000,
          0x40effe0000000000};
}

/// Random values in [lo, hi) of the dtype, with a special value every 97 elements and at the end.
Array with_specials(DType t, int64_t n, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Array a = Array::random(t, n, seed, lo, hi);
  const std::vector<uint64_t> specials = special_bits(t);
  for (int64_t i = 5; i < n; i += 97) a.set_bits(i, specials[size_t(i / 97) % specials.size()]);
  a.set_bits(n - 1, specials[size_t(seed) % specials.size()]);
  return a;
}

/// Inputs for conversions from `t`: every bit pattern of the 16-bit types (in a scrambled
/// order), and for the wide types random patterns weighted towards the cases rounding gets
/// wrong: the narrow formats' ranges, exact midpoints between neighbours, one ulp off them.
Array conversion_inputs(DType t, int64_t n, uint64_t seed) {
  Array a(t, n);
  std::mt19937_64 rng(seed);
  const auto fp16_midpoint = [&]() {  // between two neighbouring finite fp16, exact in f32
    const uint16_t h = uint16_t(rng() % 0x7c00), sign = uint16_t(rng() & 0x8000);
    const double next = h + 1 == 0x7c00 ? 65536.0 : as_double(fp16::from_bits(uint16_t(h + 1)));
    const double mid = (as_double(fp16::from_bits(h)) + next) / 2;
    return sign != 0 ? -mid : mid;
  };
  const auto bf16_midpoint = [&]() {  // the bits below a bfloat16 are a binary32's
    const uint32_t h = uint32_t(rng() % 0x7f80) | uint32_t(rng() & 0x8000);
    return double(std::bit_cast<float>((h << 16) | 0x8000u));
  };
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = rng();
    switch (t) {
      case DType::f16:
      case DType::bf16: a.set_bits(i, (uint64_t(i) * 40503u + seed) & 0xffff); break;  // odd multiplier: a permutation
      case DType::f32:
        switch (r % 6) {
          case 0: a.set_bits(i, r >> 32); break;
          case 1: a.set_bits(i, ((r >> 32) & 0x807fffffu) | (uint64_t(90 + (r >> 8) % 56) << 23)); break;
          case 2: a.set(i, fp16_midpoint()); break;
          case 3: a.set(i, bf16_midpoint()); break;
          case 4: a.set_bits(i, (r >> 32) & 0x807fffffu); break;  // subnormal
          default: a.set(i, r & 8 ? fp16_midpoint() : bf16_midpoint()); a.set_bits(i, a.bits(i) + (r & 16 ? 1 : -1));
        }
        break;
      case DType::f64:
        switch (r % 6) {
          case 0: a.set_bits(i, r); break;
          case 1: a.set_bits(i, (r & 0x800fffffffffffffu) | (uint64_t(1023 - 160 + (r >> 52) % 290) << 52)); break;
          case 2: {  // between two neighbouring floats
            const float f = std::bit_cast<float>(uint32_t(r >> 32) & 0x7f7fffffu);
            a.set(i, (double(f) + double(std::nextafter(f, std::numeric_limits<float>::infinity()))) / 2);
            break;
          }
          case 3: a.set(i, fp16_midpoint()); break;
          case 4: a.set(i, bf16_midpoint()); break;
          default: a.set(i, r & 8 ? fp16_midpoint() : bf16_midpoint()); a.set_bits(i, a.bits(i) + (r & 16 ? 1 : -1));
        }
        break;
    }
  }
  if (t == DType::f32 || t == DType::f64) {
    const std::vector<uint64_t> specials = special_bits(t);
    for (size_t k = 0; k < specials.size() && int64_t(k) < n; ++k) a.set_bits(int64_t(k), specials[k]);
    a.set_bits(n - 1, specials[size_t(seed) % specials.size()]);
  }
  return a;
}

TEST(Elementwise, VariantsReportTheLevelUnderTest) {
  for_each_isa([](Isa isa) {
    // avx512 is the highest level with element-wise variants (see elementwise_avx512bf16.cpp).
    const Isa expected = std::min(isa, Isa::avx512);
    for (const char* op : {"convert", "convert_stochastic", "add", "add_bias", "relu_forward", "relu_backward", "sum_rows",
                           "dropout", "count_nonfinite", "softmax_cross_entropy", "sgd_update",
                           "adam_update"})
      EXPECT_EQ(elementwise_variant(op), isa_name(expected)) << op << " at " << isa_name(isa);
  });
  EXPECT_THROW(elementwise_variant("relu"), std::invalid_argument);
}

TEST(Elementwise, ConvertRoundsOnceToNearestEven) {
  for (DType from : kAllTypes)
    for (DType to : kAllTypes)
      for (int64_t n : {int64_t(1), int64_t(6), int64_t(7), int64_t(33), int64_t(1000),
                        int64_t(65536 + 31)}) {  // all 16-bit patterns, threaded
        const Array src = conversion_inputs(from, n, uint64_t(n) + 3);
        Array expected(to, n);
        for (int64_t i = 0; i < n; ++i) {
          expected.set(i, src.at(i));  // the exact value, rounded once
          // A NaN comes out quiet (fp16/bf16 rounding does that by itself).
          if (std::isnan(src.at(i)) && to == DType::f32) expected.set_bits(i, expected.bits(i) | 0x00400000u);
          if (std::isnan(src.at(i)) && to == DType::f64) expected.set_bits(i, expected.bits(i) | uint64_t(1) << 51);
        }
        for_each_isa([&](Isa isa) {
          SCOPED_TRACE(where(isa, from, n) + " -> " + std::string(dtype_name(to)));
          Array dst(to, n);
          convert(dst.data(), to, src.data(), from, n);
          expect_same_bits(dst, expected, &src);
          for (int64_t i = 0; i < n; ++i)
            if (std::isnan(src.at(i))) {
              ASSERT_TRUE(std::isnan(dst.at(i))) << "NaN lost at " << i;
            }
        });
      }
}

TEST(Elementwise, ConvertStochasticMatchesTheReferenceBitwise) {
  struct Stream {
    uint64_t seed, stream, first_index;
  };
  // Unaligned starts, a block counter crossing 2^32 and an element index wrapping past 2^64.
  const Stream streams[] = {{1, 0, 0}, {0xdeadbeef, 7, 3}, {42, 1, (uint64_t(1) << 34) - 5}, {9, 2, ~uint64_t(0) - 6}};
  for (DType to : {DType::f32, DType::f16, DType::bf16})
    for (int64_t n : kSizes)
      for (const Stream& s : streams) {
        if (n == 100003 && s.seed != 1) continue;  // time; the smaller sizes cover the other streams
        const Array src = conversion_inputs(DType::f32, n, s.seed + uint64_t(n));
        Array expected(to, n);
        const float* in = static_cast<const float*>(src.data());
        for (int64_t i = 0; i < n; ++i) {
          const uint32_t word = Philox4x32::word(s.seed, s.stream, s.first_index + uint64_t(i));
          if (to == DType::f16)
            expected.set_bits(i, to_fp16_stochastic(in[i], word).bits);
          else if (to == DType::bf16)
            expected.set_bits(i, to_bf16_stochastic(in[i], word).bits);
          else
            expected.set_bits(i, src.bits(i));
        }
        for_each_isa([&](Isa isa) {
          SCOPED_TRACE(where(isa, to, n) + " first_index=" + std::to_string(s.first_index));
          Array dst(to, n);
          convert_stochastic(dst.data(), to, in, n, s.seed, s.stream, s.first_index);
          expect_same_bits(dst, expected, &src);
        });
      }
  for_each_isa([](Isa) {
    float x = 1.0f;
    double sink = 0;
    EXPECT_THROW(convert_stochastic(&sink, DType::f64, &x, 1, 0, 0, 0), std::invalid_argument);
  });
}

// Rounds the binary32 bit patterns stochastically to fp16 on every ISA, against the reference.
void expect_stochastic_fp16_matches_reference(const Array& src) {
  const int64_t n = src.size();
  const float* in = static_cast<const float*>(src.data());
  for (uint64_t first_index : {uint64_t(0), uint64_t(5)}) {
    Array expected(DType::f16, n);
    for (int64_t i = 0; i < n; ++i)
      expected.set_bits(i, to_fp16_stochastic(in[i], Philox4x32::word(3, 4, first_index + uint64_t(i))).bits);
    for_each_isa([&](Isa isa) {
      SCOPED_TRACE(where(isa, DType::f16, n) + " first_index=" + std::to_string(first_index));
      Array dst(DType::f16, n);
      convert_stochastic(dst.data(), DType::f16, in, n, 3, 4, first_index);
      expect_same_bits(dst, expected, &src);
    });
  }
}

TEST(Elementwise, ConvertStochasticToFp16NormalsMatchesTheReferenceBitwise) {
  // The vector variants take a shortcut for vectors whose every result is a binary16 normal
  // below 2^15 (or zero), the usual case for weights and momenta; the mixed inputs above hardly
  // ever fill a whole vector that way. First half: only such values, with the range's edges and
  // all-ones and all-zero dropped bits at fixed places; second half: the same with a value
  // outside the range (just below 2^-14, 2^15, near 65504, a subnormal, inf, NaN) every 37.
  const int64_t n = 4099;
  std::mt19937 rng(8);
  Array src(DType::f32, n);
  const uint32_t edges[] = {0x38800000u, 0x38801fffu, 0x46ffffffu, 0x46ffe000u, 0x00000000u, 0x80000000u, 0x3f800000u};
  const uint32_t outside[] = {0x387fffffu, 0x47000000u, 0x477fefffu, 0x477ff000u, 0x33800001u, 0x7f800000u, 0x7fc00001u};
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t sign = rng() & 0x80000000u, exponent = 113 + rng() % 29, mantissa = rng() & 0x7fffffu;
    uint32_t bits = sign | exponent << 23 | mantissa;
    if (i % 53 < 7) bits = edges[i % 53] | sign;
    if (i >= n / 2 && i % 37 == 0) bits = outside[size_t(i / 37) % 7] | sign;
    src.set_bits(i, bits);
  }
  expect_stochastic_fp16_matches_reference(src);
}

TEST(Elementwise, ConvertStochasticToFp16SubnormalResultsMatchesTheReferenceBitwise) {
  // A second shortcut takes vectors whose lanes are each such a value or lie in [2^-32, 2^-14),
  // where the result is a binary16 subnormal (or, by a carry, the smallest normal). Half the
  // lanes in that range, every binade of it, with its edges and all-ones and all-zero dropped
  // bits at fixed places; in the second half a value just outside it (below 2^-32, a binary32
  // subnormal, inf, NaN, 2^15) every 37, which must take the general path.
  const int64_t n = 4099;
  std::mt19937 rng(9);
  Array src(DType::f32, n);
  const uint32_t edges[] = {0x2f800000u, 0x2fffffffu, 0x387fffffu, 0x38000000u, 0x387fc000u, 0x00000000u, 0x38800000u};
  const uint32_t outside[] = {0x2f7fffffu, 0x2f000000u, 0x00000001u, 0x7f800000u, 0x7fc00001u, 0x47000000u};
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t sign = rng() & 0x80000000u, mantissa = rng() & 0x7fffffu;
    const uint32_t exponent = rng() % 2 != 0 ? 95 + rng() % 18 : 113 + rng() % 29;
    uint32_t bits = sign | exponent << 23 | mantissa;
    if (i % 53 < 7) bits = edges[i % 53] | sign;
    if (i >= n / 2 && i % 37 == 0) bits = outside[size_t(i / 37) % 6] | sign;
    src.set_bits(i, bits);
  }
  expect_stochastic_fp16_matches_reference(src);
}

TEST(Elementwise, ConvertStochasticBelowFp16SubnormalsRoundsUpWithTheDroppedFraction) {
  // x = significand * 2^-56 with a 24-bit significand lies in [2^-33, 2^-32): exactly 32
  // bits are dropped (the case where a 32-bit mask would need a shift by 32), and x rounds up
  // to 2^-24 (bits 0x0001) with probability significand / 2^32, i.e. when the random word is
  // below the significand.
  const int64_t n = 4099;
  std::vector<float> src(n);
  std::mt19937 rng(5);
  for (float& v : src) v = std::ldexp(float((rng() & 0x7fffff) | 0x800000), -56) * (rng() & 1 ? 1.0f : -1.0f);
  for_each_isa([&](Isa isa) {
    SCOPED_TRACE(isa_name(isa));
    std::vector<fp16> dst(n);
    convert_stochastic(dst.data(), DType::f16, src.data(), n, 11, 12, 13);
    int64_t ups = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t significand = std::bit_cast<uint32_t>(src[size_t(i)]) & 0x7fffff;
      const bool up = Philox4x32::word(11, 12, 13 + uint64_t(i)) < (significand | 0x800000);
      ups += up;
      ASSERT_EQ(dst[size_t(i)].bits, uint16_t((src[size_t(i)] < 0 ? 0x8000 : 0) | (up ? 1 : 0))) << i;
    }
    EXPECT_GT(ups, 0);  // about 3 per 1000
  });
}

TEST(Elementwise, AddBiasAddsPerColumn) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {1, 7}, {7, 33}, {33, 7}, {1000, 33}, {1, 100003}, {97, 1031}};
  for (DType t : kAllTypes)
    for (auto [rows, cols] : shapes)
      for (bool relu : {false, true}) {
      const Array y = Array::random(t, rows * cols, uint64_t(rows)), bias = Array::random(t, cols, uint64_t(cols) + 1);
      std::vector<long double> exact(static_cast<size_t>(rows * cols));
      std::vector<double> bound(exact.size());
      // One binary32 addition, then one rounding to T: (u + u_T + u u_T) |sum| (+ subnormal step).
      const double rel = compute_u(t) + store_u(t) + compute_u(t) * store_u(t);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const size_t i = size_t(r * cols + c);
          exact[i] = (long double)y.at(int64_t(i)) + bias.at(c);
          bound[i] = rel * double(std::fabs(exact[i])) + store_abs(t);
          if (relu) exact[i] = std::max(exact[i], 0.0L);  // the clamp adds no error
        }
      for_each_isa([&](Isa isa) {
        SCOPED_TRACE(where(isa, t, rows * cols) + " cols=" + std::to_string(cols) + (relu ? " relu" : ""));
        Array out = y;
        add_bias(out.data(), bias.data(), t, rows, cols, relu);
        expect_within(out, exact, bound);
        if (relu) {
          for (int64_t i = 0; i < rows * cols; ++i) ASSERT_FALSE(std::signbit(out.at(i))) << i;  // never -0
        }
      });
    }
}

TEST(Elementwise, AddRoundsTheBinary32SumOnce) {
  for (DType t : kAllTypes)
    for (int64_t n : kSizes) {
      const Array a = with_specials(t, n, uint64_t(n) + 2), b = with_specials(t, n, uint64_t(n) + 3);
      Array expected(t, n);
      for (int64_t i = 0; i < n; ++i) {
        if (t == DType::f64) expected.set(i, a.at(i) + b.at(i));
        else expected.set(i, double(float(a.at(i)) + float(b.at(i))));  // exact in double, rounded once by set
      }
      // IEEE 754 leaves open which payload a sum of two NaNs carries (and a compiler may swap
      // the operands): where the sum is NaN, any NaN will do.
      const auto expect_sum = [&](const Array& out) {
        Array want = expected;
        for (int64_t i = 0; i < n; ++i)
          if (std::isnan(expected.at(i)) && std::isnan(out.at(i))) want.set_bits(i, out.bits(i));
        expect_same_bits(out, want, &a);
      };
      for_each_isa([&](Isa isa) {
        SCOPED_TRACE(where(isa, t, n));
        Array out(t, n);
        add(out.data(), a.data(), b.data(), t, n);
        expect_sum(out);
        Array in_place = a;  // out aliasing an input
        add(in_place.data(), in_place.data(), b.data(), t, n);
        expect_sum(in_place);
      });
    }
}

TEST(Elementwise, ReluIsExact) {
  for (DType t : kAllTypes)
    for (int64_t n : kSizes) {
      const Array x = with_specials(t, n, uint64_t(n)), dy = with_specials(t, n, uint64_t(n) + 1);
      Array expected_y(t, n), expected_dx(t, n);
      for (int64_t i = 0; i < n; ++i) {
        expected_y.set_bits(i, x.at(i) > 0 ? x.bits(i) : 0);    // NaN and -0 give +0
        expected_dx.set_bits(i, x.at(i) > 0 ? dy.bits(i) : 0);  // the gradient's bits, NaN payloads too
      }
      for_each_isa([&](Isa isa) {
        SCOPED_TRACE(where(isa, t, n));
        Array y(t, n), dx(t, n);
        relu_forward(y.data(), x.data(), t, n);
        expect_same_bits(y, expected_y, &x);
        relu_backward(dx.data(), dy.data(), y.data(), t, n);
        expect_same_bits(dx, expected_dx, &dy);
        Array in_place = x;
        relu_forward(in_place.data(), in_place.data(), t, n);
        expect_same_bits(in_place, expected_y, &x);
      });
    }
}

TEST(Elementwise, SumRowsSumsColumnsAndAccumulatesWithBeta) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1},    {7, 33},     {33, 7},   {1000, 7},
                                                {3, 1000}, {100003, 1}, {97, 1031}};
  for (DType t : kAllTypes)
    for (auto [rows, cols] : shapes)
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        const Array x = Array::random(t, rows * cols, uint64_t(rows + cols));
        Array initial = Array::random(t, cols, uint64_t(cols));
        if (beta == 0.0f)  // must not be read
          for (int64_t c = 0; c < cols; ++c) initial.set(c, std::numeric_limits<double>::quiet_NaN());
        std::vector<long double> exact(static_cast<size_t>(cols));
        std::vector<double> bound(static_cast<size_t>(cols));
        for (int64_t c = 0; c < cols; ++c) {
          long double sum = 0, magnitude = 0;
          for (int64_t r = 0; r < rows; ++r) {
            sum += x.at(r * cols + c);
            magnitude += std::fabs(x.at(r * cols + c));
          }
          if (beta != 0.0f) {
            sum += (long double)beta * initial.at(c);
            magnitude += std::fabs(double(beta) * initial.at(c));
          }
          // rows additions and beta's product and addition in binary32, one rounding to T.
          const double accumulated = gamma(rows + 2, compute_u(t)) * double(magnitude);
          exact[size_t(c)] = sum;
          bound[size_t(c)] = accumulated + store_u(t) * (double(std::fabs(sum)) + accumulated) + store_abs(t);
        }
        for_each_isa([&](Isa isa) {
          SCOPED_TRACE(where(isa, t, rows * cols) + " rows=" + std::to_string(rows) + " beta=" + std::to_string(beta));
          Array out = initial;
          sum_rows(out.data(), x.data(), t, rows, cols, beta);
          expect_within(out, exact, bound);
        });
      }
}

TEST(Elementwise, DropoutMatchesTheReferenceMaskAndScale) {
  for (DType t : kAllTypes)
    for (int64_t n : kSizes)
      for (float p : {0.0f, 0.25f, 0.9f}) {
        if (n == 100003 && p != 0.25f) continue;  // time (sanitizer builds); the threaded path is covered
        const uint64_t seed = 77 + uint64_t(n), stream = 5;
        const Array x = Array::random(t, n, uint64_t(n), 0.5, 2.0);  // never zero: kept = nonzero
        Array expected(t, n);
        int64_t kept = 0;
        for (int64_t i = 0; i < n; ++i) {
          const bool keep = uniform_float(Philox4x32::word(seed, stream, uint64_t(i))) >= p;
          kept += keep;
          // The reference's arithmetic: binary32 product (binary64 for f64), one rounding.
          if (!keep)
            expected.set(i, 0.0);
          else if (t == DType::f64)
            expected.set(i, x.at(i) * (1.0 / (1.0 - double(p))));
          else
            expected.set(i, double(float(x.at(i)) * (1.0f / (1.0f - p))));
        }
        // Kept count ~ Binomial(n, 1 - p): within 5 standard deviations (one in 1.7 million).
        EXPECT_NEAR(double(kept) / double(n), 1.0 - p, 5.0 * std::sqrt(p * (1.0 - p) / double(n)) + 1e-12);
        for_each_isa([&](Isa isa) {
          SCOPED_TRACE(where(isa, t, n) + " p=" + std::to_string(p));
          Array y(t, n);
          dropout(y.data(), x.data(), t, n, p, seed, stream);
          expect_same_bits(y, expected, &x);
          if (p == 0.0f) expect_same_bits(y, x);
          int64_t nonzero = 0;
          for (int64_t i = 0; i < n; ++i) nonzero += y.at(i) != 0;
          EXPECT_EQ(nonzero, kept);
        });
      }
  for_each_isa([](Isa) {
    float x = 1.0f, y = 0.0f;
    EXPECT_THROW(dropout(&y, &x, DType::f32, 1, 1.0f, 0, 0), std::invalid_argument);
    EXPECT_THROW(dropout(&y, &x, DType::f32, 1, -0.1f, 0, 0), std::invalid_argument);
  });
}

TEST(Elementwise, CountNonfiniteFindsEachInfinityAndNaN) {
  for (DType t : kAllTypes)
    for (int64_t n : kSizes) {
      Array x = Array::random(t, n, uint64_t(n), -3e4, 3e4);
      const std::vector<uint64_t> specials = special_bits(t);  // [2, 8): infinities and NaNs
      x.set_bits(0, specials[10]);                             // the largest finite value
      const Array mixed = with_specials(t, n, 3);
      int64_t mixed_count = 0;
      for (int64_t i = 0; i < n; ++i) mixed_count += std::isfinite(mixed.at(i)) ? 0 : 1;
      for_each_isa([&](Isa isa) {
        SCOPED_TRACE(where(isa, t, n));
        EXPECT_EQ(count_nonfinite(x.data(), t, n), 0);
        Array one = x;
        for (int64_t at : {int64_t(0), n / 2, n - 1})  // n - 1 lies in every tail
          for (size_t k = 2; k < 8; ++k) {
            if (at != n - 1 && k % 2 == 1) continue;  // time: +inf and NaNs suffice away from the tail
            one.set_bits(at, specials[k]);
            EXPECT_EQ(count_nonfinite(one.data(), t, n), 1) << "at " << at << " bits " << hex(specials[k]);
            one.set_bits(at, x.bits(at));
          }
        EXPECT_EQ(count_nonfinite(mixed.data(), t, n), mixed_count);
      });
    }
}

// ---------------------------------------------------------------------------------------
// Softmax cross-entropy.

struct SoftmaxExpectation {
  long double loss_sum = 0;
  double loss_bound = 0;
  int64_t correct = 0;
  std::vector<long double> grad;
  std::vector<double> grad_bound;
};

// Error analysis of the kernel's binary32 steps, row by row, with d_c = z_c - max exact:
//   d^_c = fl(z_c - max):        |d^_c - d_c| <= u |d_c|
//   e^_c = exp(d^_c)(1 + E):     relative error (e^{u|d_c|} - 1)(1 + E) + E, or 2^-126 flushed
//   D^ = sum e^_c:               + gamma(C, u) D^
//   L^ = log(D^):                |L^ - L| <= -log(1 - eta) + 2u (|L| + ...), eta = dD / D
//   loss = fl(L^ - d^_label):    + u |d_label| + u |result|
//   s^_c = exp(fl(d^_c - L^)):   argument off by alpha_c, relative error (e^alpha_c - 1)(1 + E) + E
//   dz_c = fl_T(fl(g fl(s^_c - t_c))): two binary32 roundings and one to T.
SoftmaxExpectation expect_softmax(const Array& z, const std::vector<int32_t>& labels, int64_t batch, int64_t classes,
                                  float grad_scale) {
  const DType t = z.dtype();
  const double u = compute_u(t), E = exp_error(t), flush = t == DType::f64 ? 0x1.0p-1022 : 0x1.0p-126;
  const double g = std::fabs(double(grad_scale));
  SoftmaxExpectation out;
  out.grad.resize(size_t(batch * classes));
  out.grad_bound.resize(out.grad.size());
  long double loss_magnitude = 0;
  for (int64_t r = 0; r < batch; ++r) {
    long double max = -kInf;
    int64_t arg_max = 0;
    for (int64_t c = 0; c < classes; ++c)
      if (z.at(r * classes + c) > max) {
        max = z.at(r * classes + c);
        arg_max = c;
      }
    out.correct += arg_max == labels[size_t(r)];
    long double denom = 0, denom_error = 0;
    for (int64_t c = 0; c < classes; ++c) {
      const long double d = z.at(r * classes + c) - max, e = std::exp(d);
      denom += e;
      denom_error += e * ((std::expm1(u * double(std::fabs(d)))) * (1 + E) + E) + flush;
    }
    denom_error += gamma(classes, u) * double(denom + denom_error);
    const double eta = double(denom_error / denom);
    const long double log_denom = std::log(denom);
    const double log_error = -std::log1p(-eta) + 2 * u * (double(std::fabs(log_denom)) + 1);
    const long double d_label = z.at(r * classes + labels[size_t(r)]) - max;
    const long double loss = log_denom - d_label;
    out.loss_sum += loss;
    loss_magnitude += std::fabs(loss);
    out.loss_bound += (log_error + u * double(std::fabs(d_label)) +
                       u * (double(std::fabs(log_denom) + std::fabs(d_label)) + log_error + 1)) *
                      (1 + 1e-6);
    for (int64_t c = 0; c < classes; ++c) {
      const size_t i = size_t(r * classes + c);
      const long double d = z.at(int64_t(i)) - max, s = std::exp(d - log_denom), target = c == labels[size_t(r)];
      const double alpha =
          u * double(std::fabs(d)) + log_error + u * (double(std::fabs(d - log_denom)) + log_error + 1);
      const double s_error = double(s) * (std::expm1(alpha) * (1 + E) + E) + flush;
      const double diff = double(std::fabs(s - target));
      const double diff_error = s_error + u * (diff + s_error);
      const double product_error = g * diff_error + u * g * (diff + diff_error);
      out.grad[i] = (long double)grad_scale * (s - target);
      out.grad_bound[i] = (product_error + store_u(t) * (g * diff + product_error)) * (1 + 1e-6) + store_abs(t);
    }
  }
  out.loss_bound += gamma(batch, 0x1.0p-53) * double(loss_magnitude);  // the double sum over rows
  return out;
}

void check_softmax(const Array& z, const std::vector<int32_t>& labels, int64_t batch, int64_t classes,
                   float grad_scale) {
  const SoftmaxExpectation expected = expect_softmax(z, labels, batch, classes, grad_scale);
  for_each_isa([&](Isa isa) {
    SCOPED_TRACE(isa_name(isa));
    Array dz(z.dtype(), batch * classes);
    const SoftmaxXentResult result =
        softmax_cross_entropy(dz.data(), z.data(), labels.data(), z.dtype(), batch, classes, grad_scale);
    EXPECT_LE(double(std::fabs(result.loss_sum - expected.loss_sum)), expected.loss_bound)
        << "loss " << result.loss_sum << " exact " << double(expected.loss_sum);
    EXPECT_TRUE(std::isfinite(result.loss_sum));
    EXPECT_EQ(result.correct, expected.correct);
    expect_within(dz, expected.grad, expected.grad_bound);
    const SoftmaxXentResult loss_only =
        softmax_cross_entropy(nullptr, z.data(), labels.data(), z.dtype(), batch, classes, grad_scale);
    EXPECT_EQ(loss_only.loss_sum, result.loss_sum);
    EXPECT_EQ(loss_only.correct, result.correct);
  });
}

std::vector<int32_t> random_labels(int64_t batch, int64_t classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  for (int32_t& l : labels) l = int32_t(rng() % uint64_t(classes));
  return labels;
}

TEST(Elementwise, SoftmaxCrossEntropyWithinDerivedBounds) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {33, 7}, {7, 33}, {100, 1000}, {2, 100003}};
  for (DType t : kAllTypes)
    for (auto [batch, classes] : shapes) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " batch=" + std::to_string(batch) +
                   " classes=" + std::to_string(classes));
      // Ties are common in fp16/bf16, so the arg-max's first-index rule is exercised too.
      const Array z = Array::random(t, batch * classes, uint64_t(batch + classes), -8.0, 8.0);
      check_softmax(z, random_labels(batch, classes, uint64_t(batch)), batch, classes, 1024.0f);
    }
}

TEST(Elementwise, SoftmaxCrossEntropyOfExtremeFp16LogitsStaysFinite) {
  // Differences of fp16 values, up to 2 * 65504, are exact in binary32, and e^(z - max) <= 1.
  const int64_t classes = 37;
  const std::vector<double> rows[] = {
      {65504, -65504, 0, 65472, 65504, -65504},  // the repeated maximum: the first is the arg-max
      {-65504, -65504, -65472, -65504},
      {65504, 65504, 65504},
      {-65504},
  };
  const int64_t batch = int64_t(std::size(rows));
  Array z(DType::f16, batch * classes);
  std::vector<int32_t> labels;
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t c = 0; c < classes; ++c) z.set(r * classes + c, rows[r][size_t(c) % rows[r].size()]);
    labels.push_back(int32_t(r * 11 % classes));  // various positions, some on -65504
  }
  check_softmax(z, labels, batch, classes, 1.0f);
}

TEST(Elementwise, SoftmaxExponentialIsAccurate) {
  // With logits (0, t) and t < -17, 1 + e^t rounds to 1 in binary32, so log(denominator) is
  // 0 and dlogits[1] = e^t as the kernel's exponential computes it: every reduced argument
  // r in [-ln2/2, ln2/2] occurs, so this checks the polynomial everywhere.
  const int64_t batch = 20000;
  Array z(DType::f32, 2 * batch);
  for (int64_t r = 0; r < batch; ++r) {
    z.set(2 * r, 0.0);
    z.set(2 * r + 1, double(float(-17.0 - 71.0 * double(r) / double(batch))));  // down to -88
  }
  const std::vector<int32_t> labels(size_t(batch), 0);
  for_each_isa([&](Isa isa) {
    SCOPED_TRACE(isa_name(isa));
    Array dz(DType::f32, 2 * batch);
    softmax_cross_entropy(dz.data(), z.data(), labels.data(), DType::f32, batch, 2, 1.0f);
    double worst = 0;
    for (int64_t r = 0; r < batch; ++r) {
      const double exact = std::exp(z.at(2 * r + 1)), got = dz.at(2 * r + 1);
      if (exact < 0x1.0p-126) {  // subnormal results may be flushed to zero
        EXPECT_LE(std::fabs(got - exact), 0x1.0p-126) << z.at(2 * r + 1);
        continue;
      }
      worst = std::max(worst, std::fabs(got - exact) / exact);
    }
    EXPECT_LE(worst, exp_error(DType::f32));
    std::ostringstream worst_text;
    worst_text << worst;
    RecordProperty("worst_exp_relative_error_" + std::string(isa_name(isa)), worst_text.str());
  });
}

TEST(Elementwise, SoftmaxCrossEntropyRejectsLabelsOutOfRange) {
  const float z[3] = {0, 1, 2};
  float dz[3];
  for_each_isa([&](Isa) {
    for (int32_t label : {-1, 3}) {
      EXPECT_THROW(softmax_cross_entropy(dz, z, &label, DType::f32, 1, 3, 1.0f), std::invalid_argument) << label;
    }
  });
}

}  // namespace
}  // namespace pure16::kernels
