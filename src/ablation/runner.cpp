#include "pure16/ablation/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "pure16/ablation/process.h"
#include "pure16/io/atomic_file.h"
#include "pure16/train/checkpoint.h"

namespace pure16::ablation {
namespace {

// What a failed arm's report shows of its stderr: the first lines and the last ones.
constexpr int kStderrHead = 5, kStderrTail = 15;

class Progress {
 public:
  Progress(std::ostream& out, size_t arms) : out_(out), arms_(arms) {}
  void line(const Arm& arm, const std::string& what) {
    const std::lock_guard<std::mutex> lock(mutex_);
    out_ << "arm " << arm.index + 1 << "/" << arms_ << "  " << arm.strategy << "  seed " << arm.seed << "  " << what
         << std::endl;
  }

 private:
  std::mutex mutex_;
  std::ostream& out_;
  size_t arms_;
};

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

std::string outcome_text(const ArmResult& r) {
  if (!r.ok()) return "";
  char text[64];
  std::snprintf(text, sizeof text, "  test_accuracy %.2f%%", 100.0 * r.final_accuracy);
  return text;
}

// Exports the arm's last checkpoint and returns the model's size, or -1 with a note on `progress`.
int64_t export_model(const Arm& arm, const RunnerOptions& o, Progress& progress) {
  if (std::filesystem::exists(arm.model())) return int64_t(std::filesystem::file_size(arm.model()));
  const std::vector<std::filesystem::path> checkpoints =
      std::filesystem::exists(arm.checkpoints()) ? train::list_checkpoints(arm.checkpoints())
                                                 : std::vector<std::filesystem::path>{};
  if (checkpoints.empty()) {
    progress.line(arm, "note: no checkpoint to export, so no model size");
    return -1;
  }
  const std::filesystem::path log = arm.dir / "export.txt";
  const ProcessStatus status = run_process(o.program, arm.export_command(checkpoints.back()), log, log);
  if (!status.succeeded() || !std::filesystem::exists(arm.model())) {
    std::string why = excerpt(log, 1, 0);
    if (!why.empty()) why.pop_back();
    progress.line(arm, "note: no model size: pure16 export " + describe(status) + ": " + why);
    return -1;
  }
  return int64_t(std::filesystem::file_size(arm.model()));
}

// The result of a finished arm, from its folder.
ArmResult read_back(const Arm& arm, const RunnerOptions& o, Progress& progress) {
  ArmResult r = read_arm_log(arm.log());
  r.model_bytes = export_model(arm, o, progress);
  return r;
}

ArmResult run_arm(const Arm& arm, const RunnerOptions& o, Progress& progress, const std::string& reason) {
  progress.line(arm, "running (" + reason + ")");
  std::filesystem::remove_all(arm.dir);
  std::filesystem::create_directories(arm.dir);
  io::write_file_atomic(arm.settings_file(), arm.settings_json().dump() + "\n");
  const auto start = std::chrono::steady_clock::now();
  const ProcessStatus status = run_process(o.program, arm.train_command(o.threads), arm.stdout_file(), arm.stderr_file());
  ArmResult r;
  // A run that diverged exits with its own status after ending its log with a final record.
  const bool ran_to_its_end = status.succeeded() || status.exit_code == train::kExitDiverged;
  if (ran_to_its_end && log_is_finished(arm.log())) {
    try {
      r = read_back(arm, o, progress);
    } catch (const std::runtime_error& e) {
      r.failure = std::string("its log cannot be read: ") + e.what();
    }
  } else {
    r.failure = "pure16 train " + describe(status) +
                (ran_to_its_end ? " but its log has no final record" : "") + "; its stderr:\n" +
                excerpt(arm.stderr_file(), kStderrHead, kStderrTail);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.line(arm, std::string(arm_status_name(r.status)) +
                         (r.ok() ? "" : " (" + describe(status) + ", " + arm.stderr_file().string() + ")") +
                         outcome_text(r) + "  " + seconds_text(seconds));
  return r;
}

}  // namespace

std::vector<ArmResult> run_arms(const std::vector<Arm>& arms, const RunnerOptions& o, std::ostream& out) {
  Progress progress(out, arms.size());
  std::vector<std::string> reasons;
  size_t cached = 0;
  for (const Arm& arm : arms) {
    reasons.push_back(reason_to_run(arm));
    cached += reasons.back().empty() ? 1 : 0;
  }
  out << arms.size() << " arms: " << cached << " done (cached), " << arms.size() - cached << " to run, "
      << o.jobs << " at a time with " << o.threads << " thread" << (o.threads == 1 ? "" : "s") << " each"
      << std::endl;

  // A setup every arm shares (a missing dataset, a bad flag) fails once, here, instead of once per
  // arm: the first arm of the plan is checked whenever any arm is to run.
  const bool any_to_run = std::any_of(reasons.begin(), reasons.end(), [](const std::string& r) { return !r.empty(); });
  if (any_to_run && !arms.empty()) {
    std::vector<std::string> check = arms.front().train_command(o.threads);
    check.push_back("--check");
    std::filesystem::create_directories(o.out);
    const std::filesystem::path log = o.out / "check.txt";
    const ProcessStatus status = run_process(o.program, check, log, log);
    if (status.succeeded())
      std::filesystem::remove(log);
    else
      throw std::runtime_error("the study cannot start: `pure16 train --check` of its first arm (" +
                               arms.front().strategy + ", seed " + std::to_string(arms.front().seed) + ") " +
                               describe(status) + "; " + log.string() + " says:\n" +
                               excerpt(log, kStderrHead, kStderrTail));
  }

  std::vector<ArmResult> results(arms.size());
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (size_t i; (i = next++) < arms.size();) {
      try {
        const Arm& arm = arms[i];
        if (reasons[i].empty()) {
          results[i] = read_back(arm, o, progress);
          progress.line(arm, "done (cached)" + outcome_text(results[i]) + "  " +
                                 seconds_text(results[i].training_seconds()));
        } else {
          results[i] = run_arm(arm, o, progress, reasons[i]);
        }
        results[i].strategy = arm.strategy;
        results[i].seed = arm.seed;
        results[i].dir = arm.dir.lexically_relative(o.out);
        results[i].has_telemetry = std::filesystem::exists(arm.telemetry());
      } catch (...) {
        // A file-system error is the study's, not one arm's: stop handing out arms and rethrow it.
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = arms.size();
      }
    }
  };
  std::vector<std::thread> workers;
  for (int64_t j = 0; j < std::max<int64_t>(1, std::min<int64_t>(o.jobs, int64_t(arms.size()))); ++j)
    workers.emplace_back(work);
  for (std::thread& w : workers) w.join();
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace pure16::ablation
