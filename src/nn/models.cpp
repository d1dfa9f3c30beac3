#include "pure16/nn/models.h"

#include <stdexcept>

#include "pure16/nn/activation.h"
#include "pure16/nn/linear.h"

namespace pure16::nn {
namespace {

// Multi-layer perceptron: Flatten, then Linear + ReLU (+ Dropout) per hidden width, then the head.
std::unique_ptr<Sequential> mlp(const Shape& sample_shape, int64_t num_classes, const std::vector<int64_t>& hidden,
                                const ModelOptions& options) {
  auto model = std::make_unique<Sequential>();
  model->emplace<Flatten>();
  int64_t width = shape_numel(sample_shape);
  uint64_t dropout_stream = 1;
  for (int64_t h : hidden) {
    model->emplace<Linear>(width, h);
    model->emplace<ReLU>();
    if (options.dropout > 0) model->emplace<Dropout>(options.dropout, dropout_stream++);
    width = h;
  }
  model->emplace<Linear>(width, num_classes);
  return model;
}

}  // namespace

const std::vector<ModelInfo>& model_infos() {
  static const std::vector<ModelInfo> infos{
      {"mlp", "multi-layer perceptron, input-512-512-classes, ReLU"},
  };
  return infos;
}

std::unique_ptr<Sequential> build_model(const std::string& name, const Shape& sample_shape, int64_t num_classes,
                                        const ModelOptions& options) {
  if (num_classes <= 0) throw std::invalid_argument("model " + name + ": number of classes must be positive");
  if (name == "mlp") return mlp(sample_shape, num_classes, {512, 512}, options);
  std::string known;
  for (const ModelInfo& info : model_infos()) known += (known.empty() ? "" : ", ") + info.name;
  throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
}

}  // namespace pure16::nn
