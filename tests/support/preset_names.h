// Test parameters named after precision presets: gtest names allow no '-', so "pure-fp16"
// becomes "pure_fp16".
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "pure16/precision/policy.h"

namespace pure16::testing {

/// Few presets that between them take every option the presets take: each compute dtype, with
/// and without a master copy, each rounding of weights and of momentum, each loss-scaling mode. The long tests (a
/// ResNet trained, resumed, or run at two thread counts) run these; the rest run every preset.
/// Chosen greedily from the registry, so a new preset that brings a new option joins them.
inline std::vector<std::string> presets_covering_every_option() {
  auto options = [](const PrecisionPolicy& p) {
    return std::set<std::string>{"compute " + std::string(dtype_name(p.compute)),
                                 p.has_master_copy() ? "master copy" : "no master copy",
                                 "rounding " + std::string(rounding_name(p.update_rounding)),
                                 "momentum rounding " + std::string(rounding_name(p.momentum_rounding)),
                                 "loss scale " + loss_scale_name(LossScaleConfig{p.loss_scale.mode})};
  };
  std::set<std::string> uncovered;
  for (const std::string& name : PrecisionPolicy::preset_names()) {
    const std::set<std::string> o = options(PrecisionPolicy::preset(name));
    uncovered.insert(o.begin(), o.end());
  }
  std::vector<std::string> chosen;
  while (!uncovered.empty()) {
    std::string best;
    size_t best_count = 0;
    for (const std::string& name : PrecisionPolicy::preset_names()) {
      size_t count = 0;
      for (const std::string& option : options(PrecisionPolicy::preset(name))) count += uncovered.count(option);
      if (count > best_count) best = name, best_count = count;
    }
    chosen.push_back(best);
    for (const std::string& option : options(PrecisionPolicy::preset(best))) uncovered.erase(option);
  }
  return chosen;
}

inline std::string preset_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

}  // namespace pure16::testing
