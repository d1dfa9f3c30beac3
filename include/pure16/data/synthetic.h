// A learnable synthetic classification task, for tests and for runs without MNIST.
#pragma once

#include <cstdint>

#include "pure16/data/dataset.h"

namespace pure16::data {

/// "synthetic-train" and "synthetic-test": inputs are independent N(0, 1) values; the label of
/// x is argmax_c (W x)[c] for a fixed random "teacher" matrix W (num_classes x numel, N(0, 1)
/// entries), so the classes are linearly separable and a model can learn them to high accuracy.
/// Everything is a pure function of the arguments (Philox keyed by `seed`), the same on every
/// machine; the test set is a different draw from the same teacher. Throws
/// std::invalid_argument on an empty or negative sample shape, num_classes < 2 or a negative size.
Split make_synthetic(const Shape& sample_shape, int64_t num_classes, int64_t train_size, int64_t test_size,
                     uint64_t seed);

}  // namespace pure16::data
