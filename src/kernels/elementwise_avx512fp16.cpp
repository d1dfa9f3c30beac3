#include "kernels/kernel_table.h"

namespace pure16::kernels {

void register_elementwise_avx512fp16(KernelTable&) {}

}  // namespace pure16::kernels
