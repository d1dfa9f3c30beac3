#include "pure16/precision/loss_scaler.h"

#include <cmath>
#include <stdexcept>
#include <string>

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

void LossScaler::restore(const LossScalerState& state) {
  if (!(state.scale > 0.0f) || !std::isfinite(state.scale) || state.clean_steps < 0 || state.skipped < 0)
    throw std::invalid_argument("loss scaler: invalid state (scale " + std::to_string(state.scale) + ", clean steps " +
                                std::to_string(state.clean_steps) + ", skipped " + std::to_string(state.skipped) + ")");
  scale_ = state.scale;
  clean_steps_ = state.clean_steps;
  skipped_ = state.skipped;
}

}  // namespace pure16
