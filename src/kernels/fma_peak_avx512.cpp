#include "kernels/fma_peak_loop.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {

// Multiply-adds performed: iterations * chains * 16 lanes.
double fma_peak_avx512(int64_t iterations) {
  const __m512 r = fma_chains(
      iterations, _mm512_set1_ps(0.999f), _mm512_set1_ps(1e-3f), _mm512_set1_ps(1.0f),
      [](__m512 acc, __m512 a, __m512 b) { return _mm512_fmadd_ps(a, acc, b); },
      [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
  return double(_mm512_reduce_add_ps(r));
}

}  // namespace pure16::kernels
