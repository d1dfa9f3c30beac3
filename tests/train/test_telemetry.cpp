// Telemetry: the lost-update and decay fractions on constructed cases, the entries' fractions
// against known counts, the file appended across runs, and every parameter and named layer
// recorded under its path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "pure16/data/synthetic.h"
#include "pure16/nn/models.h"
#include "pure16/optim/optimizer.h"
#include "pure16/train/telemetry.h"

namespace pure16::train {
namespace {

std::filesystem::path scratch_file(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("pure16_telemetry_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / name);
  return dir / name;
}

std::vector<nlohmann::json> read_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// One fp16 parameter of ones, gradient `grad`, plain SGD at lr 1 under `precision`'s rounding:
// the fraction of the weights meant to change that rounding left as they were.
double lost_after_one_step(const std::string& precision, double grad) {
  const PrecisionPolicy policy = PrecisionPolicy::preset(precision);
  nn::Parameter p{"w", {16384}, {nn::Init::Kind::ones, 0}, {}, {}, 0};
  nn::ParameterStore store;
  store.build({&p}, policy, 1);
  const auto optimizer = optim::make_optimizer(store, optim::OptimizerConfig::sgd(1.0f, 0.0f), policy, 1);
  p.grad.fill(grad);
  const Tensor before = store.master().segment(0).clone();
  std::vector<float> intended(size_t(store.numel()), 0.0f);
  optimizer->step(1.0f, 0, intended.data());
  EXPECT_EQ(intended[0], float(-grad));
  return lost_update_fraction(before.slice(0, 0, 16384), store.master().segment(0).slice(0, 0, 16384), intended.data());
}

TEST(Telemetry, UpdatesBelowHalfAnUlpAreLostToNearestRounding) {
  // 1 + 2^-14 is a quarter of fp16's spacing above 1 (2^-10) away from 1.
  EXPECT_EQ(lost_after_one_step("pure-fp16-naive", -0x1p-14), 1.0);
  // 1 + 2^-8 is an fp16 value: nothing is lost.
  EXPECT_EQ(lost_after_one_step("pure-fp16-naive", -0x1p-8), 0.0);
}

TEST(Telemetry, StochasticRoundingLosesUpdatesInProportionToTheirSize) {
  // Rounded up to 1 + 2^-10 with probability 2^-14 / 2^-10 = 1/16: 15/16 stay at 1. The
  // standard deviation of the fraction over 16384 weights is 0.0019.
  EXPECT_NEAR(lost_after_one_step("pure-fp16", -0x1p-14), 15.0 / 16.0, 0.01);
  EXPECT_EQ(lost_after_one_step("pure-fp16", -0x1p-8), 0.0);
}

TEST(Telemetry, DecayStepsBelowHalfAnUlpAreCounted) {
  const Tensor weights = Tensor::from_doubles({1.0, 1.0, -1.0, 0.0, 1024.0}, {5}, DType::f16);
  // 1e-5 * |w| is under half fp16's spacing below 1 (2^-12 ~ 2.4e-4): every non-zero weight keeps it.
  EXPECT_EQ(decay_lost_fraction(weights, 0.1f, 1e-4f), 1.0);
  // 1% of |w| is many spacings.
  EXPECT_EQ(decay_lost_fraction(weights, 0.1f, 0.1f), 0.0);
  // In f32 the spacing below 1 is 2^-24: a step of 1e-5 survives.
  EXPECT_EQ(decay_lost_fraction(weights.to(DType::f32), 0.1f, 1e-4f), 0.0);
}

TEST(Telemetry, EntryFractionsAreTheCountsOverTheSize) {
  // 4 zeros, 2 fp16 overflows, 3 fp16 underflows (one of them also bf16's), 1 NaN, 10 normal.
  std::vector<double> values(4, 0.0);
  values.insert(values.end(), {1e5, -7e4, 1e-9, 1e-10, 1e-41, std::nan("")});
  values.insert(values.end(), 10, 0.5);
  const Tensor t = Tensor::from_doubles(values, {int64_t(values.size())}, DType::f32);
  const nlohmann::json e =
      tensor_entry("fc1.weight", "fc1", "weight_grad", DType::f32, kernels::tensor_stats(t.raw(), DType::f32, 20), 4.0);
  EXPECT_EQ(e["count"], 20);
  EXPECT_DOUBLE_EQ(e["zeros"].get<double>(), 4.0 / 20);
  EXPECT_DOUBLE_EQ(e["subnormals"].get<double>(), 1.0 / 20);  // 1e-41 is subnormal in f32
  EXPECT_DOUBLE_EQ(e["nans"].get<double>(), 1.0 / 20);
  EXPECT_DOUBLE_EQ(e["fp16_overflow"].get<double>(), 2.0 / 20);
  EXPECT_DOUBLE_EQ(e["fp16_underflow"].get<double>(), 3.0 / 20);
  EXPECT_DOUBLE_EQ(e["bf16_underflow"].get<double>(), 1.0 / 20);
  EXPECT_DOUBLE_EQ(e["max_abs"].get<double>(), 1e5 / 4);  // unscaled by the divisor
  EXPECT_EQ(e["exponent_histogram"]["min_exponent"], -40);
  EXPECT_EQ(e["exponent_histogram"]["nan"], 1);
  // An fp16 tensor has no counterfactuals of fp16.
  const Tensor h = t.to(DType::f16);
  const nlohmann::json f = tensor_entry("x", "x", "weight", DType::f16, kernels::tensor_stats(h.raw(), DType::f16, 20));
  EXPECT_FALSE(f.contains("fp16_underflow"));
  EXPECT_EQ(f["exponent_histogram"]["min_exponent"], -24);
  EXPECT_DOUBLE_EQ(f["infs"].get<double>(), 2.0 / 20);  // 1e5 and -7e4 overflow in the conversion
}

TrainConfig small_config(const std::string& precision, const std::string& model = "mlp") {
  TrainConfig config;
  config.model = model;
  config.policy = PrecisionPolicy::preset(precision);
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 1e-4f, false);
  config.epochs = 1;
  config.max_steps = 5;
  config.batch_size = 32;
  config.seed = 3;
  return config;
}

// The records of a 5-step run sampled every 2 steps, appended to `file`.
void run_with_telemetry(const TrainConfig& config, const data::Split& split, const std::filesystem::path& file) {
  Telemetry telemetry(file, 2);
  train(config, split, {&telemetry});
  EXPECT_EQ(telemetry.records(), 3);  // steps 0, 2, 4
}

TEST(Telemetry, AppendsEveryNthStepWithEveryParameterAndLayer) {
  const data::Split split = data::make_synthetic({1, 8, 8}, 4, 256, 64, 17);
  const auto file = scratch_file("mlp.jsonl");
  const TrainConfig config = small_config("pure-fp16");
  run_with_telemetry(config, split, file);
  run_with_telemetry(config, split, file);
  const std::vector<nlohmann::json> lines = read_lines(file);
  ASSERT_EQ(lines.size(), 6u) << "the second run appends to the first's records";
  const std::vector<int64_t> steps{0, 2, 4, 0, 2, 4};
  std::set<std::pair<std::string, std::string>> first;
  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json& r = lines[i];
    EXPECT_EQ(r["step"], steps[i]);
    EXPECT_EQ(r["epoch"], 0);
    EXPECT_EQ(r["dtype"], "f16");
    EXPECT_EQ(r["loss_scale"], 65536.0);
    EXPECT_TRUE(r["loss"].is_number());
    std::set<std::pair<std::string, std::string>> seen;
    for (const nlohmann::json& t : r["tensors"]) {
      seen.insert({t["name"].get<std::string>(), t["role"].get<std::string>()});
      EXPECT_FALSE(t.contains("fp16_underflow")) << "an fp16 run";
      if (t["role"] == "update") {
        EXPECT_TRUE(t.contains("lost_updates"));
        EXPECT_TRUE(t.contains("decay_lost"));
      }
      EXPECT_GE(t["norm"].get<double>(), 0.0);
    }
    if (i == 0) first = seen;
    EXPECT_EQ(seen, first) << "every record names the same tensors";
  }
  std::set<std::pair<std::string, std::string>> expected;
  for (const char* layer : {"fc1", "fc2", "fc3"}) {
    for (const char* role : {"weight", "weight_grad", "update"})
      for (const char* kind : {".weight", ".bias"}) expected.insert({std::string(layer) + kind, role});
    expected.insert({layer, "activation"});
    expected.insert({layer, "activation_grad"});
  }
  EXPECT_EQ(first, expected);
}

TEST(Telemetry, Fp32RunsReportWhatFp16AndBf16WouldLose) {
  const data::Split split = data::make_synthetic({1, 8, 8}, 4, 256, 64, 17);
  const auto file = scratch_file("fp32.jsonl");
  run_with_telemetry(small_config("fp32"), split, file);
  const std::vector<nlohmann::json> lines = read_lines(file);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["dtype"], "f32");
  for (const nlohmann::json& t : lines[0]["tensors"])
    for (const char* key : {"fp16_underflow", "fp16_below_normal", "fp16_overflow", "bf16_underflow",
                            "bf16_below_normal", "bf16_overflow"})
      EXPECT_TRUE(t.contains(key)) << t["name"] << " " << t["role"] << " " << key;
}

// Collects the paths the containers report.
class PathRecorder : public nn::LayerObserver {
 public:
  std::vector<std::string> forward, backward;
  void on_forward(const std::string& path, const Tensor&) override { forward.push_back(path); }
  void on_backward(const std::string& path, const Tensor&) override { backward.push_back(path); }
};

TEST(Telemetry, ObserverSeesEveryLayerOfAResNetUnderItsPath) {
  auto model = nn::build_model("resnet18-cifar", {8, 8, 3}, 10);
  nn::ParameterStore store;
  store.build(model->parameters(), PrecisionPolicy::preset("fp32"), 1, model->buffers());
  PathRecorder recorder;
  nn::RunOptions options;
  options.observer = &recorder;
  nn::Context ctx;
  const Tensor y = model->forward(Tensor::zeros({2, 8, 8, 3}, DType::f32), ctx, options);
  model->backward(Tensor::zeros(y.shape(), y.dtype()), ctx, options, false);

  // Every parameter's layer in forward order, and each block after its layers.
  std::vector<std::string> expected;
  for (const nn::Parameter* p : model->parameters()) {
    const std::string layer = p->name.substr(0, p->name.rfind('.'));
    if (expected.empty() || expected.back() != layer) expected.push_back(layer);
  }
  std::vector<std::string> without_blocks;
  for (const std::string& path : recorder.forward)
    if (path.rfind("layer", 0) != 0 || std::count(path.begin(), path.end(), '.') > 1) without_blocks.push_back(path);
  EXPECT_EQ(without_blocks, expected);
  EXPECT_NE(std::find(recorder.forward.begin(), recorder.forward.end(), "layer2.0.downsample.0"), recorder.forward.end());
  EXPECT_NE(std::find(recorder.forward.begin(), recorder.forward.end(), "layer1.0"), recorder.forward.end());
  EXPECT_NE(std::find(recorder.forward.begin(), recorder.forward.end(), "layer4.1"), recorder.forward.end());
  // Backward reports a block before its layers, and its main branch before its shortcut.
  std::vector<std::string> forward_sorted = recorder.forward, backward_sorted = recorder.backward;
  std::sort(forward_sorted.begin(), forward_sorted.end());
  std::sort(backward_sorted.begin(), backward_sorted.end());
  EXPECT_EQ(backward_sorted, forward_sorted);
  EXPECT_EQ(recorder.backward.front(), "fc");
}

TEST(Telemetry, RefusesABadIntervalOrFileAndAWatchOutsideBeforeStep) {
  EXPECT_THROW(Telemetry(scratch_file("x.jsonl"), 0), std::invalid_argument);
  try {
    Telemetry telemetry("/nonexistent/pure16/telemetry.jsonl", 1);
    FAIL() << "opened a file in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/pure16/telemetry.jsonl"), std::string::npos) << e.what();
  }
  train::Run run(small_config("fp32"), {1, 8, 8}, 4, 8);
  EXPECT_THROW(run.watch_step({}), std::logic_error);
}

}  // namespace
}  // namespace pure16::train
