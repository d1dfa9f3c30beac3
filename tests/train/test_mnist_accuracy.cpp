// Acceptance runs on real MNIST, labelled "slow"; skipped without MNIST, which scripts/test.sh
// fetches.
//  - The 784-512-512-10 MLP, 5 epochs, batch 128, lr 0.05, SGD momentum 0.9, must reach 97.8% test
//    accuracy in every preset: fp32, mixed-fp16, pure-fp16 (dynamic loss scaling, stochastic
//    rounding), mixed-bf16 and pure-bf16 (stochastic rounding); the pure ones with no 32-bit state.
//  - LeNet-5, 10 epochs, lr 0.05 with a cosine schedule, momentum 0.9, weight decay
//    5e-4, batch 64, must reach 99.0% in pure-fp16 (fp32 and pure-bf16 passed it too, README; left
//    out to keep the suite within 20 minutes on 2 cores).
#include <gtest/gtest.h>

#include <cstdio>

#include <filesystem>
#include <memory>

#include "pure16/data/data_dir.h"
#include "pure16/data/mnist.h"
#include "pure16/train/run.h"
#include "support/preset_names.h"

namespace pure16::train {
namespace {

// Loaded once for all the runs; null without the files.
const data::Split* mnist() {
  static const std::unique_ptr<data::Split> split = []() -> std::unique_ptr<data::Split> {
    const std::filesystem::path dir = data::default_data_dir("mnist");
    if (!std::filesystem::exists(dir / "train-images-idx3-ubyte")) return nullptr;
    return std::make_unique<data::Split>(data::load_mnist(dir));
  }();
  return split.get();
}

class MnistAccuracy : public ::testing::TestWithParam<std::string> {};

TEST_P(MnistAccuracy, MlpReaches978PercentIn5Epochs) {
  if (!mnist()) GTEST_SKIP() << "MNIST not in " << data::default_data_dir("mnist");
  TrainConfig config;
  config.policy = PrecisionPolicy::preset(GetParam());
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 0.0f, false);
  config.epochs = 5;
  config.batch_size = 128;
  config.seed = 0;
  const TrainResult result = train(config, *mnist());
  ASSERT_EQ(result.epochs.size(), 5u);
  EXPECT_GE(result.test_accuracy, 0.978) << GetParam();
  if (GetParam().rfind("pure-", 0) == 0) {
    // Weights, gradients and momentum all 16-bit, and no master copy: half of fp32's bytes.
    EXPECT_EQ(dtype_size(result.policy.compute), 2u);
    EXPECT_EQ(result.memory.master_weights_bytes, 0);
    EXPECT_EQ(result.memory.optimizer_bytes, result.memory.weights_bytes);
    EXPECT_EQ(result.memory.gradients_bytes, result.memory.weights_bytes);
    EXPECT_LT(result.memory.weights_bytes, 3 * result.parameters);
    EXPECT_EQ(config.policy.update_rounding, Rounding::stochastic);
  }
}

INSTANTIATE_TEST_SUITE_P(Presets, MnistAccuracy, ::testing::ValuesIn(PrecisionPolicy::preset_names()),
                         testing::preset_test_name);

class LenetAccuracy : public ::testing::TestWithParam<std::string> {};

TEST_P(LenetAccuracy, Reaches99PercentIn10Epochs) {
  if (!mnist()) GTEST_SKIP() << "MNIST not in " << data::default_data_dir("mnist");
  TrainConfig config;
  config.model = "lenet5";
  config.policy = PrecisionPolicy::preset(GetParam());
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 5e-4f, false);
  config.lr_schedule = optim::LrScheduleKind::cosine;
  config.epochs = 10;
  config.batch_size = 64;
  config.seed = 0;
  const TrainResult result = train(config, *mnist());
  ASSERT_EQ(result.epochs.size(), 10u);
  std::printf("[ lenet5 ] %s: test accuracy %.2f%% after 10 epochs\n", GetParam().c_str(), 100.0 * result.test_accuracy);
  EXPECT_GE(result.test_accuracy, 0.990) << GetParam();
}

// pure-fp16 only: at 100 s a run on 2 cores, an fp32 baseline does not fit the suite's 20
// minutes; the MLP test above holds fp32 to the same bar as every preset.
INSTANTIATE_TEST_SUITE_P(Presets, LenetAccuracy, ::testing::Values("pure-fp16"), testing::preset_test_name);

}  // namespace
}  // namespace pure16::train
