// AVX512-BF16 GEMM: bf16 storage, binary32 accumulation with vdpbf16ps. The instruction adds,
// per binary32 lane j, the two products a[2j] * b[2j] and a[2j+1] * b[2j+1] (exact in binary32)
// to the accumulator, each addition rounded to nearest even: two sequential K steps, which the
// blocked-sum error bound covers. So packed panels hold K in pairs (Unit = two bf16 of K = 2q,
// 2q + 1 in one uint32_t): op(B) is interleaved by rows while packing and a row pair of op(A) is
// broadcast as one 32-bit value. Note: vdpbf16ps treats subnormal inputs as zero and flushes
// subnormal results (it ignores MXCSR), unlike the scalar reference; bf16 shares binary32's
// exponent range, so this only touches values below 2^-126.
#include "kernels/gemm_blocked.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {
namespace {

struct Avx512Bf16Step {
  using F = F32x16;
  using Unit = uint32_t;
  using AUnit = uint32_t;
  using Acc = float;
  using AccVec = __m512;
  using BVec = __m512bh;
  static constexpr int kStep = 2, kLanes = 16, kMR = 12, kNV = 2;
  static constexpr int64_t kKCU = 256, kMC = 192, kNC = 512, kMB = 768;

  static AccVec zero() { return _mm512_setzero_ps(); }
  static AccVec load_acc(const Acc* p) { return _mm512_loadu_ps(p); }
  static void store_acc(Acc* p, AccVec v) { _mm512_storeu_ps(p, v); }
  static BVec load_b(const Unit* p) { return (__m512bh)_mm512_load_si512(p); }
  static BVec broadcast_a(const Unit* p) { return (__m512bh)_mm512_set1_epi32(int(*p)); }
  static AccVec madd(AccVec acc, BVec a, BVec b) { return _mm512_dpbf16_ps(acc, a, b); }
};

}  // namespace

void register_gemm_avx512bf16(KernelTable& table) {
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_blocked<Avx512Bf16Step, bf16>, Isa::avx512bf16);
}

}  // namespace pure16::kernels
