// ResNets in torchvision's layout (He et al. 2015; Bottleneck as torchvision's v1.5, stride on
// the 3x3 convolution), for NHWC inputs (N, H, W, C):
//   stem      7x7/2 conv (64) + BN + ReLU + 3x3/2 max-pool; CIFAR stem: 3x3/1 conv (64) + BN + ReLU
//   stages    64, 128, 256, 512 planes, stride 1, 2, 2, 2; blocks per stage from the config
//   block     Residual(main, shortcut) + ReLU; the shortcut is a 1x1 conv + BN (projection) when
//             the stride or the channel count changes, else the identity
//   head      global average pool + Linear(512 * expansion, classes)
// Convolutions have no bias; every BatchNorm starts at weight 1, bias 0.
#pragma once

#include <array>
#include <memory>

#include "pure16/nn/sequential.h"

namespace pure16::nn {

struct ResNetConfig {
  enum class Block { basic, bottleneck } block = Block::basic;  // expansion 1 or 4
  std::array<int64_t, 4> blocks{2, 2, 2, 2};                    // blocks per stage
  bool cifar_stem = false;
  int64_t width = 64;  // planes of the first stage, doubled at each later one (torchvision: 64)
};

/// Builds a ResNet for samples of shape (H, W, C) and `num_classes` outputs.
std::unique_ptr<Sequential> resnet(const ResNetConfig& config, const Shape& sample_shape, int64_t num_classes);

std::unique_ptr<Sequential> resnet18(const Shape& sample_shape, int64_t num_classes);  // basic [2, 2, 2, 2]
std::unique_ptr<Sequential> resnet34(const Shape& sample_shape, int64_t num_classes);  // basic [3, 4, 6, 3]
std::unique_ptr<Sequential> resnet50(const Shape& sample_shape, int64_t num_classes);  // bottleneck [3, 4, 6, 3]

}  // namespace pure16::nn
