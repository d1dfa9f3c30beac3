#include "pure16/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace pure16::optim {

LrScheduleKind parse_lr_schedule(const std::string& name) {
  if (name == "constant") return LrScheduleKind::constant;
  if (name == "cosine") return LrScheduleKind::cosine;
  if (name == "step") return LrScheduleKind::step;
  throw std::invalid_argument("unknown learning-rate schedule '" + name + "' (constant, cosine, step)");
}

const char* lr_schedule_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::constant: return "constant";
    case LrScheduleKind::cosine: return "cosine";
    case LrScheduleKind::step: return "step";
  }
  return "?";
}

void LrSchedule::validate() const {
  if (!(base_lr >= 0.0f) || !std::isfinite(base_lr))
    throw std::invalid_argument("learning rate must be a finite non-negative number, got " + std::to_string(base_lr));
  if (warmup_steps < 0) throw std::invalid_argument("warm-up steps must be non-negative");
  if (kind == LrScheduleKind::cosine && total_steps <= warmup_steps)
    throw std::invalid_argument("cosine schedule: total steps (" + std::to_string(total_steps) +
                                ") must exceed the warm-up steps (" + std::to_string(warmup_steps) + ")");
  if (kind == LrScheduleKind::step) {
    if (!(gamma > 0.0f) || !std::isfinite(gamma))
      throw std::invalid_argument("step schedule: gamma must be positive, got " + std::to_string(gamma));
    if (!std::is_sorted(milestones.begin(), milestones.end()))
      throw std::invalid_argument("step schedule: milestones must be in increasing order");
  }
}

float LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return base_lr * float(step + 1) / float(warmup_steps);
  switch (kind) {
    case LrScheduleKind::constant:
      return base_lr;
    case LrScheduleKind::cosine: {
      const double t = std::min(1.0, double(step - warmup_steps) / double(total_steps - warmup_steps));
      return float(base_lr * 0.5 * (1.0 + std::cos(std::numbers::pi * t)));
    }
    case LrScheduleKind::step: {
      const auto passed = std::upper_bound(milestones.begin(), milestones.end(), step) - milestones.begin();
      return float(base_lr * std::pow(double(gamma), double(passed)));
    }
  }
  return base_lr;
}

}  // namespace pure16::optim
