// float/double -> fp16/bf16 against an independent reference on at least 10 million inputs
// per conversion.
//
// The reference does not look at bit fields at all: it lists every finite non-negative value
// of the target format in increasing order (as doubles, decoded with ldexp), finds the two
// neighbours of |x| by binary search, and compares |x| with their midpoint, which is exact in
// binary64 (two adjacent 8- or 11-bit significands sum to at most 12 bits). Ties go to the
// even pattern. The pattern after the largest finite value is infinity, valued 2^(emax+1) as
// if the exponent range went on, so overflow is the same midpoint rule (65520 -> inf).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "pure16/numerics/float16.h"

namespace pure16 {
namespace {

#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
constexpr int64_t kSamples = 1'000'000;  // sanitizer and debug builds are ~20x slower
#else
constexpr int64_t kSamples = 10'000'000;
#endif

struct Format {
  int mant_bits;
  int exp_bits;
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  uint16_t inf_bits() const { return uint16_t(((1 << exp_bits) - 1) << mant_bits); }
  uint16_t quiet_bit() const { return uint16_t(1 << (mant_bits - 1)); }
};
constexpr Format kHalf{10, 5};
constexpr Format kBrain{7, 8};

class Reference {
 public:
  explicit Reference(Format f) : format_(f) {
    // values_[bits] for bits = 0 .. inf_bits: increasing with the bit pattern.
    for (uint32_t bits = 0; bits <= f.inf_bits(); ++bits) {
      const int e = int(bits >> f.mant_bits);
      const int m = int(bits & ((1u << f.mant_bits) - 1));
      values_.push_back(e == 0 ? std::ldexp(m, 1 - f.bias() - f.mant_bits)
                               : std::ldexp(m + (1 << f.mant_bits), e - f.bias() - f.mant_bits));
    }
  }

  // Round-to-nearest-even of a non-NaN double; NaN is checked separately.
  uint16_t round(double x) const {
    uint16_t out;
    round_many(&x, &out, 1);
    return out;
  }

  // round() of k non-NaN values at once: the k binary searches run in lockstep, so their
  // memory latencies overlap (the search is ~15 dependent loads each).
  void round_many(const double* x, uint16_t* out, int k) const {
    constexpr int kMax = 16;
    const double* base[kMax];
    double a[kMax];
    for (int j = 0; j < k; ++j) {
      a[j] = std::fabs(x[j]);
      base[j] = values_.data();
    }
    // base[j]: the largest value <= a[j] (values_[0] = 0 <= a[j]), by branch-free bisection.
    for (size_t n = values_.size(); n > 1;) {
      const size_t half = n / 2;
      for (int j = 0; j < k; ++j) base[j] = base[j][half] <= a[j] ? base[j] + half : base[j];
      n -= half;
    }
    for (int j = 0; j < k; ++j) {
      const uint16_t sign = std::signbit(x[j]) ? 0x8000 : 0;
      const size_t lo = size_t(base[j] - values_.data());
      if (lo + 1 >= values_.size()) {  // a >= 2^(emax+1): overflow
        out[j] = sign | format_.inf_bits();
        continue;
      }
      const double mid = (values_[lo] + values_[lo + 1]) / 2;
      const bool up = a[j] > mid || (a[j] == mid && (lo & 1) != 0);
      out[j] = uint16_t(sign | (lo + up));
    }
  }

  // Rounds float/double bit patterns; for NaN: quiet, sign kept, top payload bits kept.
  template <class Bits>
  void round_bits(const Bits* bits, uint16_t* out, int k) const {
    using Float = std::conditional_t<sizeof(Bits) == 4, float, double>;
    constexpr int src_mant = sizeof(Bits) == 4 ? 23 : 52;
    double x[16];
    for (int j = 0; j < k; ++j) {
      const Float v = std::bit_cast<Float>(bits[j]);
      x[j] = std::isnan(v) ? 0.0 : double(v);
    }
    round_many(x, out, k);
    for (int j = 0; j < k; ++j) {
      const Float v = std::bit_cast<Float>(bits[j]);
      if (!std::isnan(v)) continue;
      const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
      const Bits payload = bits[j] & ((Bits(1) << src_mant) - 1);
      out[j] = uint16_t(sign | format_.inf_bits() | format_.quiet_bit() | uint16_t(payload >> (src_mant - format_.mant_bits)));
    }
  }

  // The midpoint between pattern `bits` and the next one (bits < inf_bits).
  double midpoint(uint16_t bits) const { return (values_[bits] + values_[bits + 1]) / 2; }
  uint16_t inf_bits() const { return format_.inf_bits(); }

 private:
  Format format_;
  std::vector<double> values_;
};

// splitmix64: fast, and good enough to spread test inputs.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t next32() { return uint32_t(next() >> 32); }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int64_t range(int64_t lo, int64_t hi) { return lo + int64_t(next() % uint64_t(hi - lo + 1)); }  // [lo, hi]
};

// The input mix for a target format whose finite exponents are [emin - mant, emax]:
//   0: any bit pattern (every exponent, NaN and infinity included)
//   1: any sign and mantissa, exponent within two of the target's range
//   2: uniform values in (-1.01 max, 1.01 max) and in (-1, 1)
//   3: within a few source ulps of a midpoint between two target values (ties, their
//      neighbours; for double sources also points that a float would round onto the tie)
uint32_t float_input(Rng& rng, const Reference& ref, int emin, int emax, double max) {
  switch (rng.next() % 4) {
    case 0: return rng.next32();
    case 1: {
      const int e = int(rng.range(emin - 2, emax + 2));
      const uint32_t field = uint32_t(std::clamp(e + 127, 0, 255));
      return (rng.next32() & 0x807fffffu) | field << 23;
    }
    case 2: {
      const double x = rng.next() & 1 ? (2 * rng.uniform() - 1) * max * 1.01 : 2 * rng.uniform() - 1;
      return std::bit_cast<uint32_t>(float(x));
    }
    default: {
      const uint16_t bits = uint16_t(rng.range(0, ref.inf_bits() - 1));
      uint32_t u = std::bit_cast<uint32_t>(float(ref.midpoint(bits)));  // exact for both targets
      u = uint32_t(int64_t(u) + rng.range(-3, 3));
      return u | (rng.next() & 1 ? 0x80000000u : 0u);
    }
  }
}
uint64_t double_input(Rng& rng, const Reference& ref, int emin, int emax, double max) {
  switch (rng.next() % 4) {
    case 0: return rng.next();
    case 1: {
      const int e = int(rng.range(emin - 2, emax + 2));
      const uint64_t field = uint64_t(std::clamp(e + 1023, 0, 2047));
      return (rng.next() & 0x800fffffffffffffull) | field << 52;
    }
    case 2: {
      const double x = rng.next() & 1 ? (2 * rng.uniform() - 1) * max * 1.01 : 2 * rng.uniform() - 1;
      return std::bit_cast<uint64_t>(x);
    }
    default: {
      const uint16_t bits = uint16_t(rng.range(0, ref.inf_bits() - 1));
      uint64_t u = std::bit_cast<uint64_t>(ref.midpoint(bits));
      // Half the time a few double ulps away, half the time up to 2^30 ulps: still closer to
      // the tie than half a float ulp (2^28 double ulps), so a float would round onto it.
      const int64_t reach = rng.next() & 1 ? 3 : (int64_t(1) << 30);
      u = uint64_t(int64_t(u) + rng.range(-reach, reach));
      return u | (rng.next() & 1 ? 0x8000000000000000ull : 0ull);
    }
  }
}

template <class Bits, class Convert, class Input>
void check_against_reference(const char* what, const Reference& ref, Convert convert, Input input, uint64_t seed) {
  constexpr int kBlock = 16;
  Rng rng{seed};
  int64_t failures = 0, nans = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kSamples; i += kBlock) {
    Bits x[kBlock];
    uint16_t expected[kBlock];
    for (int j = 0; j < kBlock; ++j) x[j] = input(rng);
    ref.round_bits(x, expected, kBlock);
    for (int j = 0; j < kBlock; ++j) {
      const uint16_t got = convert(x[j]);
      nans += (expected[j] & 0x7fff) > ref.inf_bits();
      if (got != expected[j] && ++failures <= 10)
        ADD_FAILURE() << what << ": input bits 0x" << std::hex << uint64_t(x[j]) << " gave 0x" << got << ", expected 0x"
                      << expected[j];
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(failures, 0) << what;
  EXPECT_GT(nans, 0) << what << ": the input mix should include NaNs";
  ::testing::Test::RecordProperty(std::string(what) + "_seconds", std::to_string(seconds));
}

// fp16: exponents [-24, 15], max 65504. bf16: [-133, 127], max ~3.39e38.
const Reference& half_ref() {
  static const Reference r(kHalf);
  return r;
}
const Reference& brain_ref() {
  static const Reference r(kBrain);
  return r;
}

TEST(RoundingReference, FloatToFp16) {
  const Reference& ref = half_ref();
  check_against_reference<uint32_t>(
      "float_to_fp16", ref, [](uint32_t x) { return to_fp16(std::bit_cast<float>(x)).bits; },
      [&](Rng& rng) { return float_input(rng, ref, -24, 15, 65504.0); }, 1);
}

TEST(RoundingReference, FloatToBf16) {
  const Reference& ref = brain_ref();
  check_against_reference<uint32_t>(
      "float_to_bf16", ref, [](uint32_t x) { return to_bf16(std::bit_cast<float>(x)).bits; },
      [&](Rng& rng) { return float_input(rng, ref, -133, 127, 0x1.fep127); }, 2);
}

TEST(RoundingReference, DoubleToFp16) {
  const Reference& ref = half_ref();
  check_against_reference<uint64_t>(
      "double_to_fp16", ref, [](uint64_t x) { return to_fp16(std::bit_cast<double>(x)).bits; },
      [&](Rng& rng) { return double_input(rng, ref, -24, 15, 65504.0); }, 3);
}

TEST(RoundingReference, DoubleToBf16) {
  const Reference& ref = brain_ref();
  check_against_reference<uint64_t>(
      "double_to_bf16", ref, [](uint64_t x) { return to_bf16(std::bit_cast<double>(x)).bits; },
      [&](Rng& rng) { return double_input(rng, ref, -133, 127, 0x1.fep127); }, 4);
}

TEST(RoundingReference, EveryMidpointAndItsNeighbours) {
  // Exhaustive over the tie points: each midpoint, as float and as double, and the nearest
  // floats and doubles on either side.
  for (const Reference* ref : {&half_ref(), &brain_ref()}) {
    const bool half = ref == &half_ref();
    for (uint32_t bits = 0; bits < ref->inf_bits(); ++bits) {
      const double mid = ref->midpoint(uint16_t(bits));
      const float f = float(mid);
      ASSERT_EQ(double(f), mid);
      for (float x : {f, std::nextafter(f, 0.0f), std::nextafter(f, INFINITY), -f}) {
        const uint16_t got = half ? to_fp16(x).bits : to_bf16(x).bits;
        ASSERT_EQ(got, ref->round(x)) << std::hex << "float " << std::bit_cast<uint32_t>(x);
      }
      for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, INFINITY), -mid}) {
        const uint16_t got = half ? to_fp16(x).bits : to_bf16(x).bits;
        ASSERT_EQ(got, ref->round(x)) << std::hex << "double " << std::bit_cast<uint64_t>(x);
      }
    }
  }
}

TEST(RoundingReference, ReferenceSelfCheck) {
  // The reference agrees with the hand-derived boundary values.
  const Reference& h = half_ref();
  EXPECT_EQ(h.round(65504.0), 0x7bff);
  EXPECT_EQ(h.round(65519.99), 0x7bff);
  EXPECT_EQ(h.round(65520.0), 0x7c00);
  EXPECT_EQ(h.round(0x1.0p-25), 0x0000);
  EXPECT_EQ(h.round(0x1.0p-24), 0x0001);
  EXPECT_EQ(h.round(-0x1.8p-24), 0x8002);
  EXPECT_EQ(h.round(1.0 + 0x1.0p-11), 0x3c00);
  EXPECT_EQ(h.round(-0.0), 0x8000);
  const Reference& b = brain_ref();
  EXPECT_EQ(b.round(1.0), 0x3f80);
  EXPECT_EQ(b.round(0x1.0p-133), 0x0001);
  EXPECT_EQ(b.round(0x1.ffp127), 0x7f80);
}

}  // namespace
}  // namespace pure16
