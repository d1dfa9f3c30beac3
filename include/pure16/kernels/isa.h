// Instruction-set levels and the cap that selects kernel variants at start-up.
#pragma once

#include <string_view>
#include <vector>

namespace pure16::kernels {

/// Ordered levels; each implies the ones before it. A kernel variant registered for a level
/// is used when the CPU supports that level and the cap allows it.
///   scalar      portable C++, the reference for every op
///   avx2        AVX2 + FMA + F16C
///   avx512      AVX-512 F/BW/VL/DQ
///   avx512bf16  + AVX512-BF16 (vdpbf16ps)
///   avx512fp16  + AVX512-FP16 (native fp16 arithmetic)
enum class Isa { scalar, avx2, avx512, avx512bf16, avx512fp16 };

std::string_view isa_name(Isa isa);
/// Parses an ISA name; throws std::invalid_argument naming the accepted values.
Isa parse_isa(std::string_view name);
/// The highest level this CPU (and OS) supports.
Isa detected_isa();
/// The level in use: min(detected, cap). The cap starts from the environment variable
/// PURE16_ISA (unset: no cap) and can be changed with set_isa_cap, which re-selects kernels.
Isa active_isa();
void set_isa_cap(Isa cap);
/// Every level from scalar to detected_isa(), for tests that cover each path.
const std::vector<Isa>& supported_isas();

}  // namespace pure16::kernels
