// Acceptance runs on real MNIST, labelled "slow"; skipped without MNIST, which scripts/test.sh
// fetches.
//  - The 784-512-512-10 MLP, 5 epochs, batch 128, lr 0.05, SGD momentum 0.9, must reach 97.8% test
//    accuracy in fp32, mixed-fp16, pure-fp16, pure-fp16-kahan, mixed-bf16 and pure-bf16, and over
//    three seeds pure-fp16 and pure-fp16-kahan must land within 0.2 points of fp32's mean. The
//    naive presets and pure-bf16-kahan are measured by the ablation (docs/ABLATION.md), not held
//    to a bar: at seed 0 pure-bf16-kahan ends at 97.69%.
//  - Adam (lr 1e-3, 5 epochs) in pure-fp16 reaches 97.5%, and PyTorch's Adam on fp16 tensors
//    (--naive-adam) diverges or trails it by more than a point.
// LeNet-5's 10 epochs (99.3% in pure-fp16, README) are 100 s on 2 cores: long training, which the
// ablation study (examples/ablation/mnist-lenet.json) runs, not the test suite.
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

TrainResult train_mlp(const std::string& precision, uint64_t seed,
                      const optim::OptimizerConfig& optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f)) {
  TrainConfig config;
  config.policy = PrecisionPolicy::preset(precision);
  config.optimizer = optimizer;
  config.epochs = 5;
  config.batch_size = 128;
  config.seed = seed;
  const TrainResult result = train(config, *mnist());
  EXPECT_EQ(result.epochs.size(), 5u);
  std::printf("[ mlp ] %s, %s, seed %llu: test accuracy %.2f%% after 5 epochs\n", precision.c_str(),
              optimizer.describe().c_str(), (unsigned long long)seed, 100.0 * result.test_accuracy);
  return result;
}

// A pure 16-bit preset keeps no 32-bit state: weights, gradients and momentum two bytes a parameter
// (Kahan adds one buffer of them), no master copy. Other presets are not checked here.
void expect_no_32bit_state(const TrainResult& r, const std::string& precision) {
  const PrecisionPolicy policy = PrecisionPolicy::preset(precision);
  if (policy.has_master_copy() || dtype_size(policy.compute) != 2) return;
  EXPECT_EQ(r.memory.master_weights_bytes, 0) << precision;
  EXPECT_LT(r.memory.weights_bytes, 3 * r.parameters) << precision;  // the arena pads each tensor to cache lines
  EXPECT_EQ(r.memory.gradients_bytes, r.memory.weights_bytes) << precision;
  const int64_t buffers = policy.update_rounding == Rounding::kahan ? 2 : 1;
  EXPECT_EQ(r.memory.optimizer_bytes, buffers * r.memory.weights_bytes) << precision;
}

// The README's table: each of these reaches 97.8% (seed 0), the pure one with no 32-bit state.
class MnistAccuracy : public ::testing::TestWithParam<std::string> {};

TEST_P(MnistAccuracy, MlpReaches978PercentIn5Epochs) {
  if (!mnist()) GTEST_SKIP() << "MNIST not in " << data::default_data_dir("mnist");
  const TrainResult result = train_mlp(GetParam(), 0);
  EXPECT_GE(result.test_accuracy, 0.978) << GetParam();
  expect_no_32bit_state(result, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Presets, MnistAccuracy, ::testing::Values("mixed-fp16", "mixed-bf16", "pure-bf16"),
                         testing::preset_test_name);

// The ablation's acceptance (docs/ABLATION.md): over seeds 0-2, pure-fp16 and pure-fp16-kahan
// land within 0.2 points of fp32's mean test accuracy, each run above 97.8%, with no 32-bit
// state: weights, gradients and momentum in fp16 (Kahan adds one fp16 buffer), no master copy.
TEST(MnistAblation, PureFp16StrategiesMatchFp32OverThreeSeeds) {
  if (!mnist()) GTEST_SKIP() << "MNIST not in " << data::default_data_dir("mnist");
  auto mean_accuracy = [](const std::string& precision) {
    double sum = 0;
    for (uint64_t seed : {0, 1, 2}) {
      const TrainResult r = train_mlp(precision, seed);
      EXPECT_GE(r.test_accuracy, 0.978) << precision << " seed " << seed;
      expect_no_32bit_state(r, precision);
      sum += r.test_accuracy;
    }
    return sum / 3;
  };
  const double fp32 = mean_accuracy("fp32");
  for (const char* precision : {"pure-fp16", "pure-fp16-kahan"})
    EXPECT_NEAR(mean_accuracy(precision), fp32, 0.002) << precision << " against fp32's " << fp32;
}

// Adam's moments in fp16 are kept scaled (m*S, sqrt(v)*S) so that they neither underflow nor
// lose eps; the naive form stores g*g and eps = 1e-8 as fp16 (0), which breaks on MNIST within
// the first hundred steps here (docs/ABLATION.md).
TEST(MnistAdam, PureFp16AdamReaches975PercentWhereNaiveFp16AdamFails) {
  if (!mnist()) GTEST_SKIP() << "MNIST not in " << data::default_data_dir("mnist");
  optim::OptimizerConfig adam;
  adam.name = "adam";
  adam.lr = 1e-3f;
  const TrainResult safe = train_mlp("pure-fp16", 0, adam);
  EXPECT_GE(safe.test_accuracy, 0.975);

  adam.naive = true;
  try {
    const TrainResult naive = train_mlp("pure-fp16", 0, adam);
    EXPECT_LT(naive.test_accuracy, safe.test_accuracy - 0.01) << "naive fp16 Adam neither diverged nor trailed";
  } catch (const Diverged& diverged) {
    std::printf("[ mlp ] pure-fp16, naive adam: diverged at step %lld: %s\n", (long long)diverged.step(),
                diverged.what());
  }
}

}  // namespace
}  // namespace pure16::train
