#include <immintrin.h>

#include "kernels/fma_peak_loop.h"

namespace pure16::kernels {

// Multiply-adds performed: iterations * chains * 8 lanes.
double fma_peak_avx2(int64_t iterations) {
  const __m256 r = fma_chains(
      iterations, _mm256_set1_ps(0.999f), _mm256_set1_ps(1e-3f), _mm256_set1_ps(1.0f),
      [](__m256 acc, __m256 a, __m256 b) { return _mm256_fmadd_ps(a, acc, b); },
      [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); });
  return double(_mm256_cvtss_f32(r));
}

}  // namespace pure16::kernels
