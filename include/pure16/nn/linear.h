// Fully connected layer, y = x W^T + b, with W of shape (out, in) as in PyTorch.
#pragma once

#include "pure16/nn/activation.h"
#include "pure16/nn/layer.h"

namespace pure16::nn {

class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         FusedActivation activation = FusedActivation::none);
  std::string name() const override;
  Shape output_shape(const Shape& input) const override;
  std::vector<Parameter*> parameters() override;
  int64_t forward_flops(const Shape& input) const override;

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }

 protected:
  std::optional<DType> own_dtype() const override { return dtype_of(weight_); }
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  int64_t in_, out_;
  bool has_bias_;
  FusedActivation activation_;
  Parameter weight_, bias_;
};

}  // namespace pure16::nn
