// 2-D convolution on NHWC activations: x (N, H, W, C_in) -> y (N, OH, OW, C_out), weight
// (C_out, KH, KW, C_in / groups), optional bias (C_out) and optionally a ReLU fused in.
// Defaults follow torchvision's ResNets (no bias, no ReLU); the initialisation is PyTorch's
// default, kaiming_uniform(a = sqrt(5)), i.e. uniform in +-1/sqrt(fan_in) with
// fan_in = KH * KW * C_in / groups, for weight and bias.
#pragma once

#include <array>

#include "pure16/kernels/conv.h"
#include "pure16/nn/activation.h"
#include "pure16/nn/layer.h"

namespace pure16::nn {

struct Conv2dConfig {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  std::array<int64_t, 2> kernel{3, 3};  // (height, width)
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = false;
  FusedActivation activation = FusedActivation::none;
};

class Conv2d : public Layer {
 public:
  explicit Conv2d(const Conv2dConfig& config);
  /// Square kernel, stride and padding, no dilation, one group.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
         bool bias = false, FusedActivation activation = FusedActivation::none);

  std::string name() const override;
  Shape output_shape(const Shape& input) const override;
  std::vector<Parameter*> parameters() override;
  int64_t forward_flops(const Shape& input) const override;

  const Conv2dConfig& config() const { return config_; }
  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }

 protected:
  std::optional<DType> own_dtype() const override { return dtype_of(weight_); }
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  kernels::Conv2dShape kernel_shape(const Shape& input) const;

  Conv2dConfig config_;
  Parameter weight_, bias_;
};

}  // namespace pure16::nn
