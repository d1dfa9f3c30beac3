// SGD with momentum, Nesterov momentum and weight decay, as torch.optim.SGD (dampening 0):
//   g = grad / loss_scale + weight_decay * w
//   m = momentum * m + g                       (m starts at g)
//   d = nesterov ? g + momentum * m : m
//   w = w - lr * d
// The update is one sweep over each parameter group's arena segment (kernels/sgd_update.h). Arithmetic is
// binary32 in registers; each stored result (w in the master dtype, m in the state dtype) is
// rounded once, as the precision policy's update rounding says.
#pragma once

#include <cstdint>

#include "pure16/optim/optimizer.h"

namespace pure16::optim {

class Sgd : public Optimizer {
 public:
  Sgd(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed);

  /// The momentum arena (undefined without momentum).
  nn::Arena& momentum_buffer() { return momentum_; }

 protected:
  /// The SGD kernel over one stretch of the arenas, which starts at `first_index` in their
  /// numbering (stochastic rounding draws the words a whole-arena sweep would draw there). The
  /// kernel's gradient is grads * grad_factor + weight_decay * weights: grad_factor unscales the
  /// gradient, and LARS folds its local rate into both. `momentum` and `compensation` may be
  /// undefined tensors.
  void update_stretch(Tensor weights, Tensor grads, Tensor momentum, Tensor compensation, size_t first_index,
                      float grad_factor, float weight_decay, uint64_t step, float* intended);

  nn::Arena momentum_;  // in each group's optimizer-state dtype; absent without momentum

 private:
  void apply(float grad_scale, uint64_t step, float* intended) override;
  std::vector<StateArena> own_arenas() override;
};

}  // namespace pure16::optim
