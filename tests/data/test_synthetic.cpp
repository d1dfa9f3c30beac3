// make_synthetic: shapes, reproducibility from the seed, N(0, 1) inputs, and labels that a
// linear model can learn from the training split and carry over to the test split.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "pure16/data/synthetic.h"

namespace pure16::data {
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Synthetic, ShapesNamesAndSizes) {
  const Split s = make_synthetic({1, 8, 8}, 4, 300, 70, 17);
  EXPECT_EQ(s.train.name, "synthetic-train");
  EXPECT_EQ(s.test.name, "synthetic-test");
  for (const Dataset* d : {&s.train, &s.test}) {
    EXPECT_EQ(d->sample_shape, (Shape{1, 8, 8}));
    EXPECT_EQ(d->num_classes, 4);
    EXPECT_EQ(d->sample_numel(), 64);
    EXPECT_EQ(int64_t(d->inputs.size()), d->size() * 64);
    for (int32_t label : d->labels) {
      EXPECT_GE(label, 0);
      EXPECT_LT(label, 4);
    }
  }
  EXPECT_EQ(s.train.size(), 300);
  EXPECT_EQ(s.test.size(), 70);

  const Split odd = make_synthetic({5}, 3, 3, 0, 1);  // an odd number of normals, an empty split
  EXPECT_EQ(odd.train.inputs.size(), 15u);
  EXPECT_EQ(odd.test.size(), 0);
}

TEST(Synthetic, ReproducibleFromTheSeed) {
  const Split a = make_synthetic({3, 7}, 5, 200, 50, 42);
  const Split b = make_synthetic({3, 7}, 5, 200, 50, 42);
  EXPECT_TRUE(same_bits(a.train.inputs, b.train.inputs));
  EXPECT_TRUE(same_bits(a.test.inputs, b.test.inputs));
  EXPECT_EQ(a.train.labels, b.train.labels);
  EXPECT_EQ(a.test.labels, b.test.labels);

  const Split c = make_synthetic({3, 7}, 5, 200, 50, 43);
  EXPECT_FALSE(same_bits(a.train.inputs, c.train.inputs));
  EXPECT_NE(a.train.labels, c.train.labels);
  // Train and test are different draws.
  EXPECT_NE(std::memcmp(a.train.inputs.data(), a.test.inputs.data(), a.test.inputs.size() * sizeof(float)), 0);
  // A larger split starts with the samples of a smaller one: sample i depends on i only.
  const Split d = make_synthetic({3, 7}, 5, 20, 5, 42);
  EXPECT_EQ(std::memcmp(a.train.inputs.data(), d.train.inputs.data(), d.train.inputs.size() * sizeof(float)), 0);
}

TEST(Synthetic, InputsAreStandardNormal) {
  const Split s = make_synthetic({64}, 4, 4000, 0, 7);
  const std::vector<float>& x = s.train.inputs;
  const double n = double(x.size());
  double sum = 0, sum_sq = 0, sum_4 = 0;
  int64_t beyond_2 = 0;
  for (float v : x) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sum_sq += double(v) * v;
    sum_4 += double(v) * v * v * v;
    beyond_2 += std::fabs(v) > 2.0f;
  }
  // 256000 samples: standard errors are 0.002 (mean), 0.003 (variance), 0.03 (4th moment).
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.015);
  EXPECT_NEAR(sum_4 / n, 3.0, 0.15);
  EXPECT_NEAR(double(beyond_2) / n, 0.0455, 0.003);  // P(|Z| > 2)
}

TEST(Synthetic, ClassesAreBalancedAndLearnable) {
  constexpr int64_t kClasses = 4;
  const Split s = make_synthetic({1, 8, 8}, kClasses, 4000, 1000, 17);
  const int64_t numel = 64;
  // Each class occurs: a random teacher gives roughly, not exactly, balanced classes.
  std::vector<int64_t> count(kClasses, 0);
  for (int32_t label : s.train.labels) ++count[size_t(label)];
  for (int64_t c = 0; c < kClasses; ++c) EXPECT_GT(count[size_t(c)], 4000 / kClasses / 2) << "class " << c;

  // Class means of the training split, used as a linear classifier on the test split: far
  // above chance (25%) only if both splits share one teacher.
  std::vector<double> mean(size_t(kClasses * numel), 0.0);
  for (int64_t i = 0; i < s.train.size(); ++i)
    for (int64_t j = 0; j < numel; ++j)
      mean[size_t(s.train.labels[size_t(i)] * numel + j)] += s.train.inputs[size_t(i * numel + j)];
  int64_t correct = 0;
  for (int64_t i = 0; i < s.test.size(); ++i) {
    int64_t best = 0;
    double best_score = -INFINITY;
    for (int64_t c = 0; c < kClasses; ++c) {
      double score = 0;
      for (int64_t j = 0; j < numel; ++j) score += mean[size_t(c * numel + j)] / double(count[size_t(c)]) * s.test.inputs[size_t(i * numel + j)];
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    correct += best == s.test.labels[size_t(i)];
  }
  EXPECT_GT(double(correct) / double(s.test.size()), 0.6);
}

TEST(Synthetic, RejectsBadArguments) {
  EXPECT_THROW(make_synthetic({}, 4, 10, 10, 0), std::invalid_argument);
  EXPECT_THROW(make_synthetic({1, 0, 8}, 4, 10, 10, 0), std::invalid_argument);
  EXPECT_THROW(make_synthetic({1, -8}, 4, 10, 10, 0), std::invalid_argument);
  EXPECT_THROW(make_synthetic({8}, 1, 10, 10, 0), std::invalid_argument);
  EXPECT_THROW(make_synthetic({8}, 4, -1, 10, 0), std::invalid_argument);
  EXPECT_THROW(make_synthetic({8}, 4, 10, -1, 0), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::data
