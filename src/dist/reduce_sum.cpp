#include "pure16/dist/reduce_sum.h"

#include "pure16/kernels/elementwise.h"

namespace pure16::dist {

void sum_into(void* inout, const void* in, DType dtype, int64_t n) { kernels::add(inout, inout, in, dtype, n); }

}  // namespace pure16::dist
