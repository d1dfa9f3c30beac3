// A run's result does not depend on the thread count: the final weights, master weights,
// momentum and BatchNorm statistics are bitwise the same for 1 and 2 threads (the README's
// claim), in presets that between them take every option of every preset. Kernels split work so that every sum is taken in one fixed order, and
// every random draw is keyed by what it is for, never by who draws it.
#include <gtest/gtest.h>
#include <omp.h>

#include "pure16/data/loader.h"
#include "pure16/data/synthetic.h"
#include "pure16/train/run.h"
#include "support/model_state.h"
#include "support/preset_names.h"

namespace pure16::train {
namespace {

struct Case {
  std::string model;
  Shape sample_shape;
  int64_t batch;
  float dropout;
};

std::string final_state(const Case& c, const std::string& precision, int threads,
                        const std::string& optimizer = "sgd") {
  const data::Split split = data::make_synthetic(c.sample_shape, 5, 3 * c.batch + 3, 8, 23);
  TrainConfig config;
  config.model = c.model;
  config.model_options.dropout = c.dropout;
  config.policy = PrecisionPolicy::preset(precision);
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 1e-4f, optimizer == "sgd");
  config.optimizer.name = optimizer;
  if (optimizer != "sgd") config.optimizer.lr = 1e-3f;
  config.epochs = 2;  // 4 batches an epoch, the last of 3 samples
  config.batch_size = c.batch;
  config.eval_batch_size = 8;
  config.seed = 29;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  data::Loader train_loader(split.train, config.batch_size, true, config.seed);
  data::Loader test_loader(split.test, config.eval_batch_size, false, config.seed);
  Run run(config, split.train.sample_shape, split.train.num_classes, train_loader.num_batches());
  run.fit(train_loader, test_loader);
  omp_set_num_threads(saved);
  auto bytes = [](const Tensor& t) { return t.defined() ? std::string(static_cast<const char*>(t.raw()), t.nbytes()) : ""; };
  return testing::arena_bytes(run.store().values()) + testing::arena_bytes(run.store().master()) +
         testing::optimizer_state_bytes(run.optimizer()) + bytes(run.store().buffer_values());
}

class ThreadCount : public ::testing::TestWithParam<std::string> {};

TEST_P(ThreadCount, FinalStateIsBitwiseTheSameForOneAndTwoThreads) {
  // Odd sizes, so that work splits unevenly between threads.
  const std::vector<Case> cases{{"mlp", {13, 11, 1}, 37, 0.25f},
                                {"lenet5", {28, 28, 1}, 21, 0.25f},
                                {"resnet18-cifar", {9, 9, 3}, 7, 0.0f}};
  for (const Case& c : cases)
    EXPECT_TRUE(final_state(c, GetParam(), 1) == final_state(c, GetParam(), 2)) << c.model << " " << GetParam();
}

TEST(ThreadCount, AdamAndLarsFinalStateIsBitwiseTheSameForOneAndTwoThreads) {
  // ResNet's 11 M parameters split LARS's norms and updates between threads, and its BatchNorm
  // tensors are LARS's unadapted ones; Adam's threaded sweep is one kernel, tested on its own
  // (kernels/test_adam_update.cpp), so the MLP suffices for it here.
  const Case mlp{"mlp", {13, 11, 1}, 37, 0.25f}, resnet{"resnet18-cifar", {9, 9, 3}, 7, 0.0f};
  EXPECT_TRUE(final_state(mlp, "pure-fp16", 1, "adam") == final_state(mlp, "pure-fp16", 2, "adam"));
  for (const Case& c : {mlp, resnet})
    EXPECT_TRUE(final_state(c, "pure-fp16", 1, "lars") == final_state(c, "pure-fp16", 2, "lars")) << c.model;
}

INSTANTIATE_TEST_SUITE_P(Presets, ThreadCount, ::testing::ValuesIn(testing::presets_covering_every_option()),
                         testing::preset_test_name);

}  // namespace
}  // namespace pure16::train
