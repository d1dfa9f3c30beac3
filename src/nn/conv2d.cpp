#include "pure16/nn/conv2d.h"

#include <cmath>
#include <stdexcept>

#include "pure16/kernels/elementwise.h"

namespace pure16::nn {
namespace {

std::string pair_string(const std::array<int64_t, 2>& v) {
  // Appended piece by piece: GCC 12's -Wrestrict misfires on "literal" + std::string here.
  std::string s = "(";
  s += std::to_string(v[0]);
  s += ", ";
  s += std::to_string(v[1]);
  s += ")";
  return s;
}

}  // namespace

Conv2d::Conv2d(const Conv2dConfig& config) : config_(config) {
  // Validate with a nominal input large enough for any kernel: only the layer's own settings
  // are checked here; the input's spatial size is checked by output_shape.
  kernels::Conv2dShape probe = kernel_shape({1, 1 << 20, 1 << 20, config_.in_channels});
  probe.validate();
  const double fan_in = double(config_.kernel[0] * config_.kernel[1] * probe.group_in());
  const double bound = 1.0 / std::sqrt(fan_in);
  weight_.name = "weight";
  weight_.shape = {config_.out_channels, config_.kernel[0], config_.kernel[1], probe.group_in()};
  weight_.init = Init::uniform(bound);
  bias_.name = "bias";
  bias_.shape = {config_.out_channels};
  bias_.init = Init::uniform(bound);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, bool bias,
               FusedActivation activation)
    : Conv2d(Conv2dConfig{in_channels, out_channels, {kernel, kernel}, {stride, stride}, {padding, padding}, {1, 1}, 1,
                          bias, activation}) {}

std::string Conv2d::name() const {
  const Conv2dConfig& c = config_;
  std::string s = "Conv2d(" + std::to_string(c.in_channels) + ", " + std::to_string(c.out_channels) +
                  ", kernel " + pair_string(c.kernel);
  if (c.stride != std::array<int64_t, 2>{1, 1}) s += ", stride " + pair_string(c.stride);
  if (c.padding != std::array<int64_t, 2>{0, 0}) s += ", padding " + pair_string(c.padding);
  if (c.dilation != std::array<int64_t, 2>{1, 1}) s += ", dilation " + pair_string(c.dilation);
  if (c.groups != 1) s += ", groups " + std::to_string(c.groups);
  if (c.bias) s += ", bias";
  return s + ")" + (c.activation == FusedActivation::relu ? "+ReLU" : "");
}

kernels::Conv2dShape Conv2d::kernel_shape(const Shape& input) const {
  kernels::Conv2dShape s;
  s.batch = input[0];
  s.in_h = input[1];
  s.in_w = input[2];
  s.in_channels = input[3];
  s.out_channels = config_.out_channels;
  s.kernel_h = config_.kernel[0];
  s.kernel_w = config_.kernel[1];
  s.stride_h = config_.stride[0];
  s.stride_w = config_.stride[1];
  s.pad_h = config_.padding[0];
  s.pad_w = config_.padding[1];
  s.dilation_h = config_.dilation[0];
  s.dilation_w = config_.dilation[1];
  s.groups = config_.groups;
  return s;
}

Shape Conv2d::output_shape(const Shape& input) const {
  if (input.size() != 4 || input[3] != config_.in_channels)
    throw std::invalid_argument(name() + ": expected input (N, H, W, " + std::to_string(config_.in_channels) +
                                "), got " + shape_string(input));
  const kernels::Conv2dShape s = kernel_shape(input);
  if (s.in_h <= 0 || s.in_w <= 0 || s.out_h() <= 0 || s.out_w() <= 0)
    throw std::invalid_argument(name() + ": input " + shape_string(input) + " is smaller than the kernel");
  return {s.batch, s.out_h(), s.out_w(), s.out_channels};
}

std::vector<Parameter*> Conv2d::parameters() {
  if (config_.bias) return {&weight_, &bias_};
  return {&weight_};
}

int64_t Conv2d::forward_flops(const Shape& input) const {
  const Shape out = output_shape(input);
  return 2 * out[0] * out[1] * out[2] * out[3] * shape_numel(weight_.shape) / config_.out_channels;
}

Tensor Conv2d::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  if (!weight_.value.defined()) throw std::logic_error(name() + ": parameters were not built");
  const kernels::Conv2dShape s = kernel_shape(x.shape());
  Tensor y = Tensor::empty(output_shape(x.shape()), x.dtype());
  kernels::conv2d_forward(y.raw(), x.raw(), weight_.value.raw(), x.dtype(), options.accumulation, s,
                          options.conv_algorithm);
  apply_bias_and_activation(y, config_.bias ? &bias_.value : nullptr, config_.activation);
  ctx.saved = {x};
  if (config_.activation == FusedActivation::relu) ctx.saved.push_back(y);  // where y > 0, for backward
  return y;
}

Tensor Conv2d::backward_impl(const Tensor& dy_out, const Context& ctx, const RunOptions& options,
                             bool need_input_grad) {
  const Tensor& x = ctx.saved.at(0);
  const kernels::Conv2dShape s = kernel_shape(x.shape());
  const Tensor dy = config_.activation == FusedActivation::relu ? relu_gradient(dy_out, ctx.saved.at(1)) : dy_out;
  kernels::conv2d_backward_weight(weight_.grad.raw(), dy.raw(), x.raw(), dy.dtype(), options.accumulation, s,
                                  options.conv_algorithm);
  if (config_.bias)
    kernels::sum_rows(bias_.grad.raw(), dy.raw(), dy.dtype(), dy.numel() / s.out_channels, s.out_channels, 1.0f);
  if (!need_input_grad) return {};
  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  kernels::conv2d_backward_data(dx.raw(), dy.raw(), weight_.value.raw(), dy.dtype(), options.accumulation, s,
                                options.conv_algorithm);
  return dx;
}

}  // namespace pure16::nn
