// AVX-512 GEMM: f32, and f16/bf16 storage with binary32 accumulation. All three run the same
// binary32 micro-kernel (gemm_vec512.h); fp16 and bf16 inputs are widened exactly while packing,
// so the inner loop never converts, and C is rounded once to the storage type in the epilogue.
#include "kernels/gemm_blocked.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {

void register_gemm_avx512(KernelTable& table) {
  table.gemm[size_t(GemmKind::f32)].set(gemm_blocked<Avx512F32Step, float>, Isa::avx512);
  table.gemm[size_t(GemmKind::f16_acc_f32)].set(gemm_blocked<Avx512F32Step, fp16>, Isa::avx512);
  table.gemm[size_t(GemmKind::bf16_acc_f32)].set(gemm_blocked<Avx512F32Step, bf16>, Isa::avx512);
}

}  // namespace pure16::kernels
