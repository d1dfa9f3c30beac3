// Runs a study's arms: each unfinished arm as a `pure16 train` process, then `pure16 export` of
// its last checkpoint, `jobs` at a time; finished arms are read back, not rerun.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <vector>

#include "pure16/ablation/arm_result.h"
#include "pure16/ablation/plan.h"

namespace pure16::ablation {

struct RunnerOptions {
  std::filesystem::path out;      // the study's output folder
  std::filesystem::path program;  // the pure16 executable the arms run
  int64_t jobs = 1;               // arms side by side
  int64_t threads = 1;            // --threads of each arm
};

/// Runs what `arms` still need and returns every arm's result, in order. Prints one line to
/// `progress` when an arm starts and one when it ends (arm i/N, strategy, seed, status, accuracy,
/// seconds). An arm that must run has its folder emptied first, so nothing of an interrupted run
/// is read back. A failed arm is a result with its exit status and an excerpt of its stderr, not an
/// exception: the other arms go on.
std::vector<ArmResult> run_arms(const std::vector<Arm>& arms, const RunnerOptions& options, std::ostream& progress);

}  // namespace pure16::ablation
