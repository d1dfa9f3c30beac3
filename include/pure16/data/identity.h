// What a dataset is, as far as a checkpoint needs to know: enough to refuse resuming a run on
// other data, and the class names a prediction is reported in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16::data {

struct DatasetIdentity {
  std::string name;  // "mnist", "cifar10", "imagefolder:<folder name>", ...
  Shape sample_shape;
  int64_t num_classes = 0;
  int64_t train_size = 0;
  int64_t test_size = 0;
  uint64_t label_hash = 0;  // labels_hash() of the training labels, then the test labels
  std::vector<std::string> class_names;

  /// The first difference from `other`, as "what: this vs other", or "" when they agree (class
  /// names included).
  std::string difference(const DatasetIdentity& other) const;
};

/// FNV-1a (64 bits) over labels as little-endian 32-bit integers, continuing from `hash`.
uint64_t labels_hash(const int32_t* labels, int64_t count, uint64_t hash = 0xcbf29ce484222325ull);

}  // namespace pure16::data
