#include "pure16/nn/residual.h"

#include <stdexcept>
#include <vector>

#include "pure16/kernels/elementwise.h"

namespace pure16::nn {
namespace {

// out = a + b, element-wise, in binary32 (binary64 for f64), rounded once.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  kernels::add(out.raw(), a.raw(), b.raw(), a.dtype(), a.numel());
  return out;
}

RunOptions shortcut_options(const RunOptions& options) {
  return options.observer ? child_options(options, "downsample") : options;
}

}  // namespace

Residual::Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut)
    : main_(std::move(main)), shortcut_(std::move(shortcut)) {
  if (!main_) throw std::invalid_argument("Residual: the main branch is missing");
  if (shortcut_) prefix_state_names(*shortcut_, "downsample");
}

std::string Residual::name() const {
  return "Residual(" + main_->name() + (shortcut_ ? " + " + shortcut_->name() : " + identity") + ")";
}

Shape Residual::output_shape(const Shape& input) const {
  const Shape main_out = main_->output_shape(input);
  const Shape short_out = shortcut_ ? shortcut_->output_shape(input) : input;
  if (main_out != short_out)
    throw std::invalid_argument(name() + ": for input " + shape_string(input) + " the main branch gives " +
                                shape_string(main_out) + " but the shortcut " + shape_string(short_out));
  return main_out;
}

std::vector<Parameter*> Residual::parameters() {
  std::vector<Parameter*> out = main_->parameters();
  if (shortcut_)
    for (Parameter* p : shortcut_->parameters()) out.push_back(p);
  return out;
}

std::vector<Parameter*> Residual::buffers() {
  std::vector<Parameter*> out = main_->buffers();
  if (shortcut_)
    for (Parameter* b : shortcut_->buffers()) out.push_back(b);
  return out;
}

int64_t Residual::forward_flops(const Shape& input) const {
  return main_->forward_flops(input) + (shortcut_ ? shortcut_->forward_flops(input) : 0);
}

Tensor Residual::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  ctx.children.assign(shortcut_ ? 2 : 1, Context{});
  // The main branch's layers are named as the block's own; the shortcut's output is that of its
  // last layer, which the observer is told about, so only its path is extended.
  const Tensor main_out = main_->forward(x, ctx.children[0], options);
  const Tensor short_out = shortcut_ ? shortcut_->forward(x, ctx.children[1], shortcut_options(options)) : x;
  // A new tensor: either branch's output may be held by a context (or be x itself). The sum is in
  // the block's input dtype, so a branch ending in a layer kept in fp32 is converted back here.
  const auto in_input_dtype = [&x](const Tensor& t) { return t.dtype() == x.dtype() ? t : t.to(x.dtype()); };
  return sum_of(in_input_dtype(main_out), in_input_dtype(short_out));
}

Tensor Residual::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) {
  if (ctx.children.size() != (shortcut_ ? 2u : 1u)) throw std::logic_error(name() + ": backward without forward");
  // Both branches always run backward for their parameter gradients.
  const Tensor d_main = main_->backward(dy, ctx.children[0], options, need_input_grad);
  const Tensor d_short =
      shortcut_ ? shortcut_->backward(dy, ctx.children[1], shortcut_options(options), need_input_grad) : dy;
  if (!need_input_grad) return {};
  return sum_of(d_main.contiguous(), d_short.contiguous());
}

}  // namespace pure16::nn
