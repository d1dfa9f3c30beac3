// End-to-end training on a small synthetic problem, in each precision policy.
#include <gtest/gtest.h>

#include "pure16/data/synthetic.h"
#include "pure16/train/run.h"
#include "support/preset_names.h"

namespace pure16::train {
namespace {

const data::Split& small_problem() {
  static const data::Split split = data::make_synthetic({1, 8, 8}, 4, 2048, 512, 17);
  return split;
}

TrainConfig small_config(const std::string& precision) {
  TrainConfig config;
  config.policy = PrecisionPolicy::preset(precision);
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 0.0f, false);
  config.epochs = 3;
  config.batch_size = 64;
  config.seed = 3;
  return config;
}

class TrainPrecision : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainPrecision, LearnsTheSyntheticTeacher) {
  const TrainResult result = train(small_config(GetParam()), small_problem());
  ASSERT_EQ(result.epochs.size(), 3u);
  // Chance is 25%; the teacher is linear, so the MLP should get most test samples right.
  EXPECT_GT(result.test_accuracy, 0.80) << GetParam();
  EXPECT_LT(result.epochs.back().train_loss, result.epochs.front().train_loss);
  EXPECT_EQ(result.steps, 3 * 32);
}

INSTANTIATE_TEST_SUITE_P(Presets, TrainPrecision, ::testing::ValuesIn(PrecisionPolicy::preset_names()),
                         testing::preset_test_name);

TEST(Train, PureFp16HoldsHalfTheBytesOfFp32AndNoMasterCopy) {
  TrainConfig config = small_config("fp32");
  config.max_steps = 1;
  const TrainResult fp32 = train(config, small_problem());
  config.policy = PrecisionPolicy::preset("pure-fp16");
  const TrainResult pure = train(config, small_problem());
  config.policy = PrecisionPolicy::preset("mixed-fp16");
  const TrainResult mixed = train(config, small_problem());

  EXPECT_EQ(pure.memory.master_weights_bytes, 0);
  EXPECT_EQ(2 * pure.memory.weights_bytes, fp32.memory.weights_bytes);
  EXPECT_EQ(2 * pure.memory.gradients_bytes, fp32.memory.gradients_bytes);
  EXPECT_EQ(2 * pure.memory.optimizer_bytes, fp32.memory.optimizer_bytes);
  EXPECT_GT(pure.memory.weights_bytes, 2 * pure.parameters - 1);
  // Mixed precision keeps an fp32 master copy and fp32 momentum.
  EXPECT_EQ(mixed.memory.master_weights_bytes, fp32.memory.weights_bytes);
  EXPECT_EQ(mixed.memory.optimizer_bytes, fp32.memory.optimizer_bytes);
}

TEST(Train, MaxStepsStopsMidEpochAndStillReportsIt) {
  TrainConfig config = small_config("pure-fp16");
  config.max_steps = 40;  // 32 steps per epoch
  struct Recorder : Callback {
    std::vector<EpochRecord> seen;
    void after_epoch(train::Run&, const EpochRecord& r) override { seen.push_back(r); }
  } recorder;
  const TrainResult result = train(config, small_problem(), {&recorder});
  const std::vector<EpochRecord>& seen = recorder.seen;
  EXPECT_EQ(result.steps, 40);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].partial);
  EXPECT_TRUE(seen[1].partial);
  EXPECT_EQ(seen[1].steps, 8);
  EXPECT_GT(seen[1].test_accuracy, 0.0);
}

TEST(Train, DynamicLossScalingRecoversFromOverflow) {
  // A start at 2^30 overflows fp16 gradients at once: the first steps are skipped and the
  // scale halves until the gradients fit, then training proceeds.
  TrainConfig config = small_config("pure-fp16");
  config.policy.loss_scale.initial = 0x1.0p30f;
  const TrainResult result = train(config, small_problem());
  EXPECT_GT(result.epochs.front().skipped_steps, 5);
  EXPECT_LT(result.epochs.front().loss_scale, 0x1.0p30f);
  EXPECT_GT(result.test_accuracy, 0.80);
}

TEST(Train, SameSeedSameResult) {
  TrainConfig config = small_config("pure-fp16");
  config.max_steps = 20;
  const TrainResult a = train(config, small_problem());
  const TrainResult b = train(config, small_problem());
  EXPECT_EQ(a.epochs.back().train_loss, b.epochs.back().train_loss);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
}

}  // namespace
}  // namespace pure16::train
