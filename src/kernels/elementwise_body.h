// The vector variants of the element-wise ops, written once as templates over a SIMD wrapper
// S (simd.h) and instantiated by each ISA's translation unit (elementwise_avx2.cpp,
// elementwise_avx512.cpp) through register_vector_elementwise<S>.
//
// Every variant computes what the scalar reference (elementwise_scalar.cpp) computes, lane by
// lane, in the same binary32 operations, so most results are bit-identical to it: convert,
// convert_stochastic, add_bias, relu_*, sum_rows (each column still sums its rows in order),
// dropout and count_nonfinite (the tests demand it of all but add_bias and sum_rows, which
// they hold to error bounds, leaving room to reorder). Only softmax_cross_entropy differs in
// its last bits: its exponential is the polynomial below instead of libm's, and the row sum
// is reordered across lanes. f64, a reference dtype, is forwarded to the scalar reference.
//
// Loop tails run the same code on a Partial count (masked or staged loads and stores).
// Large arrays are split over OpenMP threads above the reference's threshold; Philox words
// are a pure function of the element index, so the split changes no result.
//
// Include only from ISA translation units. Everything here has internal linkage: the same
// template built with AVX2 flags and with AVX-512 flags must stay two separate copies.
#pragma once

#include <math.h>  // logf: the C function, not an inline C++ overload built with this TU's flags
#include <omp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/elementwise_reference.h"
#include "kernels/kernel_table.h"
#include "kernels/simd.h"

namespace pure16::kernels::simd {
namespace {

constexpr int64_t kChunk = 1 << 13;              // elements per OpenMP work item
constexpr int64_t kWordBatch = 1 << 10;          // elements whose Philox words are made at once
constexpr int64_t kColumnBlock = 256;            // sum_rows: columns per accumulator block

/// Calls body(i, count) for i = begin, begin + lanes, ... < end; count is Full{} for whole
/// vectors and Partial{n} for the last, shorter one.
template <class S, class Body>
void sweep(int64_t begin, int64_t end, Body&& body) {
  int64_t i = begin;
  for (; i + S::lanes <= end; i += S::lanes) body(i, Full{});
  if (i < end) body(i, Partial{int(end - i)});
}

/// Calls body(i) for i in [0, count), split over threads when `work` elements justify it. Small
/// calls, and calls from inside a parallel region (Winograd's transforms convert a tile's pixels),
/// enter no region at all: even an inactive one costs about a microsecond.
template <class Body>
void parallel_for(int64_t count, int64_t work, Body&& body) {
  if (work <= kParallelThreshold || omp_in_parallel()) {
    for (int64_t i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) body(i);
}

/// Calls body(begin, end) on consecutive chunks of [0, n).
template <class Body>
void parallel_chunks(int64_t n, Body&& body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, n, [&](int64_t c) { body(c * kChunk, c + 1 == chunks ? n : (c + 1) * kChunk); });
}

/// Calls f(TypeTag<T>{}) for the storage types the vector variants handle (not f64).
template <class Fn>
decltype(auto) dispatch_vector(DType dtype, Fn&& f) {
  switch (dtype) {
    case DType::f16: return f(TypeTag<fp16>{});
    case DType::bf16: return f(TypeTag<bf16>{});
    default: return f(TypeTag<float>{});
  }
}

// ---------------------------------------------------------------------------------------
// Philox4x32-10 (numerics/philox.h), one counter block per lane.

/// The four words of counter blocks block0 .. block0 + G * S::lanes - 1 to out in element order.
/// G vectors of blocks run their rounds interleaved, so that one's multiplies overlap another's
/// wait for its previous round; three measured faster than two and than one.
template <class S, int G>
void philox_vectors(uint32_t* out, uint64_t key, uint64_t stream, uint64_t block0) {
  using I = typename S::I;
  // x[g][k]: word k of each lane's block. The multiplies take the even lanes' words; the odd
  // lanes' are swapped into those places for a second multiply, and the products' halves
  // blended back into lane order, so four vectors hold the state of a vector of blocks and three
  // groups nearly fit AVX2's 16 registers. (Eight half-used vectors a group, no blends, spilled
  // there: the AVX2 SGD sweep with stochastic weights took 864 us against 703 now; on AVX-512,
  // which did not spill, 370 against 398 now. 670k parameters, one thread.)
  I x[G][4];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    // The counter's low 64 bits are the block index, which an element index (64 bits, >> 2)
    // keeps below 2^62: the carry into the high word is masked to those bits.
    const uint64_t first = (block0 + uint64_t(g * S::lanes)) & ((uint64_t(1) << 62) - 1);
    const I first_lo = S::iset1(uint32_t(first));
    x[g][0] = S::iadd(first_lo, S::iota());
    x[g][1] = S::iand(
        S::iselect(S::iltu(x[g][0], first_lo), S::iset1(uint32_t(first >> 32) + 1), S::iset1(uint32_t(first >> 32))),
        S::iset1(0x3fffffffu));
    x[g][2] = S::iset1(uint32_t(stream));
    x[g][3] = S::iset1(uint32_t(stream >> 32));
  }
  // The 32 x 32 -> 64-bit product of each lane's word with m: its low and high words, lane by lane.
  const auto multiply = [](I a, uint32_t m, I& lo, I& hi) {
    const I even = S::mul_low_words(a, m), odd = S::mul_low_words(S::swap_words(a), m);
    lo = S::blend_odd(even, S::swap_words(odd));
    hi = S::blend_odd(S::swap_words(even), odd);
  };
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
#pragma GCC unroll 10
  for (int r = 0; r < 10; ++r) {
    const I key0 = S::iset1(k0), key1 = S::iset1(k1);
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      I* v = x[g];
      I lo0, hi0, lo1, hi1;
      multiply(v[0], 0xD2511F53u, lo0, hi0);
      multiply(v[2], 0xCD9E8D57u, lo1, hi1);
      v[0] = S::ixor3(hi1, v[1], key0);
      v[1] = lo1;
      v[2] = S::ixor3(hi0, v[3], key1);
      v[3] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) S::store_u32_interleaved4(out + 4 * g * S::lanes, x[g][0], x[g][1], x[g][2], x[g][3]);
}

/// Writes the four words of each counter block block0, block0 + 1, ... (at least nblocks of
/// them, rounded up to whole vectors) to out in element order: out[4 j + k] is word k of
/// block block0 + j, that is Philox4x32::word(key, stream, 4 (block0 + j) + k).
template <class S>
void philox_blocks(uint32_t* out, uint64_t key, uint64_t stream, uint64_t block0, int64_t nblocks) {
  int64_t b = 0;
  for (; b + 2 * S::lanes < nblocks; b += 3 * S::lanes) philox_vectors<S, 3>(out + 4 * b, key, stream, block0 + uint64_t(b));
  for (; b < nblocks; b += S::lanes) philox_vectors<S, 1>(out + 4 * b, key, stream, block0 + uint64_t(b));
}

/// Calls body(i, count, words) over [begin, end) like sweep, where words[s] points at the
/// Philox words of elements i, i + 1, ... in stream streams[s]: word(key, streams[s], first_index + i).
template <class S, size_t N, class Body>
void sweep_with_words(int64_t begin, int64_t end, uint64_t key, const std::array<uint64_t, N>& streams,
                      uint64_t first_index, Body&& body) {
  // Up to 3 words before the first element (its block's start) and whole vectors of blocks.
  uint32_t words[N][kWordBatch + 8 + 4 * S::lanes];
  for (int64_t b = begin; b < end; b += kWordBatch) {
    const int64_t e = b + kWordBatch < end ? b + kWordBatch : end;
    const uint64_t index = first_index + uint64_t(b);
    const int64_t offset = int64_t(index & 3);
    for (size_t s = 0; s < N; ++s) philox_blocks<S>(words[s], key, streams[s], index >> 2, (offset + (e - b) + 3) / 4);
    sweep<S>(b, e, [&](int64_t i, auto count) {
      std::array<const uint32_t*, N> at;
      for (size_t s = 0; s < N; ++s) at[s] = words[s] + offset + (i - b);
      body(i, count, at);
    });
  }
}

// ---------------------------------------------------------------------------------------
// Stochastic rounding, lane by lane what detail::round_binary<..., true> does.

/// binary16 bits of x rounded up in magnitude with probability (dropped part) / (one ulp),
/// the dropped part compared with the top bits of `random`.
template <class S>
typename S::I fp16_bits_stochastic(typename S::F x, typename S::I random) {
  using I = typename S::I;
  const I zero = S::iset1(0);
  const I bits = S::as_int(x);
  // Where every lane's result is a binary16 normal below 2^15, or x is zero, exactly the low 13
  // bits of x are dropped: adding 0x1fff - r to them (r the top 13 bits of random) carries into
  // the kept bits exactly when r < dropped, and the conversion toward zero keeps the top bits.
  // Below 2^15 that carry cannot reach infinity. A third of the general path's instructions.
  const I magnitude = S::iand(bits, S::iset1(0x7fffffffu));
  const auto fast = S::mor(S::mand(S::igt(magnitude, S::iset1(0x387fffffu)), S::igt(S::iset1(0x47000000u), magnitude)),
                           S::ieq(magnitude, zero));
  const auto normal_bits = [&] {
    return S::fp16_bits_toward_zero(S::as_float(S::iadd(bits, S::template srl<19>(S::ixor(random, S::iset1(~0u))))));
  };
  if (S::count(fast) == S::lanes) return normal_bits();
  const I sign = S::template srl<16>(S::iand(bits, S::iset1(0x80000000u)));
  const I biased = S::template srl<23>(magnitude);
  const I mant = S::iand(bits, S::iset1(0x007fffffu));
  // Results below 2^-14 from x in [2^-32, 2^-14) (momenta often hold such values) drop
  // shift = 126 - biased exponent bits of the significand, 14 to 31: the same carry, with r the
  // top `shift` bits of random, gives the subnormal field, and a carry out of it the smallest
  // normal. Lanes of both kinds still avoid the general path below.
  const auto small = S::mand(S::igt(magnitude, S::iset1(0x2f7fffffu)), S::igt(S::iset1(0x38800000u), magnitude));
  if (S::count(S::mor(fast, small)) == S::lanes) {
    const I shift = S::isub(S::iset1(126), biased);
    const I significand = S::ior(mant, S::iset1(0x00800000u));
    const I carried = S::iadd(significand, S::srlv(S::ixor(random, S::iset1(~0u)), S::isub(S::iset1(32), shift)));
    return S::iselect(small, S::ior(sign, S::srlv(carried, shift)), normal_bits());
  }
  // value = significand * 2^(biased' - 150), biased' = max(biased, 1) (subnormals share 1).
  const I significand = S::iselect(S::ieq(biased, zero), mant, S::ior(mant, S::iset1(0x00800000u)));
  const I biased1 = S::imax(biased, S::iset1(1));
  // 13 bits are dropped for a binary16 normal (biased' >= 113, i.e. >= 2^-14), one more for
  // each binade below; counts >= 32 shift everything out, as the reference's early returns.
  const I shift = S::iadd(S::iset1(13), S::imax(S::isub(S::iset1(113), biased1), zero));
  const I kept = S::srlv(significand, shift);
  const I dropped = S::isub(significand, S::sllv(kept, shift));
  // Round up when r < dropped with r the top `shift` bits of random; past 32 dropped bits,
  // when random < the top 32 bits of dropped.
  const I r = S::srlv(random, S::imax(S::isub(S::iset1(32), shift), zero));
  const I d = S::srlv(dropped, S::imax(S::isub(shift, S::iset1(32)), zero));
  const I up = S::iselect(S::iltu(r, d), S::iset1(1), zero);
  // A normal result's `kept` holds the implicit bit, which adds one to the exponent field;
  // a carry out of the mantissa moves into the exponent by itself.
  const I exponent_field =
      S::iselect(S::igt(biased1, S::iset1(112)), S::template sll<10>(S::isub(biased1, S::iset1(113))), zero);
  I field = S::iadd(S::iadd(exponent_field, kept), up);
  field = S::iselect(S::mor(S::igt(biased, S::iset1(142)), S::igt(field, S::iset1(0x7bff))), S::iset1(0x7c00), field);
  // Infinity stays infinity; NaN keeps its top payload bits and is made quiet.
  const I special = S::ior(S::iset1(0x7c00),
                           S::iselect(S::ieq(mant, zero), zero, S::ior(S::iset1(0x200), S::template srl<13>(mant))));
  field = S::iselect(S::ieq(biased, S::iset1(255)), special, field);
  return S::ior(sign, field);
}

/// bfloat16 bits of x rounded stochastically: 16 bits are always dropped (bfloat16 has the
/// binary32 exponent range), so the kept half goes up by one when random's top half is below
/// the dropped half; the carry reaches infinity past the largest finite value.
template <class S>
typename S::I bf16_bits_stochastic(typename S::F x, typename S::I random) {
  const typename S::I bits = S::as_int(x);
  const typename S::I high = S::template srl<16>(bits);
  const typename S::I up =
      S::iselect(S::iltu(S::template srl<16>(random), S::iand(bits, S::iset1(0xffff))), S::iset1(1), S::iset1(0));
  return S::iselect(S::is_nan(x), S::ior(high, S::iset1(0x40)), S::iadd(high, up));
}

// ---------------------------------------------------------------------------------------
// exp for the softmax.

/// e^x for x <= 0 (and NaN), relative error under 2^-22 (tested), 0 below ln 2^-126 where
/// e^x is subnormal (absolute error < 2^-126). Cephes expf (S. Moshier): x = n ln 2 + r with
/// |r| <= ln 2 / 2, ln 2 split in two so that n ln 2 is exact to 2^-32, e^r = 1 + r + r^2 p(r).
template <class S>
typename S::F exp_nonpositive(typename S::F x) {
  using F = typename S::F;
  const F lowest = S::set1(-87.33654475f);  // ln(2^-126)
  const auto underflow = S::lt(x, lowest);
  x = S::max(lowest, x);  // NaN stays NaN: max returns its second operand then
  const F n = S::round(S::mul(x, S::set1(1.44269504088896341f)));
  F r = S::fma(n, S::set1(-0.693359375f), x);
  r = S::fma(n, S::set1(2.12194440e-4f), r);
  F p = S::set1(1.9875691500e-4f);
  p = S::fma(p, r, S::set1(1.3981999507e-3f));
  p = S::fma(p, r, S::set1(8.3334519073e-3f));
  p = S::fma(p, r, S::set1(4.1665795894e-2f));
  p = S::fma(p, r, S::set1(1.6666665459e-1f));
  p = S::fma(p, r, S::set1(5.0000001201e-1f));
  const F y = S::add(S::fma(p, S::mul(r, r), r), S::set1(1.0f));
  // 2^n with n in [-126, 0]: a normal binary32, built in its exponent field.
  const F scale = S::as_float(S::template sll<23>(S::iadd(S::to_int(n), S::iset1(127))));
  return S::select(underflow, S::zero(), S::mul(y, scale));
}

// ---------------------------------------------------------------------------------------
// The ops, in the order of pure16/kernels/elementwise.h.

template <class S>
void convert(void* dst, DType dst_type, const void* src, DType src_type, int64_t n) {
  if (dst_type == DType::f64 || src_type == DType::f64) return convert_ref(dst, dst_type, src, src_type, n);
  dispatch_vector(src_type, [&](auto src_tag) {
    using Src = typename decltype(src_tag)::type;
    dispatch_vector(dst_type, [&](auto dst_tag) {
      using Dst = typename decltype(dst_tag)::type;
      const Src* in = static_cast<const Src*>(src);
      Dst* out = static_cast<Dst*>(dst);
      // quiet: the reference converts through binary64, which makes every NaN quiet, even
      // from f32 to f32; the fp16 and bf16 stores make NaN quiet by themselves.
      parallel_chunks(n, [&](int64_t begin, int64_t end) {
        sweep<S>(begin, end,
                 [&](int64_t i, auto count) { S::store(out + i, quiet<S>(S::load(in + i, count)), count); });
      });
    });
  });
}

template <class S>
void convert_stochastic(void* dst, DType dst_type, const float* src, int64_t n, uint64_t seed, uint64_t stream,
                        uint64_t first_index) {
  if (dst_type != DType::f16 && dst_type != DType::bf16)  // f32 is a copy; f64 is refused there
    return convert_stochastic_ref(dst, dst_type, src, n, seed, stream, first_index);
  dispatch_vector(dst_type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(dst);
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      sweep_with_words<S>(begin, end, seed, std::array{stream}, first_index, [&](int64_t i, auto count, auto words) {
        const auto x = S::load(src + i, count);
        const auto random = S::load_u32(words[0], count);
        if constexpr (std::is_same_v<T, fp16>)
          S::store_bits(out + i, fp16_bits_stochastic<S>(x, random), count);
        else
          S::store_bits(out + i, bf16_bits_stochastic<S>(x, random), count);
      });
    });
  });
}

template <class S>
void add(void* out, const void* a, const void* b, DType dtype, int64_t n) {
  if (dtype == DType::f64) return add_ref(out, a, b, dtype, n);
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = static_cast<T*>(out);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      sweep<S>(begin, end,
               [&](int64_t i, auto count) { S::store(o + i, S::add(S::load(pa + i, count), S::load(pb + i, count)), count); });
    });
  });
}

template <class S>
void add_bias(void* y, const void* bias, DType dtype, int64_t rows, int64_t cols, bool relu) {  // y: (rows, cols)
  if (dtype == DType::f64) return add_bias_ref(y, bias, dtype, rows, cols, relu);
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(y);
    const T* b = static_cast<const T*>(bias);
    parallel_for(rows, rows * cols, [&](int64_t r) {
      T* row = out + r * cols;
      sweep<S>(0, cols, [&](int64_t c, auto count) {
        const auto v = S::add(S::load(row + c, count), S::load(b + c, count));
        S::store(row + c, relu ? S::select(S::gt(v, S::zero()), v, S::zero()) : v, count);
      });
    });
  });
}

template <class S>
void relu_forward(void* y, const void* x, DType dtype, int64_t n) {
  if (dtype == DType::f64) return relu_forward_ref(y, x, dtype, n);
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(y);
    const T* in = static_cast<const T*>(x);
    // Kept values are not NaN and are exact in T, so storing them rounds to the same bits.
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      sweep<S>(begin, end, [&](int64_t i, auto count) {
        const auto v = S::load(in + i, count);
        S::store(out + i, S::select(S::gt(v, S::zero()), v, S::zero()), count);
      });
    });
  });
}

template <class S>
void relu_backward(void* dx, const void* dy, const void* y, DType dtype, int64_t n) {
  if (dtype == DType::f64) return relu_backward_ref(dx, dy, y, dtype, n);
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(dx);
    const T* grad = static_cast<const T*>(dy);
    const T* act = static_cast<const T*>(y);
    // The gradient passes as raw bits, so even a signaling NaN comes through unchanged.
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      sweep<S>(begin, end, [&](int64_t i, auto count) {
        const auto keep = S::gt(S::load(act + i, count), S::zero());
        S::store_bits(out + i, S::iselect(keep, S::load_bits(grad + i, count), S::iset1(0)), count);
      });
    });
  });
}

template <class S>
void sum_rows(void* out, const void* x, DType dtype, int64_t rows, int64_t cols, float beta) {  // x: (rows, cols)
  if (dtype == DType::f64) return sum_rows_ref(out, x, dtype, rows, cols, beta);
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = static_cast<T*>(out);
    const T* in = static_cast<const T*>(x);
    // Each column sums its rows top to bottom, as the reference does; a block of columns
    // keeps its binary32 sums in a small buffer that stays in L1 while the rows stream by.
    const int64_t blocks = (cols + kColumnBlock - 1) / kColumnBlock;
    parallel_for(blocks, rows * cols, [&](int64_t block) {
      const int64_t c0 = block * kColumnBlock;
      const int64_t width = cols - c0 < kColumnBlock ? cols - c0 : kColumnBlock;
      float sum[kColumnBlock];
      sweep<S>(0, width, [&](int64_t c, auto count) { S::store(sum + c, S::zero(), count); });
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = in + r * cols + c0;
        sweep<S>(0, width, [&](int64_t c, auto count) {
          S::store(sum + c, S::add(S::load(sum + c, count), S::load(row + c, count)), count);
        });
      }
      sweep<S>(0, width, [&](int64_t c, auto count) {
        auto total = S::load(sum + c, count);
        // beta == 0 must not read out: it may hold anything, NaN included.
        if (beta != 0.0f) total = S::add(total, S::mul(S::set1(beta), S::load(o + c0 + c, count)));
        S::store(o + c0 + c, total, count);
      });
    });
  });
}

template <class S>
void dropout(void* y, const void* x, DType dtype, int64_t n, float p, uint64_t seed, uint64_t stream) {
  if (dtype == DType::f64) return dropout_ref(y, x, dtype, n, p, seed, stream);
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(y);
    const T* in = static_cast<const T*>(x);
    const float keep_scale = 1.0f / (1.0f - p);
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      sweep_with_words<S>(begin, end, seed, std::array{stream}, 0, [&](int64_t i, auto count, auto words) {
        // uniform_float: the top 24 bits of the word times 2^-24, exact in binary32.
        const auto uniform = S::mul(S::to_float(S::template srl<8>(S::load_u32(words[0], count))), S::set1(0x1.0p-24f));
        const auto kept = S::mul(S::load(in + i, count), S::set1(keep_scale));
        S::store(out + i, S::select(S::ge(uniform, S::set1(p)), kept, S::zero()), count);
      });
    });
  });
}

template <class S>
int64_t count_nonfinite(const void* x, DType dtype, int64_t n) {
  if (dtype == DType::f64) return count_nonfinite_ref(x, dtype, n);
  return dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x);
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    int64_t total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > kParallelThreshold)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t end = c + 1 == chunks ? n : (c + 1) * kChunk;
      int64_t count_here = 0;
      // Infinity and NaN have an all-ones exponent, also once widened to binary32; the
      // zeros a Partial load reads are finite.
      const auto exponent = S::iset1(0x7f800000u);
      sweep<S>(c * kChunk, end, [&](int64_t i, auto count) {
        count_here += S::count(S::ieq(S::iand(S::as_int(S::load(in + i, count)), exponent), exponent));
      });
      total += count_here;
    }
    return total;
  });
}

template <class S>
SoftmaxXentResult softmax_cross_entropy(void* dlogits, const void* logits, const int32_t* labels, DType dtype,
                                        int64_t batch, int64_t classes, float grad_scale) {  // logits: (batch, classes)
  if (dtype == DType::f64) return softmax_cross_entropy_ref(dlogits, logits, labels, dtype, batch, classes, grad_scale);
  return dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using F = typename S::F;
    using I = typename S::I;
    const T* z = static_cast<const T*>(logits);
    T* dz = static_cast<T*>(dlogits);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    double loss_sum = 0;
    int64_t correct = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss_sum, correct) if (batch * classes > kParallelThreshold)
    for (int64_t r = 0; r < batch; ++r) {
      const T* row = z + r * classes;
      // Row maximum and the first column holding it (NaN never compares greater), each lane
      // keeping its first maximum, then the lanes merged in column order.
      F lane_max = S::set1(-kInf);
      I lane_arg = S::iset1(0);
      sweep<S>(0, classes, [&](int64_t c, auto count) {
        const F v = S::select(S::valid(count), S::load(row + c, count), S::set1(-kInf));
        const auto greater = S::gt(v, lane_max);
        lane_max = S::select(greater, v, lane_max);
        lane_arg = S::iselect(greater, S::iadd(S::iset1(uint32_t(c)), S::iota()), lane_arg);
      });
      float maxima[S::lanes];
      uint32_t args[S::lanes];
      S::store(maxima, lane_max, Full{});
      S::store_u32(args, lane_arg);
      float max = -kInf;
      int64_t arg_max = 0;
      for (int l = 0; l < S::lanes; ++l) {
        if (maxima[l] > max) {
          max = maxima[l];
          arg_max = args[l];
        } else if (maxima[l] == max && int64_t(args[l]) < arg_max) {
          arg_max = args[l];
        }
      }
      // Denominator: sum of e^(z - max) over the row, each term in (0, 1], one of them 1.
      const F shift = S::set1(max);
      F lane_sum = S::zero();
      sweep<S>(0, classes, [&](int64_t c, auto count) {
        const F e = exp_nonpositive<S>(S::sub(S::load(row + c, count), shift));
        lane_sum = S::add(lane_sum, S::select(S::valid(count), e, S::zero()));
      });
      const float log_denom = logf(S::reduce_add(lane_sum));
      const float label_logit = S::first_lane(S::load(row + labels[r], Partial{1}));
      loss_sum += double(log_denom - (label_logit - max));
      correct += arg_max == labels[r] ? 1 : 0;
      if (dz != nullptr) {
        T* drow = dz + r * classes;
        const F log_shift = S::set1(log_denom);
        const F scale = S::set1(grad_scale);
        const I label = S::iset1(uint32_t(labels[r]));
        sweep<S>(0, classes, [&](int64_t c, auto count) {
          const F softmax = exp_nonpositive<S>(S::sub(S::sub(S::load(row + c, count), shift), log_shift));
          const F target =
              S::select(S::ieq(S::iadd(S::iset1(uint32_t(c)), S::iota()), label), S::set1(1.0f), S::zero());
          S::store(drow + c, S::mul(scale, S::sub(softmax, target)), count);
        });
      }
    }
    return SoftmaxXentResult{loss_sum, correct};
  });
}

/// Fills the table with the variants built on wrapper S, reported as level `isa`.
template <class S>
void register_vector_elementwise(KernelTable& table, Isa isa) {
  table.convert.set(convert<S>, isa);
  table.convert_stochastic.set(convert_stochastic<S>, isa);
  table.add.set(add<S>, isa);
  table.add_bias.set(add_bias<S>, isa);
  table.relu_forward.set(relu_forward<S>, isa);
  table.relu_backward.set(relu_backward<S>, isa);
  table.sum_rows.set(sum_rows<S>, isa);
  table.dropout.set(dropout<S>, isa);
  table.count_nonfinite.set(count_nonfinite<S>, isa);
  table.softmax_cross_entropy.set(softmax_cross_entropy<S>, isa);
}

}  // namespace
}  // namespace pure16::kernels::simd
