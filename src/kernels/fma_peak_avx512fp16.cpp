#include "kernels/fma_peak_loop.h"
#include "kernels/gemm_vec512.h"

namespace pure16::kernels {

// Multiply-adds performed: iterations * chains * 32 lanes. The values stay near 1 (a fixed point
// of acc * 0.999 + 1e-3), far from subnormals, which some cores handle with assists.
double fma_peak_avx512fp16(int64_t iterations) {
  const __m512h r = fma_chains(
      iterations, _mm512_set1_ph(_Float16(0.999f)), _mm512_set1_ph(_Float16(1e-3f)), _mm512_set1_ph(_Float16(1.0f)),
      [](__m512h acc, __m512h a, __m512h b) { return _mm512_fmadd_ph(a, acc, b); },
      [](__m512h x, __m512h y) { return _mm512_add_ph(x, y); });
  return double(float(_mm512_reduce_add_ph(r)));
}

}  // namespace pure16::kernels
