// `mpirun -np 2 pure16 train`: two ranks train one model. Skipped where the build has no MPI
// or no mpirun is on the PATH. Every run is a few hundred steps of the MLP on synthetic data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <unistd.h>

#include "pure16/dist/communicator.h"
#include "support/cli.h"

namespace pure16 {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_command;

// As README says for a root shell on one machine with fewer cores than ranks.
const std::string kMpirun = "mpirun --allow-run-as-root --oversubscribe --bind-to none -np ";

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dist::built_with_mpi()) GTEST_SKIP() << "built without MPI";
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "no mpirun on the PATH";
    dir_ = fs::temp_directory_path() / ("pure16_mpi_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  CliResult train(int ranks, const std::string& args, const std::string& name) {
    const fs::path scratch = dir_ / name;
    fs::create_directories(scratch);
    return run_command(kMpirun + std::to_string(ranks) + " " + PURE16_CLI_PATH +
                           " train --dataset synthetic --model mlp --threads 1 " + args,
                       scratch);
  }

  fs::path dir_;
};

std::string replica_hash(const std::string& out) {
  std::smatch m;
  return std::regex_search(out, m, std::regex("hash to ([0-9a-f]{16}) on all")) ? m[1].str() : "";
}

TEST_F(Mpi, RanksHoldBitwiseEqualWeightsAndARunRepeatsBitwise) {
  const std::string args = "--precision pure-fp16 --batch-size 32 --max-steps 100 --dropout 0.1 --log " +
                           (dir_ / "log.jsonl").string();
  const CliResult first = train(2, args, "first");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("global batch 64"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("128 batches an epoch on every rank"), std::string::npos) << first.out;
  const std::string hash = replica_hash(first.out);
  ASSERT_FALSE(hash.empty()) << first.out;
  // Only rank 0 writes: one log, with the communication record.
  std::ifstream log(dir_ / "log.jsonl");
  int communication = 0;
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (!record.contains("communication")) continue;
    ++communication;
    EXPECT_EQ(record["communication"]["comm_dtype"], "f16");
    EXPECT_GT(record["communication"]["payload_bytes_per_step"].get<double>(), 0);
  }
  EXPECT_EQ(communication, 1);

  // The MLP has no BatchNorm: synchronizing its statistics changes no bit.
  const CliResult again = train(2, args + " --sync-batchnorm", "again");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("BatchNorm statistics of the global batch (synchronized)"), std::string::npos) << again.out;
  EXPECT_EQ(replica_hash(again.out), hash);
}

// Every rank restores the checkpoint rank 0 wrote mid-epoch and continues to the same state.
TEST_F(Mpi, ResumeContinuesToTheUninterruptedState) {
  const std::string args = "--batch-size 32 --max-steps 60 --checkpoint-every 20 --checkpoint-dir ";
  const CliResult whole = train(2, args + (dir_ / "whole").string(), "whole");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const CliResult resumed =
      train(2, args + (dir_ / "resumed").string() + " --resume " + (dir_ / "whole" / "checkpoint-step0000000020.safetensors").string(),
            "resumed");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("at step 20 (epoch 1, batch 20)"), std::string::npos) << resumed.out;
  EXPECT_EQ(replica_hash(resumed.out), replica_hash(whole.out));
  EXPECT_FALSE(replica_hash(whole.out).empty());
}

TEST_F(Mpi, Fp16PutsHalfTheBytesOfFp32OnTheWire) {
  const auto payload = [&](const std::string& dtype) {
    const CliResult r = train(2, "--precision fp32 --batch-size 64 --max-steps 5 --comm-dtype " + dtype, dtype);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    return std::regex_search(r.out, m, std::regex("([0-9]+) B summed per step")) ? std::stoll(m[1].str()) : -1;
  };
  const long long fp32 = payload("fp32"), fp16 = payload("fp16");
  ASSERT_GT(fp16, 0);
  EXPECT_EQ(2 * fp16, fp32);
}

// A rank that dies (SIGKILL) or stops responding (SIGSTOP: alive, in no collective) makes every
// other rank exit non-zero within --comm-timeout, never hang. Open MPI's launcher ends the job
// when a rank dies; a hung rank is caught by the survivors' timeout, which says so.
void expect_job_stops(const fs::path& dir, const std::string& signal) {
  const fs::path scratch = dir / signal;
  fs::create_directories(scratch);
  const std::string signal_rank1 = "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 2; kill -" + signal +
                                   " $$) & fi; exec " + std::string(PURE16_CLI_PATH);
  const std::string command = kMpirun + "2 sh -c '" + signal_rank1 +
                              " train --dataset synthetic --model mlp --threads 1 --batch-size 8 --epochs 50 "
                              "--comm-timeout 3'";
  const auto start = std::chrono::steady_clock::now();
  const CliResult r = run_command("timeout 60 " + command, scratch);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.exit_code, 124) << "the job hung until timeout(1) killed it";
  EXPECT_LT(seconds, 30);
  if (signal == "STOP") {
    EXPECT_NE(r.err.find("did not finish within --comm-timeout"), std::string::npos) << r.err;
  }
}

TEST_F(Mpi, AKilledRankStopsTheJob) { expect_job_stops(dir_, "KILL"); }
TEST_F(Mpi, AHungRankStopsTheJobWithinTheTimeout) { expect_job_stops(dir_, "STOP"); }

}  // namespace
}  // namespace pure16
