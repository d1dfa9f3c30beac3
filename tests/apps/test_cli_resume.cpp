// Kill and resume: `pure16 train` killed with SIGKILL at ten points, some of them while a
// checkpoint is being written, then restarted with --resume each time, ends with the same final
// weights, bitwise, as a run never interrupted; and no kill ever leaves a corrupt checkpoint as
// the newest one.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pure16/io/safetensors.h"
#include "pure16/train/checkpoint.h"
#include "support/cli.h"
#include "support/preset_names.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("pure16_cli_resume_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> train_args(const std::string& precision, const fs::path& dir) {
  // 4 epochs of 256 batches of 32 (synthetic: 8192 samples); a checkpoint every 16 steps.
  return {PURE16_CLI_PATH, "train", "--dataset", "synthetic", "--model", "mlp", "--precision", precision,
          "--epochs", "4", "--batch-size", "32", "--dropout", "0.1", "--lr-schedule", "cosine", "--threads", "1",
          "--checkpoint-dir", (dir / "checkpoints").string(), "--checkpoint-every", "16", "--keep-checkpoints", "2",
          "--log", (dir / "log.jsonl").string(), "--resume"};
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& output) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for the process; true when SIGKILL ended it, false when it exited (with status 0).
bool reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGKILL;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  return false;
}

// Kills `pid` once the run has created its `nth` temporary checkpoint file, that is, while it
// writes that checkpoint; gives up after `limit`.
void kill_during_write(pid_t pid, const fs::path& dir, int nth, std::chrono::seconds limit) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_GE(::inotify_add_watch(fd, dir.c_str(), IN_CREATE), 0);
  int seen = 0;
  const auto deadline = Clock::now() + limit;
  alignas(inotify_event) char buffer[4096];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    for (ssize_t i = 0; i < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + i);
      if (event->len > 0 && std::string(event->name).find(".tmp.") != std::string::npos && ++seen == nth) {
        ::kill(pid, SIGKILL);
        ::close(fd);
        return;
      }
      i += ssize_t(sizeof(inotify_event) + event->len);
    }
  }
  ::close(fd);
  ::kill(pid, SIGKILL);
}

// The newest checkpoint must always be complete: its tensors match the hash written with them.
void expect_newest_checkpoint_intact(const fs::path& dir) {
  const fs::path newest = pure16::train::resolve_resume(dir);
  if (newest.empty()) return;
  try {
    const pure16::io::SafetensorsFile contents = pure16::io::read_safetensors(newest);
    pure16::train::read_checkpoint_header(contents, newest.string());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the newest checkpoint is corrupt after a kill: " << e.what();
  }
}

int count_temporary_files(const fs::path& dir) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    count += entry.path().filename().string().find(".tmp.") != std::string::npos ? 1 : 0;
  return count;
}

// name -> bytes of every tensor of the run's last checkpoint.
std::map<std::string, std::string> final_tensors(const fs::path& dir) {
  const std::vector<fs::path> all = pure16::train::list_checkpoints(dir);
  EXPECT_FALSE(all.empty());
  std::map<std::string, std::string> tensors;
  if (all.empty()) return tensors;
  EXPECT_EQ(all.back(), pure16::train::checkpoint_path(dir, 4 * 256));
  for (const pure16::io::StoredTensor& t : pure16::io::read_safetensors(all.back()).tensors) tensors[t.name] = t.data;
  return tensors;
}

std::vector<nlohmann::json> epoch_records(const fs::path& log) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(pure16::testing::read_file(log));
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (!record.contains("final")) records.push_back(record);
  }
  return records;
}

class KillAndResume : public ::testing::TestWithParam<std::string> {};

TEST_P(KillAndResume, TenKillsEndWithTheUninterruptedRunsWeights) {
  const std::string precision = GetParam();
  const fs::path whole = scratch(precision + "_whole");
  ASSERT_FALSE(reap(spawn(train_args(precision, whole), whole / "output")))
      << pure16::testing::read_file(whole / "output");

  const fs::path cut = scratch(precision + "_cut");
  const fs::path checkpoints = cut / "checkpoints";
  fs::create_directories(checkpoints);
  int kills = 0, kills_mid_write = 0;
  for (int point = 0; point < 10; ++point) {
    const pid_t pid = spawn(train_args(precision, cut), cut / "output");
    if (point % 2 == 0) {
      kill_during_write(pid, checkpoints, 1 + point / 2, std::chrono::seconds(60));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + 60 * point));
      ::kill(pid, SIGKILL);
    }
    if (!reap(pid)) break;  // it finished before the kill
    ++kills;
    kills_mid_write += count_temporary_files(checkpoints) > 0 ? 1 : 0;
    expect_newest_checkpoint_intact(checkpoints);
  }
  ASSERT_FALSE(reap(spawn(train_args(precision, cut), cut / "output"))) << pure16::testing::read_file(cut / "output");
  EXPECT_EQ(kills, 10) << "the run finished before every kill point";
  EXPECT_GE(kills_mid_write, 3) << "kills that left a half-written temporary file";

  const std::map<std::string, std::string> expected = final_tensors(whole / "checkpoints");
  const std::map<std::string, std::string> actual = final_tensors(checkpoints);
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, bytes] : expected)
    EXPECT_TRUE(actual.count(name) && actual.at(name) == bytes) << name << " differs after the kills and resumes";

  // The log of the resumed run holds each epoch once, with the uninterrupted run's numbers.
  const std::vector<nlohmann::json> a = epoch_records(whole / "log.jsonl"), b = epoch_records(cut / "log.jsonl");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t e = 0; e < a.size(); ++e)
    for (const char* key : {"epoch", "train_loss", "test_loss", "test_accuracy", "loss_scale", "skipped_steps"})
      EXPECT_EQ(a[e][key], b[e][key]) << key << " of epoch " << e + 1;
}

INSTANTIATE_TEST_SUITE_P(Presets, KillAndResume, ::testing::Values("fp32", "mixed-fp16", "pure-fp16"),
                         pure16::testing::preset_test_name);

}  // namespace
