// The arms of a study: their commands, folders, and when an arm counts as finished.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "pure16/ablation/plan.h"

namespace {

using namespace pure16::ablation;
using nlohmann::json;

StudyConfig study(const std::string& extra = "") {
  return parse_study_config(json::parse(R"({"train": {"dataset": "synthetic", "epochs": 1}, "seeds": [7, 3],
      "strategies": ["fp32", {"name": "fp16-slow", "precision": "pure-fp16", "train": {"lr": 0.001}}])" + extra + "}"),
                            "s.json");
}

bool contains(const std::vector<std::string>& args, const std::vector<std::string>& run) {
  return std::search(args.begin(), args.end(), run.begin(), run.end()) != args.end();
}

TEST(Plan, StrategiesOuterSeedsInnerEachInItsFolder) {
  const auto arms = plan_arms(study(), "out");
  ASSERT_EQ(arms.size(), 4u);
  EXPECT_EQ(arms[1].strategy, "fp32");
  EXPECT_EQ(arms[1].seed, 3u);
  EXPECT_EQ(arms[2].index, 2);
  EXPECT_EQ(arms[2].dir, std::filesystem::path("out/arms/fp16-slow/seed-7"));
  EXPECT_EQ(arms[2].settings, (std::vector<std::string>{"--precision", "pure-fp16", "--seed", "7", "--dataset",
                                                        "synthetic", "--epochs", "1", "--lr", "0.001"}));
  const auto command = arms[2].train_command(3);
  EXPECT_EQ(command.front(), "train");
  EXPECT_TRUE(contains(command, {"--log", "out/arms/fp16-slow/seed-7/log.jsonl"}));
  EXPECT_TRUE(contains(command, {"--checkpoint-dir", "out/arms/fp16-slow/seed-7/checkpoints", "--keep-checkpoints", "1"}));
  EXPECT_TRUE(contains(command, {"--threads", "3"}));
  EXPECT_EQ(std::find(command.begin(), command.end(), "--telemetry"), command.end());
  EXPECT_EQ(arms[2].export_command("c.safetensors"),
            (std::vector<std::string>{"export", "--checkpoint", "c.safetensors", "--out",
                                      "out/arms/fp16-slow/seed-7/model.safetensors"}));
}

TEST(Plan, TelemetryFlagsOnlyWhenAsked) {
  const auto arms = plan_arms(study(R"(, "telemetry_every": 25)"), "out");
  EXPECT_TRUE(contains(arms[0].train_command(1),
                       {"--telemetry", "out/arms/fp32/seed-7/telemetry.jsonl", "--telemetry-every", "25"}));
}

TEST(Plan, AnArmIsFinishedWhenItsLogEndsWithTheFinalRecordUnderTheSameSettings) {
  const auto out = std::filesystem::temp_directory_path() / ("pure16_plan_" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  const Arm arm = plan_arms(study(), out)[0];
  EXPECT_EQ(reason_to_run(arm), "not run yet");
  std::filesystem::create_directories(arm.dir);
  std::ofstream(arm.settings_file()) << arm.settings_json().dump();
  std::ofstream(arm.log()) << R"({"epoch": 1, "test_accuracy": 0.5})" << "\n";
  EXPECT_EQ(reason_to_run(arm), "unfinished");
  std::ofstream(arm.log(), std::ios::app) << R"({"final": true, "test_accuracy": 0.5})" << "\n";
  EXPECT_EQ(reason_to_run(arm), "");
  // The same arm after the config changed its learning rate.
  const Arm changed = plan_arms(study(), out)[2];
  std::filesystem::create_directories(changed.dir);
  std::filesystem::copy_file(arm.log(), changed.log());
  std::ofstream(changed.settings_file()) << arm.settings_json().dump();
  EXPECT_EQ(reason_to_run(changed), "its settings changed");
  std::filesystem::remove_all(out);
}

TEST(Plan, ShellLinesQuoteWhatAShellWouldSplit) {
  EXPECT_EQ(shell_line({"/bin/pure16", "train", "--lr", "0.05", "--data", "my data", "--x", "it's", "--e", ""}),
            "/bin/pure16 train --lr 0.05 --data 'my data' --x 'it'\\''s' --e ''");
}

}  // namespace
