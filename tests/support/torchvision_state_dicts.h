// torchvision's ResNet state_dict keys and shapes, in its order: what a torchvision-layout
// export must hold, and what the path names of our ResNets must match (num_batches_tracked
// aside: we do not store it).
#pragma once

#include <string>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16::testing {

struct NamedShape {
  std::string name;
  Shape shape;  // convolution weights (O, I, KH, KW); num_batches_tracked an int64 scalar, shape []
};

/// torchvision.models.resnet18() and resnet50() (num_classes = 1000).
const std::vector<NamedShape>& torchvision_resnet18_state_dict();
const std::vector<NamedShape>& torchvision_resnet50_state_dict();

}  // namespace pure16::testing
