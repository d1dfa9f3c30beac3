// What each GEMM variant does with subnormal inputs and results, stated per variant in
// docs/DESIGN.md ("How kernels are chosen"): every fp16 path keeps fp16 subnormals; the bf16
// paths that widen to binary32 keep bf16 subnormals, while vdpbf16ps (the avx512bf16 variant)
// reads bf16 subnormal inputs as zero and flushes subnormal results, whatever MXCSR says.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/tensor/tensor.h"
#include "support/reference.h"

namespace pure16 {
namespace {

using kernels::Accumulation;

// C (1 x 1) = sum_p a[p] * b[p] for K = a.size(), through the active variant of (dtype, acc).
double dot(DType dtype, Accumulation acc, const std::vector<double>& a, const std::vector<double>& b) {
  const int64_t k = int64_t(a.size());
  Tensor ta = Tensor::from_doubles(a, {1, k}, dtype);
  Tensor tb = Tensor::from_doubles(b, {k, 1}, dtype);
  Tensor tc = Tensor::zeros({1, 1}, dtype);
  kernels::gemm(tc, ta, false, tb, false, 1.0f, 0.0f, acc);
  return tc.to_doubles()[0];
}

TEST(GemmSubnormals, Bf16KeptByWideningVariantsAndFlushedByVdpbf16ps) {
  const double subnormal_input = std::ldexp(1.0, -130);  // below bf16's least normal, 2^-126
  testing::for_each_isa([&](kernels::Isa level) {
    const std::string variant(kernels::gemm_variant(DType::bf16, Accumulation::f32));
    const bool flushes = variant == "avx512bf16";
    // A subnormal input times 2^100: 2^-30, a normal product, unless the input was read as zero.
    EXPECT_EQ(dot(DType::bf16, Accumulation::f32, {subnormal_input, 0.0}, {std::ldexp(1.0, 100), 1.0}),
              flushes ? 0.0 : std::ldexp(1.0, -30))
        << variant << " at " << kernels::isa_name(level);
    // Two normal inputs whose product, 2^-130, is subnormal in binary32 and in bf16.
    EXPECT_EQ(dot(DType::bf16, Accumulation::f32, {std::ldexp(1.0, -70), 0.0}, {std::ldexp(1.0, -60), 1.0}),
              flushes ? 0.0 : subnormal_input)
        << variant << " at " << kernels::isa_name(level);
  });
}

TEST(GemmSubnormals, Fp16KeptByEveryVariantAndAccumulation) {
  testing::for_each_isa([&](kernels::Isa level) {
    for (Accumulation acc : {Accumulation::f32, Accumulation::f16, Accumulation::f16_block}) {
      const std::string variant(kernels::gemm_variant(DType::f16, acc));
      // The least fp16 subnormal, 2^-24, as an input.
      EXPECT_EQ(dot(DType::f16, acc, {std::ldexp(1.0, -24), 0.0}, {3.0, 1.0}), 3 * std::ldexp(1.0, -24))
          << variant << " " << kernels::accumulation_name(acc) << " at " << kernels::isa_name(level);
      // Normal inputs, subnormal products and sum: 3 * 2^-13 * 2^-11 + 2^-12 * 2^-12 = 4 * 2^-24.
      EXPECT_EQ(dot(DType::f16, acc, {3 * std::ldexp(1.0, -13), std::ldexp(1.0, -12)},
                    {std::ldexp(1.0, -11), std::ldexp(1.0, -12)}),
                4 * std::ldexp(1.0, -24))
          << variant << " " << kernels::accumulation_name(acc) << " at " << kernels::isa_name(level);
    }
  });
}

}  // namespace
}  // namespace pure16
