// Study configurations: what they mean, and errors that name the file and the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "pure16/ablation/config.h"

namespace {

using nlohmann::json;
using pure16::ablation::flag_arguments;
using pure16::ablation::load_study_config;
using pure16::ablation::parse_study_config;
using pure16::ablation::strategy_flags;

json minimal() {
  return json::parse(R"({"train": {"model": "mlp", "epochs": 2}, "seeds": [0, 1], "strategies": ["fp32", "pure-fp16"]})");
}

// The message of the std::invalid_argument parsing `config` throws, or "" when it parses.
std::string error_of(const json& config) {
  try {
    parse_study_config(config, "study.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(StudyConfig, MinimalConfigTakesItsNameFromTheFileAndFp32AsBaseline) {
  const auto c = parse_study_config(minimal(), "dir/mnist-small.json");
  EXPECT_EQ(c.name, "mnist-small");
  EXPECT_EQ(c.seeds, (std::vector<uint64_t>{0, 1}));
  ASSERT_EQ(c.strategies.size(), 2u);
  EXPECT_EQ(c.strategies[1].name, "pure-fp16");
  EXPECT_EQ(c.strategies[1].precision, "pure-fp16");
  EXPECT_EQ(c.baseline, "fp32");
  EXPECT_EQ(c.jobs, 1);
  EXPECT_EQ(c.telemetry_every, 0);
  EXPECT_FALSE(c.allow_failures);
}

TEST(StudyConfig, StrategyObjectsOverrideAndRemoveFlags) {
  json j = minimal();
  j["train"]["nesterov"] = true;
  j["train"]["lr-milestones"] = {3, 6};
  j["strategies"].push_back(
      json::parse(R"({"name": "pure-fp16-slow", "precision": "pure-fp16", "train": {"lr": 0.0001, "nesterov": null}})"));
  const auto c = parse_study_config(j, "study.json");
  const auto flags = flag_arguments(strategy_flags(c, c.strategies[2]));
  EXPECT_EQ(flags, (std::vector<std::string>{"--epochs", "2", "--lr", "0.0001", "--lr-milestones", "3,6", "--model",
                                             "mlp"}));
  // The study's own flags: a true boolean is a bare flag.
  EXPECT_EQ(flag_arguments(strategy_flags(c, c.strategies[0])),
            (std::vector<std::string>{"--epochs", "2", "--lr-milestones", "3,6", "--model", "mlp", "--nesterov"}));
}

TEST(StudyConfig, FalseBooleansAreLeftOut) {
  EXPECT_EQ(flag_arguments({{"nesterov", false}, {"epochs", 1}}), (std::vector<std::string>{"--epochs", "1"}));
}

TEST(StudyConfig, ErrorsNameTheFileAndTheKey) {
  const auto expect_error = [](const json& config, const std::string& key, const std::string& words) {
    const std::string error = error_of(config);
    EXPECT_NE(error.find("study.json: " + key + ":"), std::string::npos) << error;
    EXPECT_NE(error.find(words), std::string::npos) << error;
  };
  json j = minimal();
  j["seedz"] = {1};
  expect_error(j, "seedz", "unknown key");
  j = minimal();
  j["seeds"] = json::array();
  expect_error(j, "seeds", "non-empty");
  j = minimal();
  j["seeds"] = {0, -1};
  expect_error(j, "seeds[1]", "non-negative integer");
  j = minimal();
  j["seeds"] = {3, 3};
  expect_error(j, "seeds[1]", "listed twice");
  j = minimal();
  j["strategies"] = json::array();
  expect_error(j, "strategies", "non-empty");
  j = minimal();
  j["strategies"].push_back("fp32");
  expect_error(j, "strategies[2]", "used twice");
  j = minimal();
  j["strategies"].push_back(json{{"precision", "fp32"}});
  expect_error(j, "strategies[2].name", "must be a string");
  j = minimal();
  j["strategies"].push_back(json{{"name", "x"}, {"lr", 1}});
  expect_error(j, "strategies[2].lr", "unknown key");
  j = minimal();
  j["strategies"].push_back("../escape");
  expect_error(j, "strategies[2]", "names a folder");
  j = minimal();
  j["train"]["seed"] = 4;
  expect_error(j, "train.seed", "\"seeds\"");
  j = minimal();
  j["train"]["threads"] = 4;
  expect_error(j, "train.threads", "\"jobs\"");
  j = minimal();
  j["train"]["--lr"] = 0.1;
  expect_error(j, "train.--lr", "without their dashes");
  j = minimal();
  j["train"]["lr"] = json::object();
  expect_error(j, "train.lr", "must be a string, number");
  j = minimal();
  j["train"]["lr"] = nullptr;
  expect_error(j, "train.lr", "must be a string, number");
  j = minimal();
  j.erase("train");
  expect_error(j, "train", "is missing");
  j = minimal();
  j["jobs"] = 0;
  expect_error(j, "jobs", "positive integer");
  j = minimal();
  j["telemetry_every"] = "often";
  expect_error(j, "telemetry_every", "positive integer");
  j = minimal();
  j["baseline"] = "fp64";
  expect_error(j, "baseline", "one of the strategies");
  j = minimal();
  j["allow_failures"] = 1;
  expect_error(j, "allow_failures", "true or false");
}

TEST(StudyConfig, FileErrorsNameTheFile) {
  const auto path = std::filesystem::temp_directory_path() / ("pure16_study_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << "{\"train\": {";
  try {
    load_study_config(path);
    FAIL() << "a truncated file parsed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": not valid JSON"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(load_study_config(path), std::runtime_error);
}

TEST(StudyConfig, ShippedExamplesParse) {
  // Every config shipped, named as its file.
  size_t shipped = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(PURE16_SOURCE_DIR) / "examples/ablation")) {
    if (entry.path().extension() != ".json") continue;
    const auto c = load_study_config(entry.path());
    EXPECT_EQ(c.name, entry.path().stem().string());
    EXPECT_EQ(c.baseline, "fp32") << entry.path();
    ++shipped;
  }
  EXPECT_GE(shipped, 5u);
  // The arm that keeps the first and last layer in fp32 passes the selectors to `pure16 train`.
  const auto small_lr = load_study_config(std::filesystem::path(PURE16_SOURCE_DIR) / "examples/ablation/mnist-mlp-small-lr.json");
  const auto& kept = small_lr.strategies.back();
  EXPECT_EQ(kept.name, "pure-fp16-naive+keep-fp32");
  EXPECT_EQ(kept.precision, "pure-fp16-naive");
  const std::vector<std::string> args = flag_arguments(strategy_flags(small_lr, kept));
  const auto flag = std::find(args.begin(), args.end(), "--keep-fp32");
  ASSERT_NE(flag, args.end());
  EXPECT_EQ(*std::next(flag), "first,last");
}

}  // namespace
