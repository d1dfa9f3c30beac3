// AVX2 + FMA + F16C variants of the element-wise ops: the shared bodies on eight float lanes.
#include "kernels/adam_update_body.h"
#include "kernels/batchnorm_body.h"
#include "kernels/elementwise_body.h"
#include "kernels/sgd_update_body.h"
#include "kernels/simd_avx2.h"

namespace pure16::kernels {

void register_elementwise_avx2(KernelTable& table) {
  simd::register_vector_elementwise<simd::Avx2>(table, Isa::avx2);
  simd::register_vector_sgd_update<simd::Avx2>(table, Isa::avx2);
  simd::register_vector_adam_update<simd::Avx2>(table, Isa::avx2);
  simd::register_vector_batchnorm<simd::Avx2>(table, Isa::avx2);
}

}  // namespace pure16::kernels
