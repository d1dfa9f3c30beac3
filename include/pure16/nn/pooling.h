// Pooling layers on NHWC activations: MaxPool2d, AvgPool2d (N, H, W, C) -> (N, OH, OW, C) and
// GlobalAvgPool2d (N, H, W, C) -> (N, C). Semantics as PyTorch's (floor mode, no dilation).
#pragma once

#include "pure16/kernels/pooling.h"
#include "pure16/nn/layer.h"

namespace pure16::nn {

/// Window settings shared by the windowed pools; stride 0 means "equal to the kernel".
struct Pool2dConfig {
  int64_t kernel = 2;
  int64_t stride = 0;
  int64_t padding = 0;
};

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  std::string name() const override;
  Shape output_shape(const Shape& input) const override;

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  Pool2dConfig config_;
};

class AvgPool2d : public Layer {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0, bool count_include_pad = true);
  std::string name() const override;
  Shape output_shape(const Shape& input) const override;

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  Pool2dConfig config_;
  bool count_include_pad_;
};

/// The mean over all pixels of each channel: what torchvision's ResNets do with
/// AdaptiveAvgPool2d(1) followed by flatten.
class GlobalAvgPool2d : public Layer {
 public:
  std::string name() const override { return "GlobalAvgPool2d"; }
  Shape output_shape(const Shape& input) const override;

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;
};

}  // namespace pure16::nn
