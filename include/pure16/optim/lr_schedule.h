// Learning-rate schedules, evaluated per optimizer step (as PyTorch's schedulers stepped
// once per batch): an optional linear warm-up from lr/warmup_steps to lr, then
//   constant: lr
//   cosine:   lr * (1 + cos(pi * t)) / 2, t = progress through the steps after warm-up
//             (CosineAnnealingLR with eta_min 0)
//   step:     lr * gamma^(number of milestones passed)  (MultiStepLR)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pure16::optim {

enum class LrScheduleKind { constant, cosine, step };

LrScheduleKind parse_lr_schedule(const std::string& name);  // throws std::invalid_argument
const char* lr_schedule_name(LrScheduleKind kind);

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::constant;
  float base_lr = 0.05f;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;            // cosine: the step at which the rate reaches 0
  std::vector<int64_t> milestones;    // step: the steps at which the rate is multiplied by gamma
  float gamma = 0.1f;

  void validate() const;              // throws std::invalid_argument
  /// The rate for optimizer step `step` (0-based).
  float at(int64_t step) const;
};

}  // namespace pure16::optim
