// GemmArgs for a plain (not RowSource) GEMM in one expression: what the convolution paths build
// for each of their GEMMs.
#pragma once

#include <cstdint>

#include "pure16/kernels/gemm.h"

namespace pure16::kernels {

inline GemmArgs make_gemm_args(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda,
                               const void* b, int64_t ldb, void* c, int64_t ldc, float beta) {
  GemmArgs args;
  args.trans_a = trans_a;
  args.trans_b = trans_b;
  args.m = m;
  args.n = n;
  args.k = k;
  args.a = a;
  args.lda = lda;
  args.b = b;
  args.ldb = ldb;
  args.c = c;
  args.ldc = ldc;
  args.beta = beta;
  return args;
}

}  // namespace pure16::kernels
