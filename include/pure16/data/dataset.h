// An in-memory labelled dataset: normalized binary32 samples and int32 class labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16::data {

/// Samples are stored row-major, one after another: sample i is
/// inputs[i * sample_numel(), (i + 1) * sample_numel()). The inputs are already normalized,
/// so a Loader only gathers and converts them.
struct Dataset {
  std::string name;             // "mnist-train", "synthetic-test", ...
  Shape sample_shape;           // e.g. {28, 28, 1}: images are HWC
  int64_t num_classes = 0;
  std::vector<float> inputs;    // size() * sample_numel()
  std::vector<int32_t> labels;  // size()

  int64_t size() const { return int64_t(labels.size()); }
  int64_t sample_numel() const { return shape_numel(sample_shape); }
};

struct Split {
  Dataset train, test;
};

}  // namespace pure16::data
