// The foundation's acceptance run: the 784-512-512-10 MLP on real MNIST, 5 epochs, batch 128, lr 0.05,
// SGD momentum 0.9, must reach 97.8% test accuracy in fp32, mixed-fp16 and pure-fp16 (dynamic
// loss scaling, stochastic rounding). Labelled "slow" (about a minute in Release); skipped
// without MNIST, which scripts/test.sh fetches.
#include <gtest/gtest.h>

#include <filesystem>

#include "pure16/data/data_dir.h"
#include "pure16/data/mnist.h"
#include "pure16/train/trainer.h"

namespace pure16::train {
namespace {

class MnistAccuracy : public ::testing::TestWithParam<std::string> {};

TEST_P(MnistAccuracy, MlpReaches978PercentIn5Epochs) {
  const std::filesystem::path dir = data::default_data_dir("mnist");
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte")) GTEST_SKIP() << "MNIST not in " << dir;
  static const data::Split mnist = data::load_mnist(dir);
  TrainConfig config;
  config.policy = PrecisionPolicy::preset(GetParam());
  config.sgd = optim::SgdConfig{0.05f, 0.9f, 0.0f, false};
  config.epochs = 5;
  config.batch_size = 128;
  config.seed = 0;
  const TrainResult result = train(config, mnist);
  ASSERT_EQ(result.epochs.size(), 5u);
  EXPECT_GE(result.test_accuracy, 0.978) << GetParam();
  if (GetParam() == "pure-fp16") {
    EXPECT_EQ(result.memory.master_weights_bytes, 0);
    EXPECT_EQ(config.policy.update_rounding, Rounding::stochastic);
    EXPECT_EQ(config.policy.loss_scale.mode, LossScaleMode::dynamic);
  }
}

INSTANTIATE_TEST_SUITE_P(Presets, MnistAccuracy, ::testing::Values("fp32", "mixed-fp16", "pure-fp16"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace pure16::train
