// What one arm of a study gave: its epochs and final record, read back from the run log
// `pure16 train --log` wrote, or how it failed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pure16::ablation {

enum class ArmStatus {
  finished,  // the log ends with the final record and the losses are finite
  diverged,  // stopped by pure16 train's divergence check, or its last epoch's loss is not finite
  failed,    // the process exited non-zero (or was killed): no final record
};
const char* arm_status_name(ArmStatus status);

/// One epoch record of the run log; a field the log lacks, or holds as null (how JSON writes
/// NaN), is NaN here.
struct EpochPoint {
  int64_t epoch = 0;
  double train_loss = 0, test_loss = 0, test_accuracy = 0, images_per_second = 0, seconds = 0, loss_scale = 0;
};

struct ArmResult {
  std::string strategy;
  uint64_t seed = 0;
  ArmStatus status = ArmStatus::failed;
  std::string failure;  // for a failed arm: the exit status and the last lines of its stderr
  std::string divergence;  // for a diverged arm stopped by pure16 train: its message
  std::vector<EpochPoint> epochs;
  double final_accuracy = 0;      // the final record's test accuracy, a fraction
  nlohmann::json precision;       // the final record's "precision" object, as it ran
  nlohmann::json memory;          // the final record's "memory" object (bytes)
  int64_t model_bytes = -1;       // size of the exported model; -1 when there is none
  std::filesystem::path dir;      // the arm's folder, relative to the study's output folder
  bool has_telemetry = false;     // the arm wrote telemetry.jsonl

  bool ok() const { return status != ArmStatus::failed; }
  double best_accuracy() const;          // the highest epoch test accuracy (NaN without epochs)
  double mean_images_per_second() const; // over the epochs
  double training_seconds() const;       // the epochs' seconds summed
};

/// The arm whose log is `log`: epochs and final record, and the status they give (finished or
/// diverged). Unknown fields are ignored. Throws std::runtime_error naming the file when it holds
/// no final record or a line that is not JSON.
ArmResult read_arm_log(const std::filesystem::path& log);

/// The first `first` and the last `last` lines of the file at `path`, with "[... N lines ...]"
/// between them when there are more ("" when it cannot be read). A failed run says why at the
/// top (a bad flag, with the usage after it) or at the bottom (an error after training started).
std::string excerpt(const std::filesystem::path& path, int first, int last);

}  // namespace pure16::ablation
