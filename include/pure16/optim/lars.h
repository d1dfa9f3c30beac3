// LARS (You, Gitman and Ginsburg, "Large Batch Training of Convolutional Networks", 2017), as
// used for large-batch ResNet training: per parameter tensor with more than one dimension,
//   local_lr = trust_coefficient * ||w|| / (||g|| + weight_decay * ||w||)   (g unscaled)
//   m = momentum * m + local_lr * (g + weight_decay * w)   (m starts at that value)
//   w = w - lr * m
// local_lr is 1 where ||w|| or ||g|| is 0 (a fresh zero-initialized layer, an unused one).
// Tensors of one dimension (biases, BatchNorm's scale and shift) are left out of the adaptation
// and of the weight decay: local_lr = 1, weight_decay = 0, as is usual.
//
// The norms are binary64 sums of exact squares (kernels::sum_squares), relative error below
// 2^-53 n + 2^-52 after the square root, far under binary32's 2^-24, which local_lr is rounded
// to. Each parameter's update is the SGD kernel over its segment of the arena, with the local
// rate folded into the gradient's unscaling factor and the weight decay, and first_index at the
// parameter's offset in the arenas' numbering, so stochastic rounding draws the words a whole-arena sweep would.
#pragma once

#include <cstdint>

#include "pure16/optim/sgd.h"

namespace pure16::optim {

class Lars final : public Sgd {
 public:
  Lars(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed);

  /// The local learning rate the last step used for `p` (1 before any step and for 1-D tensors).
  double local_lr(const nn::Parameter& p) const;

 private:
  void apply(float grad_scale, uint64_t step, float* intended) override;

  std::vector<double> local_lr_;  // per parameter, in the store's order
};

}  // namespace pure16::optim
