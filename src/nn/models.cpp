#include "pure16/nn/models.h"

#include <stdexcept>
#include <string>

#include "pure16/nn/activation.h"
#include "pure16/nn/lenet.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/resnet.h"

namespace pure16::nn {
namespace {

// Multi-layer perceptron: Flatten, then Linear + ReLU (+ Dropout) per hidden width, then the
// head; the Linear layers are fc1, fc2, ... in order.
std::unique_ptr<Sequential> mlp(const Shape& sample_shape, int64_t num_classes, const std::vector<int64_t>& hidden,
                                const ModelOptions& options) {
  auto model = std::make_unique<Sequential>();
  model->emplace<Flatten>(sample_shape);
  int64_t width = shape_numel(sample_shape);
  uint64_t dropout_stream = 1;
  for (size_t i = 0; i < hidden.size(); ++i) {
    model->add(std::make_unique<Linear>(width, hidden[i], true, FusedActivation::relu), "fc" + std::to_string(i + 1));
    if (options.dropout > 0) model->emplace<Dropout>(options.dropout, dropout_stream++);
    width = hidden[i];
  }
  model->add(std::make_unique<Linear>(width, num_classes), "fc" + std::to_string(hidden.size() + 1));
  return model;
}

}  // namespace

const std::vector<ModelInfo>& model_infos() {
  static const std::vector<ModelInfo> infos{
      {"mlp", "multi-layer perceptron, input-512-512-classes, ReLU", {28, 28, 1}, 10},
      {"lenet5", "LeNet-5: two 5x5 conv + max-pool stages, fc 120-84-classes, ReLU", {28, 28, 1}, 10},
      {"resnet18", "ResNet-18, torchvision layout: 7x7/2 stem + max-pool, basic blocks [2, 2, 2, 2]", {224, 224, 3}, 1000},
      {"resnet34", "ResNet-34, torchvision layout: 7x7/2 stem + max-pool, basic blocks [3, 4, 6, 3]", {224, 224, 3}, 1000},
      {"resnet50", "ResNet-50, torchvision v1.5: 7x7/2 stem + max-pool, bottlenecks [3, 4, 6, 3]", {224, 224, 3}, 1000},
      {"resnet18-cifar", "ResNet-18 with a 3x3/1 stem and no max-pool", {32, 32, 3}, 10},
      {"resnet50-cifar", "ResNet-50 with a 3x3/1 stem and no max-pool", {32, 32, 3}, 10},
  };
  return infos;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelInfo& info : model_infos()) names.push_back(info.name);
  return names;
}

std::unique_ptr<Sequential> build_model(const std::string& name, const Shape& sample_shape, int64_t num_classes,
                                        const ModelOptions& options) {
  if (num_classes <= 0) throw std::invalid_argument("model " + name + ": number of classes must be positive");
  if (name == "mlp") return mlp(sample_shape, num_classes, {512, 512}, options);
  if (name == "lenet5") return lenet5(sample_shape, num_classes, options.dropout);
  const std::vector<std::pair<std::string, ResNetConfig>> resnets{
      {"resnet18", {ResNetConfig::Block::basic, {2, 2, 2, 2}, false}},
      {"resnet34", {ResNetConfig::Block::basic, {3, 4, 6, 3}, false}},
      {"resnet50", {ResNetConfig::Block::bottleneck, {3, 4, 6, 3}, false}},
      {"resnet18-cifar", {ResNetConfig::Block::basic, {2, 2, 2, 2}, true}},
      {"resnet50-cifar", {ResNetConfig::Block::bottleneck, {3, 4, 6, 3}, true}},
  };
  for (const auto& [resnet_name, config] : resnets) {
    if (name != resnet_name) continue;
    if (options.dropout > 0) throw std::invalid_argument("model " + name + " has no dropout (got " + std::to_string(options.dropout) + ")");
    return resnet(config, sample_shape, num_classes);
  }
  std::string known;
  for (const ModelInfo& info : model_infos()) known += (known.empty() ? "" : ", ") + info.name;
  throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
}

}  // namespace pure16::nn
