// LeNet-5 learns: a few SGD steps on one fixed random batch lower the loss in each precision;
// its Flatten knows the feature map it flattens.
#include <gtest/gtest.h>

#include <cmath>

#include "pure16/nn/activation.h"
#include "pure16/nn/lenet.h"
#include "pure16/train/run.h"
#include "support/reference.h"
#include "support/preset_names.h"

namespace pure16::nn {
namespace {

class LenetTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(LenetTraining, LossFallsOnAFixedBatch) {
  const PrecisionPolicy policy = PrecisionPolicy::preset(GetParam());
  train::TrainConfig config;
  config.model = "lenet5";
  config.policy = policy;
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 0.0f, false);
  config.seed = 5;
  train::Run trainer(config, {28, 28, 1}, 10, 1);

  const int64_t batch = 16;
  data::Batch b;
  b.inputs = Tensor::from_doubles(testing::random_values(batch * 28 * 28, 6), {batch, 28, 28, 1}, policy.compute);
  for (int64_t i = 0; i < batch; ++i) b.labels.push_back(int32_t(i % 10));

  std::vector<double> losses;
  for (int step = 0; step < 40; ++step) {
    const train::StepResult r = trainer.train_step(b);
    ASSERT_TRUE(std::isfinite(r.loss)) << "step " << step;
    losses.push_back(r.loss);
  }
  EXPECT_NEAR(losses.front(), std::log(10.0), 0.5);  // near chance at the start
  EXPECT_LT(losses.back(), 0.5 * losses.front()) << "first " << losses.front() << ", last " << losses.back();
}

INSTANTIATE_TEST_SUITE_P(Presets, LenetTraining, ::testing::ValuesIn(PrecisionPolicy::preset_names()),
                         testing::preset_test_name);

TEST(Lenet, FlattenKnowsTheFeatureMap) {
  auto model = lenet5({28, 28, 1}, 10);
  const Flatten* flatten = nullptr;
  for (const auto& layer : model->layers())
    if (auto* f = dynamic_cast<const Flatten*>(layer.get())) flatten = f;
  ASSERT_NE(flatten, nullptr);
  EXPECT_EQ(flatten->item_shape(), (Shape{5, 5, 16}));
  EXPECT_EQ(flatten->output_shape({3, 5, 5, 16}), (Shape{3, 400}));
  // The same number of features from another map is another model.
  EXPECT_THROW(flatten->output_shape({3, 10, 10, 4}), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::nn
