#include "pure16/tensor/dtype.h"

#include <array>
#include <stdexcept>

namespace pure16 {

const DTypeTraits& traits(DType dtype) {
  static const std::array<DTypeTraits, 4> table{{
      {"f32", 4, 0x1.0p-24},
      {"f16", 2, 0x1.0p-11},
      {"bf16", 2, 0x1.0p-8},
      {"f64", 8, 0x1.0p-53},
  }};
  return table.at(size_t(dtype));
}

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32") return DType::f32;
  if (name == "f16" || name == "fp16" || name == "float16") return DType::f16;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  if (name == "f64" || name == "fp64" || name == "float64") return DType::f64;
  throw std::invalid_argument("unknown dtype '" + std::string(name) + "' (expected f32, f16, bf16 or f64)");
}

}  // namespace pure16
