// Every layer's gradients against float64 finite differences (see support/gradcheck.h).
#include <gtest/gtest.h>

#include "pure16/nn/activation.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/models.h"
#include "pure16/nn/sequential.h"
#include "support/gradcheck.h"

namespace pure16::nn {
namespace {

using testing::gradcheck;
using testing::GradcheckOptions;

TEST(Gradients, Linear) {
  Linear layer(13, 7);
  EXPECT_EQ(gradcheck(layer, {5, 13}), "");
}

TEST(Gradients, LinearWithoutBias) {
  Linear layer(9, 4, false);
  EXPECT_EQ(gradcheck(layer, {3, 9}), "");
}

TEST(Gradients, ReLU) {
  ReLU layer;
  GradcheckOptions options;
  options.input_magnitude_min = 0.01;  // the derivative is undefined at 0
  EXPECT_EQ(gradcheck(layer, {4, 11}, options), "");
}

TEST(Gradients, Flatten) {
  Flatten layer({3, 4, 5});
  EXPECT_EQ(gradcheck(layer, {2, 3, 4, 5}), "");
}

TEST(Gradients, DropoutTraining) {
  Dropout layer(0.3f, 7);
  EXPECT_EQ(gradcheck(layer, {6, 20}), "");
}

TEST(Gradients, DropoutEvaluationIsIdentity) {
  Dropout layer(0.5f, 7);
  GradcheckOptions options;
  options.training = false;
  EXPECT_EQ(gradcheck(layer, {3, 8}, options), "");
}

TEST(Gradients, SequentialMlpWithDropout) {
  ModelOptions model_options;
  model_options.dropout = 0.25f;
  // Hidden width 512 is the default; a small input keeps the check quick.
  auto model = build_model("mlp", {1, 3, 3}, 4, model_options);
  GradcheckOptions options;
  options.max_checks_per_tensor = 24;
  EXPECT_EQ(gradcheck(*model, {2, 1, 3, 3}, options), "");
}

TEST(Gradients, CheckerCatchesAWrongGradient) {
  // A layer whose backward is off by a factor: the checker must report it.
  class Doubling : public ReLU {
   protected:
    Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& o, bool need) override {
      Tensor dx = ReLU::backward_impl(dy, ctx, o, need);
      double* p = dx.data<double>();
      for (int64_t i = 0; i < dx.numel(); ++i) p[i] *= 1.001;
      return dx;
    }
  } layer;
  GradcheckOptions options;
  options.input_magnitude_min = 0.01;
  EXPECT_NE(gradcheck(layer, {2, 5}, options), "");
}

}  // namespace
}  // namespace pure16::nn
