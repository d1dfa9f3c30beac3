// `pure16 bench` in its JSON form, as bench/compare_pytorch.py reads it: the keys, and positive
// finite figures (never speed thresholds: these machines are shared). Sizes are tiny so each
// test takes a few seconds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "pure16/kernels/gemm.h"
#include "support/cli.h"

namespace {

using pure16::testing::CliResult;

CliResult run_cli(const std::string& args, const std::string& env = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return pure16::testing::run_cli(
      args,
      std::filesystem::temp_directory_path() / ("pure16_bench_" + std::string(info->name()) + "_" +
                                                std::to_string(::getpid())),
      env);
}

nlohmann::json run_json(const std::string& args, const std::string& env = "") {
  const CliResult r = run_cli(args, env);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return nlohmann::json::parse(r.out);
}

void expect_positive(const nlohmann::json& row, const char* key) {
  ASSERT_TRUE(row.contains(key)) << key << " missing in " << row;
  const double v = row[key].get<double>();
  EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " in " << row;
}

TEST(Bench, PeakGivesEveryKindOfThisCpu) {
  const nlohmann::json doc = run_json("bench peak --threads 1 --json");
  EXPECT_EQ(doc["machine"]["threads"], 1);
  for (const auto& row : doc["peak"]) {
    EXPECT_FALSE(row["kind"].get<std::string>().empty());
    EXPECT_EQ(row["threads"], 1);
    expect_positive(row, "gflops");
  }
}

TEST(Bench, GemmGivesEveryKindForOneAndAllThreads) {
  const nlohmann::json doc = run_json("bench gemm --shape 64x48x40 --threads 2 --json");
  // Every (dtype, accumulation) kind x (1 thread, 2 threads), but fp16 sums left to the scalar
  // reference (none on a CPU with AVX2).
  size_t kinds = 0;
  for (const auto& [dtype, acc] : pure16::kernels::gemm_kinds())
    kinds += acc == pure16::kernels::Accumulation::f32 || pure16::kernels::gemm_variant(dtype, acc) != "scalar";
  ASSERT_EQ(doc["gemm"].size(), 2 * kinds) << doc;
  // Capped to AVX2, every kind has a vectorized variant (the fp16 sums emulated in binary32).
  const nlohmann::json avx2 = run_json("bench gemm --shape 64x48x40 --threads 2 --json", "PURE16_ISA=avx2");
  EXPECT_EQ(avx2["gemm"].size(), 2 * pure16::kernels::gemm_kinds().size()) << avx2;
  for (const auto& row : avx2["gemm"]) EXPECT_EQ(row["variant"], "avx2") << row;
  // Capped to scalar, the fp16 sums are left out unless asked for by name.
  const nlohmann::json portable = run_json("bench gemm --shape 64x48x40 --threads 2 --json", "PURE16_ISA=scalar");
  EXPECT_EQ(portable["gemm"].size(), 6u) << portable;
  const nlohmann::json asked =
      run_json("bench gemm --shape 64x48x40 --threads 1 --accumulation f16 --json", "PURE16_ISA=scalar");
  ASSERT_EQ(asked["gemm"].size(), 1u) << asked;
  EXPECT_EQ(asked["gemm"][0]["variant"], "scalar") << asked;
  for (const auto& row : doc["gemm"]) {
    EXPECT_EQ(row["m"], 64);
    EXPECT_EQ(row["n"], 48);
    EXPECT_EQ(row["k"], 40);
    for (const char* key : {"gflops", "peak_gflops", "fraction_of_peak"}) expect_positive(row, key);
    EXPECT_FALSE(row["peak_kind"].get<std::string>().empty());
  }
}

TEST(Bench, GemmKeepsTheAskedKind) {
  const nlohmann::json doc = run_json("bench gemm --shape 32x32x32 --dtype f16 --accumulation f16 --threads 1 --json");
  ASSERT_EQ(doc["gemm"].size(), 1u) << doc;
  EXPECT_EQ(doc["gemm"][0]["dtype"], "f16");
  EXPECT_EQ(doc["gemm"][0]["accumulation"], "f16");
  expect_positive(doc["gemm"][0], "gflops");
}

// Fractions are of the peak of the unit the kernel runs on: vdpbf16ps for the avx512bf16 bf16
// GEMM, binary32 FMAs for the widening bf16 variants.
TEST(Bench, Bf16GemmIsAFractionOfTheUnitItRunsOn) {
  const nlohmann::json doc = run_json("bench gemm --shape 32x32x32 --dtype bf16 --threads 1 --json");
  ASSERT_EQ(doc["gemm"].size(), 1u) << doc;
  const bool dot = pure16::kernels::gemm_variant(pure16::DType::bf16, pure16::kernels::Accumulation::f32) == "avx512bf16";
  EXPECT_EQ(doc["gemm"][0]["peak_kind"].get<std::string>().find("vdpbf16ps") != std::string::npos, dot) << doc;
}

TEST(Bench, TrainRunsEachConfigurationAndReportsItsMemory) {
  const nlohmann::json doc = run_json("bench train --model mlp --precision pure-fp16 --precision fp32 --batch-size 32 "
                                      "--steps 2 --warmup 1 --threads 1 --json");
  ASSERT_EQ(doc["train"].size(), 2u) << doc;
  for (const auto& row : doc["train"]) {
    EXPECT_EQ(row["model"], "mlp");
    EXPECT_EQ(row["batch"], 32);
    EXPECT_EQ(row["threads"], 1);
    for (const char* key : {"images_per_second", "median_step_seconds", "gflops", "peak_gflops", "fraction_of_peak",
                            "peak_rss_mb"})
      expect_positive(row, key);
    EXPECT_GT(row["activations_bytes"].get<int64_t>(), 0) << row;
  }
  EXPECT_EQ(doc["train"][0]["precision"], "pure-fp16");
  // The preset's auto accumulation, as it ran on this CPU.
  EXPECT_EQ(doc["train"][0]["accumulation_requested"], "auto");
  EXPECT_EQ(doc["train"][0]["accumulation"],
            std::string(pure16::kernels::accumulation_name(pure16::kernels::resolve_accumulation(
                pure16::DType::f16, pure16::kernels::Accumulation::automatic))));
  EXPECT_EQ(doc["train"][0]["convolution"], "auto");
  EXPECT_EQ(doc["train"][1]["precision"], "fp32");
  EXPECT_EQ(doc["train"][1]["accumulation"], "f32");
  EXPECT_EQ(doc["machine"]["auto_accumulation_f16"], doc["train"][0]["accumulation"]);
}

TEST(Bench, BadArgumentsFail) {
  for (const char* args :
       {"bench", "bench gemm --shape 4x4", "bench gemm --shape 4x4x0", "bench gemm --dtype f64",
        "bench gemm --dtype bf16 --accumulation f16", "bench train --model nope", "bench train --steps 0",
        "bench train --convolution fft", "bench peak --threads 0", "bench conv --fast"}) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

}  // namespace
