// The `pure16` command line, run as a user would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/precision/policy.h"
#include "support/cli.h"

namespace {

using pure16::testing::CliResult;
using pure16::testing::read_file;

std::filesystem::path scratch_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("pure16_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

CliResult run_cli(const std::string& args, const std::string& env = "") {
  return pure16::testing::run_cli(args, scratch_dir(), env);
}

TEST(Cli, UnknownFlagIsRejectedWithUsage) {
  const CliResult r = run_cli("train --epochz 3");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--epochz"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--batch-size"), std::string::npos) << "usage should list the options: " << r.err;
}

TEST(Cli, BadValuesAreRejected) {
  for (const char* args :
       {"train --precision fp8", "train --loss-scale -3", "train --loss-scale abc", "train --rounding up",
        "train --momentum-rounding kahan", "train --convolution fft", "train --epochs 0", "train --batch-size -1",
        "train --lr x", "train --model resnet9000", "train --lr-schedule linear", "train --lr-gamma 0",
        "train --warmup-epochs -1", "train --optimizer adagrad", "train --loss-scale-min 0",
        "train --loss-scale-init 0.5", "train --loss-scale-backoff 2 --max-steps 1 --dataset synthetic",
        "train --divergence-window 0", "nonsense"}) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

TEST(Cli, MissingDataDirectoryIsNamed) {
  const CliResult r = run_cli("train --data /nonexistent/pure16/mnist --epochs 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/pure16/mnist"), std::string::npos) << r.err;
}

// --check builds everything a run needs and stops before the first step: it writes no log and
// fails as the run would on a bad setup.
TEST(Cli, CheckValidatesTheSetupAndTrainsNothing) {
  const auto log = scratch_dir() / "check.jsonl";
  std::filesystem::remove(log);
  const CliResult r =
      run_cli("train --check --dataset synthetic --model lenet5 --precision pure-fp16 --log " + log.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pure16 train: model lenet5, dataset synthetic"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--check: the options, the dataset and the model are valid; nothing was trained"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("epoch 1"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(log));
  const CliResult missing = run_cli("train --check --data /nonexistent/pure16/mnist");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/pure16/mnist"), std::string::npos) << missing.err;
}

TEST(Cli, SyntheticRunWritesJsonLog) {
  const auto log = scratch_dir() / "run.jsonl";
  const CliResult r = run_cli("train --dataset synthetic --epochs 2 --max-steps 70 --batch-size 64 --threads 2 --log " +
                        log.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(read_file(log));
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  // 8192 samples / 64 = 128 steps per epoch: 70 steps end inside epoch 1, which is still logged.
  ASSERT_EQ(records.size(), 2u) << read_file(log);
  const nlohmann::json& epoch = records[0];
  for (const char* key : {"epoch", "train_loss", "test_loss", "test_accuracy", "images_per_second", "seconds",
                          "loss_scale", "skipped_steps", "lr"})
    EXPECT_TRUE(epoch.contains(key)) << key;
  EXPECT_EQ(epoch["epoch"], 1);
  EXPECT_TRUE(epoch["partial"].get<bool>());
  EXPECT_GE(epoch["test_accuracy"].get<double>(), 0.0);
  EXPECT_LE(epoch["test_accuracy"].get<double>(), 1.0);
  const nlohmann::json& last = records[1];
  EXPECT_TRUE(last["final"].get<bool>());
  EXPECT_EQ(last["memory"]["master_weights_bytes"], 0);
  EXPECT_GT(last["memory"]["weights_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(last["memory"]["weights_bytes"], last["memory"]["gradients_bytes"]);
  EXPECT_NE(r.out.find("epoch 1/2 (partial)"), std::string::npos) << r.out;
}

// The run log says which accumulation ran: `auto` (every preset's) is f16-block only with native
// fp16 FMAs, so with the ISA capped below AVX512-FP16 it must be f32; an explicit fp16
// accumulation still runs there, with a note that it is slow.
TEST(Cli, RunLogRecordsTheAccumulationThatRan) {
  const auto final_record = [](const std::filesystem::path& log) {
    std::istringstream lines(read_file(log));
    nlohmann::json last;
    for (std::string line; std::getline(lines, line);) last = nlohmann::json::parse(line);
    return last;
  };
  const std::string run = "train --dataset synthetic --epochs 1 --max-steps 2 --batch-size 64 --threads 1 --log ";
  const auto log = scratch_dir() / "auto.jsonl";
  const CliResult top = run_cli(run + log.string());
  ASSERT_EQ(top.exit_code, 0) << top.err;
  const nlohmann::json ran = final_record(log)["precision"];
  EXPECT_EQ(ran["name"], "pure-fp16");
  EXPECT_EQ(ran["accumulation_requested"], "auto");
  EXPECT_EQ(ran["accumulation"], std::string(pure16::kernels::accumulation_name(pure16::kernels::resolve_accumulation(
                                     pure16::DType::f16, pure16::kernels::Accumulation::automatic))));
  EXPECT_EQ(ran["isa"], std::string(pure16::kernels::isa_name(pure16::kernels::active_isa())));
  EXPECT_EQ(ran["convolution"], "auto");
  EXPECT_NE(top.out.find("(auto)"), std::string::npos) << top.out;

  const CliResult capped = run_cli(run + log.string(), "PURE16_ISA=avx512bf16");
  ASSERT_EQ(capped.exit_code, 0) << capped.err;
  EXPECT_EQ(final_record(log)["precision"]["accumulation"], "f32");
  EXPECT_EQ(capped.err.find("note:"), std::string::npos) << capped.err;

  const CliResult forced =
      run_cli(run + log.string() + " --accumulation f16-block --convolution winograd", "PURE16_ISA=avx512bf16");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(final_record(log)["precision"]["convolution"], "winograd");
  EXPECT_EQ(final_record(log)["precision"]["accumulation"], "f16-block");
  EXPECT_EQ(final_record(log)["precision"]["accumulation_requested"], "f16-block");
  EXPECT_NE(forced.err.find("note:"), std::string::npos) << forced.err;
}

// --keep-fp32 names layers of the model: a selector that matches none is a command-line mistake
// (exit status 2) that names it and the valid ones; a good one is stated in the banner and the log.
TEST(Cli, KeepFp32SelectsLayersOfTheModel) {
  const std::string run = "train --dataset synthetic --epochs 1 --max-steps 2 --batch-size 64 --threads 1 ";
  const CliResult unknown = run_cli(run + "--keep-fp32 first,fc9");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("--keep-fp32: mlp: 'fc9' matches no layer with parameters (valid: first, last, fc1, fc2, fc3)"),
            std::string::npos)
      << unknown.err;
  for (const char* malformed : {"first,,last", "last,last", ""}) {
    const CliResult r = run_cli(run + "--keep-fp32 '" + malformed + "'");
    EXPECT_EQ(r.exit_code, 2) << malformed << ": " << r.err;
    EXPECT_NE(r.err.find("--keep-fp32"), std::string::npos) << r.err;
  }
  const auto log = scratch_dir() / "keep.jsonl";
  const CliResult kept = run_cli(run + "--precision pure-fp16-naive --keep-fp32 first,last --log " + log.string());
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_NE(kept.out.find("rounding nearest, momentum rounding nearest, keep fp32 first,last"), std::string::npos)
      << kept.out;
  EXPECT_NE(kept.out.find("parameter groups fc1 f32 (kept), "), std::string::npos) << kept.out;
  std::istringstream lines(read_file(log));
  nlohmann::json last;
  for (std::string line; std::getline(lines, line);) last = nlohmann::json::parse(line);
  EXPECT_EQ(last["precision"]["keep_fp32"], nlohmann::json::array({"first", "last"}));
}

// --lr 1e10 overflows every step after the first whatever the loss scale: the run says it diverged, ends its log
// with a final record that says so, and exits with status 3, instead of finishing with a NaN loss.
TEST(Cli, DivergingRunStopsWithItsOwnExitStatus) {
  const auto log = scratch_dir() / "diverged.jsonl";
  const CliResult r = run_cli("train --dataset synthetic --epochs 2 --batch-size 64 --threads 1 --lr 1e10 "
                              "--divergence-window 30 --log " + log.string());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("diverged at step 30: the last 30 steps overflowed and were skipped"), std::string::npos) << r.err;
  std::istringstream lines(read_file(log));
  std::string line, last;
  while (std::getline(lines, line)) last = line;
  const nlohmann::json final_record = nlohmann::json::parse(last);
  EXPECT_TRUE(final_record.at("final").get<bool>());
  EXPECT_TRUE(final_record.at("diverged").get<bool>());
  EXPECT_EQ(final_record.at("diverged_at_step").get<int>(), 30);  // step 0 applies (its gradients are finite) and wrecks the weights

  const CliResult unchecked = run_cli("train --dataset synthetic --epochs 1 --max-steps 40 --batch-size 64 --threads 1 "
                                      "--lr 1e10 --divergence-window 30 --continue-on-divergence");
  EXPECT_EQ(unchecked.exit_code, 0) << unchecked.err;
  EXPECT_NE(unchecked.out.find("loss_scale 1 "), std::string::npos) << unchecked.out;  // the floor
}

TEST(Cli, EveryPresetTrains) {
  for (const std::string& name : pure16::PrecisionPolicy::preset_names()) {
    const CliResult r =
        run_cli("train --dataset synthetic --epochs 1 --max-steps 3 --batch-size 64 --threads 1 --precision " + name);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("precision " + name + ":"), std::string::npos) << r.out;
  }
}

TEST(Cli, CosineScheduleDecaysTheRate) {
  const auto log = scratch_dir() / "cosine.jsonl";
  const CliResult r = run_cli("train --dataset synthetic --epochs 2 --batch-size 256 --threads 2 --lr 0.1 "
                              "--lr-schedule cosine --warmup-epochs 0.25 --log " + log.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(read_file(log));
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 3u) << read_file(log);
  // 32 steps an epoch, 8 of warm-up: the first epoch ends at step 31, halfway through the
  // remaining 56 steps less one (cosine), the last at step 63 (rate 0.1 * (1 + cos(pi * 55/56)) / 2).
  EXPECT_NEAR(records[0]["lr"].get<double>(), 0.05 * (1 + std::cos(M_PI * 23.0 / 56.0)), 1e-6);
  EXPECT_NEAR(records[1]["lr"].get<double>(), 0.05 * (1 + std::cos(M_PI * 55.0 / 56.0)), 1e-6);
  EXPECT_NE(r.out.find("cosine"), std::string::npos) << r.out;
}

TEST(Cli, ModelsListsParametersAndFlops) {
  const CliResult r = run_cli("models");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // torchvision's ResNet-50: 25,557,032 parameters, 4.09 GMAC (8.18 GFLOP) at 224x224.
  std::istringstream lines(r.out);
  bool found = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("resnet50 ", 0) != 0) continue;
    found = true;
    EXPECT_NE(line.find("25557032"), std::string::npos) << line;
    EXPECT_NE(line.find("8.1784"), std::string::npos) << line;
  }
  EXPECT_TRUE(found) << r.out;
  for (const char* name : {"mlp", "lenet5", "resnet18", "resnet34", "resnet18-cifar", "resnet50-cifar"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
}

TEST(Cli, InfoNamesTheKernels) {
  const CliResult r = run_cli("info");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("detected ISA"), std::string::npos);
  EXPECT_NE(r.out.find("gemm f16, f16 accum"), std::string::npos);
}

TEST(Cli, InfoJsonGivesEveryKernelVariant) {
  const CliResult r = run_cli("info --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_FALSE(doc["detected_isa"].get<std::string>().empty());
  EXPECT_GE(doc["threads"].get<int>(), 1);
  // scripts/train_mnist.sh reads this key.
  EXPECT_EQ(doc["gemm"]["f16/f16-block"],
            std::string(pure16::kernels::gemm_variant(pure16::DType::f16, pure16::kernels::Accumulation::f16_block)));
  EXPECT_EQ(doc["gemm"].size(), 5u);
  EXPECT_EQ(doc["auto_accumulation"]["f16"],
            std::string(pure16::kernels::accumulation_name(pure16::kernels::resolve_accumulation(
                pure16::DType::f16, pure16::kernels::Accumulation::automatic))));
  EXPECT_EQ(doc["auto_accumulation"]["bf16"], "f32");
  EXPECT_EQ(doc["presets"].get<std::vector<std::string>>(), pure16::PrecisionPolicy::preset_names());
  EXPECT_EQ(doc["elementwise"]["sgd_update"], std::string(pure16::kernels::elementwise_variant("sgd_update")));
  // Capped to the portable path, every variant is the scalar reference.
  const CliResult scalar = run_cli("info --json", "PURE16_ISA=scalar");
  ASSERT_EQ(scalar.exit_code, 0) << scalar.err;
  const nlohmann::json scalar_doc = nlohmann::json::parse(scalar.out);  // outlives the loop over it
  for (const auto& [kind, variant] : scalar_doc["gemm"].items()) EXPECT_EQ(variant, "scalar") << kind;
}

}  // namespace
