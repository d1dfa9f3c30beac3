// Checkpoints: a run saved and restored continues bitwise as if it had never stopped, in every
// precision; what does not belong to the run is refused with the file and the mismatch named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "pure16/data/loader.h"
#include "pure16/data/synthetic.h"
#include "pure16/io/safetensors.h"
#include "pure16/train/checkpoint.h"
#include "support/model_state.h"
#include "support/preset_names.h"

namespace pure16::train {
namespace {

namespace fs = std::filesystem;

// A fresh, empty directory for one test.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("pure16_test_checkpoint_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Problem {
  std::string model;
  data::Split split;
  int64_t batch;
};

const Problem& mlp_problem() {
  static const Problem p{"mlp", data::make_synthetic({1, 8, 8}, 4, 640, 256, 17), 64};
  return p;
}

// BatchNorm's running statistics are state too: a ResNet on 8x8 images keeps it short.
const Problem& resnet_problem() {
  static const Problem p{"resnet18-cifar", data::make_synthetic({8, 8, 3}, 4, 48, 16, 19), 8};
  return p;
}

TrainConfig config_for(const Problem& p, const std::string& precision) {
  TrainConfig config;
  config.model = p.model;
  config.policy = PrecisionPolicy::preset(precision);
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 1e-4f, false);
  config.lr_schedule = optim::LrScheduleKind::cosine;
  config.epochs = 2;
  config.batch_size = p.batch;
  config.eval_batch_size = 64;
  config.seed = 7;
  if (p.model == "mlp") config.model_options.dropout = 0.2f;  // dropout's stream must resume too
  return config;
}

data::DatasetIdentity identity_of(const data::Split& split) {
  data::DatasetIdentity id;
  id.name = "synthetic";
  id.sample_shape = split.train.sample_shape;
  id.num_classes = split.train.num_classes;
  id.train_size = split.train.size();
  id.test_size = split.test.size();
  id.label_hash = data::labels_hash(split.train.labels.data(), split.train.size());
  return id;
}

// Everything the run's arithmetic depends on, as bytes.
std::string state_bytes(Run& run) {
  auto bytes = [](const Tensor& t) { return t.defined() ? std::string(static_cast<const char*>(t.raw()), t.nbytes()) : ""; };
  return testing::arena_bytes(run.store().values()) + testing::arena_bytes(run.store().master()) +
         testing::optimizer_state_bytes(run.optimizer()) + bytes(run.store().buffer_values());
}

// A crash at a chosen step, after the batch or, where the step ends an epoch and
// `after_evaluation` is set, after the epoch's evaluation: thrown after the checkpointer (added
// first) has written what it writes there.
struct CrashAt : Callback {
  int64_t step;
  bool after_evaluation;
  CrashAt(int64_t s, bool after_eval) : step(s), after_evaluation(after_eval) {}
  void after_batch(Run& run, const BatchProgress& progress) override {
    const bool ends_epoch = progress.batch == progress.batches;
    if (run.steps() == step && !(ends_epoch && after_evaluation)) throw std::runtime_error("crash");
  }
  void after_epoch(Run& run, const EpochRecord&) override {
    if (run.steps() == step && after_evaluation) throw std::runtime_error("crash");
  }
};

struct Finished {
  std::string state;
  std::vector<EpochRecord> history;
};

Finished train_through(const Problem& p, const TrainConfig& config) {
  data::Loader train_loader(p.split.train, config.batch_size, true, config.seed);
  data::Loader test_loader(p.split.test, config.eval_batch_size, false, config.seed);
  train::Run run(config, p.split.train.sample_shape, p.split.train.num_classes, train_loader.num_batches());
  run.set_dataset(identity_of(p.split));
  run.fit(train_loader, test_loader);
  return {state_bytes(run), run.history()};
}

// Trains with checkpoints, crashes at `crash_step`, then resumes from the newest checkpoint
// in a new Run (a new process would build it the same way) and trains to the end.
Finished train_with_crash(const Problem& p, const TrainConfig& config, int64_t every, int64_t crash_step,
                          const fs::path& dir, bool after_evaluation = false) {
  data::Loader train_loader(p.split.train, config.batch_size, true, config.seed);
  data::Loader test_loader(p.split.test, config.eval_batch_size, false, config.seed);
  {
    Run run(config, p.split.train.sample_shape, p.split.train.num_classes, train_loader.num_batches());
    run.set_dataset(identity_of(p.split));
    Checkpointer checkpointer(dir, every, 2);
    CrashAt crash(crash_step, after_evaluation);
    run.add_callback(checkpointer);
    run.add_callback(crash);
    EXPECT_THROW(run.fit(train_loader, test_loader), std::runtime_error);
  }
  Run resumed(config, p.split.train.sample_shape, p.split.train.num_classes, train_loader.num_batches());
  resumed.set_dataset(identity_of(p.split));
  resumed.restore(resolve_resume(dir));
  EXPECT_EQ(resumed.steps(), crash_step);
  resumed.fit(train_loader, test_loader);
  return {state_bytes(resumed), resumed.history()};
}

void expect_same(const Finished& a, const Finished& b) {
  EXPECT_TRUE(a.state == b.state) << "final weights, master weights, momentum or BatchNorm statistics differ";
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    EXPECT_EQ(a.history[e].train_loss, b.history[e].train_loss) << "epoch " << e + 1;
    EXPECT_EQ(a.history[e].test_loss, b.history[e].test_loss) << "epoch " << e + 1;
    EXPECT_EQ(a.history[e].test_accuracy, b.history[e].test_accuracy) << "epoch " << e + 1;
    EXPECT_EQ(a.history[e].loss_scale, b.history[e].loss_scale) << "epoch " << e + 1;
    EXPECT_EQ(a.history[e].skipped_steps, b.history[e].skipped_steps) << "epoch " << e + 1;
  }
}

class ResumeIsBitwise : public ::testing::TestWithParam<std::string> {};

TEST_P(ResumeIsBitwise, MlpWithDropoutMidEpochAndAtAnEpochEnd) {
  const Problem& p = mlp_problem();
  TrainConfig config = config_for(p, GetParam());
  // A low first scale and a short growth interval make the loss scaler move during the run.
  config.policy.loss_scale.growth_interval = 3;
  const Finished whole = train_through(p, config);
  expect_same(whole, train_with_crash(p, config, 3, 6, scratch("mlp_mid_" + GetParam())));
  // 10 batches an epoch. A checkpoint after the epoch's last batch, before its evaluation:
  // the resumed run trains no batch of that epoch and evaluates it.
  expect_same(whole, train_with_crash(p, config, 5, 10, scratch("mlp_last_batch_" + GetParam())));
  // The epoch-end checkpoint at step 10 holds the evaluated epoch.
  expect_same(whole, train_with_crash(p, config, 0, 10, scratch("mlp_end_" + GetParam()), true));
}

INSTANTIATE_TEST_SUITE_P(Presets, ResumeIsBitwise, ::testing::ValuesIn(PrecisionPolicy::preset_names()),
                         testing::preset_test_name);

class ResumeIsBitwiseResNet : public ::testing::TestWithParam<std::string> {};

TEST_P(ResumeIsBitwiseResNet, ResNetWithBatchNormStatistics) {
  const Problem& p = resnet_problem();
  TrainConfig config = config_for(p, GetParam());
  config.epochs = 1;  // 6 steps: a checkpoint of 11 M parameters every 2, a crash after the one at step 4
  expect_same(train_through(p, config), train_with_crash(p, config, 2, 4, scratch("resnet_" + GetParam())));
}

INSTANTIATE_TEST_SUITE_P(Presets, ResumeIsBitwiseResNet, ::testing::ValuesIn(testing::presets_covering_every_option()),
                         testing::preset_test_name);

TEST(ResumeIsBitwiseWithAdam, PureFp16WhileTheLossScaleMoves) {
  // Adam's state lives in the loss scale's units: its two arenas, the scale they are kept in
  // and the steps applied (bias correction) must all come back for the resumed run to match.
  const Problem& p = mlp_problem();
  for (const char* name : {"adam", "adamw"}) {
    SCOPED_TRACE(name);
    TrainConfig config = config_for(p, "pure-fp16");
    config.optimizer.name = name;
    config.optimizer.lr = 1e-3f;
    // A first scale of 2^24 overflows the logits' gradients (2^24 / 64 > 65504) and backs off; a
    // growth interval of 3 then raises it again, so the state is rescaled both ways before and
    // after the crash at step 6.
    config.policy.loss_scale.initial = 0x1.0p24f;
    config.policy.loss_scale.growth_interval = 3;
    const Finished whole = train_through(p, config);
    ASSERT_NE(whole.history.front().loss_scale, whole.history.back().loss_scale);
    EXPECT_GT(whole.history.front().skipped_steps, 0);
    expect_same(whole, train_with_crash(p, config, 3, 6, scratch(std::string("adam_") + name)));
  }
}

TEST(ResumeIsBitwiseKeepingLayersInFp32, PureKahanAndMixedFp16) {
  // Parameter groups of two dtypes: each tensor is saved and restored in its group's dtype, and
  // a master copy (mixed-fp16) or a compensation buffer (Kahan) only in the dtype of its group.
  const Problem& p = mlp_problem();
  for (const char* preset : {"pure-fp16-kahan", "mixed-fp16"}) {
    SCOPED_TRACE(preset);
    TrainConfig config = config_for(p, preset);
    config.policy.keep_fp32 = {"first", "last"};
    config.policy.loss_scale.growth_interval = 3;
    const Finished whole = train_through(p, config);
    expect_same(whole, train_with_crash(p, config, 3, 6, scratch(std::string("keep_fp32_") + preset)));
  }
}

// A checkpoint of a few steps of the MLP problem, for the error tests.
fs::path small_checkpoint(const fs::path& dir, const TrainConfig& config) {
  const Problem& p = mlp_problem();
  data::Loader train_loader(p.split.train, config.batch_size, true, config.seed);
  train::Run run(config, p.split.train.sample_shape, p.split.train.num_classes, train_loader.num_batches());
  run.set_dataset(identity_of(p.split));
  for (int64_t b = 0; b < 3; ++b) run.train_step(train_loader.batch(b, run.policy().compute));
  const fs::path path = dir / "c.safetensors";
  run.save(path);
  return path;
}

std::string restore_error(const TrainConfig& config, const data::DatasetIdentity& identity, const fs::path& path) {
  const Problem& p = mlp_problem();
  Run run(config, p.split.train.sample_shape, p.split.train.num_classes, 10);
  run.set_dataset(identity);
  try {
    run.restore(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, RefusesAnotherModelPrecisionOrDataset) {
  const fs::path dir = scratch("mismatch");
  const TrainConfig config = config_for(mlp_problem(), "pure-fp16");
  const fs::path path = small_checkpoint(dir, config);
  const data::DatasetIdentity identity = identity_of(mlp_problem().split);
  ASSERT_EQ(restore_error(config, identity, path), "");

  TrainConfig other = config;
  other.policy = PrecisionPolicy::preset("fp32");
  std::string error = restore_error(other, identity, path);
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
  EXPECT_NE(error.find("precision"), std::string::npos) << error;

  other = config;
  other.policy.keep_fp32 = {"last"};
  error = restore_error(other, identity, path);
  EXPECT_NE(error.find("keep fp32 last vs"), std::string::npos) << error;

  other = config;
  other.policy.momentum_rounding = Rounding::stochastic;
  error = restore_error(other, identity, path);
  EXPECT_NE(error.find("momentum rounding stochastic"), std::string::npos) << error;

  other = config;
  other.policy.convolution = kernels::ConvAlgorithm::gemm;
  error = restore_error(other, identity, path);
  EXPECT_NE(error.find("convolution gemm"), std::string::npos) << error;

  other = config;
  other.model_options.dropout = 0.5f;
  EXPECT_NE(restore_error(other, identity, path).find("dropout"), std::string::npos);
  other = config;
  other.seed = 8;
  EXPECT_NE(restore_error(other, identity, path).find("seed"), std::string::npos);

  data::DatasetIdentity relabelled = identity;
  relabelled.label_hash ^= 1;
  error = restore_error(config, relabelled, path);
  EXPECT_NE(error.find("labels"), std::string::npos) << error;
  data::DatasetIdentity renamed = identity;
  renamed.name = "mnist";
  EXPECT_NE(restore_error(config, renamed, path).find("dataset: mnist vs synthetic"), std::string::npos);

  // Another model: its tensors have other names and shapes; the configuration says so first.
  other = config;
  other.model = "lenet5";
  train::Run lenet(other, {28, 28, 1}, 4, 10);
  lenet.set_dataset(identity);
  try {
    lenet.restore(path);
    FAIL() << "restored an MLP checkpoint into LeNet";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model: lenet5 vs mlp"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, CorruptionIsCaughtEvenWhenTheFileStaysWellFormed) {
  const fs::path dir = scratch("corrupt");
  const TrainConfig config = config_for(mlp_problem(), "pure-fp16");
  const fs::path path = small_checkpoint(dir, config);
  const data::DatasetIdentity identity = identity_of(mlp_problem().split);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& contents) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  };
  std::string flipped = bytes;
  flipped[flipped.size() - 1000] ^= 0x10;  // inside the last tensor's data
  write(flipped);
  std::string error = restore_error(config, identity, path);
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;

  write(bytes.substr(0, bytes.size() / 2));
  error = restore_error(config, identity, path);
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;

  write(bytes);
  EXPECT_EQ(restore_error(config, identity, path), "");
}

TEST(Checkpoint, MalformedMetadataIsRefusedByName) {
  const fs::path dir = scratch("metadata");
  const TrainConfig config = config_for(mlp_problem(), "pure-fp16");
  const fs::path path = small_checkpoint(dir, config);
  const data::DatasetIdentity identity = identity_of(mlp_problem().split);
  const io::SafetensorsFile good = io::read_safetensors(path);
  const std::string document = good.metadata.at("pure16_checkpoint");
  auto with_document = [&](const std::string& text) {
    io::SafetensorsFile changed = good;
    changed.metadata["pure16_checkpoint"] = text;
    io::write_safetensors(path, changed);
    return restore_error(config, identity, path);
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = document;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  for (const std::string& bad : {std::string("{not json"), std::string("[1, 2]"), replaced("\"version\":2", "\"version\":7"),
                                 replaced("\"position\":", "\"place\":"), replaced("\"step\":3", "\"step\":-3"),
                                 replaced("\"scale\":", "\"scale\":\"big\",\"x\":")}) {
    const std::string error = with_document(bad);
    EXPECT_NE(error.find(path.string()), std::string::npos) << bad << ": " << error;
  }
  EXPECT_NE(with_document(replaced("\"version\":2", "\"version\":7")).find("version 7"), std::string::npos);
  EXPECT_EQ(with_document(document), "");
}

// A checkpoint of `config` as a file written before `field` existed: its document without it.
fs::path checkpoint_without(const fs::path& dir, const TrainConfig& config, const std::string& field) {
  const fs::path path = small_checkpoint(dir, config);
  io::SafetensorsFile file = io::read_safetensors(path);
  std::string& document = file.metadata.at("pure16_checkpoint");
  const size_t at = document.find(field);
  if (at == std::string::npos) throw std::runtime_error("no " + field + " in " + document);
  document.erase(at, field.size());
  io::write_safetensors(path, file);
  return path;
}

TEST(Checkpoint, AFileFromBeforeMomentumRoundingResumesAsItRan) {
  // Before the momentum had its own rounding it rounded as the weights: stochastically under pure-fp16.
  TrainConfig old_run = config_for(mlp_problem(), "pure-fp16");
  old_run.policy.momentum_rounding = Rounding::stochastic;
  const fs::path path =
      checkpoint_without(scratch("momentum_rounding"), old_run, "\"momentum_rounding\":\"stochastic\",");
  const data::DatasetIdentity identity = identity_of(mlp_problem().split);
  EXPECT_EQ(restore_error(old_run, identity, path), "");
  const std::string error = restore_error(config_for(mlp_problem(), "pure-fp16"), identity, path);
  EXPECT_NE(error.find("momentum rounding nearest vs"), std::string::npos) << error;
}

TEST(Checkpoint, AFileFromBeforeWinogradResumesAsItRan) {
  // Before Winograd's convolutions came, every convolution ran as an implicit GEMM.
  TrainConfig old_run = config_for(mlp_problem(), "pure-fp16");
  old_run.policy.convolution = kernels::ConvAlgorithm::gemm;
  const fs::path path = checkpoint_without(scratch("convolution"), old_run, "\"convolution\":\"gemm\",");
  const data::DatasetIdentity identity = identity_of(mlp_problem().split);
  EXPECT_EQ(restore_error(old_run, identity, path), "");
  const std::string error = restore_error(config_for(mlp_problem(), "pure-fp16"), identity, path);
  EXPECT_NE(
      error.find(
          "convolution gemm, loss scale dynamic, rounding stochastic, momentum rounding nearest (run vs checkpoint)"),
      std::string::npos)
      << error;
}

TEST(Checkpoint, NonFiniteWeightsAreRefused) {
  const fs::path dir = scratch("nonfinite");
  const Problem& p = mlp_problem();
  const TrainConfig config = config_for(p, "fp32");
  train::Run run(config, p.split.train.sample_shape, p.split.train.num_classes, 10);
  run.set_dataset(identity_of(p.split));
  run.store().values().segment(0).data<float>()[5] = NAN;
  run.save(dir / "nan.safetensors");
  const std::string error = restore_error(config, identity_of(p.split), dir / "nan.safetensors");
  EXPECT_NE(error.find("NaN or infinite values in its weights"), std::string::npos) << error;
}

TEST(Checkpoint, ANonCheckpointSafetensorsFileIsRefused) {
  const fs::path dir = scratch("foreign");
  io::SafetensorsFile foreign;
  foreign.tensors.push_back(io::to_stored("fc1.weight", Tensor::zeros({2, 2}, DType::f32)));
  io::write_safetensors(dir / "f.safetensors", foreign);
  const std::string error =
      restore_error(config_for(mlp_problem(), "fp32"), identity_of(mlp_problem().split), dir / "f.safetensors");
  EXPECT_NE(error.find("not a pure16 checkpoint"), std::string::npos) << error;
}

TEST(Checkpointer, KeepsTheNewestAndClearsInterruptedWrites) {
  const fs::path dir = scratch("keep");
  std::ofstream(dir / "checkpoint-step0000000001.safetensors.tmp.123") << "torn";
  std::ofstream(dir / "notes.txt") << "kept";
  const Problem& p = mlp_problem();
  TrainConfig config = config_for(p, "fp32");
  config.epochs = 1;
  data::Loader train_loader(p.split.train, config.batch_size, true, config.seed);
  data::Loader test_loader(p.split.test, config.eval_batch_size, false, config.seed);
  train::Run run(config, p.split.train.sample_shape, p.split.train.num_classes, train_loader.num_batches());
  Checkpointer checkpointer(dir, 3, 2);
  EXPECT_FALSE(fs::exists(dir / "checkpoint-step0000000001.safetensors.tmp.123"));
  run.add_callback(checkpointer);
  run.fit(train_loader, test_loader);
  // Steps 3, 6, 9 and the epoch's end at 10: the two newest remain.
  const std::vector<fs::path> kept = list_checkpoints(dir);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0], checkpoint_path(dir, 9));
  EXPECT_EQ(kept[1], checkpoint_path(dir, 10));
  EXPECT_EQ(resolve_resume(dir), checkpoint_path(dir, 10));
  EXPECT_EQ(checkpointer.last(), checkpoint_path(dir, 10));
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));
  EXPECT_EQ(resolve_resume(scratch("empty")), fs::path());
  EXPECT_THROW(resolve_resume(dir / "missing"), std::runtime_error);

  // A checkpoint alone rebuilds the run: configuration, position and records.
  const std::unique_ptr<train::Run> loaded = load_run(checkpoint_path(dir, 10));
  EXPECT_EQ(loaded->steps(), 10);
  EXPECT_EQ(loaded->position().epoch, 1);
  ASSERT_EQ(loaded->history().size(), 1u);
  EXPECT_EQ(loaded->history()[0].test_accuracy, run.history()[0].test_accuracy);
  EXPECT_TRUE(state_bytes(*loaded) == state_bytes(run));
}

}  // namespace
}  // namespace pure16::train
