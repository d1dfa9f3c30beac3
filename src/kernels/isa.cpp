#include "pure16/kernels/isa.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/kernel_table.h"

namespace pure16::kernels {
namespace {

constexpr Isa kLevels[] = {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512bf16, Isa::avx512fp16};

bool cpu_supports(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    case Isa::avx512bf16: return __builtin_cpu_supports("avx512bf16");
    case Isa::avx512fp16: return __builtin_cpu_supports("avx512fp16");
  }
  return false;
}

Isa cap_from_environment() {
  const char* value = std::getenv("PURE16_ISA");
  if (value == nullptr || *value == '\0') return Isa::avx512fp16;
  try {
    return parse_isa(value);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("environment variable PURE16_ISA: ") + e.what());
  }
}

struct Dispatch {
  Isa cap = cap_from_environment();
  Isa active = Isa::scalar;
  KernelTable table;

  Dispatch() { select(); }

  void select() {
    using Register = void (*)(KernelTable&);
    constexpr Register gemm[] = {register_gemm_scalar, register_gemm_avx2, register_gemm_avx512,
                                 register_gemm_avx512bf16, register_gemm_avx512fp16};
    constexpr Register elementwise[] = {register_elementwise_scalar, register_elementwise_avx2,
                                        register_elementwise_avx512, register_elementwise_avx512bf16,
                                        register_elementwise_avx512fp16};
    table = KernelTable{};
    active = std::min(cap, detected_isa());
    for (Isa level : kLevels) {
      if (level > active) break;
      gemm[int(level)](table);
      elementwise[int(level)](table);
    }
  }
};

Dispatch& dispatch_state() {
  static Dispatch state;
  return state;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512bf16: return "avx512bf16";
    case Isa::avx512fp16: return "avx512fp16";
  }
  return "unknown";
}

Isa parse_isa(std::string_view name) {
  for (Isa level : kLevels)
    if (isa_name(level) == name) return level;
  throw std::invalid_argument("unknown ISA '" + std::string(name) +
                              "' (expected scalar, avx2, avx512, avx512bf16 or avx512fp16)");
}

Isa detected_isa() {
  // Levels are cumulative: the first one missing ends the climb.
  static const Isa detected = [] {
    Isa best = Isa::scalar;
    for (Isa level : kLevels) {
      if (!cpu_supports(level)) break;
      best = level;
    }
    return best;
  }();
  return detected;
}

const std::vector<Isa>& supported_isas() {
  static const std::vector<Isa> levels = [] {
    std::vector<Isa> out;
    for (Isa level : kLevels)
      if (level <= detected_isa()) out.push_back(level);
    return out;
  }();
  return levels;
}

Isa active_isa() { return dispatch_state().active; }

void set_isa_cap(Isa cap) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  Dispatch& state = dispatch_state();
  state.cap = cap;
  state.select();
}

const KernelTable& kernel_table() { return dispatch_state().table; }

}  // namespace pure16::kernels
