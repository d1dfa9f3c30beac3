// Models after training, through the command line: export at half the size, evaluation that
// reproduces the run's accuracy exactly from the exported file, prediction, fine-tuning from an
// export, and clear refusals of files that are not what they should be.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "pure16/data/idx.h"
#include "pure16/data/mnist.h"
#include "pure16/io/safetensors.h"
#include "pure16/train/saved_model.h"
#include "support/cli.h"

namespace {

namespace fs = std::filesystem;
using pure16::testing::CliResult;
using pure16::testing::read_file;

fs::path scratch() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("pure16_cli_models_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

CliResult run_cli(const std::string& args) { return pure16::testing::run_cli(args, scratch()); }

// One pure-fp16 MLP trained on the synthetic set for one epoch, shared by the tests.
const fs::path& trained_checkpoint() {
  static const fs::path path = [] {
    const fs::path dir = scratch() / "run";
    const CliResult r = run_cli("train --dataset synthetic --epochs 1 --threads 2 --checkpoint-dir " + dir.string() +
                                " --log " + (scratch() / "run.jsonl").string());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return dir / "checkpoint-step0000000064.safetensors";
  }();
  return path;
}

nlohmann::json final_record(const fs::path& log) {
  std::istringstream lines(read_file(log));
  nlohmann::json last;
  for (std::string line; std::getline(lines, line);) last = nlohmann::json::parse(line);
  return last;
}

uint64_t header_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  unsigned char length[8] = {};
  in.read(reinterpret_cast<char*>(length), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | length[i];
  return 8 + n;
}

TEST(CliModels, Fp16ExportIsHalfOfFp32AndEvaluatesToTheRunsAccuracyExactly) {
  const fs::path checkpoint = trained_checkpoint();
  ASSERT_TRUE(fs::exists(checkpoint));
  const fs::path half = scratch() / "half.safetensors", full = scratch() / "full.safetensors";
  CliResult r = run_cli("export --checkpoint " + checkpoint.string() + " --out " + half.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("f16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.500x"), std::string::npos) << "the size of both should be said: " << r.out;
  r = run_cli("export --checkpoint " + checkpoint.string() + " --out " + full.string() + " --dtype fp32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The tensors' bytes are exactly half; only the JSON headers differ.
  EXPECT_EQ(2 * (fs::file_size(half) - header_bytes(half)), fs::file_size(full) - header_bytes(full));

  const double trained = final_record(scratch() / "run.jsonl").at("test_accuracy").get<double>();
  for (const fs::path& model : {checkpoint, half, full}) {
    const fs::path log = scratch() / (model.stem().string() + ".eval.json");
    r = run_cli("eval --checkpoint " + model.string() + " --threads 1 --log " + log.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json result = nlohmann::json::parse(read_file(log));
    EXPECT_EQ(result.at("test_accuracy").get<double>(), trained) << model;
    EXPECT_EQ(result.at("samples").get<int64_t>(), 2048);
    EXPECT_GE(result.at("test_top5_accuracy").get<double>(), result.at("test_accuracy").get<double>());
  }
}

TEST(CliModels, PredictGivesTheModelsLogitsAndRanksByThem) {
  const fs::path checkpoint = trained_checkpoint();
  // Three 28x28 "images" in an IDX file, as MNIST stores them.
  pure16::data::IdxArray images;
  images.dims = {3, 28, 28};
  for (int i = 0; i < 3 * 28 * 28; ++i) images.values.push_back(uint8_t((i * 37 + i / 28 * 11) % 256));
  const fs::path idx = scratch() / "samples-idx3-ubyte";
  pure16::data::write_idx(idx, images);
  const CliResult r = run_cli("predict --checkpoint " + checkpoint.string() + " --json --top-k 3 --index 2,0 " + idx.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  ASSERT_EQ(out.size(), 2u);

  const std::unique_ptr<pure16::train::Run> run = pure16::train::load_saved_model(checkpoint);
  for (size_t s = 0; s < 2; ++s) {
    const int64_t index = s == 0 ? 2 : 0;
    EXPECT_EQ(out[s]["input"], idx.string() + "#" + std::to_string(index));
    const std::vector<float> pixels = pure16::data::normalize_mnist(images.values.data() + index * 784, 784);
    pure16::Tensor x = pure16::Tensor::empty({1, 28, 28, 1}, pure16::DType::f32);
    std::memcpy(x.raw(), pixels.data(), pixels.size() * 4);
    const pure16::Tensor logits = run->logits(x).to(pure16::DType::f32);
    const std::vector<float> printed = out[s]["logits"].get<std::vector<float>>();
    ASSERT_EQ(printed.size(), 10u);
    for (int c = 0; c < 10; ++c) EXPECT_EQ(printed[size_t(c)], logits.data<float>()[c]) << "class " << c;
    const nlohmann::json& top = out[s]["top"];
    ASSERT_EQ(top.size(), 3u);
    double previous = 1.0, sum = 0;
    for (const nlohmann::json& t : top) {
      const double p = t["probability"].get<double>();
      EXPECT_LE(p, previous);
      previous = p;
      sum += p;
      EXPECT_EQ(t["class"].get<std::string>(), std::to_string(t["index"].get<int>()));
    }
    EXPECT_LE(sum, 1.0 + 1e-12);
    const auto best = std::max_element(printed.begin(), printed.end()) - printed.begin();
    EXPECT_EQ(top[0]["index"].get<int64_t>(), best);
  }
}

TEST(CliModels, InitFromATorchvisionLayoutExportTrainsOn) {
  const fs::path exported = scratch() / "tv.safetensors";
  ASSERT_EQ(run_cli("export --checkpoint " + trained_checkpoint().string() + " --layout torchvision --dtype fp32 --out " +
                    exported.string()).exit_code, 0);
  const double trained = final_record(scratch() / "run.jsonl").at("test_accuracy").get<double>();
  const fs::path tuned_log = scratch() / "tuned.jsonl", fresh_log = scratch() / "fresh.jsonl";
  CliResult r = run_cli("train --dataset synthetic --epochs 1 --max-steps 8 --lr 0.01 --seed 3 --threads 2 --init-from " +
                        exported.string() + " --log " + tuned_log.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("initialized from"), std::string::npos) << r.out;
  r = run_cli("train --dataset synthetic --epochs 1 --max-steps 8 --lr 0.01 --seed 3 --threads 2 --log " + fresh_log.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double tuned = final_record(tuned_log).at("test_accuracy").get<double>();
  const double fresh = final_record(fresh_log).at("test_accuracy").get<double>();
  // Eight small steps keep what the exported model knew; a fresh model is still near chance.
  EXPECT_GT(tuned, trained - 0.03) << "trained " << trained << ", fresh " << fresh;
  EXPECT_GT(tuned, fresh + 0.15) << "trained " << trained << ", fresh " << fresh;

  // Another number of classes: the head starts fresh, the rest is loaded.
  r = run_cli("train --dataset synthetic --epochs 1 --max-steps 2 --threads 2 --num-classes 12 --init-from " +
              exported.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fresh: fc3.weight, fc3.bias"), std::string::npos) << r.out;
}

TEST(CliModels, FilesThatAreNotWhatTheyShouldBeAreRefusedByName) {
  // Weights alone (a state_dict): nothing says what model they belong to.
  pure16::io::SafetensorsFile weights;
  weights.tensors.push_back(pure16::io::to_stored("fc1.weight", pure16::Tensor::zeros({2, 2}, pure16::DType::f32)));
  const fs::path bare = scratch() / "bare.safetensors";
  pure16::io::write_safetensors(bare, weights);
  CliResult r = run_cli("eval --checkpoint " + bare.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bare.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--init-from"), std::string::npos) << r.err;

  // A truncated checkpoint.
  const std::string bytes = read_file(trained_checkpoint());
  const fs::path truncated = scratch() / "truncated.safetensors";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  for (const std::string command : {"eval --checkpoint ", "export --out /dev/null --checkpoint ",
                                     "predict --checkpoint "}) {
    r = run_cli(command + truncated.string() + (command.rfind("predict", 0) == 0 ? " x.png" : ""));
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_NE(r.err.find(truncated.string()), std::string::npos) << command << r.err;
  }

  // Resuming with another model names the mismatch and changes nothing.
  const fs::path dir = trained_checkpoint().parent_path();
  r = run_cli("train --dataset synthetic --model lenet5 --threads 2 --resume " + dir.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model: lenet5 vs mlp"), std::string::npos) << r.err;
  r = run_cli("train --dataset synthetic --precision fp32 --threads 2 --resume " + dir.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("precision"), std::string::npos) << r.err;
  r = run_cli("train --dataset synthetic --threads 2 --resume " + (dir / "missing.safetensors").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
  // An --init-from file with a tensor of the wrong shape.
  r = run_cli("train --dataset synthetic --threads 2 --init-from " + bare.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bare.string()), std::string::npos) << r.err;
}

}  // namespace
