// Test parameters named after precision presets: gtest names allow no '-', so "pure-fp16"
// becomes "pure_fp16".
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace pure16::testing {

inline std::string preset_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

}  // namespace pure16::testing
