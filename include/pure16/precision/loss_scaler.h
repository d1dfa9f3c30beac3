// Loss scaling state machine (dynamic mode mirrors torch.cuda.amp.GradScaler).
#pragma once

#include <cstdint>

#include "pure16/precision/policy.h"

namespace pure16 {

/// Everything a resumed run needs to continue the scaler's sequence exactly.
struct LossScalerState {
  float scale = 1.0f;
  int64_t clean_steps = 0;  // steps since the last overflow or growth
  int64_t skipped = 0;
  int64_t hysteresis_left = 1;  // overflows still tolerated before the next backoff
};

class LossScaler {
 public:
  explicit LossScaler(const LossScaleConfig& config);

  /// The factor the loss gradient is multiplied by this step (1 when mode is none).
  float scale() const { return scale_; }
  /// Records whether this step's gradients held an inf/NaN and returns whether the optimizer
  /// step should be applied. In dynamic mode an overflow is always skipped; it lowers the scale
  /// (not below min_scale) once the hysteresis is used up, which resets when the scale grows. Only dynamic mode skips steps; none and fixed apply every step,
  /// so a naive run shows what overflow does to it.
  bool update(bool found_nonfinite);
  int64_t skipped_steps() const { return skipped_; }
  LossScalerState state() const { return {scale_, clean_steps_, skipped_, hysteresis_left_}; }
  /// Continues from a saved state; throws std::invalid_argument for a scale that is not a
  /// positive finite number or negative counts.
  void restore(const LossScalerState& state);

 private:
  LossScaleConfig config_;
  float scale_ = 1.0f;
  int64_t clean_steps_ = 0;
  int64_t skipped_ = 0;
  int64_t hysteresis_left_;
};

}  // namespace pure16
