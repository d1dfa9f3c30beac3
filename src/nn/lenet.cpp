#include "pure16/nn/lenet.h"

#include <stdexcept>
#include <utility>

#include "pure16/nn/activation.h"
#include "pure16/nn/conv2d.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/pooling.h"

namespace pure16::nn {

std::unique_ptr<Sequential> lenet5(const Shape& sample_shape, int64_t num_classes, float dropout) {
  if (sample_shape.size() != 3)
    throw std::invalid_argument("lenet5: samples must be (H, W, C) images, got " + shape_string(sample_shape));
  auto model = std::make_unique<Sequential>();
  model->add(std::make_unique<Conv2d>(sample_shape[2], 6, 5, 1, 2, true, FusedActivation::relu), "conv1");
  model->emplace<MaxPool2d>(2);
  model->add(std::make_unique<Conv2d>(6, 16, 5, 1, 0, true, FusedActivation::relu), "conv2");
  model->emplace<MaxPool2d>(2);
  // The feature map's size follows from the image size (5x5x16, 400 features, for 28x28).
  const Shape features = model->output_shape({1, sample_shape[0], sample_shape[1], sample_shape[2]});
  model->emplace<Flatten>(Shape(features.begin() + 1, features.end()));
  uint64_t dropout_stream = 1;
  int64_t width = shape_numel(features);
  for (const auto& [name, hidden] : {std::pair{"fc1", 120}, std::pair{"fc2", 84}}) {
    model->add(std::make_unique<Linear>(width, hidden, true, FusedActivation::relu), name);
    if (dropout > 0) model->emplace<Dropout>(dropout, dropout_stream++);
    width = hidden;
  }
  model->add(std::make_unique<Linear>(width, num_classes), "fc3");
  return model;
}

}  // namespace pure16::nn
