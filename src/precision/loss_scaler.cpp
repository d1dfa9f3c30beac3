#include "pure16/precision/loss_scaler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace pure16 {

LossScaler::LossScaler(const LossScaleConfig& config)
    : config_(config),
      scale_(config.mode == LossScaleMode::none ? 1.0f : config.initial),
      hysteresis_left_(config.hysteresis) {}

bool LossScaler::update(bool found_nonfinite) {
  if (config_.mode != LossScaleMode::dynamic) return true;
  if (found_nonfinite) {
    if (hysteresis_left_ > 1) --hysteresis_left_;
    else scale_ = std::max(scale_ * config_.backoff_factor, config_.min_scale);
    clean_steps_ = 0;
    ++skipped_;
    return false;
  }
  if (++clean_steps_ >= config_.growth_interval) {
    scale_ = std::min(scale_ * config_.growth_factor, config_.max_scale);
    clean_steps_ = 0;
    hysteresis_left_ = config_.hysteresis;
  }
  return true;
}

void LossScaler::restore(const LossScalerState& state) {
  if (!(state.scale > 0.0f) || !std::isfinite(state.scale) || state.clean_steps < 0 || state.skipped < 0 ||
      state.hysteresis_left < 1)
    throw std::invalid_argument("loss scaler: invalid state (scale " + std::to_string(state.scale) + ", clean steps " +
                                std::to_string(state.clean_steps) + ", skipped " + std::to_string(state.skipped) + ")");
  scale_ = state.scale;
  clean_steps_ = state.clean_steps;
  skipped_ = state.skipped;
  hysteresis_left_ = state.hysteresis_left;
}

}  // namespace pure16
