// AVX512-FP16 GEMM: fp16 storage with fp16 accumulation. Every multiply-add is one vfmadd231ph,
// which rounds the fused a * b + acc once to fp16 (subnormals included; FP16 arithmetic ignores
// MXCSR.DAZ/FTZ): exactly the contract's "every partial sum is an fp16 value". Partial sums
// carried between K blocks are stored as fp16, so nothing is ever held wider. These kernels
// replace the avx512 level's for the same two kinds, which give the same bits by emulating every
// fp16 rounding in binary32 (gemm_avx512.cpp) at a fraction of the speed.
//
// Tiles of 24 accumulators: 12 rows x 2 vectors of 32 fp16, or 6 rows x 4 vectors where C is
// wide enough. Per K step the narrow one makes two B loads and twelve broadcasts of A, the wide
// one four and six, for the same 768 multiply-adds. In the slow spells of this shared machine,
// when loads slow down and the FMA peak does not, the fewer loads hold up better: the micro-kernel
// alone on L1-resident panels ran at 80-95% of the peak where the narrow one ran at 69-79%; the
// 1024^3 GEMM on one core got 5-10% faster (in quiet spells about the same). A is packed with each
// fp16 repeated in a 32-bit unit, so a broadcast is vpbroadcastd (load ports only) instead of
// vpbroadcastw, whose shuffle uop would compete with the FMAs for port 5 (measured ~1.3x faster).
// fp16 partial sums between K blocks stay in C when beta is 0 (kNCInC, see gemm_blocked.h).
//
// Both accumulations (fp16, blocked fp16) take either tile. Each C element is summed in the same
// order whatever the tile, so both tiles give the same bits.
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
  // With the partial sums in C (fp16 sums only), a B block of 1024 columns (512 KiB) takes the L2
  // the partial-sum buffer took, and A is packed half as often.
  static constexpr int64_t kNCInC = 1024;

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
    // The first block is added to +0 too, like the reference's total: a block sum of -0 gives +0.
    const __m512 lo = _mm512_cvtph_ps(_mm512_castsi512_si256(bits));
    const __m512 hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1));
    _mm512_storeu_ps(cout, _mm512_add_ps(cin != nullptr ? _mm512_loadu_ps(cin) : _mm512_setzero_ps(), lo));
    _mm512_storeu_ps(cout + 16, _mm512_add_ps(cin != nullptr ? _mm512_loadu_ps(cin + 16) : _mm512_setzero_ps(), hi));
  }
};

// B panels of 256 K steps x 128 columns (64 KiB) do not fit in L1 with A; they stream from L2,
// and measured faster than the 128-step blocks that would fit (more partial-sum passes).
template <class Step>
struct Avx512Fp16WideTile : Step {
  static constexpr int kMR = 6, kNV = 4;
};

// For plain matrices, the tile that pads C less (the wide one on a tie). A convolution's
// operands read through a RowSource keep the narrow tile: resnet18-cifar pure-fp16 training with
// the wide tile there was slower in 9 of 12 interleaved runs (median 104 against 106 img/s).
template <class Step>
void gemm_either_tile(const GemmArgs& g) {
  using Wide = Avx512Fp16WideTile<Step>;
  const auto padded = [&g](int mr, int nr) { return round_up(g.m, mr) * round_up(g.n, nr); };
  if (g.a_rows == nullptr && g.b_rows == nullptr &&
      padded(Wide::kMR, Wide::kNV * Wide::kLanes) <= padded(Step::kMR, Step::kNV * Step::kLanes))
    gemm_blocked<Wide, fp16>(g);
  else gemm_blocked<Step, fp16>(g);
}

}  // namespace

void register_gemm_avx512fp16(KernelTable& table) {
  table.gemm[size_t(GemmKind::f16_acc_f16)].set(gemm_either_tile<Avx512Fp16Step>, Isa::avx512fp16);
  table.gemm[size_t(GemmKind::f16_acc_f16_block)].set(gemm_either_tile<Avx512Fp16BlockStep>, Isa::avx512fp16);
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_blocked<Avx512F32Step, bf16>, Isa::avx512fp16);
}

}  // namespace pure16::kernels
