#include "pure16/nn/pooling.h"

#include <stdexcept>

namespace pure16::nn {
namespace {

Pool2dConfig make_config(const std::string& layer, int64_t kernel, int64_t stride, int64_t padding) {
  if (kernel <= 0 || stride < 0 || padding < 0 || 2 * padding > kernel)
    throw std::invalid_argument(layer + ": needs kernel > 0, stride >= 0 (0: the kernel), 0 <= padding <= kernel / 2; got kernel " +
                                std::to_string(kernel) + ", stride " + std::to_string(stride) + ", padding " +
                                std::to_string(padding));
  return {kernel, stride == 0 ? kernel : stride, padding};
}

std::string config_string(const Pool2dConfig& c) {
  return std::to_string(c.kernel) + ", stride " + std::to_string(c.stride) + ", padding " + std::to_string(c.padding);
}

// The kernel's view of an (N, H, W, C) input; throws naming the layer when the input does not fit.
kernels::Pool2dShape pool_shape(const std::string& layer, const Pool2dConfig& c, const Shape& input) {
  if (input.size() != 4) throw std::invalid_argument(layer + ": expected input (N, H, W, C), got " + shape_string(input));
  kernels::Pool2dShape s;
  s.batch = input[0];
  s.in_h = input[1];
  s.in_w = input[2];
  s.channels = input[3];
  s.kernel_h = s.kernel_w = c.kernel;
  s.stride_h = s.stride_w = c.stride;
  s.pad_h = s.pad_w = c.padding;
  try {
    s.validate();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(layer + ": input " + shape_string(input) + ": " + e.what());
  }
  return s;
}

}  // namespace

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding)
    : config_(make_config("MaxPool2d", kernel, stride, padding)) {}

std::string MaxPool2d::name() const { return "MaxPool2d(" + config_string(config_) + ")"; }

Shape MaxPool2d::output_shape(const Shape& input) const {
  const kernels::Pool2dShape s = pool_shape(name(), config_, input);
  return {s.batch, s.out_h(), s.out_w(), s.channels};
}

Tensor MaxPool2d::forward_impl(const Tensor& x, Context& ctx, const RunOptions&) {
  const kernels::Pool2dShape s = pool_shape(name(), config_, x.shape());
  Tensor y = Tensor::empty(output_shape(x.shape()), x.dtype());
  kernels::maxpool2d_forward(y.raw(), x.raw(), x.dtype(), s);
  ctx.saved = {x};
  return y;
}

Tensor MaxPool2d::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions&, bool need_input_grad) {
  if (!need_input_grad) return {};
  const kernels::Pool2dShape s = pool_shape(name(), config_, ctx.input_shape);
  Tensor dx = Tensor::empty(ctx.input_shape, dy.dtype());
  kernels::maxpool2d_backward(dx.raw(), dy.raw(), ctx.saved.at(0).raw(), dy.dtype(), s);
  return dx;
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad)
    : config_(make_config("AvgPool2d", kernel, stride, padding)), count_include_pad_(count_include_pad) {}

std::string AvgPool2d::name() const {
  return "AvgPool2d(" + config_string(config_) + (count_include_pad_ ? "" : ", count_include_pad false") + ")";
}

Shape AvgPool2d::output_shape(const Shape& input) const {
  const kernels::Pool2dShape s = pool_shape(name(), config_, input);
  return {s.batch, s.out_h(), s.out_w(), s.channels};
}

Tensor AvgPool2d::forward_impl(const Tensor& x, Context&, const RunOptions&) {
  const kernels::Pool2dShape s = pool_shape(name(), config_, x.shape());
  Tensor y = Tensor::empty(output_shape(x.shape()), x.dtype());
  kernels::avgpool2d_forward(y.raw(), x.raw(), x.dtype(), s, count_include_pad_);
  return y;
}

Tensor AvgPool2d::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions&, bool need_input_grad) {
  if (!need_input_grad) return {};
  const kernels::Pool2dShape s = pool_shape(name(), config_, ctx.input_shape);
  Tensor dx = Tensor::empty(ctx.input_shape, dy.dtype());
  kernels::avgpool2d_backward(dx.raw(), dy.raw(), dy.dtype(), s, count_include_pad_);
  return dx;
}

Shape GlobalAvgPool2d::output_shape(const Shape& input) const {
  if (input.size() != 4 || input[1] <= 0 || input[2] <= 0 || input[3] <= 0)
    throw std::invalid_argument(name() + ": expected input (N, H, W, C), got " + shape_string(input));
  return {input[0], input[3]};
}

Tensor GlobalAvgPool2d::forward_impl(const Tensor& x, Context&, const RunOptions&) {
  Tensor y = Tensor::empty(output_shape(x.shape()), x.dtype());
  kernels::global_avgpool_forward(y.raw(), x.raw(), x.dtype(), x.size(0), x.size(1) * x.size(2), x.size(3));
  return y;
}

Tensor GlobalAvgPool2d::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions&, bool need_input_grad) {
  if (!need_input_grad) return {};
  const Shape& in = ctx.input_shape;
  Tensor dx = Tensor::empty(in, dy.dtype());
  kernels::global_avgpool_backward(dx.raw(), dy.raw(), dy.dtype(), in[0], in[1] * in[2], in[3]);
  return dx;
}

}  // namespace pure16::nn
