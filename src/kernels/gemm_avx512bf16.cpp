#include "kernels/kernel_table.h"

namespace pure16::kernels {

void register_gemm_avx512bf16(KernelTable&) {}

}  // namespace pure16::kernels
