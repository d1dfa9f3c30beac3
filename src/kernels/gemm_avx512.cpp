// AVX-512 GEMM: f32, and f16/bf16 storage with binary32 accumulation. All three run the same
// binary32 micro-kernel (gemm_vec512.h); fp16 and bf16 inputs are widened exactly while packing,
// so the inner loop never converts, and C is rounded once to the storage type in the epilogue.
//
// fp16 storage with fp16 accumulation (plain and blocked), for CPUs without AVX512-FP16: the same
// widened operands, and every partial sum rounded to fp16 in binary32 arithmetic, giving the
// scalar reference's bits (the avx512fp16 level replaces these with native fp16 FMAs).
#include "kernels/gemm_blocked.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {
namespace {

// One fp16 multiply-add, acc = RN_fp16(acc + a * b), emulated in binary32. Rounding the sum to
// nearest binary32 and then to fp16 would round twice, and can land on the wrong side of an fp16
// midpoint; rounding it to odd first cannot (Boldo & Melquiond, "When double rounding is odd":
// binary32 has 24 >= 11 + 2 bits, and its exponent range covers fp16's, subnormals included).
// The product of two fp16 values is exact in binary32, so an FMA rounded down (up) is the sum s
// rounded down (up). Round-to-odd is the one of the two with an odd last bit: when s is inexact
// they are neighbouring binary32 values of one sign (a nonzero s is at least 2^-48 in magnitude,
// far above binary32's subnormals), whose bit patterns are consecutive integers; when s is exact
// both are s, and an exact cancellation gives -0 down and +0 up, where the even -0 picks the +0
// that rounding to nearest gives. Infinities and NaN come out of both alike.
//
// Two FMAs, a test and a blend measured 40 GFLOP/s (512^3, one thread, Zen 5), against 33 for a
// multiply, two adds and the unsigned minimum of the two with its last bit set where they differ.
// The conversion to fp16 and back is as costly: an FMA and those two alone run at 70. The step
// is bound by that instruction throughput, not by latency or loads: tiles of 8 x 2, 12 x 2, 4 x 4
// and 16 x 1 vectors measured the same (medians 39.6-40.4), 6 x 2 slower (37.9). 8 x 2 is the
// smallest of the fast ones: 16 accumulators, with room for every step's temporaries.
struct Avx512F16EmulatedStep : EmulatedF16Sums<Avx512F32Step> {
  static constexpr int kMR = 8, kNV = 2;

  static AccVec madd(AccVec acc, BVec a, BVec b) {
    const __m512 down = _mm512_fmadd_round_ps(a, b, acc, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512 up = _mm512_fmadd_round_ps(a, b, acc, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
    const __mmask16 down_even = _mm512_testn_epi32_mask(_mm512_castps_si512(down), _mm512_set1_epi32(1));
    const __m512 odd = _mm512_mask_blend_ps(down_even, down, up);
    return _mm512_cvtph_ps(_mm512_cvtps_ph(odd, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

// Blocked fp16 accumulation (Accumulation::f16_block).
using Avx512F16EmulatedBlockStep = EmulatedF16Blocks<Avx512F16EmulatedStep>;

}  // namespace

void register_gemm_avx512(KernelTable& table) {
  table.gemm[size_t(GemmKind::f32)].set(gemm_blocked<Avx512F32Step, float>, Isa::avx512);
  table.gemm[size_t(GemmKind::f16_acc_f32)].set(gemm_blocked<Avx512F32Step, fp16>, Isa::avx512);
  table.gemm[size_t(GemmKind::f16_acc_f16)].set(gemm_blocked<Avx512F16EmulatedStep, fp16>, Isa::avx512);
  table.gemm[size_t(GemmKind::f16_acc_f16_block)].set(gemm_blocked<Avx512F16EmulatedBlockStep, fp16>, Isa::avx512);
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_blocked<Avx512F32Step, bf16>, Isa::avx512);
}

}  // namespace pure16::kernels
