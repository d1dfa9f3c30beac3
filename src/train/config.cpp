#include "pure16/train/config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pure16::train {

void TrainConfig::validate() const {
  if (epochs <= 0) throw std::invalid_argument("epochs must be positive, got " + std::to_string(epochs));
  if (max_steps < 0) throw std::invalid_argument("max steps must be non-negative, got " + std::to_string(max_steps));
  if (batch_size <= 0) throw std::invalid_argument("batch size must be positive, got " + std::to_string(batch_size));
  if (eval_batch_size <= 0)
    throw std::invalid_argument("evaluation batch size must be positive, got " + std::to_string(eval_batch_size));
  if (!(warmup_epochs >= 0) || !std::isfinite(warmup_epochs))
    throw std::invalid_argument("warm-up epochs must be a finite non-negative number, got " + std::to_string(warmup_epochs));
  if (divergence_window <= 0)
    throw std::invalid_argument("divergence window must be positive, got " + std::to_string(divergence_window));
  policy.validate();
  optimizer.validate();
}

optim::LrSchedule make_lr_schedule(const TrainConfig& config, int64_t steps_per_epoch) {
  optim::LrSchedule schedule;
  schedule.kind = config.lr_schedule;
  schedule.base_lr = config.optimizer.lr;
  schedule.gamma = config.lr_gamma;
  const auto to_steps = [&](double epochs) { return int64_t(std::llround(epochs * double(steps_per_epoch))); };
  schedule.warmup_steps = to_steps(config.warmup_epochs);
  schedule.total_steps = config.epochs * steps_per_epoch;
  if (config.max_steps > 0) schedule.total_steps = std::min(schedule.total_steps, config.max_steps);
  for (double m : config.lr_milestones) schedule.milestones.push_back(to_steps(m));
  schedule.validate();
  return schedule;
}

}  // namespace pure16::train
