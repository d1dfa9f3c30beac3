#include "pure16/precision/policy.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace pure16 {

PrecisionPolicy PrecisionPolicy::preset(std::string_view name) {
  PrecisionPolicy p;
  p.name = std::string(name);
  if (name == "fp32") return p;
  if (name == "mixed-fp16") {
    // Apex O2 / torch.autocast with GradScaler: fp16 model, fp32 master weights and state.
    p.compute = DType::f16;
    p.loss_scale.mode = LossScaleMode::dynamic;
    return p;
  }
  if (name == "pure-fp16") {
    // Every tensor of the training state in fp16. Stochastic rounding keeps updates smaller
    // than half an fp16 ulp of the weight from being lost on average. The GEMMs multiply-add in
    // fp16 (twice the binary32 rate on AVX512-FP16) within blocks of 64 products and carry the
    // blocks' sums in binary32, which keeps long sums (a weight gradient over a batch of
    // images: 25,088 products in ResNet-50 at batch 8) from stalling the way a plain fp16 sum does.
    p.compute = p.master = p.optimizer_state = DType::f16;
    p.accumulation = kernels::Accumulation::f16_block;
    p.loss_scale.mode = LossScaleMode::dynamic;
    p.update_rounding = Rounding::stochastic;
    return p;
  }
  throw std::invalid_argument("unknown precision '" + std::string(name) + "' (expected fp32, mixed-fp16 or pure-fp16)");
}

std::vector<std::string> PrecisionPolicy::preset_names() { return {"fp32", "mixed-fp16", "pure-fp16"}; }

void PrecisionPolicy::validate() const {
  if (accumulation != kernels::Accumulation::f32 && compute != DType::f16)
    throw std::invalid_argument("precision " + name + ": " + std::string(kernels::accumulation_name(accumulation)) +
                                " accumulation needs f16 compute");
  if (loss_scale.mode != LossScaleMode::none && !(loss_scale.initial > 0 && std::isfinite(loss_scale.initial)))
    throw std::invalid_argument("precision " + name + ": loss scale must be a positive finite number");
  if (compute == DType::f64 || master == DType::f64 || optimizer_state == DType::f64)
    throw std::invalid_argument("precision " + name + ": f64 is for reference checks, not training");
}

std::string PrecisionPolicy::describe() const {
  std::string s = name + ": compute " + std::string(dtype_name(compute)) + ", master " +
                  (has_master_copy() ? std::string(dtype_name(master)) : std::string("none")) + ", optimizer state " +
                  std::string(dtype_name(optimizer_state)) + ", accumulate " +
                  std::string(kernels::accumulation_name(accumulation)) + ", loss scale " +
                  loss_scale_name(loss_scale) + ", rounding " + std::string(rounding_name(update_rounding));
  return s;
}

LossScaleConfig parse_loss_scale(std::string_view text) {
  LossScaleConfig config;
  if (text == "none") return config;
  if (text == "dynamic") {
    config.mode = LossScaleMode::dynamic;
    return config;
  }
  const std::string s(text);
  size_t used = 0;
  float value = 0;
  try {
    value = std::stof(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || !(value > 0) || !std::isfinite(value))
    throw std::invalid_argument("loss scale '" + s + "' is not none, dynamic or a positive number");
  config.mode = LossScaleMode::fixed;
  config.initial = value;
  return config;
}

Rounding parse_rounding(std::string_view text) {
  if (text == "nearest") return Rounding::nearest;
  if (text == "stochastic") return Rounding::stochastic;
  throw std::invalid_argument("rounding '" + std::string(text) + "' is not nearest or stochastic");
}

std::string loss_scale_name(const LossScaleConfig& config) {
  switch (config.mode) {
    case LossScaleMode::none: return "none";
    case LossScaleMode::dynamic: return "dynamic";
    case LossScaleMode::fixed: break;
  }
  std::string s = std::to_string(config.initial);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string_view rounding_name(Rounding rounding) { return rounding == Rounding::nearest ? "nearest" : "stochastic"; }

}  // namespace pure16
