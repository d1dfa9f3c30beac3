// What training holds in memory, per precision, on the seed paper's model: pure-fp16 keeps
// weights, gradients, optimizer state, BatchNorm statistics and the activations saved for
// backward at exactly half the bytes of fp32. ResNet-50 (torchvision layout) at 64x64 so the
// test stays short; every layer type of the 224x224 model is exercised.
#include <gtest/gtest.h>

#include <map>

#include "pure16/data/synthetic.h"
#include "pure16/train/run.h"

namespace pure16::train {
namespace {

TrainResult train_one_step(const std::string& precision) {
  static const data::Split split = data::make_synthetic({64, 64, 3}, 10, 2, 2, 5);
  TrainConfig config;
  config.model = "resnet50";
  config.policy = PrecisionPolicy::preset(precision);
  config.batch_size = 2;
  config.eval_batch_size = 2;
  config.epochs = 1;
  config.max_steps = 1;
  return train(config, split);
}

const TrainResult& one_step(const std::string& precision) {
  static std::map<std::string, TrainResult> results;
  auto it = results.find(precision);
  if (it == results.end()) it = results.emplace(precision, train_one_step(precision)).first;
  return it->second;
}

TEST(Memory, PureFp16HoldsEverythingAtHalfTheBytesOfFp32) {
  const TrainResult& fp32 = one_step("fp32");
  const TrainResult& pure = one_step("pure-fp16");
  EXPECT_EQ(fp32.parameters, 23528522);  // 25,557,032 less the head's 2048 * 990 + 990
  EXPECT_EQ(pure.memory.master_weights_bytes, 0);
  EXPECT_EQ(2 * pure.memory.weights_bytes, fp32.memory.weights_bytes);
  EXPECT_EQ(2 * pure.memory.gradients_bytes, fp32.memory.gradients_bytes);
  EXPECT_EQ(2 * pure.memory.optimizer_bytes, fp32.memory.optimizer_bytes);
  EXPECT_EQ(2 * pure.memory.buffers_bytes, fp32.memory.buffers_bytes);
  EXPECT_GT(pure.memory.activations_bytes, 0);
  EXPECT_EQ(2 * pure.memory.activations_bytes, fp32.memory.activations_bytes);
}

TEST(Memory, MixedPrecisionAddsAnFp32MasterCopy) {
  const TrainResult& fp32 = one_step("fp32");
  const TrainResult& mixed = one_step("mixed-fp16");
  EXPECT_EQ(mixed.memory.master_weights_bytes, fp32.memory.weights_bytes);
  EXPECT_EQ(2 * mixed.memory.weights_bytes, fp32.memory.weights_bytes);
  EXPECT_EQ(2 * mixed.memory.activations_bytes, fp32.memory.activations_bytes);
}

}  // namespace
}  // namespace pure16::train
