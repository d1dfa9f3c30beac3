#include "kernels/kernel_table.h"

namespace pure16::kernels {

// Nothing beyond the avx512 variants: the ops compute in binary32 and round once to the
// storage type, and F16C already converts both ways; native fp16 arithmetic would round each
// operation to binary16 instead.
void register_elementwise_avx512fp16(KernelTable&) {}

}  // namespace pure16::kernels
