#include "pure16/data/mnist.h"

#include <array>
#include <stdexcept>
#include <string>

#include "pure16/data/idx.h"

namespace pure16::data {
namespace {

constexpr int64_t kRows = 28, kCols = 28, kClasses = 10;

// One pair of IDX files: images (N, 28, 28) and labels (N).
Dataset load_pair(const std::string& name, const std::filesystem::path& images_file,
                  const std::filesystem::path& labels_file) {
  const IdxArray images = read_idx(images_file);
  const IdxArray labels = read_idx(labels_file);
  if (images.dims.size() != 3)
    throw std::runtime_error("mnist images " + images_file.string() + ": " + std::to_string(images.dims.size()) +
                             " dimensions, expected 3 (count, rows, columns)");
  if (images.dims[1] != kRows || images.dims[2] != kCols)
    throw std::runtime_error("mnist images " + images_file.string() + ": images are " + std::to_string(images.dims[1]) +
                             "x" + std::to_string(images.dims[2]) + ", expected 28x28");
  if (labels.dims.size() != 1)
    throw std::runtime_error("mnist labels " + labels_file.string() + ": " + std::to_string(labels.dims.size()) +
                             " dimensions, expected 1 (count)");
  if (images.dims[0] != labels.dims[0])
    throw std::runtime_error("mnist: " + images_file.string() + " holds " + std::to_string(images.dims[0]) +
                             " images but " + labels_file.string() + " holds " + std::to_string(labels.dims[0]) +
                             " labels");

  Dataset dataset;
  dataset.name = name;
  dataset.sample_shape = {kRows, kCols, 1};  // HWC, the layout of every image tensor (docs/DESIGN.md)
  dataset.num_classes = kClasses;
  dataset.labels.resize(labels.values.size());
  for (size_t i = 0; i < labels.values.size(); ++i) {
    if (labels.values[i] >= kClasses)
      throw std::runtime_error("mnist labels " + labels_file.string() + ": label " + std::to_string(labels.values[i]) +
                               " of sample " + std::to_string(i) + " is not a digit 0-9");
    dataset.labels[i] = int32_t(labels.values[i]);
  }
  dataset.inputs = normalize_mnist(images.values.data(), images.values.size());
  return dataset;
}

}  // namespace

std::vector<float> normalize_mnist(const uint8_t* pixels, size_t count) {
  // Through a table of the 256 pixel values.
  std::array<float, 256> normalized{};
  for (size_t v = 0; v < normalized.size(); ++v) normalized[v] = float((double(v) / 255.0 - kMnistMean) / kMnistStd);
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = normalized[pixels[i]];
  return out;
}

Split load_mnist(const std::filesystem::path& dir) {
  Split split;
  split.train = load_pair("mnist-train", dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte");
  split.test = load_pair("mnist-test", dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte");
  return split;
}

}  // namespace pure16::data
