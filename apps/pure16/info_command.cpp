// `pure16 info`: what this CPU offers and which kernel variant each op runs, as a table or (with
// --json) one JSON document whose keys scripts can rely on.
#include <omp.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "commands.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/precision/policy.h"

namespace pure16::cli {

Command add_info_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("info", "Show the detected instruction sets and the kernel variants in use");
  auto json = std::make_shared<bool>(false);
  sub->add_flag("--json", *json,
                "One JSON document: detected_isa, active_isa, threads, gemm (\"dtype/accumulation\": variant), "
                "auto_accumulation (dtype: what --accumulation auto runs), elementwise (op: variant), presets "
                "(the precision names)");
  return {sub, [json] {
    using kernels::Accumulation;
    const auto& gemm_kinds = kernels::gemm_kinds();
    nlohmann::json doc = {{"detected_isa", kernels::isa_name(kernels::detected_isa())},
                          {"active_isa", kernels::isa_name(kernels::active_isa())},
                          {"threads", omp_get_max_threads()}};
    for (const auto& [dtype, acc] : gemm_kinds)
      doc["gemm"][std::string(dtype_name(dtype)) + "/" + std::string(kernels::accumulation_name(acc))] =
          kernels::gemm_variant(dtype, acc);
    doc["presets"] = PrecisionPolicy::preset_names();
    for (DType dtype : {DType::f32, DType::f16, DType::bf16})
      doc["auto_accumulation"][std::string(dtype_name(dtype))] =
          kernels::accumulation_name(kernels::resolve_accumulation(dtype, Accumulation::automatic));
    for (const char* op : {"convert", "convert_stochastic", "add", "add_bias", "relu_forward", "relu_backward", "sum_rows",
                           "dropout", "count_nonfinite", "softmax_cross_entropy", "sgd_update",
                           "adam_update"})
      doc["elementwise"][op] = kernels::elementwise_variant(op);
    if (*json) {
      std::cout << doc.dump(2) << "\n";
      return 0;
    }
    std::cout << "detected ISA: " << doc["detected_isa"].get<std::string>() << "\n"
              << "active ISA:   " << doc["active_isa"].get<std::string>() << " (cap with PURE16_ISA)\n"
              << "threads:      " << omp_get_max_threads() << "\n";
    for (const auto& [dtype, acc] : gemm_kinds)
      std::cout << "gemm " << dtype_name(dtype) << ", " << kernels::accumulation_name(acc)
                << " accum: " << kernels::gemm_variant(dtype, acc) << "\n";
    std::string autos;
    for (const auto& [dtype, acc] : doc["auto_accumulation"].items())
      autos += (autos.empty() ? "" : ", ") + dtype + " " + acc.get<std::string>();
    std::cout << "accumulation auto: " << autos << "\n";
    std::cout << "precisions:\n";
    for (const PresetInfo& preset : PrecisionPolicy::presets())
      std::cout << "  " << preset.name << ": " << preset.summary << "\n";
    std::cout << "kernels:\n";
    for (const auto& [op, variant] : doc["elementwise"].items())
      std::cout << "  " << op << ": " << variant.get<std::string>() << "\n";
    return 0;
  }};
}

}  // namespace pure16::cli
