// The model zoo behind `--model`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pure16/nn/sequential.h"

namespace pure16::nn {

struct ModelOptions {
  float dropout = 0.0f;  // applied after each hidden activation when > 0
};

struct ModelInfo {
  std::string name;
  std::string description;
  Shape sample_shape;   // the input it was designed for: (H, W, C)
  int64_t num_classes;  // and its usual number of classes
};
const std::vector<ModelInfo>& model_infos();
/// The names of model_infos(), in order: what every --model accepts.
std::vector<std::string> model_names();

/// Builds `name` for inputs of `sample_shape` (no batch dimension) and `num_classes` outputs.
/// Throws std::invalid_argument for an unknown name, listing the known ones.
std::unique_ptr<Sequential> build_model(const std::string& name, const Shape& sample_shape, int64_t num_classes,
                                        const ModelOptions& options = {});

}  // namespace pure16::nn
