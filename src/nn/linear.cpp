#include "pure16/nn/linear.h"

#include <cmath>
#include <stdexcept>

#include "pure16/kernels/elementwise.h"

namespace pure16::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, FusedActivation activation)
    : in_(in_features), out_(out_features), has_bias_(bias), activation_(activation) {
  if (in_ <= 0 || out_ <= 0) throw std::invalid_argument("Linear: feature counts must be positive");
  const double bound = 1.0 / std::sqrt(double(in_));
  weight_.name = "weight";
  weight_.shape = {out_, in_};
  weight_.init = Init::uniform(bound);
  bias_.name = "bias";
  bias_.shape = {out_};
  bias_.init = Init::uniform(bound);
}

std::string Linear::name() const {
  return "Linear(" + std::to_string(in_) + ", " + std::to_string(out_) + ")" +
         (activation_ == FusedActivation::relu ? "+ReLU" : "");
}

Shape Linear::output_shape(const Shape& input) const {
  if (input.size() != 2 || input[1] != in_)
    throw std::invalid_argument(name() + ": expected input (batch, " + std::to_string(in_) + "), got " +
                                shape_string(input));
  return {input[0], out_};
}

std::vector<Parameter*> Linear::parameters() {
  if (has_bias_) return {&weight_, &bias_};
  return {&weight_};
}

int64_t Linear::forward_flops(const Shape& input) const { return 2 * output_shape(input)[0] * in_ * out_; }

Tensor Linear::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  // x (B, in), W (out, in) -> y (B, out) = x W^T (+ b)
  Tensor y = Tensor::empty({x.size(0), out_}, x.dtype());
  kernels::gemm(y, x, false, weight_.value, true, 1.0f, 0.0f, options.accumulation);
  apply_bias_and_activation(y, has_bias_ ? &bias_.value : nullptr, activation_);
  ctx.saved = {x};
  // Where y > 0, for backward; the next layer keeps y anyway.
  if (activation_ == FusedActivation::relu) ctx.saved.push_back(y);
  return y;
}

Tensor Linear::backward_impl(const Tensor& dy_out, const Context& ctx, const RunOptions& options,
                             bool need_input_grad) {
  const Tensor& x = ctx.saved.at(0);
  // With the ReLU fused in, dy_out is the gradient of max(y, 0): only where y > 0 does it pass.
  const Tensor dy = activation_ == FusedActivation::relu ? relu_gradient(dy_out, ctx.saved.at(1)) : dy_out;
  // dW (out, in) += dy^T (out, B) x (B, in); db (out) += sum over the batch of dy
  kernels::gemm(weight_.grad, dy, true, x, false, 1.0f, 1.0f, options.accumulation);
  if (has_bias_) kernels::sum_rows(bias_.grad.raw(), dy.raw(), dy.dtype(), dy.size(0), out_, 1.0f);
  if (!need_input_grad) return {};
  // dx (B, in) = dy (B, out) W (out, in)
  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  kernels::gemm(dx, dy, false, weight_.value, false, 1.0f, 0.0f, options.accumulation);
  return dx;
}

}  // namespace pure16::nn
