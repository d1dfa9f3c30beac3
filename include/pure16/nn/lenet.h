// LeNet-5 (LeCun et al. 1998) for NHWC images, as usually adapted to 28x28 MNIST:
//   conv 5x5 (6, padding 2) + ReLU + max-pool 2, conv 5x5 (16) + ReLU + max-pool 2,
//   flatten, Linear 120 + ReLU, Linear 84 + ReLU, Linear classes.
// Layers are named conv1, conv2, fc1, fc2, fc3. The flatten of an (N, H, W, C) tensor orders
// features (h, w, c), not PyTorch's (c, h, w): the torchvision export permutes fc1's columns.
#pragma once

#include <memory>

#include "pure16/nn/sequential.h"

namespace pure16::nn {

/// For samples of shape (H, W, C) (28x28x1 for MNIST). Dropout with probability `dropout`
/// follows the two hidden Linear + ReLU pairs when it is > 0.
std::unique_ptr<Sequential> lenet5(const Shape& sample_shape, int64_t num_classes, float dropout = 0.0f);

}  // namespace pure16::nn
