#include "pure16/data/identity.h"

namespace pure16::data {

std::string DatasetIdentity::difference(const DatasetIdentity& other) const {
  auto differs = [](const std::string& what, const std::string& mine, const std::string& theirs) {
    return what + ": " + mine + " vs " + theirs;
  };
  if (name != other.name) return differs("dataset", name, other.name);
  if (sample_shape != other.sample_shape)
    return differs("sample shape", shape_string(sample_shape), shape_string(other.sample_shape));
  if (num_classes != other.num_classes)
    return differs("classes", std::to_string(num_classes), std::to_string(other.num_classes));
  if (train_size != other.train_size)
    return differs("training samples", std::to_string(train_size), std::to_string(other.train_size));
  if (test_size != other.test_size)
    return differs("test samples", std::to_string(test_size), std::to_string(other.test_size));
  if (label_hash != other.label_hash)
    return differs("labels (hash)", std::to_string(label_hash), std::to_string(other.label_hash));
  if (class_names != other.class_names) return "class names differ";
  return "";
}

uint64_t labels_hash(const int32_t* labels, int64_t count, uint64_t hash) {
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t label = uint32_t(labels[i]);
    for (int byte = 0; byte < 4; ++byte) {
      hash ^= (label >> (8 * byte)) & 0xff;
      hash *= 0x100000001b3ull;
    }
  }
  return hash;
}

}  // namespace pure16::data
