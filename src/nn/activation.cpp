#include "pure16/nn/activation.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "pure16/kernels/elementwise.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::nn {

void apply_bias_and_activation(Tensor& y, const Tensor* bias, FusedActivation activation) {
  const bool relu = activation == FusedActivation::relu;
  if (bias != nullptr) {
    const int64_t cols = y.shape().back();
    kernels::add_bias(y.raw(), bias->raw(), y.dtype(), y.numel() / cols, cols, relu);
  } else if (relu) {
    kernels::relu_forward(y.raw(), y.raw(), y.dtype(), y.numel());
  }
}

Tensor relu_gradient(const Tensor& dy, const Tensor& y) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  kernels::relu_backward(dx.raw(), dy.raw(), y.raw(), dy.dtype(), dy.numel());
  return dx;
}

Tensor ReLU::forward_impl(const Tensor& x, Context& ctx, const RunOptions&) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  kernels::relu_forward(y.raw(), x.raw(), x.dtype(), x.numel());
  ctx.saved = {y};  // y > 0 exactly where x > 0, and y is what the next layer keeps anyway
  return y;
}

Tensor ReLU::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions&, bool need_input_grad) {
  if (!need_input_grad) return {};
  return relu_gradient(dy, ctx.saved.at(0));
}

Flatten::Flatten(Shape item_shape) : item_shape_(std::move(item_shape)) {
  if (item_shape_.empty()) throw std::invalid_argument("Flatten: the item shape needs at least one dimension");
}

Shape Flatten::output_shape(const Shape& input) const {
  if (input.empty() || !std::equal(input.begin() + 1, input.end(), item_shape_.begin(), item_shape_.end()))
    throw std::invalid_argument("Flatten: expected input [batch, " + shape_string(item_shape_).substr(1) + ", got " +
                                shape_string(input));
  return {input[0], shape_numel(item_shape_)};
}

Tensor Flatten::forward_impl(const Tensor& x, Context&, const RunOptions&) { return x.reshape(output_shape(x.shape())); }

Tensor Flatten::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions&, bool need_input_grad) {
  if (!need_input_grad) return {};
  return dy.reshape(ctx.input_shape);
}

Dropout::Dropout(float p, uint64_t unit) : p_(p), unit_(unit) {
  if (!(p >= 0.0f && p < 1.0f)) throw std::invalid_argument("Dropout: probability must be in [0, 1), got " + std::to_string(p));
}

std::string Dropout::name() const { return "Dropout(" + std::to_string(p_) + ")"; }

Tensor Dropout::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  ctx.stream = random_stream(RandomPurpose::dropout, options.step, unit_);
  if (!options.training || p_ == 0.0f) return x;
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  kernels::dropout(y.raw(), x.raw(), x.dtype(), x.numel(), p_, options.seed, ctx.stream);
  return y;
}

Tensor Dropout::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) {
  if (!need_input_grad) return {};
  if (!options.training || p_ == 0.0f) return dy;
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  kernels::dropout(dx.raw(), dy.raw(), dy.dtype(), dy.numel(), p_, options.seed, ctx.stream);
  return dx;
}

}  // namespace pure16::nn
