// AVX2 + FMA + F16C GEMM: f32, and f16/bf16 storage with binary32 accumulation. As at the
// avx512 level, fp16 (vcvtph2ps) and bf16 (a shift) are widened exactly while packing and all
// three kinds share one 6 x 16 binary32 micro-kernel: 12 accumulators, two B vectors and one
// broadcast fill 15 of the 16 ymm registers.
//
// fp16 storage with fp16 accumulation (plain and blocked): every partial sum rounded to fp16 in
// binary32 arithmetic, bitwise equal to the scalar reference, as at the avx512 level.
#include <immintrin.h>

#include "kernels/gemm_blocked.h"
#include "kernels/simd_avx2.h"

namespace pure16::kernels {
namespace {

// 256-bit binary32 vectors, loaded and stored as simd::Avx2 does (partial loads masked, partial
// stores through a buffer: AVX2 has no masked 16-bit store).
struct F32x8 : simd::CountedMoves<simd::Avx2> {
  using Vec = __m256;
  static constexpr int kLanes = 8;

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }

  static void store_raw(void* p, Vec v, int n = kLanes) { store(static_cast<float*>(p), v, n); }  // n words

  // In-place transpose of an 8 x 8 block of 32-bit words.
  static void transpose(Vec r[8]) {
    Vec t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 2; ++g) {  // u[4g + j]: rows 4g..4g+3 of column j of each 128-bit lane
      u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; ++j) {
      r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
      r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
    }
  }
};

struct Avx2F32Step {
  using F = F32x8;
  using Unit = float;
  using AUnit = float;
  using Acc = float;
  using AccVec = __m256;
  using BVec = __m256;
  static constexpr int kStep = 1, kLanes = 8, kMR = 6, kNV = 2;
  static constexpr int64_t kKCU = 256, kMC = 120, kNC = 512, kMB = 720;

  static AccVec zero() { return _mm256_setzero_ps(); }
  static AccVec load_acc(const Acc* p) { return _mm256_loadu_ps(p); }
  static void store_acc(Acc* p, AccVec v) { _mm256_storeu_ps(p, v); }
  static BVec load_b(const Unit* p) { return _mm256_load_ps(p); }
  static BVec broadcast_a(const Unit* p) { return _mm256_broadcast_ss(p); }
  static AccVec madd(AccVec acc, BVec a, BVec b) { return _mm256_fmadd_ps(a, b, acc); }
};

// One fp16 multiply-add, acc = RN_fp16(acc + a * b), emulated in binary32 as at the avx512 level
// (see Avx512F16EmulatedStep): the sum rounded to odd in binary32, then to nearest fp16, gives the
// scalar reference's bits. AVX2 has no per-instruction rounding mode, so the sum is rounded to
// nearest and its exact error taken by Knuth's TwoSum (the product of two fp16 values is exact in
// binary32); where the sum was inexact and its last bit even, the odd neighbour on the error's side
// is the round-to-odd value: one integer step of the bit pattern, up in magnitude when the error
// has the sum's sign. An ordered compare keeps infinities and NaN (whose error is NaN) unchanged.
// The step needs five temporaries beside the tile, so the tile is 4 x 2 vectors, not 6 x 2.
struct Avx2F16EmulatedStep : EmulatedF16Sums<Avx2F32Step> {
  static constexpr int kMR = 4, kNV = 2;

  static AccVec madd(AccVec acc, BVec a, BVec b) {
    const __m256 product = _mm256_mul_ps(a, b);
    const __m256 sum = _mm256_add_ps(acc, product);
    const __m256 product_part = _mm256_sub_ps(sum, acc);
    const __m256 error =
        _mm256_add_ps(_mm256_sub_ps(acc, _mm256_sub_ps(sum, product_part)), _mm256_sub_ps(product, product_part));
    const __m256i bits = _mm256_castps_si256(sum);
    const __m256i inexact = _mm256_castps_si256(_mm256_cmp_ps(error, _mm256_setzero_ps(), _CMP_NEQ_OQ));
    const __m256i even = _mm256_cmpeq_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), _mm256_setzero_si256());
    // +1 where the error has the sum's sign, -1 where not
    const __m256i step = _mm256_or_si256(_mm256_srai_epi32(_mm256_xor_si256(bits, _mm256_castps_si256(error)), 31),
                                         _mm256_set1_epi32(1));
    const __m256i odd = _mm256_add_epi32(bits, _mm256_and_si256(_mm256_and_si256(inexact, even), step));
    return _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_castsi256_ps(odd), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

// Blocked fp16 accumulation (Accumulation::f16_block).
using Avx2F16EmulatedBlockStep = EmulatedF16Blocks<Avx2F16EmulatedStep>;

}  // namespace

void register_gemm_avx2(KernelTable& table) {
  table.gemm[size_t(GemmKind::f32)].set(gemm_blocked<Avx2F32Step, float>, Isa::avx2);
  table.gemm[size_t(GemmKind::f16_acc_f32)].set(gemm_blocked<Avx2F32Step, fp16>, Isa::avx2);
  table.gemm[size_t(GemmKind::f16_acc_f16)].set(gemm_blocked<Avx2F16EmulatedStep, fp16>, Isa::avx2);
  table.gemm[size_t(GemmKind::f16_acc_f16_block)].set(gemm_blocked<Avx2F16EmulatedBlockStep, fp16>, Isa::avx2);
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_blocked<Avx2F32Step, bf16>, Isa::avx2);
}

}  // namespace pure16::kernels
