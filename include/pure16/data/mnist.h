// MNIST from its four IDX files, as scripts/fetch_mnist.sh stores them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "pure16/data/dataset.h"

namespace pure16::data {

/// The mean and standard deviation of the MNIST training pixels scaled to [0, 1]: the usual
/// normalization, (x / 255 - mean) / std.
inline constexpr double kMnistMean = 0.1307;
inline constexpr double kMnistStd = 0.3081;

/// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
/// t10k-labels-idx1-ubyte from `dir` into "mnist-train" and "mnist-test": sample_shape
/// {28, 28, 1} (HWC), 10 classes, pixels normalized to (x / 255 - 0.1307) / 0.3081. Throws
/// std::runtime_error naming the file on any malformed input (see read_idx), on images that
/// are not 28x28, on image and label counts that disagree and on labels outside [0, 10).
Split load_mnist(const std::filesystem::path& dir);

/// MNIST's normalization of `count` 8-bit pixels, as load_mnist applies it: each value computed
/// in binary64 and rounded once to binary32.
std::vector<float> normalize_mnist(const uint8_t* pixels, size_t count);

}  // namespace pure16::data
