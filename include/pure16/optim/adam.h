// Adam and AdamW (torch.optim.Adam / AdamW semantics): with t = steps applied + 1,
//   g = grad / loss_scale (+ weight_decay * w: Adam's L2 term)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)  (- lr weight_decay w: AdamW)
//
// In fp16 the textbook state fails: eps = 1e-8 rounds to 0 (below half the smallest subnormal,
// 2^-25); g^2 flushes to 0 for |g| < 2^-12.5 = 1.7e-4 (the square below 2^-25) and loses
// precision below 2^-7 = 7.8e-3 (a subnormal square); (1 - beta2) g^2 flushes for |g| < 5.5e-3
// at beta2 = 0.999; beta2 = 0.9999 rounds to 1. With v = 0 the update is m / 0: inf, or NaN
// where m is 0 too. So the state kept here (the safe default) is
//   exp_avg          m~ = m S
//   exp_avg_sq_sqrt  s~ = sqrt(v) S
// in the policy's optimizer-state dtype, S the loss scale the gradients carry: s~ has the range
// of |g| S, so it is representable wherever the gradient is, and both are in the units of the
// fp16 gradient itself. The arithmetic is binary32 in registers, hyperparameters stay binary32,
// and m~ / (s~ / sqrt(1 - beta2^t) + eps S) is Adam's ratio. When the loss scale changes, both
// arenas are first multiplied by new / old (a power of two under dynamic scaling: exact),
// saturating at the dtype's largest finite value; the scale they are kept in is the scalar
// state_scale. Without loss scaling S = 1. The sweep is kernels::adam_update.
//
// `naive` (the ablation's arm) is what model.half() and torch.optim.Adam do: m and v stored as
// is in the state dtype (second arena exp_avg_sq), every tensor operation rounded to it.
#pragma once

#include <cstdint>

#include "pure16/optim/optimizer.h"

namespace pure16::optim {

class Adam final : public Optimizer {
 public:
  /// `decoupled`: AdamW's weight decay (w -= lr weight_decay w) instead of Adam's L2 term.
  Adam(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed,
       bool decoupled);

  nn::Arena& exp_avg() { return exp_avg_; }
  /// sqrt(v) S (safe), or v (naive).
  nn::Arena& exp_avg_sq() { return exp_avg_sq_; }
  /// The loss scale the safe state is kept in (1 before the first step).
  double state_scale() const { return state_scale_; }

 private:
  void apply(float grad_scale, uint64_t step, float* intended) override;
  std::vector<StateArena> own_arenas() override;
  StateScalars own_scalars() const override;
  void restore_own_scalars(const StateScalars& scalars) override;

  bool decoupled_;
  nn::Arena exp_avg_, exp_avg_sq_;  // in each group's optimizer-state dtype
  double state_scale_ = 1;
};

}  // namespace pure16::optim
