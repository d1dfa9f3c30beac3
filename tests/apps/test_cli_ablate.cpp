// `pure16 ablate` end to end: a tiny real study on synthetic data, rerun to check that finished
// arms are kept, one arm's log removed to check that only it reruns, and failing arms reported.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli.h"

namespace {

using pure16::testing::CliResult;
using pure16::testing::read_file;
namespace fs = std::filesystem;

fs::path scratch_dir() {
  const auto dir = fs::temp_directory_path() / ("pure16_cli_ablate_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

CliResult run_cli(const std::string& args) { return pure16::testing::run_cli(args, scratch_dir()); }

// A study file in the scratch folder; 4 steps of batch 64 an arm, so an arm takes about a second.
fs::path write_config(const std::string& name, const std::string& strategies, const std::string& seeds) {
  const fs::path path = scratch_dir() / (name + ".json");
  std::ofstream(path) << R"({"name": ")" << name << R"(", "train": {"dataset": "synthetic", "epochs": 1,
      "max-steps": 4, "batch-size": 64}, "seeds": )"
                      << seeds << R"(, "strategies": )" << strategies << R"(, "jobs": 2})";
  return path;
}

// Telemetry as `pure16 train --telemetry` writes it (docs/ABLATION.md), made by hand: the plots
// of lost updates and underflow per layer are drawn from it.
void write_telemetry(const fs::path& file, const std::string& dtype) {
  std::ofstream out(file);
  for (int step : {0, 2, 4}) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const char* layer : {"fc1", "fc2", "fc3"}) {
      tensors.push_back({{"name", std::string(layer) + ".weight"}, {"layer", layer}, {"role", "update"},
                         {"count", 1000}, {"lost_updates", 0.1 * step}});
      tensors.push_back({{"name", std::string(layer) + ".weight"}, {"layer", layer}, {"role", "weight_grad"},
                         {"count", 1000}, {"zeros", 0.01}, {"subnormals", 0.002 * step}, {"fp16_underflow", 0.03}});
    }
    out << nlohmann::json{{"step", step}, {"epoch", 0}, {"loss", 2.3}, {"loss_scale", 65536.0 / (1 + step)},
                          {"dtype", dtype}, {"tensors", tensors}}.dump()
        << "\n";
  }
}

bool matplotlib_available() {
  return pure16::testing::run_command("/usr/bin/python3 -c 'import matplotlib'", scratch_dir() / "probe").exit_code == 0;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CliAblate, RunsEveryArmOnceAndReportsThem) {
  const fs::path config = write_config("tiny", R"(["fp32", "pure-fp16"])", "[0, 1]");
  const fs::path out = scratch_dir() / "tiny-out";
  fs::remove_all(out);
  const std::string run = "ablate --config " + config.string() + " --out " + out.string();

  const CliResult first = run_cli(run + " --no-plots");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("4 arms: 0 done (cached), 4 to run, 2 at a time"), std::string::npos) << first.out;
  EXPECT_EQ(count(first.out, "  finished  test_accuracy "), 4u) << first.out;
  EXPECT_NE(first.out.find("/4  pure-fp16  seed 1  finished"), std::string::npos) << first.out;

  const std::string report = read_file(out / "report.md");
  EXPECT_NE(report.find("# Precision ablation: tiny"), std::string::npos) << report;
  EXPECT_NE(report.find("| fp32 | fp32 | "), std::string::npos) << report;
  EXPECT_NE(report.find("| pure-fp16 | pure-fp16 | "), std::string::npos) << report;
  EXPECT_NE(report.find("Δ vs fp32 (pp)"), std::string::npos) << report;
  EXPECT_NE(report.find("| 0/2 | 0/2 |"), std::string::npos) << report;

  const std::string csv = read_file(out / "results.csv");
  EXPECT_EQ(count(csv, "\n"), 5u) << csv;
  EXPECT_EQ(count(csv, ",finished,"), 4u) << csv;
  EXPECT_EQ(count(read_file(out / "epochs.csv"), "\n"), 5u);

  const nlohmann::json results = nlohmann::json::parse(read_file(out / "results.json"));
  ASSERT_EQ(results["arms"].size(), 4u);
  const nlohmann::json& fp32 = results["arms"][0];
  const nlohmann::json& fp16 = results["arms"][2];
  EXPECT_EQ(fp16["strategy"], "pure-fp16");
  EXPECT_EQ(fp16["precision"]["name"], "pure-fp16");
  // The export of an fp16 run is about half an fp32 run's file (the header is the same size).
  const double ratio = fp16["model_bytes"].get<double>() / fp32["model_bytes"].get<double>();
  EXPECT_GT(ratio, 0.49);
  EXPECT_LT(ratio, 0.52);
  EXPECT_EQ(fp16["memory"]["weights_bytes"].get<int64_t>() * 2, fp32["memory"]["weights_bytes"].get<int64_t>());
  EXPECT_EQ(results["strategies"][1]["final_test_accuracy"]["n"], 2);
  EXPECT_TRUE(fs::exists(out / "arms/pure-fp16/seed-1/model.safetensors"));

  // Nothing is rerun: the logs stay as they were.
  const auto written = fs::last_write_time(out / "arms/fp32/seed-0/log.jsonl");
  const CliResult again = run_cli(run + " --no-plots");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("4 arms: 4 done (cached), 0 to run"), std::string::npos) << again.out;
  EXPECT_EQ(count(again.out, "done (cached)  test_accuracy"), 4u) << again.out;
  EXPECT_EQ(again.out.find("running"), std::string::npos) << again.out;
  EXPECT_EQ(fs::last_write_time(out / "arms/fp32/seed-0/log.jsonl"), written);
  EXPECT_EQ(read_file(out / "results.csv"), csv);
  // An arm without its log is unfinished: only it runs, and what it left is discarded.
  fs::remove(out / "arms/pure-fp16/seed-1/log.jsonl");
  const CliResult partial = run_cli(run + " --no-plots");
  ASSERT_EQ(partial.exit_code, 0) << partial.out << partial.err;
  EXPECT_NE(partial.out.find("4 arms: 3 done (cached), 1 to run"), std::string::npos) << partial.out;
  EXPECT_NE(partial.out.find("arm 4/4  pure-fp16  seed 1  running (not run yet)"), std::string::npos) << partial.out;
  EXPECT_EQ(count(partial.out, "running"), 1u) << partial.out;
  EXPECT_EQ(fs::last_write_time(out / "arms/fp32/seed-0/log.jsonl"), written);
  // The engine gives the same bits for a seed, so the rerun arm's results are the same.
  EXPECT_EQ(nlohmann::json::parse(read_file(out / "results.json"))["arms"][3]["final_test_accuracy"],
            results["arms"][3]["final_test_accuracy"]);

  // Without Python the study still reports, and says why there are no plots.
  const CliResult no_python = run_cli(run + " --python /nonexistent/python3");
  ASSERT_EQ(no_python.exit_code, 0) << no_python.err;
  EXPECT_NE(no_python.err.find("plots skipped: /nonexistent/python3 does not exist"), std::string::npos)
      << no_python.err;
  EXPECT_NE(read_file(out / "report.md").find("Plots were not made: /nonexistent/python3 does not exist"),
            std::string::npos);
  fs::remove_all(out);
}

TEST(CliAblate, PlotsOfCurvesLossScaleAndTelemetry) {
  if (!matplotlib_available()) GTEST_SKIP() << "/usr/bin/python3 cannot import matplotlib (python3-matplotlib)";
  const fs::path config = write_config("plotted", R"(["fp32", "pure-fp16"])", "[0]");
  const fs::path out = scratch_dir() / "plotted-out";
  fs::remove_all(out);
  const std::string run = "ablate --config " + config.string() + " --out " + out.string();
  const CliResult first = run_cli(run + " --no-plots");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  write_telemetry(out / "arms/fp32/seed-0/telemetry.jsonl", "f32");
  write_telemetry(out / "arms/pure-fp16/seed-0/telemetry.jsonl", "f16");
  const CliResult plotted = run_cli(run);
  ASSERT_EQ(plotted.exit_code, 0) << plotted.out << plotted.err;
  EXPECT_EQ(plotted.err.find("plots skipped"), std::string::npos) << plotted.err;
  for (const char* plot : {"test_accuracy", "train_loss", "loss_scale", "telemetry_lost_updates", "telemetry_underflow"})
    for (const char* extension : {".png", ".svg"}) {
      const fs::path file = out / "plots" / (std::string(plot) + extension);
      ASSERT_TRUE(fs::exists(file)) << file << "\n" << read_file(out / "plots/plot.log");
      EXPECT_GT(fs::file_size(file), 5000u) << file;
    }
  const std::string report = read_file(out / "report.md");
  EXPECT_NE(report.find("![plots/telemetry_lost_updates.svg](plots/telemetry_lost_updates.svg)"), std::string::npos)
      << report;
  EXPECT_NE(read_file(out / "results.json").find("\"telemetry\": \"arms/pure-fp16/seed-0/telemetry.jsonl\""),
            std::string::npos);
  fs::remove_all(out);
}

TEST(CliAblate, FailedArmsAreReportedAndTheRestGoOn) {
  // An unknown preset makes `pure16 train` exit 2 at once, as a diverging arm that aborts would.
  const fs::path config = write_config("failing", R"(["fp32", "no-such-preset"])", "[5]");
  const fs::path out = scratch_dir() / "failing-out";
  fs::remove_all(out);
  const std::string run = "ablate --no-plots --config " + config.string() + " --out " + out.string();
  const CliResult r = run_cli(run);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("no-such-preset  seed 5  failed (exited with status 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fp32  seed 5  finished"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 of 2 arms failed"), std::string::npos) << r.err;
  const std::string report = read_file(out / "report.md");
  EXPECT_NE(report.find("| no-such-preset | no-such-preset | — | — | — | — | — | — | 0/1 | 1/1 |"), std::string::npos)
      << report;
  EXPECT_NE(report.find("### no-such-preset, seed 5"), std::string::npos) << report;
  EXPECT_NE(report.find("no-such-preset not in"), std::string::npos) << "stderr of the arm:\n" << report;
  EXPECT_NE(read_file(out / "results.csv").find("\nno-such-preset,no-such-preset,5,failed,"), std::string::npos);

  // A failed arm has no final record, so it runs again; the finished one does not.
  const CliResult allowed = run_cli(run + " --allow-failures");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  EXPECT_NE(allowed.out.find("2 arms: 1 done (cached), 1 to run"), std::string::npos) << allowed.out;
  EXPECT_NE(allowed.err.find("allowed by --allow-failures"), std::string::npos) << allowed.err;
  fs::remove_all(out);
}

// A setup no arm can run (here a dataset folder that does not exist) stops the study before any
// arm starts, with the reason, instead of failing every arm.
TEST(CliAblate, ASetupNoArmCanRunStopsTheStudyBeforeItStarts) {
  const fs::path config = scratch_dir() / "nodata.json";
  const fs::path missing = scratch_dir() / "no-such-mnist";
  std::ofstream(config) << R"({"name": "nodata", "train": {"dataset": "mnist", "data": ")" << missing.string()
                        << R"(", "epochs": 1}, "seeds": [0, 1], "strategies": ["fp32", "pure-fp16"]})";
  const fs::path out = scratch_dir() / "nodata-out";
  fs::remove_all(out);
  const CliResult r = run_cli("ablate --no-plots --config " + config.string() + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the study cannot start: `pure16 train --check` of its first arm (fp32, seed 0) exited with "
                       "status 1"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(missing.string() + " does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("running"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out / "arms"));
  EXPECT_FALSE(fs::exists(out / "report.md"));
  fs::remove_all(out);
}

TEST(CliAblate, DryRunPrintsTheCommandsAndRunsNothing) {
  const fs::path config = write_config("dry", R"(["fp32", {"name": "slow", "precision": "pure-fp16",
      "train": {"lr": 0.001}}])", "[0, 9]");
  const fs::path out = scratch_dir() / "dry-out";
  const CliResult r = run_cli("ablate --dry-run --jobs 1 --config " + config.string() + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("# arm 4/4 slow seed 9: not run yet"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" train --precision pure-fp16 --seed 9 --batch-size 64 --dataset synthetic --epochs 1 "
                       "--lr 0.001 --max-steps 4 --log " +
                       (out / "arms/slow/seed-9/log.jsonl").string()),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" export --checkpoint "), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliAblate, BadConfigsAndFlagsAreErrors) {
  const fs::path config = scratch_dir() / "bad.json";
  std::ofstream(config) << R"({"train": {}, "seeds": [0], "strategies": ["fp32"], "bogus": 1})";
  const CliResult bad = run_cli("ablate --config " + config.string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(config.string() + ": bogus: unknown key"), std::string::npos) << bad.err;
  const CliResult flag = run_cli("ablate --config " + config.string() + " --frobnicate");
  EXPECT_NE(flag.exit_code, 0);
  EXPECT_NE(flag.err.find("--frobnicate"), std::string::npos) << flag.err;
  EXPECT_NE(run_cli("ablate").exit_code, 0);
}

}  // namespace
