// Scalar reference GEMM: the definition every vectorized variant is tested against.
// Plain triple loop in (i, j, p) order so that each C element is one sequential sum over K,
// which is what the error bounds in the tests assume.
#include <cmath>
#include <type_traits>

#include "kernels/kernel_table.h"

namespace pure16::kernels {
namespace {

// Acc is the accumulator's storage type: every partial sum is rounded to it. For fp16
// accumulation each step is a fused multiply-add rounded once to fp16, as native fp16 FMA does.
// kBlocks: fp16 sums restart every kF16AccumulationBlock steps, each block's sum added to a
// binary32 total (Accumulation::f16_block).
template <class T, class Acc, bool kBlocks = false>
void gemm_reference(const GemmArgs& g) {
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  T* c = static_cast<T*>(g.c);
#pragma omp parallel for schedule(static) if (g.m * g.n * g.k > (1 << 16))
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      Acc acc{};
      float total = 0;  // kBlocks: the binary32 sum of the finished blocks
      for (int64_t p = 0; p < g.k; ++p) {
        const double x = as_double(g.trans_a ? a[p * g.lda + i] : a[i * g.lda + p]);
        const double y = as_double(g.trans_b ? b[j * g.ldb + p] : b[p * g.ldb + j]);
        if constexpr (std::is_same_v<Acc, fp16>) acc = from_double<fp16>(std::fma(x, y, as_double(acc)));
        else acc = Acc(Acc(x * y) + acc);  // float: the product of two fp16/bf16/f32 is rounded once
        if (kBlocks && ((p + 1) % kF16AccumulationBlock == 0 || p + 1 == g.k)) {
          total = float(double(total) + as_double(acc));
          acc = Acc{};
        }
      }
      double result = double(g.alpha) * (kBlocks ? double(total) : as_double(acc));
      if (g.beta != 0.0f) result += double(g.beta) * as_double(c[i * g.ldc + j]);
      c[i * g.ldc + j] = from_double<T>(result);
    }
  }
}

}  // namespace

void register_gemm_scalar(KernelTable& table) {
  table.gemm[size_t(GemmKind::f32)].set(gemm_reference<float, float>, Isa::scalar);
  table.gemm[size_t(GemmKind::f16_acc_f32)].set(gemm_reference<fp16, float>, Isa::scalar);
  table.gemm[size_t(GemmKind::f16_acc_f16)].set(gemm_reference<fp16, fp16>, Isa::scalar);
  table.gemm[size_t(GemmKind::f16_acc_f16_block)].set(gemm_reference<fp16, fp16, true>, Isa::scalar);
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_reference<bf16, float>, Isa::scalar);
  table.gemm[size_t(GemmKind::f64)].set(gemm_reference<double, double>, Isa::scalar);
}

}  // namespace pure16::kernels
