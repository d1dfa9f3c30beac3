// The report, CSV and JSON of a study, from run logs written here by hand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pure16/ablation/report.h"
#include "pure16/ablation/study.h"

namespace {

using namespace pure16::ablation;
using nlohmann::json;

const std::filesystem::path& scratch() {
  static const auto dir = std::filesystem::temp_directory_path() / ("pure16_report_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

json epoch(int n, double train_loss, double accuracy) {
  return {{"epoch", n},        {"train_loss", train_loss}, {"test_loss", train_loss + 0.01},
          {"test_accuracy", accuracy}, {"test_top5_accuracy", 1.0}, {"images_per_second", 1000.0 * n},
          {"seconds", 2.0},    {"loss_scale", 65536.0 * n}, {"lr", 0.05}, {"skipped_steps", 0},
          {"steps", 10},       {"partial", false},          {"added_later", "ignored"}};
}

json final_record(double accuracy, int64_t weights_bytes) {
  return {{"final", true},
          {"test_accuracy", accuracy},
          {"precision", {{"name", "whatever"}}},
          {"memory",
           {{"weights_bytes", weights_bytes}, {"gradients_bytes", weights_bytes}, {"optimizer_bytes", weights_bytes},
            {"master_weights_bytes", 0}, {"buffers_bytes", 0}, {"activations_bytes", 3 * 1024 * 1024}}}};
}

// An arm read back from a log of `records`, as the runner reads one.
ArmResult arm(const std::string& strategy, uint64_t seed, const std::vector<json>& records) {
  const auto log = scratch() / (strategy + "-" + std::to_string(seed) + ".jsonl");
  std::ofstream out(log);
  for (const json& r : records) out << r.dump() << "\n";
  out.close();
  ArmResult result = read_arm_log(log);
  result.strategy = strategy;
  result.seed = seed;
  result.dir = std::filesystem::path("arms") / strategy / ("seed-" + std::to_string(seed));
  result.model_bytes = 1000;
  return result;
}

ArmResult failed_arm(const std::string& strategy, uint64_t seed) {
  ArmResult r;
  r.strategy = strategy;
  r.seed = seed;
  r.failure = "pure16 train exited with status 1; its stderr:\npure16: error: loss is NaN\n";
  return r;
}

StudyResults fabricated_study() {
  const StudyConfig config = parse_study_config(
      json::parse(R"({"name": "fake", "train": {"model": "mlp", "epochs": 2}, "seeds": [0, 1, 2],
                      "strategies": ["fp32", "pure-fp16", {"name": "naive", "precision": "pure-fp16"}]})"),
      "fake.json");
  std::vector<ArmResult> arms = {
      // fp32: final 0.98, 0.97, 0.99 (mean 0.98, std 0.01); best 0.98, 0.975, 0.99.
      arm("fp32", 0, {epoch(1, 0.5, 0.96), epoch(2, 0.3, 0.98), final_record(0.98, 4000)}),
      arm("fp32", 1, {epoch(1, 0.5, 0.975), epoch(2, 0.3, 0.97), final_record(0.97, 4000)}),
      arm("fp32", 2, {epoch(1, 0.5, 0.95), epoch(2, 0.3, 0.99), final_record(0.99, 4000)}),
      // pure-fp16: 0.97, 0.98, 0.97: differences -0.01, +0.01, -0.02 (mean -0.00667, std 0.01528).
      arm("pure-fp16", 0, {epoch(1, 0.6, 0.95), epoch(2, 0.4, 0.97), final_record(0.97, 2000)}),
      arm("pure-fp16", 1, {epoch(1, 0.6, 0.95), epoch(2, 0.4, 0.98), final_record(0.98, 2000)}),
      arm("pure-fp16", 2, {epoch(1, 0.6, 0.95), epoch(2, 0.4, 0.97), final_record(0.97, 2000)}),
      // naive: one seed diverged (NaN loss, written as null), one failed, one fine.
      arm("naive", 0, {epoch(1, 0.6, 0.9), epoch(2, NAN, 0.098), final_record(0.098, 2000)}),
      failed_arm("naive", 1),
      arm("naive", 2, {epoch(1, 0.6, 0.9), epoch(2, 0.5, 0.95), final_record(0.95, 2000)}),
  };
  return summarize_study(config, std::move(arms));
}

TEST(ArmLog, NullLossesMeanDivergedAndUnknownFieldsAreIgnored) {
  const ArmResult r = arm("x", 0, {epoch(1, 0.6, 0.9), epoch(2, NAN, 0.1), final_record(0.1, 8)});
  EXPECT_EQ(r.status, ArmStatus::diverged);
  ASSERT_EQ(r.epochs.size(), 2u);
  EXPECT_TRUE(std::isnan(r.epochs[1].train_loss));
  EXPECT_DOUBLE_EQ(r.best_accuracy(), 0.9);
  EXPECT_DOUBLE_EQ(r.mean_images_per_second(), 1500.0);
  EXPECT_EQ(r.memory["weights_bytes"], 8);
}

TEST(ArmLog, ALogWithoutFinalRecordIsAnErrorNamingTheFile) {
  const auto log = scratch() / "unfinished.jsonl";
  std::ofstream(log) << epoch(1, 0.5, 0.9).dump() << "\n";
  try {
    read_arm_log(log);
    FAIL() << "an unfinished log was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(log.string()), std::string::npos) << e.what();
  }
}

TEST(StudySummary, MeansSpreadsAndPairedDifferences) {
  const StudyResults study = fabricated_study();
  ASSERT_EQ(study.strategies.size(), 3u);
  const StrategySummary& fp32 = study.strategies[0];
  EXPECT_NEAR(fp32.final_accuracy.mean, 0.98, 1e-12);
  EXPECT_NEAR(fp32.final_accuracy.std, 0.01, 1e-12);
  EXPECT_NEAR(fp32.best_accuracy.mean, (0.98 + 0.975 + 0.99) / 3, 1e-12);
  EXPECT_NEAR(fp32.accuracy_difference.mean, 0.0, 1e-15);

  const StrategySummary& fp16 = study.strategies[1];
  EXPECT_EQ(fp16.accuracy_difference.n, 3);
  EXPECT_NEAR(fp16.accuracy_difference.mean, -0.02 / 3, 1e-12);
  // Differences -0.01, 0.01, -0.02 around -0.00667: squares 1.111e-5, 2.778e-4, 1.778e-4 sum 4.667e-4; / 2.
  EXPECT_NEAR(fp16.accuracy_difference.std, std::sqrt(4.6666666667e-4 / 2), 1e-9);
  EXPECT_EQ(fp16.memory["weights_bytes"], 2000);
  ASSERT_EQ(fp16.curve.size(), 2u);
  EXPECT_NEAR(fp16.curve[1].test_accuracy.mean, (0.97 + 0.98 + 0.97) / 3, 1e-12);
  EXPECT_DOUBLE_EQ(fp16.curve[1].loss_scale.mean, 131072.0);

  const StrategySummary& naive = study.strategies[2];
  EXPECT_EQ(naive.arms, 3);
  EXPECT_EQ(naive.failed, 1);
  EXPECT_EQ(naive.diverged, 1);
  EXPECT_EQ(naive.final_accuracy.n, 2);
  EXPECT_NEAR(naive.final_accuracy.mean, (0.098 + 0.95) / 2, 1e-12);
  EXPECT_EQ(naive.accuracy_difference.n, 2);  // seeds 0 and 2: the failed seed has nothing to pair
  EXPECT_TRUE(std::isnan(naive.train_loss.mean));
  EXPECT_EQ(study.failed_arms(), 1);
}

TEST(StudyReport, MarkdownShowsMeansDifferencesMemoryAndFailures) {
  const std::string md = report_markdown(fabricated_study(), {false, "matplotlib is missing", {}});
  EXPECT_NE(md.find("# Precision ablation: fake"), std::string::npos) << md;
  EXPECT_NE(md.find("`pure16 train --epochs 2 --model mlp`"), std::string::npos) << md;
  EXPECT_NE(md.find("| fp32 | fp32 | 98.00 ± 1.00 | 98.17 ± 0.76 | +0.00 ± 0.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| pure-fp16 | pure-fp16 | 97.33 ± 0.58 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| -0.67 ± 1.53 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1/3 | 1/3 |"), std::string::npos) << "naive: 1 diverged, 1 failed\n" << md;
  EXPECT_NE(md.find("| pure-fp16 | 2.0 KiB | 2.0 KiB | 2.0 KiB | 0 B | 3.00 MiB | 1000 B |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("### naive, seed 1"), std::string::npos) << md;
  EXPECT_NE(md.find("pure16: error: loss is NaN"), std::string::npos) << md;
  EXPECT_NE(md.find("Plots were not made: matplotlib is missing"), std::string::npos) << md;

  const std::string with_plots = report_markdown(fabricated_study(), {true, "", {"plots/a.png", "plots/a.svg"}});
  EXPECT_NE(with_plots.find("![plots/a.svg](plots/a.svg)"), std::string::npos) << with_plots;
}

TEST(StudyReport, CsvHasOneRowPerArmAndEmptyCellsForFailures) {
  const StudyResults study = fabricated_study();
  const std::string csv = results_csv(study);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 9);
  EXPECT_EQ(csv.rfind("strategy,precision,seed,status,final_test_accuracy,best_test_accuracy,", 0), 0u) << csv;
  EXPECT_NE(csv.find("\nfp32,fp32,1,finished,0.97,0.975,0.3,0.31,1500.0,4.0,2,4000,4000,4000,0,3145728,1000\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\nnaive,pure-fp16,1,failed,,,,,,,0,,,,,,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nnaive,pure-fp16,0,diverged,0.098,0.9,,"), std::string::npos) << csv;

  const std::string epochs = epochs_csv(study);
  EXPECT_EQ(std::count(epochs.begin(), epochs.end(), '\n'), 1 + 8 * 2);
  EXPECT_NE(epochs.find("\npure-fp16,2,2,0.4,0.41000000000000003,0.97,2000.0,2.0,131072.0\n"), std::string::npos)
      << epochs;
}

TEST(StudyReport, JsonHoldsSummariesArmsAndCurves) {
  // As the file holds it: NaN is written as null.
  const json j = json::parse(results_json(fabricated_study(), {}).dump());
  EXPECT_EQ(j["name"], "fake");
  EXPECT_EQ(j["baseline"], "fp32");
  ASSERT_EQ(j["arms"].size(), 9u);
  EXPECT_EQ(j["arms"][7]["status"], "failed");
  EXPECT_TRUE(j["arms"][7]["final_test_accuracy"].is_null());
  EXPECT_EQ(j["arms"][0]["dir"], "arms/fp32/seed-0");
  const json& fp16 = j["strategies"][1];
  EXPECT_NEAR(fp16["final_test_accuracy"]["mean"].get<double>(), 0.97333333, 1e-6);
  EXPECT_EQ(fp16["curve"].size(), 2u);
  EXPECT_EQ(fp16["curve"][0]["epoch"], 1);

  const auto out = scratch() / "outputs";
  std::filesystem::create_directories(out);
  write_study_outputs(out, fabricated_study(), {});
  for (const char* file : {"report.md", "results.csv", "epochs.csv", "results.json"})
    EXPECT_TRUE(std::filesystem::file_size(out / file) > 0) << file;
  EXPECT_EQ(json::parse(std::ifstream(out / "results.json"))["arms"].size(), 9u);
}

}  // namespace
