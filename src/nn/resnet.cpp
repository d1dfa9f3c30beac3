#include "pure16/nn/resnet.h"

#include <stdexcept>
#include <string>

#include "pure16/nn/activation.h"
#include "pure16/nn/batchnorm.h"
#include "pure16/nn/conv2d.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/pooling.h"
#include "pure16/nn/residual.h"

namespace pure16::nn {
namespace {

// Convolution (no bias) followed by BatchNorm (and the ReLU fused into it, if asked), appended
// to `chain` under torchvision's names for them.
void conv_bn(Sequential& chain, const std::string& conv_name, const std::string& bn_name, int64_t in, int64_t out,
             int64_t kernel, int64_t stride, FusedActivation activation = FusedActivation::none) {
  chain.add(std::make_unique<Conv2d>(in, out, kernel, stride, kernel / 2), conv_name);
  chain.add(std::make_unique<BatchNorm2d>(out, activation), bn_name);
}

// Appends one block, named `name` (torchvision's `layer<stage>.<index>`), and its ReLU; returns
// the block's output channel count.
int64_t add_block(Sequential& model, const std::string& name, ResNetConfig::Block kind, int64_t in, int64_t planes,
                  int64_t stride) {
  auto main = std::make_unique<Sequential>();
  int64_t out = planes;
  if (kind == ResNetConfig::Block::basic) {
    conv_bn(*main, "conv1", "bn1", in, planes, 3, stride, FusedActivation::relu);
    conv_bn(*main, "conv2", "bn2", planes, planes, 3, 1);
  } else {
    out = 4 * planes;
    conv_bn(*main, "conv1", "bn1", in, planes, 1, 1, FusedActivation::relu);
    // v1.5: the stride sits on the 3x3 convolution
    conv_bn(*main, "conv2", "bn2", planes, planes, 3, stride, FusedActivation::relu);
    conv_bn(*main, "conv3", "bn3", planes, out, 1, 1);
  }
  std::unique_ptr<Sequential> shortcut;
  if (stride != 1 || in != out) {
    shortcut = std::make_unique<Sequential>();
    conv_bn(*shortcut, "0", "1", in, out, 1, stride);
  }
  model.add(std::make_unique<Residual>(std::move(main), std::move(shortcut)), name);
  model.emplace<ReLU>();
  return out;
}

}  // namespace

std::unique_ptr<Sequential> resnet(const ResNetConfig& config, const Shape& sample_shape, int64_t num_classes) {
  if (sample_shape.size() != 3)
    throw std::invalid_argument("resnet: samples must be (H, W, C) images, got " + shape_string(sample_shape));
  if (config.width <= 0)
    throw std::invalid_argument("resnet: width must be positive, got " + std::to_string(config.width));
  auto model = std::make_unique<Sequential>();
  const int64_t in_channels = sample_shape[2];
  if (config.cifar_stem) {
    conv_bn(*model, "conv1", "bn1", in_channels, config.width, 3, 1, FusedActivation::relu);
  } else {
    conv_bn(*model, "conv1", "bn1", in_channels, config.width, 7, 2, FusedActivation::relu);
    model->emplace<MaxPool2d>(3, 2, 1);
  }
  int64_t channels = config.width;
  const std::array<int64_t, 4> planes{config.width, 2 * config.width, 4 * config.width, 8 * config.width};
  for (size_t stage = 0; stage < 4; ++stage)
    for (int64_t b = 0; b < config.blocks[stage]; ++b)
      channels = add_block(*model, "layer" + std::to_string(stage + 1) + "." + std::to_string(b), config.block,
                           channels, planes[stage], b == 0 && stage > 0 ? 2 : 1);
  model->emplace<GlobalAvgPool2d>();
  model->add(std::make_unique<Linear>(channels, num_classes), "fc");
  model->output_shape({1, sample_shape[0], sample_shape[1], sample_shape[2]});  // throws if the image is too small
  return model;
}

std::unique_ptr<Sequential> resnet18(const Shape& sample_shape, int64_t num_classes) {
  return resnet({ResNetConfig::Block::basic, {2, 2, 2, 2}, false}, sample_shape, num_classes);
}

std::unique_ptr<Sequential> resnet34(const Shape& sample_shape, int64_t num_classes) {
  return resnet({ResNetConfig::Block::basic, {3, 4, 6, 3}, false}, sample_shape, num_classes);
}

std::unique_ptr<Sequential> resnet50(const Shape& sample_shape, int64_t num_classes) {
  return resnet({ResNetConfig::Block::bottleneck, {3, 4, 6, 3}, false}, sample_shape, num_classes);
}

}  // namespace pure16::nn
