#include "pure16/data/synthetic.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "pure16/numerics/philox.h"

namespace pure16::data {
namespace {

// Philox streams under the seed: the teacher and each split draw from their own.
enum Stream : uint64_t { kTeacher = 1, kTrain = 2, kTest = 3 };

// out[i] = the i-th standard normal of a stream, i < n. Box-Muller: Philox block k gives two
// 53-bit uniforms (words 0-1 and 2-3) and so the normals 2k and 2k+1. Computed in binary64
// from integers, so the values agree across machines up to the libm's last bit.
template <class T>
void fill_normal(T* out, int64_t n, uint64_t seed, uint64_t stream) {
  for (int64_t k = 0; 2 * k < n; ++k) {
    const Philox4x32::Block b = Philox4x32::generate(seed, uint64_t(k), stream);
    const double u1 = (double(uint64_t(b[0]) << 21 | b[1] >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]: log(u1) is finite
    const double u2 = double(uint64_t(b[2]) << 21 | b[3] >> 11) * 0x1.0p-53;          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    out[2 * k] = T(r * std::cos(angle));
    if (2 * k + 1 < n) out[2 * k + 1] = T(r * std::sin(angle));
  }
}

Dataset make_split(const std::string& name, const Shape& sample_shape, int64_t num_classes, int64_t size,
                   uint64_t seed, uint64_t stream, const std::vector<double>& teacher) {
  const int64_t numel = shape_numel(sample_shape);
  Dataset dataset;
  dataset.name = name;
  dataset.sample_shape = sample_shape;
  dataset.num_classes = num_classes;
  dataset.inputs.resize(size_t(size * numel));
  dataset.labels.resize(size_t(size));
  fill_normal(dataset.inputs.data(), size * numel, seed, stream);
  for (int64_t s = 0; s < size; ++s) {
    const float* x = dataset.inputs.data() + s * numel;
    // The label is the teacher's arg-max on the stored (binary32) input; ties go to the lower class.
    int32_t best = 0;
    double best_score = 0;
    for (int64_t c = 0; c < num_classes; ++c) {
      const double* w = teacher.data() + c * numel;
      double score = 0;
      for (int64_t j = 0; j < numel; ++j) score += w[j] * double(x[j]);
      if (c == 0 || score > best_score) {
        best = int32_t(c);
        best_score = score;
      }
    }
    dataset.labels[size_t(s)] = best;
  }
  return dataset;
}

}  // namespace

Split make_synthetic(const Shape& sample_shape, int64_t num_classes, int64_t train_size, int64_t test_size,
                     uint64_t seed) {
  if (sample_shape.empty()) throw std::invalid_argument("make_synthetic: empty sample shape");
  for (int64_t d : sample_shape)
    if (d <= 0) throw std::invalid_argument("make_synthetic: sample shape " + shape_string(sample_shape) + " has a dimension <= 0");
  if (num_classes < 2) throw std::invalid_argument("make_synthetic: num_classes must be at least 2, got " + std::to_string(num_classes));
  if (train_size < 0 || test_size < 0)
    throw std::invalid_argument("make_synthetic: sizes must be non-negative, got " + std::to_string(train_size) + " and " +
                                std::to_string(test_size));
  const int64_t numel = shape_numel(sample_shape);
  std::vector<double> teacher(size_t(num_classes * numel));  // (num_classes, numel)
  fill_normal(teacher.data(), int64_t(teacher.size()), seed, kTeacher);

  Split split;
  split.train = make_split("synthetic-train", sample_shape, num_classes, train_size, seed, kTrain, teacher);
  split.test = make_split("synthetic-test", sample_shape, num_classes, test_size, seed, kTest, teacher);
  return split;
}

}  // namespace pure16::data
