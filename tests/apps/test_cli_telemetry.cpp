// `pure16 train --telemetry` and `pure16 telemetry`, run as a user would: records appended per
// sampled step, the first layer that overflowed named, malformed files refused with the line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli.h"

namespace {

using pure16::testing::CliResult;
using pure16::testing::read_file;

std::filesystem::path scratch_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("pure16_cli_telemetry_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

CliResult run_cli(const std::string& args) { return pure16::testing::run_cli(args, scratch_dir()); }

std::vector<nlohmann::json> records_of(const std::filesystem::path& file) {
  std::istringstream lines(read_file(file));
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

const std::string kSmallRun = "train --dataset synthetic --batch-size 64 --threads 2 --max-steps ";

TEST(CliTelemetry, RecordsSampledStepsAndAppendsAcrossRuns) {
  const auto file = scratch_dir() / "telemetry.jsonl";
  std::filesystem::remove(file);
  for (int run = 1; run <= 2; ++run) {
    const CliResult r = run_cli(kSmallRun + "6 --telemetry " + file.string() + " --telemetry-every 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(records_of(file).size(), size_t(2 * run)) << "steps 0 and 3 of each run";
  }
  const nlohmann::json first = records_of(file).front();
  EXPECT_EQ(first["step"], 0);
  EXPECT_EQ(first["dtype"], "f16");
  for (const char* key : {"epoch", "loss", "loss_scale", "skipped_steps", "tensors"}) EXPECT_TRUE(first.contains(key)) << key;
  const CliResult report = run_cli("telemetry " + file.string());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("4 records"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("most updates lost to rounding"), std::string::npos) << report.out;
}

// A learning rate of 10^6 without loss scaling sends the weights, then the activations, to
// infinity: the report must name the layer whose output overflowed first, as the file has it.
TEST(CliTelemetry, NamesTheFirstLayerThatOverflowed) {
  const auto file = scratch_dir() / "overflow.jsonl";
  std::filesystem::remove(file);
  const CliResult r = run_cli(kSmallRun + "4 --lr 1e6 --precision pure-fp16-naive --continue-on-divergence --telemetry " +
                              file.string() + " --telemetry-every 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> records = records_of(file);
  ASSERT_EQ(records.size(), 4u);
  std::string first_layer;
  int64_t first_step = -1;
  for (const nlohmann::json& record : records) {
    for (const nlohmann::json& t : record["tensors"])
      if (t["role"] == "activation" && (t["infs"].get<double>() > 0 || t["nans"].get<double>() > 0)) {
        first_layer = t["name"];
        break;
      }
    if (!first_layer.empty()) {
      first_step = record["step"];
      break;
    }
  }
  ASSERT_FALSE(first_layer.empty()) << "no activation overflowed: " << read_file(file).substr(0, 2000);
  const CliResult report = run_cli("telemetry " + file.string());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const std::string expected = "activation      step " + std::to_string(first_step) + ": " + first_layer;
  EXPECT_NE(report.out.find(expected), std::string::npos) << "expected \"" << expected << "\" in\n" << report.out;
}

// A run that stops because it diverged still records the step it diverged at: the one to look at.
TEST(CliTelemetry, RecordsTheStepARunDivergedAt) {
  const auto file = scratch_dir() / "diverged.jsonl";
  std::filesystem::remove(file);
  const CliResult r = run_cli(kSmallRun + "20 --lr 1e6 --precision pure-fp16-naive --telemetry " + file.string() +
                              " --telemetry-every 1");
  ASSERT_EQ(r.exit_code, 3) << r.out << r.err;
  const size_t at = r.err.find("diverged at step ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const int64_t step = std::stoll(r.err.substr(at + 17));
  const std::vector<nlohmann::json> records = records_of(file);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back()["step"], step);
}

TEST(CliTelemetry, MalformedLinesAreRefusedWithTheFileAndLine) {
  const auto file = scratch_dir() / "malformed.jsonl";
  const std::string good = R"({"step": 0, "dtype": "f16", "tensors": []})";
  for (const std::string& bad : {std::string("{\"step\": 1, \"dtype\": \"f16\""), std::string(R"({"step": 1})"),
                                 std::string(R"({"step": 1, "dtype": "f16", "tensors": [{"name": "fc1"}]})")}) {
    std::ofstream(file) << good << "\n" << bad << "\n";
    const CliResult r = run_cli("telemetry " + file.string());
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find(file.string() + ":2:"), std::string::npos) << r.err;
  }
  const CliResult missing = run_cli("telemetry " + (scratch_dir() / "absent.jsonl").string());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("absent.jsonl"), std::string::npos) << missing.err;
}

}  // namespace
