// Loss scaling state machine (dynamic mode mirrors torch.cuda.amp.GradScaler).
#pragma once

#include <cstdint>

#include "pure16/precision/policy.h"

namespace pure16 {

class LossScaler {
 public:
  explicit LossScaler(const LossScaleConfig& config);

  /// The factor the loss gradient is multiplied by this step (1 when mode is none).
  float scale() const { return scale_; }
  /// Records whether this step's gradients held an inf/NaN and returns whether the optimizer
  /// step should be applied. Only dynamic mode skips steps; none and fixed apply every step,
  /// so a naive run shows what overflow does to it.
  bool update(bool found_nonfinite);
  int64_t skipped_steps() const { return skipped_; }

 private:
  LossScaleConfig config_;
  float scale_ = 1.0f;
  int64_t clean_steps_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace pure16
