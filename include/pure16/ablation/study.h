// A study's results: every arm, and per strategy the summaries over seeds the report shows.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pure16/ablation/arm_result.h"
#include "pure16/ablation/config.h"
#include "pure16/ablation/statistics.h"

namespace pure16::ablation {

/// One epoch of a strategy, over the seeds whose arms reached it.
struct CurvePoint {
  int64_t epoch = 0;
  Summary test_accuracy, train_loss, test_loss, loss_scale;
};

struct StrategySummary {
  std::string name, precision;
  int64_t arms = 0, failed = 0, diverged = 0;
  // Over the arms that ran to the end (diverged ones included: their accuracy is the result).
  Summary final_accuracy, best_accuracy;
  /// Final accuracy minus the baseline's, paired by seed; n = 0 without a baseline.
  Summary accuracy_difference;
  Summary train_loss, test_loss;  // of the last epoch
  Summary images_per_second;      // each arm's mean over its epochs
  Summary model_bytes;
  nlohmann::json memory;  // the first arm's "memory" record that ran to the end (the same for every seed)
  std::vector<CurvePoint> curve;
};

struct StudyResults {
  StudyConfig config;
  std::vector<ArmResult> arms;  // in the order of plan_arms
  std::vector<StrategySummary> strategies;

  int64_t failed_arms() const;
};

/// Groups `arms` by the config's strategies and summarizes each.
StudyResults summarize_study(const StudyConfig& config, std::vector<ArmResult> arms);

}  // namespace pure16::ablation
