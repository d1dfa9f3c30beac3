#include "pure16/nn/lenet.h"

#include <stdexcept>

#include "pure16/nn/activation.h"
#include "pure16/nn/conv2d.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/pooling.h"

namespace pure16::nn {

std::unique_ptr<Sequential> lenet5(const Shape& sample_shape, int64_t num_classes, float dropout) {
  if (sample_shape.size() != 3)
    throw std::invalid_argument("lenet5: samples must be (H, W, C) images, got " + shape_string(sample_shape));
  auto model = std::make_unique<Sequential>();
  model->emplace<Conv2d>(sample_shape[2], 6, 5, 1, 2, true, FusedActivation::relu);
  model->emplace<MaxPool2d>(2);
  model->emplace<Conv2d>(6, 16, 5, 1, 0, true, FusedActivation::relu);
  model->emplace<MaxPool2d>(2);
  model->emplace<Flatten>();
  // The flattened width follows from the image size (400 for 28x28).
  const int64_t features = model->output_shape({1, sample_shape[0], sample_shape[1], sample_shape[2]})[1];
  uint64_t dropout_stream = 1;
  int64_t width = features;
  for (int64_t hidden : {120, 84}) {
    model->emplace<Linear>(width, hidden, true, FusedActivation::relu);
    if (dropout > 0) model->emplace<Dropout>(dropout, dropout_stream++);
    width = hidden;
  }
  model->emplace<Linear>(width, num_classes);
  return model;
}

}  // namespace pure16::nn
