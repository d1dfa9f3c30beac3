// The typed SIMD wrapper for AVX-512 F/BW/VL/DQ: sixteen float lanes (see simd.h for the
// interface). Include only from *_avx512*.cpp, which are compiled with those instructions.
#pragma once

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (`__m512i __Y = __Y;`), which
// -Wmaybe-uninitialized reports at every use once inlined (GCC bug 105593, fixed in 12.3).
// Include this header before anything else includes <immintrin.h>.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/simd.h"
#include "pure16/numerics/float16.h"

namespace pure16::kernels::simd {
// Internal linkage: each ISA's translation unit gets its own copy, so the linker can never
// merge code built for one instruction set into another.
namespace {

struct Avx512 {
  static constexpr int lanes = 16;
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;

  // Memory, whole vectors.
  static F load(const float* p, Full) { return _mm512_loadu_ps(p); }
  static F load(const fp16* p, Full) { return _mm512_cvtph_ps(load256(p)); }  // exact; NaN made quiet
  static F load(const bf16* p, Full) { return as_float(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(p)), 16)); }
  static void store(float* p, F v, Full) { _mm512_storeu_ps(p, v); }
  static void store(fp16* p, F v, Full) { store256(p, to_fp16_bits(v)); }
  static void store(bf16* p, F v, Full) { store256(p, _mm512_cvtepi32_epi16(bf16_bits_rne<Avx512>(v))); }
  static I load_bits(const float* p, Full) { return _mm512_loadu_si512(p); }
  static I load_bits(const fp16* p, Full) { return _mm512_cvtepu16_epi32(load256(p)); }
  static I load_bits(const bf16* p, Full) { return _mm512_cvtepu16_epi32(load256(p)); }
  static void store_bits(float* p, I v, Full) { _mm512_storeu_si512(p, v); }
  static void store_bits(fp16* p, I v, Full) { store256(p, _mm512_cvtepi32_epi16(v)); }
  static void store_bits(bf16* p, I v, Full) { store256(p, _mm512_cvtepi32_epi16(v)); }
  static I load_u32(const uint32_t* p, Full) { return _mm512_loadu_si512(p); }
  static void store_u32(uint32_t* p, I v) { _mm512_storeu_si512(p, v); }
  /// p[4 j + k] = word j of the k-th vector (a, b, c, d): 64 words, a 4 x 16 transpose.
  static void store_u32_interleaved4(uint32_t* p, I a, I b, I c, I d) {
    const I ab_lo = _mm512_unpacklo_epi32(a, b), ab_hi = _mm512_unpackhi_epi32(a, b);
    const I cd_lo = _mm512_unpacklo_epi32(c, d), cd_hi = _mm512_unpackhi_epi32(c, d);
    // 128-bit lane L of q[r] holds the four words of lane 4 L + r.
    const I q[4] = {_mm512_unpacklo_epi64(ab_lo, cd_lo), _mm512_unpackhi_epi64(ab_lo, cd_lo),
                    _mm512_unpacklo_epi64(ab_hi, cd_hi), _mm512_unpackhi_epi64(ab_hi, cd_hi)};
    for (int half = 0; half < 2; ++half) {  // lanes 0-1 of each q, then lanes 2-3
      const I x = half == 0 ? _mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(1, 0, 1, 0))
                            : _mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(3, 2, 3, 2));
      const I y = half == 0 ? _mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(1, 0, 1, 0))
                            : _mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(3, 2, 3, 2));
      _mm512_storeu_si512(p + 32 * half, _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0)));
      _mm512_storeu_si512(p + 32 * half + 16, _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
    }
  }
  static float first_lane(F v) { return _mm512_cvtss_f32(v); }

  // Memory, the first k.n lanes, by masked moves (masked-off lanes are never touched).
  static F load(const float* p, Partial k) { return _mm512_maskz_loadu_ps(valid(k), p); }
  static F load(const fp16* p, Partial k) { return _mm512_cvtph_ps(load256(p, k)); }
  static F load(const bf16* p, Partial k) {
    return as_float(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(p, k)), 16));
  }
  static void store(float* p, F v, Partial k) { _mm512_mask_storeu_ps(p, valid(k), v); }
  static void store(fp16* p, F v, Partial k) { store256(p, to_fp16_bits(v), k); }
  static void store(bf16* p, F v, Partial k) { store256(p, _mm512_cvtepi32_epi16(bf16_bits_rne<Avx512>(v)), k); }
  static I load_bits(const float* p, Partial k) { return _mm512_maskz_loadu_epi32(valid(k), p); }
  static I load_bits(const fp16* p, Partial k) { return _mm512_cvtepu16_epi32(load256(p, k)); }
  static I load_bits(const bf16* p, Partial k) { return _mm512_cvtepu16_epi32(load256(p, k)); }
  static void store_bits(float* p, I v, Partial k) { _mm512_mask_storeu_epi32(p, valid(k), v); }
  static void store_bits(fp16* p, I v, Partial k) { store256(p, _mm512_cvtepi32_epi16(v), k); }
  static void store_bits(bf16* p, I v, Partial k) { store256(p, _mm512_cvtepi32_epi16(v), k); }
  static I load_u32(const uint32_t* p, Partial k) { return _mm512_maskz_loadu_epi32(valid(k), p); }
  static M valid(Full) { return M(0xffff); }
  static M valid(Partial k) { return M((1u << k.n) - 1); }

  // Float arithmetic: each an IEEE operation rounded to nearest, as in scalar code.
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F sqrt(F a) { return _mm512_sqrt_ps(a); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  static F max(F a, F b) { return _mm512_max_ps(a, b); }            // b when either is NaN
  static F round(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M is_nan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }  // m ? a : b
  static F as_float(I a) { return _mm512_castsi512_ps(a); }
  static I as_int(F a) { return _mm512_castps_si512(a); }
  static F to_float(I a) { return _mm512_cvtepi32_ps(a); }  // signed int32 -> float
  static I to_int(F a) { return _mm512_cvtps_epi32(a); }    // nearest even (the default MXCSR mode)
  // binary16 bits of a rounded toward zero, one per 32-bit lane
  static I fp16_bits_toward_zero(F a) {
    return _mm512_cvtepu16_epi32(_mm512_cvtps_ph(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
  }

  // 32-bit integer lanes.
  static I iset1(uint32_t x) { return _mm512_set1_epi32(int(x)); }
  static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I isub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I iand(I a, I b) { return _mm512_and_si512(a, b); }
  static I ior(I a, I b) { return _mm512_or_si512(a, b); }
  static I ixor(I a, I b) { return _mm512_xor_si512(a, b); }
  static I imax(I a, I b) { return _mm512_max_epi32(a, b); }  // signed
  template <int k>
  static I srl(I a) {
    return _mm512_srli_epi32(a, k);
  }
  template <int k>
  static I sll(I a) {
    return _mm512_slli_epi32(a, k);
  }
  static I srlv(I a, I count) { return _mm512_srlv_epi32(a, count); }  // counts >= 32 give 0
  static I sllv(I a, I count) { return _mm512_sllv_epi32(a, count); }  // counts >= 32 give 0
  static M ieq(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static M igt(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }  // signed
  static M iltu(I a, I b) { return _mm512_cmplt_epu32_mask(a, b); }
  static I iselect(M m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }  // m ? a : b
  /// Philox's multiply: the 64-bit products of the low words of each 64-bit half of a's lanes
  /// with b (the high words of a are ignored).
  static I mul_low_words(I a, uint32_t b) { return _mm512_mul_epu32(a, _mm512_set1_epi32(int(b))); }
  /// The two 32-bit words of each 64-bit half swapped.
  static I swap_words(I a) { return _mm512_shuffle_epi32(a, _MM_PERM_CDAB); }
  static I ixor3(I a, I b, I c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
  /// a with its odd lanes taken from b.
  static I blend_odd(I a, I b) { return _mm512_mask_blend_epi32(0xAAAA, a, b); }

  // Masks and reductions.
  static M mand(M a, M b) { return M(a & b); }
  static M mor(M a, M b) { return M(a | b); }
  static M mandnot(M a, M b) { return M(a & ~b); }  // a and not b
  static int count(M m) { return __builtin_popcount(unsigned(m)); }
  static int first(M m) { return m == 0 ? -1 : __builtin_ctz(unsigned(m)); }  // lowest set lane, -1 if none
  static float reduce_add(F a) { return _mm512_reduce_add_ps(a); }
  static float reduce_max(F a) { return _mm512_reduce_max_ps(a); }

  /// Sixteen 16-bit values at p as they are (the first k.n with Partial, the rest zero).
  template <class T>
  static __m256i load256(const T* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  template <class T>
  static __m256i load256(const T* p, Partial k) {
    return _mm256_maskz_loadu_epi16(valid(k), p);
  }

 private:
  static __m256i to_fp16_bits(F v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  template <class T>
  static void store256(T* p, __m256i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  }
  template <class T>
  static void store256(T* p, __m256i v, Partial k) {
    _mm256_mask_storeu_epi16(p, valid(k), v);
  }
};

}  // namespace
}  // namespace pure16::kernels::simd
