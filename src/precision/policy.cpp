#include "pure16/precision/policy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace pure16 {

namespace {

// The presets, one row each: every list of precision names (the CLI, bench, info, the docs' table
// and the tests) is read from here. Each starts from the fp32 defaults. The GEMM accumulation is
// `automatic` in all of them: on CPUs with AVX512-FP16 the fp16 presets multiply-add in fp16
// within blocks of 64 products (twice the binary32 rate) and carry the blocks' sums in binary32,
// which keeps long sums (a weight gradient over a batch: 25,088 products in ResNet-50 at batch 8)
// from stalling the way a plain fp16 sum does; elsewhere fp16 arithmetic would be emulated, so
// they sum in binary32, which costs nothing there.
struct PresetRow {
  PresetInfo info;
  void (*apply)(PrecisionPolicy&);
};

const std::vector<PresetRow>& preset_rows() {
  static const std::vector<PresetRow> rows{
      {{"fp32", "binary32 everything: the baseline"}, [](PrecisionPolicy&) {}},
      {{"mixed-fp16", "fp16 model and gradients, fp32 master weights and momentum, dynamic loss scaling (Apex O2)"},
       [](PrecisionPolicy& p) {
         p.compute = DType::f16;
         p.loss_scale.mode = LossScaleMode::dynamic;
       }},
      // Apex O3: fp16 everything, nothing to protect small gradients or small updates.
      {{"pure-fp16-naive",
        "every tensor of the training state in fp16, no loss scaling, rounding to nearest (Apex O3)"},
       [](PrecisionPolicy& p) { p.compute = p.master = p.optimizer_state = DType::f16; }},
      // Stochastic rounding keeps updates smaller than half an fp16 ulp of the weight from being
      // lost on average; loss scaling keeps small gradients above fp16's subnormal range. The
      // momentum rounds to nearest: it moves by (1 - momentum) of itself each step, far more than
      // an ulp, and forgets each rounding error geometrically, so nothing is lost to rounding it
      // (as Zamirai et al., "Revisiting BFloat16 Training", round only the weight update
      // stochastically). Six MNIST seeds trained alike either way (docs/DESIGN.md), and
      // without fp16 FMAs the second Philox stream and rounding made an MLP step 14% longer.
      {{"pure-fp16",
        "every tensor of the training state in fp16, dynamic loss scaling, stochastic rounding of the weights"},
       [](PrecisionPolicy& p) {
         p.compute = p.master = p.optimizer_state = DType::f16;
         p.loss_scale.mode = LossScaleMode::dynamic;
         p.update_rounding = Rounding::stochastic;
       }},
      // The compensation buffer keeps exactly what rounding the weights dropped, one more fp16
      // tensor the size of the weights.
      {{"pure-fp16-kahan", "every tensor in fp16, dynamic loss scaling, Kahan-compensated update (fp16 buffer)"},
       [](PrecisionPolicy& p) {
         p.compute = p.master = p.optimizer_state = DType::f16;
         p.loss_scale.mode = LossScaleMode::dynamic;
         p.update_rounding = Rounding::kahan;
       }},
      {{"mixed-bf16", "bf16 model and gradients, fp32 master weights and momentum, no loss scaling"},
       [](PrecisionPolicy& p) { p.compute = DType::bf16; }},
      // bf16 has binary32's exponent range, so gradients need no loss scale; its 8-bit significand
      // loses far more updates to rounding than fp16 does, which stochastic rounding recovers. Its
      // momentum rounds stochastically too: an error 8 times fp16's per step.
      {{"pure-bf16", "every tensor of the training state in bf16, stochastic rounding, no loss scaling"},
       [](PrecisionPolicy& p) {
         p.compute = p.master = p.optimizer_state = DType::bf16;
         p.update_rounding = p.momentum_rounding = Rounding::stochastic;
       }},
      {{"pure-bf16-naive", "every tensor of the training state in bf16, rounding to nearest"},
       [](PrecisionPolicy& p) { p.compute = p.master = p.optimizer_state = DType::bf16; }},
      {{"pure-bf16-kahan", "every tensor in bf16, Kahan-compensated update (bf16 buffer), no loss scaling"},
       [](PrecisionPolicy& p) {
         p.compute = p.master = p.optimizer_state = DType::bf16;
         p.update_rounding = Rounding::kahan;
       }},
  };
  return rows;
}

}  // namespace

PrecisionPolicy PrecisionPolicy::preset(std::string_view name) {
  for (const PresetRow& row : preset_rows()) {
    if (row.info.name != name) continue;
    PrecisionPolicy p;
    p.name = std::string(name);
    p.accumulation = kernels::Accumulation::automatic;
    row.apply(p);
    p.statistics = p.compute;
    return p;
  }
  std::string names;
  for (const std::string& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown precision '" + std::string(name) + "' (expected one of " + names + ")");
}

std::vector<std::string> PrecisionPolicy::preset_names() {
  std::vector<std::string> names;
  for (const PresetInfo& info : presets()) names.push_back(info.name);
  return names;
}

const std::vector<PresetInfo>& PrecisionPolicy::presets() {
  static const std::vector<PresetInfo> infos = [] {
    std::vector<PresetInfo> out;
    for (const PresetRow& row : preset_rows()) out.push_back(row.info);
    return out;
  }();
  return infos;
}

PrecisionPolicy PrecisionPolicy::resolved() const {
  PrecisionPolicy p = *this;
  p.accumulation = kernels::resolve_accumulation(compute, accumulation);
  return p;
}

void PrecisionPolicy::validate() const {
  const bool f16_sums = accumulation == kernels::Accumulation::f16 || accumulation == kernels::Accumulation::f16_block;
  if (f16_sums && compute != DType::f16)
    throw std::invalid_argument("precision " + name + ": " + std::string(kernels::accumulation_name(accumulation)) +
                                " accumulation needs f16 compute");
  try {
    loss_scale.validate();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("precision " + name + ": " + e.what());
  }
  try {
    // Selectors written as the CLI takes them must read back the same: no empty, repeated or comma-holding one.
    if (!keep_fp32.empty() && parse_keep_fp32(keep_fp32_name(keep_fp32)) != keep_fp32)
      throw std::invalid_argument("a selector holds a comma");
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("precision " + name + ": keep fp32: " + e.what());
  }
  if (momentum_rounding == Rounding::kahan)
    throw std::invalid_argument("precision " + name +
                                ": momentum rounding is nearest or stochastic (kahan compensates the weights only)");
  if (compute == DType::f64 || master == DType::f64 || optimizer_state == DType::f64 || statistics == DType::f64)
    throw std::invalid_argument("precision " + name + ": f64 is for reference checks, not training");
}

std::string PrecisionPolicy::accumulation_description() const {
  const kernels::Accumulation ran = kernels::resolve_accumulation(compute, accumulation);
  std::string s(kernels::accumulation_name(ran));
  if (accumulation == kernels::Accumulation::automatic) s += " (auto)";
  else if (!kernels::accumulation_is_native(compute, ran))
    s += " (no native fp16 arithmetic here: slower than f32)";
  return s;
}

std::string PrecisionPolicy::describe() const {
  std::string s = name + ": compute " + std::string(dtype_name(compute)) + ", master " +
                  (has_master_copy() ? std::string(dtype_name(master)) : std::string("none")) + ", optimizer state " +
                  std::string(dtype_name(optimizer_state)) + ", BatchNorm statistics " +
                  std::string(dtype_name(statistics)) + ", accumulate " + accumulation_description() +
                  ", convolution " + std::string(kernels::conv_algorithm_name(convolution)) + ", loss scale " +
                  loss_scale_name(loss_scale) + ", rounding " + std::string(rounding_name(update_rounding)) +
                  ", momentum rounding " + std::string(rounding_name(momentum_rounding));
  if (!keep_fp32.empty()) s += ", keep fp32 " + keep_fp32_name(keep_fp32);
  return s;
}

StateDTypes PrecisionPolicy::state_dtypes(bool kept_fp32) const {
  if (kept_fp32) return {DType::f32, DType::f32, DType::f32};
  return {compute, master, optimizer_state};
}

std::vector<bool> PrecisionPolicy::kept_layers(const std::vector<std::string>& layer_paths) const {
  std::vector<bool> kept(layer_paths.size(), false);
  for (const std::string& selector : keep_fp32) {
    bool matched = false;
    for (size_t i = 0; i < layer_paths.size(); ++i) {
      const std::string& path = layer_paths[i];
      // A prefix matches whole components only: `layer1` keeps layer1.0.conv1, not layer10.
      const bool match = (selector == "first" && i == 0) || (selector == "last" && i + 1 == layer_paths.size()) ||
                         path == selector || path.rfind(selector + ".", 0) == 0;
      if (match) kept[i] = matched = true;
    }
    if (matched) continue;
    // Name the layers, or for deep models the top-level names that prefix them.
    constexpr size_t kLayersNamed = 24;
    const bool deep = layer_paths.size() > kLayersNamed;
    std::vector<std::string> valid{"first", "last"};
    for (const std::string& path : layer_paths) {
      const std::string name = deep ? path.substr(0, path.find('.')) : path;
      if (valid.back() != name) valid.push_back(name);
    }
    std::string list;
    for (const std::string& v : valid) list += (list.empty() ? "" : ", ") + v;
    const auto nested = std::find_if(layer_paths.begin(), layer_paths.end(),
                                     [](const std::string& path) { return path.find('.') != std::string::npos; });
    if (deep && nested != layer_paths.end())
      list += ", or a layer path under one of them, e.g. " + *nested;
    throw std::invalid_argument("'" + selector + "' matches no layer with parameters (valid: " + list + ")");
  }
  return kept;
}

std::vector<std::string> parse_keep_fp32(std::string_view text) {
  std::vector<std::string> selectors;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string selector(text.substr(start, comma - start));
    if (selector.empty())
      throw std::invalid_argument("'" + std::string(text) +
                                  "' has an empty selector (expected a comma-separated list of first, last or layer "
                                  "paths such as fc1 or layer1.0.conv1)");
    if (std::find(selectors.begin(), selectors.end(), selector) != selectors.end())
      throw std::invalid_argument("'" + std::string(text) + "' names " + selector + " twice");
    selectors.push_back(selector);
    start = comma + 1;
  }
  return selectors;
}

std::string keep_fp32_name(const std::vector<std::string>& selectors) {
  std::string s;
  for (const std::string& selector : selectors) s += (s.empty() ? "" : ",") + selector;
  return s.empty() ? "none" : s;
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

void LossScaleConfig::validate() const {
  if (mode == LossScaleMode::none) return;
  const auto normal = [](float v) { return std::isfinite(v) && v >= std::numeric_limits<float>::min(); };
  if (!normal(initial)) throw std::invalid_argument("loss scale must be a positive finite normal number");
  if (mode == LossScaleMode::fixed) return;
  if (!normal(min_scale) || !normal(max_scale) || min_scale > max_scale)
    throw std::invalid_argument("loss scale bounds must be positive finite normal numbers with min <= max, got [" +
                                std::to_string(min_scale) + ", " + std::to_string(max_scale) + "]");
  if (initial < min_scale || initial > max_scale)
    throw std::invalid_argument("initial loss scale " + std::to_string(initial) + " lies outside [" +
                                std::to_string(min_scale) + ", " + std::to_string(max_scale) + "]");
  if (!(growth_factor > 1.0f) || !std::isfinite(growth_factor))
    throw std::invalid_argument("loss scale growth factor must be a finite number above 1");
  if (!(backoff_factor > 0.0f && backoff_factor < 1.0f))
    throw std::invalid_argument("loss scale backoff factor must lie strictly between 0 and 1");
  if (growth_interval <= 0) throw std::invalid_argument("loss scale growth interval must be positive");
  if (hysteresis <= 0) throw std::invalid_argument("loss scale hysteresis must be positive");
}

namespace {
constexpr std::array<std::pair<Rounding, std::string_view>, 3> kRoundings{
    {{Rounding::nearest, "nearest"}, {Rounding::stochastic, "stochastic"}, {Rounding::kahan, "kahan"}}};
}  // namespace

std::vector<std::string> rounding_names() {
  std::vector<std::string> names;
  for (const auto& [rounding, name] : kRoundings) names.emplace_back(name);
  return names;
}

std::vector<std::string> momentum_rounding_names() {
  std::vector<std::string> names = rounding_names();
  std::erase(names, std::string(rounding_name(Rounding::kahan)));
  return names;
}

Rounding parse_rounding(std::string_view text) {
  for (const auto& [rounding, name] : kRoundings)
    if (name == text) return rounding;
  throw std::invalid_argument("rounding '" + std::string(text) + "' is not nearest, stochastic or kahan");
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

std::string_view rounding_name(Rounding rounding) {
  for (const auto& [r, name] : kRoundings)
    if (r == rounding) return name;
  return "?";
}

}  // namespace pure16
