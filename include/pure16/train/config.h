// What a training run is asked to do: the model, the precision policy, the optimizer and its
// schedule, the length and the seed. Front ends fill it from their options (train/options.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pure16/nn/models.h"
#include "pure16/optim/lr_schedule.h"
#include "pure16/optim/optimizer.h"
#include "pure16/precision/policy.h"

namespace pure16::train {

struct TrainConfig {
  std::string model = "mlp";
  nn::ModelOptions model_options;
  PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
  optim::OptimizerConfig optimizer;  // optimizer.lr is the schedule's base rate
  optim::LrScheduleKind lr_schedule = optim::LrScheduleKind::constant;
  double warmup_epochs = 0;
  std::vector<double> lr_milestones;  // step schedule: epochs (may be fractional) at which lr *= lr_gamma
  float lr_gamma = 0.1f;
  int64_t epochs = 5;
  int64_t max_steps = 0;  // 0: no limit
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  uint64_t seed = 0;
  /// A run diverges when a step whose loss or gradients are not finite is applied (the weights
  /// are then lost), or when `divergence_window` steps in a row are skipped by the loss scaler.
  /// It then stops with train::Diverged, unless `stop_on_divergence` is false.
  int64_t divergence_window = 100;
  bool stop_on_divergence = true;

  /// Throws std::invalid_argument naming the first field that is out of range.
  void validate() const;
};

/// The per-step schedule of `config` for a run of `steps_per_epoch` batches an epoch; a cosine
/// schedule reaches zero at the last step (max_steps, when that comes first).
optim::LrSchedule make_lr_schedule(const TrainConfig& config, int64_t steps_per_epoch);

}  // namespace pure16::train
