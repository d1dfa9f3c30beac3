// 512-bit binary32 vectors for the GEMM variants of the avx512, avx512bf16 and avx512fp16 levels:
// loads of float, fp16 and bf16 widened to binary32, and stores rounded to nearest even, each for
// the first n < 16 lanes with masks (simd::Avx512's). Included only by translation units built with AVX-512
// F/BW/VL/DQ; unnamed namespace for the reason given in gemm_blocked.h.
#pragma once

// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation (GCC PR 105593),
// which -Wmaybe-uninitialized reports at the header's lines once the intrinsics are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/simd_avx512.h"
#include "pure16/numerics/float16.h"

namespace pure16::kernels {
namespace {

struct F32x16 : simd::CountedMoves<simd::Avx512> {
  using Vec = __m512;
  static constexpr int kLanes = 16;

  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }

  // Raw 16-bit elements (bf16 pairs or fp16 units for packing), n of 32, as one vector of words.
  static Vec load_raw16(const void* p, int n) {
    const __mmask32 m = n >= 32 ? __mmask32(0xffffffff) : __mmask32((1u << n) - 1);
    return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, p));
  }
  static void store_raw(void* p, Vec v, int n = kLanes) { store(static_cast<float*>(p), v, n); }  // n words
  // n of 16 raw 16-bit elements, each repeated in both halves of its word. One vpermw, where
  // widening, shifting and or-ing took three instructions: packing repeated A units from L1
  // measured 0.53-0.58 against 0.81-1.07 ns per 16 elements.
  static Vec load_repeated16(const void* p, int n) {
    alignas(64) static constexpr uint16_t kPairs[32] = {0, 0, 1, 1, 2,  2,  3,  3,  4,  4,  5,  5,  6,  6,  7,  7,
                                                        8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};
    const auto* h = static_cast<const uint16_t*>(p);
    const __m256i x16 = n >= kLanes ? simd::Avx512::load256(h) : simd::Avx512::load256(h, simd::Partial{n});
    const __m512i x = _mm512_zextsi256_si512(x16);
    return _mm512_castsi512_ps(_mm512_permutexvar_epi16(_mm512_load_si512(kPairs), x));
  }

  // In-place transpose of a 16 x 16 block of 32-bit words: unpack pairs of rows, gather each
  // column's four-row pieces within 128-bit lanes, then combine the lanes of four row groups.
  static void transpose(Vec r[16]) {
    Vec t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 4; ++g) {  // u[4g + j]: rows 4g..4g+3 of column j of each lane
      u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; ++j) {
      const Vec v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v2 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
      const Vec w = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), w2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
      r[j] = _mm512_shuffle_f32x4(v, w, 0x88);
      r[8 + j] = _mm512_shuffle_f32x4(v, w, 0xdd);
      r[4 + j] = _mm512_shuffle_f32x4(v2, w2, 0x88);
      r[12 + j] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
    }
  }
  // Pairs the 16-bit elements of x and y into words (x[i], y[i]): i < 16 in lo, the rest in hi.
  static void interleave16(Vec x, Vec y, Vec& lo, Vec& hi) {
    alignas(64) static constexpr uint16_t kLo[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,
                                                     37, 6,  38, 7,  39, 8,  40, 9,  41, 10, 42,
                                                     11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    const __m512i il = _mm512_load_si512(kLo), ih = _mm512_add_epi16(il, _mm512_set1_epi16(16));
    const __m512i xi = _mm512_castps_si512(x), yi = _mm512_castps_si512(y);
    lo = _mm512_castsi512_ps(_mm512_permutex2var_epi16(xi, il, yi));
    hi = _mm512_castsi512_ps(_mm512_permutex2var_epi16(xi, ih, yi));
  }
  // Splits the 16-bit halves of the words of x then y into the even (low) and odd (high) ones.
  static void deinterleave16(Vec x, Vec y, Vec& even, Vec& odd) {
    alignas(64) static constexpr uint16_t kEven[32] = {0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20,
                                                       22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
                                                       44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
    const __m512i ie = _mm512_load_si512(kEven), io = _mm512_add_epi16(ie, _mm512_set1_epi16(1));
    const __m512i xi = _mm512_castps_si512(x), yi = _mm512_castps_si512(y);
    even = _mm512_castsi512_ps(_mm512_permutex2var_epi16(xi, ie, yi));
    odd = _mm512_castsi512_ps(_mm512_permutex2var_epi16(xi, io, yi));
  }
};

// Micro-kernel step shared by the avx512 kinds that sum binary32 products of binary32 units
// (f32 inputs, and f16/bf16 inputs widened while packing): 12 rows x 2 vectors = 24 accumulators,
// two B loads and twelve broadcasts (folded into the FMAs) per K step.
struct Avx512F32Step {
  using F = F32x16;
  using Unit = float;
  using AUnit = float;
  using Acc = float;
  using AccVec = __m512;
  using BVec = __m512;
  static constexpr int kStep = 1, kLanes = 16, kMR = 12, kNV = 2;
  static constexpr int64_t kKCU = 256, kMC = 192, kNC = 512, kMB = 768;

  static AccVec zero() { return _mm512_setzero_ps(); }
  static AccVec load_acc(const Acc* p) { return _mm512_loadu_ps(p); }
  static void store_acc(Acc* p, AccVec v) { _mm512_storeu_ps(p, v); }
  static BVec load_b(const Unit* p) { return _mm512_load_ps(p); }
  static BVec broadcast_a(const Unit* p) { return _mm512_set1_ps(*p); }
  static AccVec madd(AccVec acc, BVec a, BVec b) { return _mm512_fmadd_ps(a, b, acc); }
};

}  // namespace
}  // namespace pure16::kernels
