// The blocked, multithreaded GEMM shared by every vectorized variant (Goto/BLIS scheme).
//
// An ISA variant is a policy struct `Op` (see gemm_vec512.h and gemm_avx2.cpp) that says what one
// step of its micro-kernel does; everything else — thread split, cache blocking, packing of
// op(A) and op(B), the alpha/beta epilogue and the rounding to the storage dtype — lives here once.
//
//   Op::Unit     element of the packed panels: one K step of one row/column (float, fp16, or a
//                pair of bf16 at K = 2q, 2q+1 in one uint32_t for vdpbf16ps)
//   Op::AUnit    element of packed A panels: Unit, or Unit repeated so that the micro-kernel's
//                broadcast is a plain 32-bit load (fp16: vpbroadcastw needs a port-5 shuffle,
//                vpbroadcastd does not)
//   Op::kStep    K elements per unit (1, or 2 for bf16 pairs)
//   Op::Acc      accumulator element (float, or fp16 for fp16 accumulation)
//   Op::kMR x Op::kNV vectors of Op::kLanes: the register tile, NR = kNV * kLanes columns
//   Op::kKCU     K units per cache block (kKC = kKCU * kStep elements)
//   Op::kMC, kNC, kMB   row, column and row-super-block sizes, see run_region
//   Op::kNCInC (optional)   partial sums may be kept in C itself (when Acc is the storage type
//                and beta is 0), and then the column block is kNCInC, see run_region
//   Op::zero/load_acc/store_acc/load_b/broadcast_a/madd   the micro-kernel's instructions
//   Op::add_block, Op::kBlockSteps (optional)   blocked accumulation: registers sum kBlockSteps
//                K steps from zero, then each block's sum is added to the wider Acc (micro_kernel);
//                kKCU must be a multiple of kBlockSteps so blocks start at multiples of it in K
//   Op::F        binary32 vectors for packing and the epilogue: load/store of float, fp16 and
//                bf16 with a lane count, raw 16-bit loads (also each repeated in a word, for
//                repeated A units), a square transpose of 32-bit words, 16-bit (de)interleaves,
//                set1, add, mul, fma
//
// Semantics (include/pure16/kernels/gemm.h): every product is accumulated by Op::madd into an
// Op::Acc sum per C element. Sums over successive K blocks continue from the stored Acc values,
// so fp16 accumulation rounds every partial sum to fp16 and f32 accumulation keeps binary32 until
// the end. The epilogue then computes alpha * acc + beta * C_old in binary32 and rounds once to
// the storage type (beta == 0 never reads C).
//
// Everything here is in an unnamed namespace on purpose: each ISA translation unit is compiled
// with different -m flags, and identical inline functions or template instantiations with
// external linkage would be merged by the linker, possibly into a copy that uses instructions
// the running CPU lacks.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

#include "kernels/kernel_table.h"

namespace pure16::kernels {
namespace {

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
constexpr int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A per-thread scratch allocation that only grows, so repeated calls do not allocate.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { release(); }
  template <class U>
  U* get(size_t count) {
    const size_t bytes = std::max<size_t>(count * sizeof(U), 64);
    if (bytes > bytes_) {
      release();
      data_ = ::operator new(bytes, std::align_val_t(64));
      bytes_ = bytes;
    }
    return static_cast<U*>(data_);
  }

 private:
  void release() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

template <class Op>
struct Workspace {
  Scratch a, b, c;
  Scratch gathered;  // bf16 pairs of B read through a RowSource, before packing
  Scratch runs;      // RowRuns of an operand read through a RowSource
};

// The calling thread's buffers (OpenMP keeps its worker threads, so these persist across calls).
template <class Op>
Workspace<Op>& workspace() {
  thread_local Workspace<Op> ws;
  return ws;
}

// ---------------------------------------------------------------------------------------------
// Packing. A panel holds W rows (of op(A)) or columns (of op(B)) by `steps` units of K, in one of
// two layouts the micro-kernel reads:
//   step-major  [q][w]: unit (w, q) at q * W + w       every B panel; A panels when A is (K, M)
//   row-major   [w][q]: unit (w, q) at w * kKCU + q    A panels when A is (M, K)
// Choosing the A layout by transpose makes packing A a plain (converting) copy in both cases;
// only op(B) with B stored (N, K) needs a transpose. Rows/columns past `width` are zero.

// Fixed-size pieces compile to vector moves; one variable-length memcpy of the short runs packing
// copies becomes `rep movs`, whose start-up cost dominated packing.
inline void copy_bytes(std::byte* d, const std::byte* s, size_t bytes) {
  size_t off = 0;
  for (; off + 64 <= bytes; off += 64) std::memcpy(d + off, s + off, 64);
  for (; off + 8 <= bytes; off += 8) std::memcpy(d + off, s + off, 8);
  for (; off < bytes; ++off) d[off] = s[off];
}

// dst[0, ceil(n / kStep)) = units of type U of the n contiguous source elements src[0, n).
template <class Op, class U, class T>
inline void convert_run(U* dst, const T* src, int64_t n) {
  using F = typename Op::F;
  constexpr size_t kRepeat = sizeof(U) / (Op::kStep * sizeof(T));  // copies of each element in a unit
  if constexpr (std::is_same_v<U, float> && !std::is_same_v<T, float>) {
    int64_t j = 0;
    for (; j + F::kLanes <= n; j += F::kLanes) F::store(dst + j, F::load(src + j, F::kLanes), F::kLanes);
    if (j < n) F::store(dst + j, F::load(src + j, int(n - j)), int(n - j));
  } else if constexpr (kRepeat == 2) {
    static_assert(Op::kStep == 1 && sizeof(T) == 2 && sizeof(U) == 4);
    for (int64_t j = 0; j < n; j += F::kLanes) {
      const int count = int(std::min<int64_t>(F::kLanes, n - j));
      F::store_raw(dst + j, F::load_repeated16(src + j, count), count);
    }
  } else {
    static_assert(kRepeat == 1 && sizeof(U) == Op::kStep * sizeof(T), "a unit is kStep source elements");
    auto* d = reinterpret_cast<std::byte*>(dst);
    copy_bytes(d, reinterpret_cast<const std::byte*>(src), size_t(n) * sizeof(T));
    if (n % Op::kStep != 0)  // the odd last element's partner in its unit
      std::memset(d + size_t(n) * sizeof(T), 0, sizeof(T) * size_t(Op::kStep - n % Op::kStep));
  }
}

// Packing from a RowSource: its runs (see gemm.h) are converted straight into the panels.
//
// Writes run (src, n) of a row (zeros when src is null) at element `off` of a row-major panel
// row. Units of kStep 2 pair consecutive elements, so there the elements' bytes are the units'.
template <class Op, class Unit, class T>
inline void put_run(Unit* row, int64_t off, const T* src, int64_t n) {
  if constexpr (Op::kStep == 1) {
    if (src != nullptr) convert_run<Op, Unit>(row + off, src, n);
    else std::fill_n(row + off, n, Unit{});
  } else {
    static_assert(sizeof(Unit) == Op::kStep * sizeof(T), "a unit is kStep source elements");
    auto* d = reinterpret_cast<std::byte*>(row) + size_t(off) * sizeof(T);
    if (src != nullptr) copy_bytes(d, reinterpret_cast<const std::byte*>(src), size_t(n) * sizeof(T));
    else std::memset(d, 0, size_t(n) * sizeof(T));
  }
}

// Rows [row, row + width) of `source`, columns [col, col + kc), as a row-major panel of W rows
// (rows past width are zero).
template <class Op, class Unit, int W, class T>
void pack_rows_from_source(Unit* dst, const RowSource& source, int64_t row, int width, int64_t col, int64_t kc,
                           Workspace<Op>& ws) {
  RowRun* runs = ws.runs.template get<RowRun>(size_t(W * source.max_runs));
  int64_t row_ends[W];
  source.runs(source.context, row, width, col, kc, runs, row_ends);
  for (int w = 0; w < width; ++w) {
    Unit* dst_row = dst + w * Op::kKCU;
    int64_t off = 0;
    for (int64_t j = w == 0 ? 0 : row_ends[w - 1]; j < row_ends[w]; ++j) {
      put_run<Op>(dst_row, off, static_cast<const T*>(runs[j].src), runs[j].count);
      off += runs[j].count;
    }
    if (kc % Op::kStep != 0) put_run<Op>(dst_row, kc, static_cast<const T*>(nullptr), 1);  // the odd partner
  }
  for (int w = width; w < W; ++w) std::fill_n(dst + w * Op::kKCU, ceil_div(kc, Op::kStep), Unit{});
}

// Rows [row, row + kc) of `source` (K steps of one unit each), columns [col, col + nc), as the
// consecutive step-major panels of W columns that pack_panel would make of them (columns past
// nc in the last panel are zero).
template <class Op, class Unit, int W, class T>
void pack_steps_from_source(Unit* dst, const RowSource& source, int64_t row, int64_t kc, int64_t col, int64_t nc,
                            Workspace<Op>& ws) {
  static_assert(Op::kStep == 1, "a K step is one row of the source");
  constexpr int64_t kRowsPerCall = 16;
  RowRun* runs = ws.runs.template get<RowRun>(size_t(kRowsPerCall * source.max_runs));
  int64_t row_ends[kRowsPerCall];
  for (int64_t q0 = 0; q0 < kc; q0 += kRowsPerCall) {
    const int64_t rows = std::min(kRowsPerCall, kc - q0);
    source.runs(source.context, row + q0, rows, col, nc, runs, row_ends);
    for (int64_t i = 0; i < rows; ++i) {
      Unit* step = dst + (q0 + i) * W;  // step q of panel p at step + p * W * kKCU
      int64_t w = 0;
      for (int64_t j = i == 0 ? 0 : row_ends[i - 1]; j < row_ends[i]; ++j) {
        const T* src = static_cast<const T*>(runs[j].src);
        for (int64_t left = runs[j].count; left > 0;) {
          const int64_t within = w % W, len = std::min<int64_t>(left, W - within);
          Unit* d = step + (w / W) * W * Op::kKCU + within;
          if (src != nullptr) {
            convert_run<Op, Unit>(d, src, len);
            src += len;
          } else {
            std::fill_n(d, len, Unit{});
          }
          w += len;
          left -= len;
        }
      }
      if (nc % W != 0) std::fill_n(step + (nc / W) * W * Op::kKCU + nc % W, W - nc % W, Unit{});
    }
  }
}

// The step-major panel of a block whose rows run along K (op(B) with B stored (N, K)):
// unit (w, q) from src[w * sw + q * kStep], w < width, q * kStep < kc. Works on L x L blocks of 32-bit words in registers
// (L = F::kLanes): L rows are loaded along K (binary32 units widened on the way, 16-bit ones raw),
// transposed, and stored as L consecutive K steps. A word holds one unit when units are 32 bits;
// for fp16 units it holds two K steps, split into their two rows after the transpose.
template <class Op, class Unit, int W, class T>
void pack_transposed(Unit* dst, const T* src, int64_t sw, int width, int64_t kc) {
  using F = typename Op::F;
  using Vec = typename F::Vec;
  constexpr int L = F::kLanes;
  constexpr bool kHalfUnits = sizeof(Unit) == 2;
  constexpr int kElemsPerWord = std::is_same_v<Unit, float> ? 1 : 2;
  static_assert(W % (kHalfUnits ? 2 * L : L) == 0, "a panel is whole blocks of words");
  const int64_t steps = ceil_div(kc, Op::kStep);
  const int64_t words = ceil_div(kc, kElemsPerWord);
  for (int64_t p0 = 0; p0 < words; p0 += L) {
    const int nw = int(std::min<int64_t>(L, words - p0));
    const int elems = int(std::min<int64_t>(int64_t(L) * kElemsPerWord, kc - p0 * kElemsPerWord));
    Vec block[W / L][L];  // [w block][word]
    for (int b = 0; b < W / L; ++b) {
      Vec* r = block[b];
      for (int i = 0; i < L; ++i) {
        const int w = b * L + i;
        const T* row = src + w * sw + p0 * kElemsPerWord;
        if (w >= width) r[i] = F::zero();
        else if constexpr (std::is_same_v<Unit, float>) r[i] = F::load(row, elems);
        else r[i] = F::load_raw16(row, elems);
      }
      F::transpose(r);
    }
    for (int j = 0; j < nw; ++j) {
      if constexpr (!kHalfUnits) {
        for (int b = 0; b < W / L; ++b) F::store_raw(dst + (p0 + j) * W + b * L, block[b][j]);
      } else {  // word j = K steps 2(p0 + j) and 2(p0 + j) + 1; two word blocks fill one row
        const int64_t q = 2 * (p0 + j);
        for (int b = 0; b < W / L; b += 2) {
          Vec even, odd;
          F::deinterleave16(block[b][j], block[b + 1][j], even, odd);
          F::store_raw(dst + q * W + b * L, even);
          if (q + 1 < steps) F::store_raw(dst + (q + 1) * W + b * L, odd);
        }
      }
    }
  }
}

// How a block to pack lies in memory, and which panel layout it becomes (see above).
enum class Source {
  rows_along_k,      // src(w, p) = src[w * ld + p]  -> row-major panel   (A stored (M, K))
  steps_along_w,     // src(w, p) = src[p * ld + w]  -> step-major panel  (A stored (K, M), B (K, N))
  rows_along_k_to_steps,  // src[w * ld + p]         -> step-major panel  (B stored (N, K))
};

// Packs the width x kc block at src into one panel of W (rows or columns past width are zero).
template <class Op, class Unit, int W, Source kSource, class T>
void pack_panel(Unit* dst, const T* src, int64_t ld, int width, int64_t kc) {
  constexpr int kStep = Op::kStep;
  const int64_t steps = ceil_div(kc, kStep);
  if constexpr (kSource == Source::rows_along_k) {
    for (int w = 0; w < width; ++w) convert_run<Op, Unit>(dst + w * Op::kKCU, src + w * ld, kc);
    for (int w = width; w < W; ++w) std::fill_n(dst + w * Op::kKCU, steps, Unit{});
  } else if constexpr (kSource == Source::steps_along_w) {
    if constexpr (kStep == 1) {
      for (int64_t q = 0; q < steps; ++q) {
        convert_run<Op, Unit>(dst + q * W, src + q * ld, width);
        std::fill(dst + q * W + width, dst + (q + 1) * W, Unit{});
      }
    } else {  // bf16 pairs: interleave rows 2q and 2q + 1 (zero past kc), 2L columns at a time
      using F = typename Op::F;
      constexpr int L = F::kLanes;
      static_assert(kStep == 2 && sizeof(T) == 2 && sizeof(Unit) == 4);
      for (int64_t q = 0; q < steps; ++q) {
        const T* r0 = src + 2 * q * ld;
        const bool has_r1 = 2 * q + 1 < kc;
        for (int w0 = 0; w0 < W; w0 += 2 * L) {
          const int n = std::clamp(width - w0, 0, 2 * L);
          const auto x = n > 0 ? F::load_raw16(r0 + w0, n) : F::zero();
          const auto y = n > 0 && has_r1 ? F::load_raw16(r0 + ld + w0, n) : F::zero();
          typename F::Vec lo, hi;
          F::interleave16(x, y, lo, hi);
          F::store_raw(dst + q * W + w0, lo, std::min(L, W - w0));
          if (W - w0 > L) F::store_raw(dst + q * W + w0 + L, hi, std::min(L, W - w0 - L));
        }
      }
    }
  } else {
    pack_transposed<Op, Unit, W>(dst, src, ld, width, kc);
  }
}

// ---------------------------------------------------------------------------------------------
// The micro-kernel: a kMR x NR tile of accumulators in registers, over `steps` units of K.
// cin == nullptr starts from zero, else from the Acc tile at cin (leading dimension ldin);
// the result goes to cout (ldout). With kARowMajor the A panel is [i][q], else [q][i].
// An Op with `add_block` (blocked accumulation) sums each run of Op::kBlockSteps K steps from
// zero in its registers and adds that sum to the wider Acc tile: cout = cin + block sums.
template <class Op, bool kARowMajor>
void micro_kernel(int64_t steps, const typename Op::AUnit* a, const typename Op::Unit* b,
                  const typename Op::Acc* cin, int64_t ldin, typename Op::Acc* cout, int64_t ldout) {
  constexpr int MR = Op::kMR, NV = Op::kNV, L = Op::kLanes, NR = NV * L;
  constexpr bool kBlockSums = requires(typename Op::Acc* p, typename Op::AccVec v) { Op::add_block(p, p, v); };
  // Without block sums the whole K range is one block whose registers start from cin.
  int64_t block_steps = std::max<int64_t>(steps, 1);
  if constexpr (kBlockSums) block_steps = Op::kBlockSteps;
  for (int64_t q0 = 0; q0 < steps || q0 == 0; q0 += block_steps) {
    const int64_t q1 = std::min(steps, q0 + block_steps);
    typename Op::AccVec acc[MR][NV];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        if constexpr (kBlockSums) acc[i][v] = Op::zero();
        else acc[i][v] = cin != nullptr ? Op::load_acc(cin + i * ldin + v * L) : Op::zero();
      }
    for (int64_t q = q0; q < q1; ++q) {
      typename Op::BVec bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = Op::load_b(b + q * NR + v * L);
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const auto av = Op::broadcast_a(kARowMajor ? a + i * Op::kKCU + q : a + q * MR + i);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = Op::madd(acc[i][v], av, bv[v]);
      }
    }
    // Block sums after the first add to what the earlier blocks left in cout (in L1 by then).
    const typename Op::Acc* base = q0 == 0 ? cin : cout;
    const int64_t ldbase = q0 == 0 ? ldin : ldout;
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        if constexpr (kBlockSums)
          Op::add_block(cout + i * ldout + v * L, base ? base + i * ldbase + v * L : nullptr, acc[i][v]);
        else Op::store_acc(cout + i * ldout + v * L, acc[i][v]);
      }
  }
}

// C(mr x nr) = round(alpha * tile + beta * C), in binary32; beta == 0 never reads C.
template <class Op, class T>
void store_tile(T* c, int64_t ldc, const typename Op::Acc* tile, int mr, int nr, float alpha, float beta) {
  using F = typename Op::F;
  constexpr int NR = Op::kNV * Op::kLanes;
  const auto va = F::set1(alpha), vb = F::set1(beta);
  for (int i = 0; i < mr; ++i) {
    for (int j = 0; j < nr; j += F::kLanes) {
      const int n = std::min(F::kLanes, nr - j);
      auto x = F::mul(va, F::load(tile + i * NR + j, F::kLanes));
      if (beta != 0.0f) x = F::fma(vb, F::load(c + i * ldc + j, n), x);
      F::store(c + i * ldc + j, x, n);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One thread's share: rows [r0, r1) and columns [c0, c1) of C, all of K.
//   for each kMB rows (the Acc buffer holds kMB x kNC partial sums between K blocks)
//     for each kNC columns
//       for each kKC of K: pack op(B) (kKC x kNC, in L2) once
//         for each kMC rows: pack op(A) (kMC x kKC, in L2)
//           for each NR columns (B panel stays in L1), each MR rows: micro-kernel
// Where the partial sums can stay in C (Op::kNCInC, Acc is T, beta is 0), the L2 the Acc buffer
// took holds a wider B block instead: kNCInC columns, so op(A) is packed fewer times. Whole tiles
// are then summed in place; a tile cut by the edge of C goes through `tile` (copied in and out),
// so nothing outside C is touched. The values are those the buffer would hold: the same bits.
template <class Op, class T>
void run_region(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1, Workspace<Op>& ws) {
  using Unit = typename Op::Unit;
  using AUnit = typename Op::AUnit;
  using Acc = typename Op::Acc;
  constexpr int MR = Op::kMR, NR = Op::kNV * Op::kLanes;
  constexpr int64_t KCU = Op::kKCU, KC = KCU * Op::kStep;
  static_assert(Op::kMC % MR == 0 && Op::kNC % NR == 0 && Op::kMB % Op::kMC == 0);
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  T* c = static_cast<T*>(g.c);
  const int64_t nk = std::max<int64_t>(1, ceil_div(g.k, KC));
  constexpr bool kSumsInC = requires { Op::kNCInC; } && std::is_same_v<Acc, T>;
  bool in_c = false;
  int64_t NC = Op::kNC;
  if constexpr (kSumsInC) {
    static_assert(Op::kNCInC % NR == 0);
    in_c = nk > 1 && g.beta == 0.0f;
    if (in_c) NC = Op::kNCInC;
  }
  const int64_t rows = std::min<int64_t>(Op::kMB, r1 - r0), cols = std::min<int64_t>(NC, c1 - c0);
  AUnit* apack = ws.a.template get<AUnit>(size_t(round_up(std::min<int64_t>(Op::kMC, rows), MR) * KCU));
  Unit* bpack = ws.b.template get<Unit>(size_t(round_up(cols, NR) * KCU));
  const int64_t ldcb = round_up(cols, NR);
  Acc* cbuf = nk > 1 && !in_c ? ws.c.template get<Acc>(size_t(round_up(rows, MR) * ldcb)) : nullptr;
  alignas(64) Acc tile[MR * NR];

  for (int64_t ib = r0; ib < r1; ib += Op::kMB) {
    const int64_t mb = std::min<int64_t>(Op::kMB, r1 - ib);
    for (int64_t jc = c0; jc < c1; jc += NC) {
      const int64_t nc = std::min<int64_t>(NC, c1 - jc);
      for (int64_t kb = 0; kb < nk; ++kb) {
        const int64_t pc = kb * KC, kc = std::min<int64_t>(KC, g.k - pc);
        const int64_t steps = ceil_div(kc, Op::kStep);
        const bool first = kb == 0, last = kb == nk - 1;
        // An operand read through a RowSource is packed from its runs: B here, A below a panel at
        // a time. bf16 pairs interleave two source rows, so there B is gathered, then packed.
        constexpr bool kStepIsRow = Op::kStep == 1;
        if (g.b_rows != nullptr && kStepIsRow) {
          if constexpr (kStepIsRow) pack_steps_from_source<Op, Unit, NR, T>(bpack, *g.b_rows, pc, kc, jc, nc, ws);
        } else {
          const T* b_block = nullptr;  // not trans_b: the (kc, nc) block at row pc, column jc
          int64_t ldb = g.ldb;
          if (g.b_rows != nullptr) {
            T* gathered = ws.gathered.template get<T>(size_t(kc * nc));
            read_rows(*g.b_rows, pc, kc, jc, nc, sizeof(T), gathered, nc);
            b_block = gathered;
            ldb = nc;
          } else if (!g.trans_b) {
            b_block = b + pc * g.ldb + jc;  // b is null when read through a RowSource
          }
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int width = int(std::min<int64_t>(NR, nc - jr));
            if (g.trans_b)
              pack_panel<Op, Unit, NR, Source::rows_along_k_to_steps>(bpack + jr * KCU, b + (jc + jr) * g.ldb + pc,
                                                                      g.ldb, width, kc);
            else
              pack_panel<Op, Unit, NR, Source::steps_along_w>(bpack + jr * KCU, b_block + jr, ldb, width, kc);
          }
        }
        for (int64_t ic = ib; ic < ib + mb; ic += Op::kMC) {
          const int64_t mc = std::min<int64_t>(Op::kMC, ib + mb - ic);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int width = int(std::min<int64_t>(MR, mc - ir));
            if (g.trans_a) {
              pack_panel<Op, AUnit, MR, Source::steps_along_w>(apack + ir * KCU, a + pc * g.lda + ic + ir, g.lda,
                                                               width, kc);
            } else if (g.a_rows != nullptr) {
              pack_rows_from_source<Op, AUnit, MR, T>(apack + ir * KCU, *g.a_rows, ic + ir, width, pc, kc, ws);
            } else {
              pack_panel<Op, AUnit, MR, Source::rows_along_k>(apack + ir * KCU, a + (ic + ir) * g.lda + pc, g.lda,
                                                              width, kc);
            }
          }
          for (int64_t jr = 0; jr < nc; jr += NR) {
            for (int64_t ir = 0; ir < mc; ir += MR) {
              T* ct = c + (ic + ir) * g.ldc + jc + jr;
              const int mr = int(std::min<int64_t>(MR, mc - ir)), nr = int(std::min<int64_t>(NR, nc - jr));
              Acc* sums = cbuf != nullptr ? cbuf + (ic - ib + ir) * ldcb + jr : nullptr;
              int64_t ld = ldcb;
              bool through_tile = false;  // an edge tile's sums in C, carried in `tile`
              if constexpr (kSumsInC) {
                if (in_c) {
                  through_tile = mr < MR || nr < NR;
                  sums = through_tile ? tile : ct;
                  ld = through_tile ? NR : g.ldc;
                  if (through_tile && !first)
                    for (int i = 0; i < mr; ++i) std::copy_n(ct + i * g.ldc, nr, tile + i * NR);
                }
              }
              const Acc* cin = first ? nullptr : sums;
              Acc* cout = last ? tile : sums;
              const int64_t ldout = last ? NR : ld;
              if (g.trans_a) micro_kernel<Op, false>(steps, apack + ir * KCU, bpack + jr * KCU, cin, ld, cout, ldout);
              else micro_kernel<Op, true>(steps, apack + ir * KCU, bpack + jr * KCU, cin, ld, cout, ldout);
              if (last) store_tile<Op>(ct, g.ldc, tile, mr, nr, g.alpha, g.beta);
              if constexpr (kSumsInC) {
                if (through_tile && !last)
                  for (int i = 0; i < mr; ++i) std::copy_n(tile + i * NR, nr, ct + i * g.ldc);
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Threads. C is cut into a tm x tn grid of parts (rectangles of whole MR x NR tiles, as even as
// possible) that the threads take in turn; each part is one run_region with the thread's own
// packing buffers: no synchronisation, and the result does not depend on the number of threads
// or on which thread takes a part (every C element is summed over K in the same blocked order).
//
// The grid is first chosen for one part per thread, minimising the slowest part's estimated
// time: multiply-adds plus re-packing (a part packs op(A) once per kNC of its columns and op(B)
// once per kMB of its rows). Then, where that grid cuts only one dimension, it is cut further
// into whole rounds of parts of at least a kMB row block (kNC column block), which re-packs
// almost nothing, up to kPartsPerThread parts per thread: a thread the machine slows down
// (these vCPUs are shared) then takes fewer parts instead of holding the others up. Finer cuts
// that re-pack the other operand measured slower (a weight gradient's patch matrix packed by
// two parts).
struct ThreadGrid {
  int tm = 1, tn = 1;
};

constexpr int kPartsPerThread = 4;

template <class Op>
ThreadGrid choose_grid(const GemmArgs& g, int threads) {
  constexpr int MR = Op::kMR, NR = Op::kNV * Op::kLanes;
  const int64_t tiles_m = ceil_div(g.m, MR), tiles_n = ceil_div(g.n, NR);
  const double k = double(std::max<int64_t>(g.k, 1));
  ThreadGrid best;
  double best_cost = -1;
  for (int tm = 1; tm <= std::min<int64_t>(threads, tiles_m); ++tm) {
    for (int tn = 1; tn <= std::min<int64_t>(threads / tm, tiles_n); ++tn) {
      const double rows = double(ceil_div(tiles_m, tm) * MR), cols = double(ceil_div(tiles_n, tn) * NR);
      // Rough cycles: two FMA ports of kLanes units; packing a vector of elements costs about one
      // cycle, four when op(B) has to be transposed, and eight when an operand comes from a
      // RowSource (measured for a convolution's weight gradient, whose B is the patch matrix: the
      // runs are short and their input is re-read KH*KW times).
      const double madds = rows * cols * k / (2.0 * Op::kLanes * Op::kStep);
      const double a_cost = g.a_rows != nullptr ? 8.0 : 1.0;
      const double pack_a = rows * k * double(ceil_div(int64_t(cols), Op::kNC)) / Op::F::kLanes * a_cost;
      const double b_cost = g.b_rows != nullptr ? 8.0 : g.trans_b ? 4.0 : 1.0;
      const double pack_b = cols * k * double(ceil_div(int64_t(rows), Op::kMB)) / Op::F::kLanes * b_cost;
      const double cost = madds + pack_a + pack_b;
      if (best_cost < 0 || cost < best_cost) {
        best_cost = cost;
        best = {tm, tn};
      }
    }
  }
  // Whole rounds of parts: a multiple of the threads, each part at least one cache block.
  const auto finer = [&](int64_t blocks, int parts) {
    return std::max<int>(parts, int(std::min<int64_t>(blocks, threads * kPartsPerThread) / threads * threads));
  };
  if (best.tn == 1) best.tm = finer(g.m / Op::kMB, best.tm);
  else if (best.tm == 1) best.tn = finer(g.n / Op::kNC, best.tn);
  return best;
}

// Splits [0, tiles) into `parts` nearly equal runs of whole tiles; returns part p as [begin, end)
// in elements, clipped to `size`.
inline void split_tiles(int64_t size, int64_t tile, int parts, int p, int64_t& begin, int64_t& end) {
  const int64_t tiles = ceil_div(size, tile);
  const int64_t base = tiles / parts, extra = tiles % parts;
  const int64_t first = p * base + std::min<int64_t>(p, extra);
  const int64_t count = base + (p < extra ? 1 : 0);
  begin = std::min(size, first * tile);
  end = std::min(size, (first + count) * tile);
}

// Below this many multiply-adds per thread a parallel region costs more than it saves.
constexpr double kMinWorkPerThread = double(1 << 18);

template <class Op, class T>
void gemm_blocked(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  const double work = double(g.m) * double(g.n) * double(g.k);
  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();  // never nest
  threads = int(std::clamp<double>(work / kMinWorkPerThread, 1.0, double(threads)));
  if (threads == 1) {
    run_region<Op, T>(g, 0, g.m, 0, g.n, workspace<Op>());
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    // The team may be smaller than asked for; the grid follows the team actually running.
    const ThreadGrid grid = choose_grid<Op>(g, omp_get_num_threads());
#pragma omp for schedule(dynamic, 1)
    for (int part = 0; part < grid.tm * grid.tn; ++part) {
      int64_t r0, r1, c0, c1;
      split_tiles(g.m, Op::kMR, grid.tm, part / grid.tn, r0, r1);
      split_tiles(g.n, Op::kNV * Op::kLanes, grid.tn, part % grid.tn, c0, c1);
      if (r0 < r1 && c0 < c1) run_region<Op, T>(g, r0, r1, c0, c1, workspace<Op>());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// fp16 accumulation emulated in binary32 (the avx2 and avx512 levels), around a Step whose madd
// leaves an fp16 value in every binary32 lane.

/// Partial sums between K blocks are those fp16 values, stored exactly.
template <class Step>
struct EmulatedF16Sums : Step {
  using Acc = fp16;
  static typename Step::AccVec load_acc(const Acc* p) { return Step::F::load(p, Step::kLanes); }
  static void store_acc(Acc* p, typename Step::AccVec v) { Step::F::store(p, v, Step::kLanes); }
};

/// Blocked fp16 accumulation (Accumulation::f16_block): the same emulated fp16 sums, restarted
/// every kF16AccumulationBlock K steps; each block's sum (an fp16 value, exact in binary32) is
/// added to the binary32 partial sums with one rounding, as the reference does. The first block
/// is added to +0 too, like the reference's total: a block sum of -0 (a negative sum below half
/// the smallest fp16 subnormal) then gives +0.
template <class Step>
struct EmulatedF16Blocks : Step {
  using Acc = float;
  static constexpr int64_t kBlockSteps = kF16AccumulationBlock;
  static_assert(Step::kKCU % kBlockSteps == 0, "K cache blocks hold whole accumulation blocks");

  static void add_block(float* cout, const float* cin, typename Step::AccVec sum) {
    using F = typename Step::F;
    F::store(cout, F::add(cin != nullptr ? F::load(cin, Step::kLanes) : F::zero(), sum), Step::kLanes);
  }
};

}  // namespace
}  // namespace pure16::kernels
