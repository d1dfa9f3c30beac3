// Batch normalization over the channels of NHWC activations (N, H, W, C), as PyTorch's
// BatchNorm2d: training mode normalizes with the batch statistics and updates the running
// estimates (unbiased variance); evaluation mode normalizes with the running estimates.
// weight (ones) and bias (zeros) are trained; running_mean (zeros) and running_var (ones) are
// buffers in the compute dtype. What the kernels accumulate in: include/pure16/kernels/batchnorm.h.
#pragma once

#include "pure16/nn/activation.h"
#include "pure16/nn/layer.h"

namespace pure16::nn {

class BatchNorm2d : public Layer {
 public:
  explicit BatchNorm2d(int64_t channels, FusedActivation activation = FusedActivation::none, double eps = 1e-5,
                       double momentum = 0.1);

  std::string name() const override;
  Shape output_shape(const Shape& input) const override;
  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }
  std::vector<Parameter*> buffers() override { return {&running_mean_, &running_var_}; }

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  Parameter& running_mean() { return running_mean_; }
  Parameter& running_var() { return running_var_; }

 protected:
  std::optional<DType> own_dtype() const override { return dtype_of(weight_); }
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  int64_t channels_;
  bool relu_;
  double eps_, momentum_;
  Parameter weight_, bias_, running_mean_, running_var_;
};

}  // namespace pure16::nn
