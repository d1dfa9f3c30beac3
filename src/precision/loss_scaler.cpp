#include "pure16/precision/loss_scaler.h"

namespace pure16 {

LossScaler::LossScaler(const LossScaleConfig& config)
    : config_(config), scale_(config.mode == LossScaleMode::none ? 1.0f : config.initial) {}

bool LossScaler::update(bool found_nonfinite) {
  if (config_.mode != LossScaleMode::dynamic) return true;
  if (found_nonfinite) {
    scale_ *= config_.backoff_factor;
    clean_steps_ = 0;
    ++skipped_;
    return false;
  }
  if (++clean_steps_ >= config_.growth_interval) {
    scale_ *= config_.growth_factor;
    clean_steps_ = 0;
  }
  return true;
}

}  // namespace pure16
