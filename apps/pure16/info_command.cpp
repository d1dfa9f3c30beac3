// `pure16 info`: what this CPU offers and which kernel variant each op runs.
#include <omp.h>

#include <iostream>

#include "commands.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"

namespace pure16::cli {

Command add_info_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("info", "Show the detected instruction sets and the kernel variants in use");
  return {sub, [] {
    using kernels::Accumulation;
    std::cout << "detected ISA: " << kernels::isa_name(kernels::detected_isa()) << "\n"
              << "active ISA:   " << kernels::isa_name(kernels::active_isa()) << " (cap with PURE16_ISA)\n"
              << "threads:      " << omp_get_max_threads() << "\n"
              << "gemm f32:            " << kernels::gemm_variant(DType::f32, Accumulation::f32) << "\n"
              << "gemm f16, f32 accum: " << kernels::gemm_variant(DType::f16, Accumulation::f32) << "\n"
              << "gemm f16, f16 accum: " << kernels::gemm_variant(DType::f16, Accumulation::f16) << "\n"
              << "gemm f16, f16-block accum: " << kernels::gemm_variant(DType::f16, Accumulation::f16_block) << "\n"
              << "gemm bf16, f32 accum: " << kernels::gemm_variant(DType::bf16, Accumulation::f32) << "\n";
    for (const char* op : {"convert", "convert_stochastic", "add_bias", "relu_forward", "relu_backward", "sum_rows",
                           "dropout", "count_nonfinite", "softmax_cross_entropy"})
      std::cout << "  " << op << ": " << kernels::elementwise_variant(op) << "\n";
    return 0;
  }};
}

}  // namespace pure16::cli
