// The typed SIMD wrapper for AVX2 + FMA + F16C: eight float lanes (see simd.h for the
// interface). Include only from *_avx2.cpp, which are compiled with those instructions.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/simd.h"
#include "pure16/numerics/float16.h"

namespace pure16::kernels::simd {
// Internal linkage: each ISA's translation unit gets its own copy, so the linker can never
// merge code built for one instruction set into another.
namespace {

struct Avx2 {
  static constexpr int lanes = 8;
  using F = __m256;
  using I = __m256i;
  using M = __m256i;  // all ones or all zeros per 32-bit lane

  // Memory, whole vectors.
  static F load(const float* p, Full) { return _mm256_loadu_ps(p); }
  static F load(const fp16* p, Full) { return _mm256_cvtph_ps(load128(p)); }  // exact; NaN made quiet
  static F load(const bf16* p, Full) { return as_float(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16)); }
  static void store(float* p, F v, Full) { _mm256_storeu_ps(p, v); }
  static void store(fp16* p, F v, Full) { store128(p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
  static void store(bf16* p, F v, Full) { store_bits(p, bf16_bits_rne<Avx2>(v), Full{}); }
  static I load_bits(const float* p, Full) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I load_bits(const fp16* p, Full) { return _mm256_cvtepu16_epi32(load128(p)); }
  static I load_bits(const bf16* p, Full) { return _mm256_cvtepu16_epi32(load128(p)); }
  static void store_bits(float* p, I v, Full) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void store_bits(fp16* p, I v, Full) { store128(p, narrow16(v)); }
  static void store_bits(bf16* p, I v, Full) { store128(p, narrow16(v)); }
  static I load_u32(const uint32_t* p, Full) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store_u32(uint32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  /// p[4 j + k] = word j of the k-th vector (a, b, c, d): 32 words, a 4 x 8 transpose.
  static void store_u32_interleaved4(uint32_t* p, I a, I b, I c, I d) {
    const I ab_lo = _mm256_unpacklo_epi32(a, b), ab_hi = _mm256_unpackhi_epi32(a, b);
    const I cd_lo = _mm256_unpacklo_epi32(c, d), cd_hi = _mm256_unpackhi_epi32(c, d);
    // 128-bit lane L of q_r holds the four words of lane 4 L + r.
    const I q0 = _mm256_unpacklo_epi64(ab_lo, cd_lo), q1 = _mm256_unpackhi_epi64(ab_lo, cd_lo);
    const I q2 = _mm256_unpacklo_epi64(ab_hi, cd_hi), q3 = _mm256_unpackhi_epi64(ab_hi, cd_hi);
    auto* out = reinterpret_cast<__m256i*>(p);
    _mm256_storeu_si256(out, _mm256_permute2x128_si256(q0, q1, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(q2, q3, 0x20));
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(q0, q1, 0x31));
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(q2, q3, 0x31));
  }
  static float first_lane(F v) { return _mm256_cvtss_f32(v); }

  // Memory, the first k.n lanes, the rest zero. Loads are masked: copied through a buffer, the
  // vector load would wait for the small stores before it (no store forwarding), which cost the
  // GEMM half its packing time on short rows. Stores go through a buffer: AVX2 has no 16-bit
  // masked store, and reading back parts of one vector store forwards.
  static F load(const float* p, Partial k) { return _mm256_maskload_ps(p, valid(k)); }
  static F load(const fp16* p, Partial k) { return _mm256_cvtph_ps(load128(p, k)); }
  static F load(const bf16* p, Partial k) {
    return as_float(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p, k)), 16));
  }
  template <class T>
  static void store(T* p, F v, Partial k) {
    T buf[lanes];
    store(buf, v, Full{});
    std::memcpy(p, buf, size_t(k.n) * sizeof(T));
  }
  static I load_bits(const float* p, Partial k) {
    return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), valid(k));
  }
  static I load_bits(const fp16* p, Partial k) { return _mm256_cvtepu16_epi32(load128(p, k)); }
  static I load_bits(const bf16* p, Partial k) { return _mm256_cvtepu16_epi32(load128(p, k)); }
  template <class T>
  static void store_bits(T* p, I v, Partial k) {
    T buf[lanes];
    store_bits(buf, v, Full{});
    std::memcpy(p, buf, size_t(k.n) * sizeof(T));
  }
  static I load_u32(const uint32_t* p, Partial k) {
    return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), valid(k));
  }
  /// The first k.n 16-bit values at p, the rest zero: the pairs by a masked 32-bit load, an odd
  /// last one blended in from a broadcast.
  template <class T>
  static __m128i load128(const T* p, Partial k) {
    static_assert(sizeof(T) == 2);
    const __m128i pairs = _mm_maskload_epi32(reinterpret_cast<const int*>(p),
                                             _mm_cmpgt_epi32(_mm_set1_epi32(k.n / 2), _mm_setr_epi32(0, 1, 2, 3)));
    if (k.n % 2 == 0) return pairs;
    uint16_t last;
    std::memcpy(&last, p + k.n - 1, sizeof last);
    const __m128i at_last = _mm_cmpeq_epi16(_mm_set1_epi16(short(k.n - 1)), _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm_blendv_epi8(pairs, _mm_set1_epi16(short(last)), at_last);
  }
  static M valid(Full) { return _mm256_set1_epi32(-1); }
  static M valid(Partial k) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(k.n), iota()); }

  // Float arithmetic: each an IEEE operation rounded to nearest, as in scalar code.
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  static F max(F a, F b) { return _mm256_max_ps(a, b); }            // b when either is NaN
  static F round(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M gt(F a, F b) { return mask(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static M ge(F a, F b) { return mask(_mm256_cmp_ps(a, b, _CMP_GE_OQ)); }
  static M lt(F a, F b) { return mask(_mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static M eq(F a, F b) { return mask(_mm256_cmp_ps(a, b, _CMP_EQ_OQ)); }
  static M is_nan(F a) { return mask(_mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }
  static F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m)); }  // m ? a : b
  static F as_float(I a) { return _mm256_castsi256_ps(a); }
  static I as_int(F a) { return _mm256_castps_si256(a); }
  static F to_float(I a) { return _mm256_cvtepi32_ps(a); }  // signed int32 -> float
  static I to_int(F a) { return _mm256_cvtps_epi32(a); }    // nearest even (the default MXCSR mode)
  // binary16 bits of a rounded toward zero, one per 32-bit lane
  static I fp16_bits_toward_zero(F a) { return _mm256_cvtepu16_epi32(_mm256_cvtps_ph(a, _MM_FROUND_TO_ZERO)); }

  // 32-bit integer lanes.
  static I iset1(uint32_t x) { return _mm256_set1_epi32(int(x)); }
  static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I isub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I iand(I a, I b) { return _mm256_and_si256(a, b); }
  static I ior(I a, I b) { return _mm256_or_si256(a, b); }
  static I ixor(I a, I b) { return _mm256_xor_si256(a, b); }
  static I imax(I a, I b) { return _mm256_max_epi32(a, b); }  // signed
  template <int k>
  static I srl(I a) {
    return _mm256_srli_epi32(a, k);
  }
  template <int k>
  static I sll(I a) {
    return _mm256_slli_epi32(a, k);
  }
  static I srlv(I a, I count) { return _mm256_srlv_epi32(a, count); }  // counts >= 32 give 0
  static I sllv(I a, I count) { return _mm256_sllv_epi32(a, count); }  // counts >= 32 give 0
  static M ieq(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
  static M igt(I a, I b) { return _mm256_cmpgt_epi32(a, b); }  // signed
  static M iltu(I a, I b) {                                    // unsigned, by flipping the sign bits
    const I flip = _mm256_set1_epi32(int(0x80000000u));
    return _mm256_cmpgt_epi32(_mm256_xor_si256(b, flip), _mm256_xor_si256(a, flip));
  }
  static I iselect(M m, I a, I b) { return _mm256_blendv_epi8(b, a, m); }  // m ? a : b
  /// Philox's multiply: the 64-bit products of the low words of each 64-bit half of a's lanes
  /// with b (the high words of a are ignored).
  static I mul_low_words(I a, uint32_t b) { return _mm256_mul_epu32(a, _mm256_set1_epi32(int(b))); }
  /// The two 32-bit words of each 64-bit half swapped.
  static I swap_words(I a) { return _mm256_shuffle_epi32(a, 0xB1); }
  static I ixor3(I a, I b, I c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
  /// a with its odd lanes taken from b.
  static I blend_odd(I a, I b) { return _mm256_blend_epi32(a, b, 0xAA); }

  // Masks and reductions.
  static M mand(M a, M b) { return _mm256_and_si256(a, b); }
  static M mor(M a, M b) { return _mm256_or_si256(a, b); }
  static M mandnot(M a, M b) { return _mm256_andnot_si256(b, a); }  // a and not b
  static int count(M m) { return __builtin_popcount(unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(m)))); }
  static int first(M m) {  // lowest set lane, -1 if none
    const unsigned bits = unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(m)));
    return bits == 0 ? -1 : __builtin_ctz(bits);
  }
  static float reduce_add(F a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static float reduce_max(F a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
  }

 private:
  static M mask(F cmp) { return _mm256_castps_si256(cmp); }
  template <class T>
  static __m128i load128(const T* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  template <class T>
  static void store128(T* p, __m128i v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
  }
  // Eight 32-bit lanes holding 16-bit values -> eight 16-bit words (no saturation happens).
  static __m128i narrow16(I v) { return _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)); }
};

}  // namespace
}  // namespace pure16::kernels::simd
