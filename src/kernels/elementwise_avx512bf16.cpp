#include "kernels/kernel_table.h"

namespace pure16::kernels {

// Nothing beyond the avx512 variants. AVX512-BF16's one conversion, vcvtneps2bf16, rounds to
// nearest even but treats binary32 subnormals as zero (0x007fffff gives 0x0000, not 0x0080),
// so it cannot replace the exact integer rounding the avx512 convert uses.
void register_elementwise_avx512bf16(KernelTable&) {}

}  // namespace pure16::kernels
