// AVX-512 F/BW/VL/DQ variants of the element-wise ops: the shared bodies on sixteen float
// lanes, with masked loads and stores for the tails.
#include "kernels/adam_update_body.h"
#include "kernels/batchnorm_body.h"
#include "kernels/elementwise_body.h"
#include "kernels/sgd_update_body.h"
#include "kernels/simd_avx512.h"  // first: see the note on GCC 12 there

namespace pure16::kernels {

void register_elementwise_avx512(KernelTable& table) {
  simd::register_vector_elementwise<simd::Avx512>(table, Isa::avx512);
  simd::register_vector_sgd_update<simd::Avx512>(table, Isa::avx512);
  simd::register_vector_adam_update<simd::Avx512>(table, Isa::avx512);
  simd::register_vector_batchnorm<simd::Avx512>(table, Isa::avx512);
}

}  // namespace pure16::kernels
