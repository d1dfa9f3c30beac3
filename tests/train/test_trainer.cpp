// End-to-end training on a small synthetic problem, in each precision policy.
#include <gtest/gtest.h>

#include "pure16/data/loader.h"
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

// A run that keeps every layer in fp32 is an fp32 run: with rounding to nearest and no loss
// scale (pure-fp16-naive), the same initial values, batches (in the first layer's dtype), binary32
// sums and updates give the fp32 preset's final weights, bit for bit, and its memory report. This
// is what makes a partial override an ablation of exactly the layers it names.
TEST(KeepFp32, EveryLayerKeptIsTheFp32Run) {
  TrainConfig config = small_config("pure-fp16-naive");
  config.epochs = 1;
  config.policy.keep_fp32 = {"fc1", "fc2", "fc3"};
  const data::Split& split = small_problem();
  const auto final_weights = [&split](const TrainConfig& c, nn::MemoryReport& memory) {
    data::Loader train_loader(split.train, c.batch_size, true, c.seed);
    data::Loader test_loader(split.test, c.eval_batch_size, false, c.seed);
    train::Run run(c, split.train.sample_shape, split.train.num_classes, train_loader.num_batches());
    run.fit(train_loader, test_loader);
    memory = run.result().memory;
    std::vector<std::vector<double>> weights;
    for (const nn::Parameter* p : run.store().parameters()) weights.push_back(p->value.to_doubles());
    return weights;
  };
  nn::MemoryReport kept_memory, fp32_memory;
  const auto kept = final_weights(config, kept_memory);
  TrainConfig fp32_config = small_config("fp32");
  fp32_config.epochs = config.epochs;
  const auto fp32 = final_weights(fp32_config, fp32_memory);
  EXPECT_TRUE(kept == fp32);
  EXPECT_EQ(kept_memory.weights_bytes, fp32_memory.weights_bytes);
  EXPECT_EQ(kept_memory.optimizer_bytes, fp32_memory.optimizer_bytes);
  EXPECT_EQ(kept_memory.activations_bytes, fp32_memory.activations_bytes);
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

// The memory report is the policy table's row: weights and gradients in the compute dtype, a
// master copy only where the master dtype differs, momentum in the state dtype, and with Kahan
// rounding exactly one more buffer, of the master dtype.
TEST_P(TrainPrecision, MemoryReportMatchesThePolicyTable) {
  TrainConfig config = small_config(GetParam());
  config.max_steps = 1;
  const PrecisionPolicy& p = config.policy;
  train::Run run(config, small_problem().train.sample_shape, small_problem().train.num_classes, 32);
  const int64_t n = run.store().numel();
  const nn::MemoryReport m = run.result().memory;
  EXPECT_EQ(m.weights_bytes, n * int64_t(dtype_size(p.compute)));
  EXPECT_EQ(m.gradients_bytes, n * int64_t(dtype_size(p.compute)));
  EXPECT_EQ(m.master_weights_bytes, p.master == p.compute ? 0 : n * int64_t(dtype_size(p.master)));
  const int64_t compensation = p.update_rounding == Rounding::kahan ? n * int64_t(dtype_size(p.master)) : 0;
  EXPECT_EQ(m.optimizer_bytes, n * int64_t(dtype_size(p.optimizer_state)) + compensation);
  std::vector<std::string> arenas;
  for (const optim::StateArena& a : run.optimizer().state_arenas()) arenas.push_back(a.name);
  const std::vector<std::string> expected =
      p.update_rounding == Rounding::kahan ? std::vector<std::string>{"momentum", "compensation"}
                                           : std::vector<std::string>{"momentum"};
  EXPECT_EQ(arenas, expected);
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
  config.policy.loss_scale.max_scale = 0x1.0p30f;
  const TrainResult result = train(config, small_problem());
  EXPECT_GT(result.epochs.front().skipped_steps, 5);
  EXPECT_LT(result.epochs.front().loss_scale, 0x1.0p30f);
  EXPECT_GT(result.test_accuracy, 0.80);
}

// A learning rate of 1e10 overflows fp16 gradients whatever the loss scale: every step is
// skipped, the scale sinks to its floor and stays there, and the run stops after the window
// instead of "succeeding" with a NaN loss.
TEST(Train, EndlessOverflowStopsTheRun) {
  TrainConfig config = small_config("pure-fp16");
  config.optimizer.lr = 1e10f;
  config.divergence_window = 20;
  try {
    train(config, small_problem());
    FAIL() << "the run did not stop";
  } catch (const Diverged& e) {
    EXPECT_NE(std::string(e.what()).find("steps overflowed and were skipped"), std::string::npos) << e.what();
    EXPECT_GT(e.step(), 19);
    EXPECT_LT(e.step(), 3 * 32 - 1);
  }
  config.stop_on_divergence = false;
  const TrainResult unchecked = train(config, small_problem());
  EXPECT_EQ(unchecked.steps, 3 * 32);
  EXPECT_EQ(unchecked.epochs.back().loss_scale, 1.0);  // the floor, never 0
}

// Without loss scaling nothing skips a step: the first update made of inf or NaN ends the run.
TEST(Train, NaNLossStopsTheRunAtOnce) {
  for (const char* precision : {"pure-fp16-naive", "fp32"}) {
    TrainConfig config = small_config(precision);
    config.optimizer.lr = precision == std::string("fp32") ? 1e30f : 1e10f;
    try {
      train(config, small_problem());
      FAIL() << precision << ": the run did not stop";
    } catch (const Diverged& e) {
      EXPECT_NE(std::string(e.what()).find("the weights are no longer finite"), std::string::npos) << e.what();
      EXPECT_LT(e.step(), 10) << precision;
    }
  }
}

// --bn-stats-dtype f32 under pure-fp16: the running statistics live in binary32 (twice the
// bytes of the fp16 arena), training updates them and evaluation reads them.
TEST(Train, BatchNormStatisticsKeepTheirOwnDtype) {
  const data::Split split = data::make_synthetic({8, 8, 3}, 4, 32, 8, 5);
  TrainConfig config = small_config("pure-fp16");
  config.model = "resnet18-cifar";
  config.batch_size = 8;
  config.eval_batch_size = 8;
  config.max_steps = 2;
  std::vector<int64_t> buffer_bytes;
  for (DType statistics : {DType::f16, DType::f32}) {
    config.policy.statistics = statistics;
    train::Run run(config, split.train.sample_shape, split.train.num_classes, 4);
    EXPECT_EQ(run.store().buffer_values().dtype(), statistics);
    const std::vector<double> before = run.store().buffer_values().to_doubles();
    data::Loader train_loader(split.train, 8, true, 0), test_loader(split.test, 8, false, 0);
    const TrainResult result = run.fit(train_loader, test_loader);
    EXPECT_NE(run.store().buffer_values().to_doubles(), before);
    EXPECT_TRUE(std::isfinite(result.epochs.back().test_loss));
    buffer_bytes.push_back(result.memory.buffers_bytes);
  }
  EXPECT_EQ(buffer_bytes[1], 2 * buffer_bytes[0]);
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
