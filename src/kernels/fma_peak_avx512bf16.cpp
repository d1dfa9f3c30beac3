#include "kernels/fma_peak_loop.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {

// vdpbf16ps: per binary32 lane, two bf16 products added to the lane. Products performed:
// iterations * chains * 32.
double fma_peak_avx512bf16(int64_t iterations) {
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f7f);  // 0.996 in bf16
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3a83);  // 1e-3 in bf16
  const __m512 r = fma_chains(
      iterations, a, b, _mm512_set1_ps(1.0f),
      [](__m512 acc, __m512bh x, __m512bh y) { return _mm512_dpbf16_ps(acc, x, y); },
      [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
  return double(_mm512_reduce_add_ps(r));
}

}  // namespace pure16::kernels
