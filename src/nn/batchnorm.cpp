#include "pure16/nn/batchnorm.h"

#include <stdexcept>

#include "pure16/kernels/batchnorm.h"

namespace pure16::nn {
namespace {

Parameter declare(const std::string& name, int64_t channels, Init::Kind kind) {
  Parameter p;
  p.name = name;
  p.shape = {channels};
  p.init.kind = kind;
  return p;
}

}  // namespace

BatchNorm2d::BatchNorm2d(int64_t channels, FusedActivation activation, double eps, double momentum)
    : channels_(channels),
      relu_(activation == FusedActivation::relu),
      eps_(eps),
      momentum_(momentum),
      weight_(declare("weight", channels, Init::Kind::ones)),
      bias_(declare("bias", channels, Init::Kind::zeros)),
      running_mean_(declare("running_mean", channels, Init::Kind::zeros)),
      running_var_(declare("running_var", channels, Init::Kind::ones)) {
  if (channels <= 0) throw std::invalid_argument("BatchNorm2d: channels must be positive, got " + std::to_string(channels));
  if (!(eps > 0)) throw std::invalid_argument("BatchNorm2d: eps must be positive, got " + std::to_string(eps));
  if (!(momentum >= 0 && momentum <= 1))
    throw std::invalid_argument("BatchNorm2d: momentum must be in [0, 1], got " + std::to_string(momentum));
}

std::string BatchNorm2d::name() const {
  return "BatchNorm2d(" + std::to_string(channels_) + ")" + (relu_ ? "+ReLU" : "");
}

Shape BatchNorm2d::output_shape(const Shape& input) const {
  if (input.size() != 4 || input[3] != channels_)
    throw std::invalid_argument(name() + ": expected input (N, H, W, " + std::to_string(channels_) + "), got " +
                                shape_string(input));
  return input;
}

Tensor BatchNorm2d::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  if (!weight_.value.defined() || !running_mean_.value.defined())
    throw std::logic_error(name() + ": parameters or buffers were not built");
  const DType dtype = x.dtype();
  const int64_t rows = x.numel() / channels_;
  Tensor y = Tensor::empty(x.shape(), dtype);
  Tensor xhat = Tensor::empty(x.shape(), dtype);
  Tensor invstd = Tensor::zeros({channels_}, dtype);
  if (options.training) {
    if (rows < 2)
      throw std::invalid_argument(name() + ": training needs more than one value per channel, got input " +
                                  shape_string(x.shape()));
    Tensor mean = Tensor::zeros({channels_}, dtype);
    kernels::batchnorm_forward_training(y.raw(), xhat.raw(), mean.raw(), invstd.raw(), running_mean_.value.raw(),
                                        running_var_.value.raw(), x.raw(), weight_.value.raw(), bias_.value.raw(),
                                        dtype, running_mean_.value.dtype(), rows, channels_, eps_, momentum_, relu_,
                                        options.batch_statistics_replicas);
    // Backward reads xhat and invstd; the batch mean is kept for inspection (C values).
    ctx.saved = {xhat, invstd, mean};
  } else {
    kernels::batchnorm_forward_inference(y.raw(), xhat.raw(), invstd.raw(), x.raw(), running_mean_.value.raw(),
                                         running_var_.value.raw(), weight_.value.raw(), bias_.value.raw(), dtype,
                                         running_mean_.value.dtype(), rows, channels_, eps_, relu_);
    ctx.saved = {xhat, invstd, Tensor()};  // no batch mean: the running statistics were used
  }
  // A fused ReLU's backward needs to know where y > 0; the next layer keeps y anyway.
  if (relu_) ctx.saved.push_back(y);
  return y;
}

Tensor BatchNorm2d::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options,
                                  bool need_input_grad) {
  const Tensor& xhat = ctx.saved.at(0);
  const Tensor& invstd = ctx.saved.at(1);
  Tensor dx = need_input_grad ? Tensor::empty(dy.shape(), dy.dtype()) : Tensor();
  // Differentiate the mode forward ran in: a training forward saved the batch mean as well.
  const bool batch_statistics = ctx.saved.at(2).defined();
  kernels::batchnorm_backward(need_input_grad ? dx.raw() : nullptr, weight_.grad.raw(), bias_.grad.raw(), dy.raw(),
                              xhat.raw(), invstd.raw(), weight_.value.raw(), dy.dtype(), dy.numel() / channels_,
                              channels_, batch_statistics, relu_ ? ctx.saved.at(3).raw() : nullptr,
                              options.batch_statistics_replicas);
  return dx;
}

}  // namespace pure16::nn
