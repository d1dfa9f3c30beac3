// AVX512-FP16 GEMM: fp16 storage with fp16 accumulation. Every multiply-add is one vfmadd231ph,
// which rounds the fused a * b + acc once to fp16 (subnormals included; FP16 arithmetic ignores
// MXCSR.DAZ/FTZ): exactly the contract's "every partial sum is an fp16 value". Partial sums
// carried between K blocks are stored as fp16, so nothing is ever held wider.
//
// Tile: 12 rows x 2 vectors of 32 fp16 = 24 accumulators; per K step two B loads, twelve
// broadcasts of A and 768 multiply-adds. A is packed with each fp16 repeated in a 32-bit unit, so
// a broadcast is vpbroadcastd (load ports only) instead of vpbroadcastw, whose shuffle uop would
// compete with the FMAs for port 5 (measured ~1.3x faster).
//
// fp16 storage with binary32 accumulation is not re-registered here: AVX512-FP16 has no fp16 x
// fp16 -> binary32 multiply-add, so the best path is the avx512 one (widen while packing, binary32
// FMAs), which this level inherits.
//
// bf16 with binary32 accumulation goes back to that widening kernel too, overriding the vdpbf16ps
// variant of the avx512bf16 level: on the CPUs with AVX512-FP16 (Sapphire Rapids), vdpbf16ps
// retires about a quarter as many instructions per second as vfmadd231ps (measured 0.6-0.9 vs
// 2.4-4 per ns) for twice the products each, so the avx512bf16 variant runs at about half the
// speed (measured 50-76 vs 87-148 GFLOP/s, one thread, 1024^3). CPUs whose top level is avx512bf16
// keep vdpbf16ps.
#include "kernels/gemm_blocked.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {
namespace {

struct Avx512Fp16Step {
  using F = F32x16;
  using Unit = fp16;
  using AUnit = uint32_t;  // the fp16 in both halves: broadcast by vpbroadcastd, a pure load
  using Acc = fp16;
  using AccVec = __m512h;
  using BVec = __m512h;
  static constexpr int kStep = 1, kLanes = 32, kMR = 12, kNV = 2;
  static constexpr int64_t kKCU = 256, kMC = 192, kNC = 512, kMB = 768;

  static AccVec zero() { return _mm512_setzero_ph(); }
  static AccVec load_acc(const Acc* p) { return _mm512_loadu_ph(p); }
  static void store_acc(Acc* p, AccVec v) { _mm512_storeu_ph(p, v); }
  static BVec load_b(const Unit* p) { return _mm512_load_ph(p); }
  static BVec broadcast_a(const AUnit* p) { return _mm512_castsi512_ph(_mm512_set1_epi32(int(*p))); }
  static AccVec madd(AccVec acc, BVec a, BVec b) { return _mm512_fmadd_ph(a, b, acc); }
};

// Blocked fp16 accumulation (Accumulation::f16_block): the same fp16 FMAs, restarted from zero
// every kF16AccumulationBlock K steps; each block's sums are widened and added to binary32 partial
// sums. Those stay in an L1-resident tile within a K cache block: the 24 widenings, 48 adds and
// 48 loads and stores per 64 K steps (1536 FMAs) are the price of the binary32 sum across blocks.
struct Avx512Fp16BlockStep : Avx512Fp16Step {
  using Acc = float;
  static constexpr int64_t kBlockSteps = kF16AccumulationBlock;
  static_assert(kKCU % kBlockSteps == 0, "K cache blocks hold whole accumulation blocks");

  static void add_block(float* cout, const float* cin, __m512h sum) {
    const __m512i bits = _mm512_castph_si512(sum);
    __m512 lo = _mm512_cvtph_ps(_mm512_castsi512_si256(bits));
    __m512 hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1));
    if (cin != nullptr) {
      lo = _mm512_add_ps(_mm512_loadu_ps(cin), lo);
      hi = _mm512_add_ps(_mm512_loadu_ps(cin + 16), hi);
    }
    _mm512_storeu_ps(cout, lo);
    _mm512_storeu_ps(cout + 16, hi);
  }
};

}  // namespace

void register_gemm_avx512fp16(KernelTable& table) {
  table.gemm[size_t(GemmKind::f16_acc_f16)].set(gemm_blocked<Avx512Fp16Step, fp16>, Isa::avx512fp16);
  table.gemm[size_t(GemmKind::f16_acc_f16_block)].set(gemm_blocked<Avx512Fp16BlockStep, fp16>, Isa::avx512fp16);
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_blocked<Avx512F32Step, bf16>, Isa::avx512fp16);
}

}  // namespace pure16::kernels
