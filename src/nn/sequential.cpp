#include "pure16/nn/sequential.h"

#include <stdexcept>

namespace pure16::nn {

Sequential& Sequential::add(std::unique_ptr<Layer> layer, const std::string& name) {
  if (!name.empty()) prefix_state_names(*layer, name);
  layers_.push_back(std::move(layer));
  names_.push_back(name);
  return *this;
}

std::string Sequential::name() const {
  std::string s = "Sequential(";
  for (size_t i = 0; i < layers_.size(); ++i) s += (i ? ", " : "") + layers_[i]->name();
  return s + ")";
}

Shape Sequential::output_shape(const Shape& input) const {
  Shape shape = input;
  for (const auto& layer : layers_) shape = layer->output_shape(shape);
  return shape;
}

int64_t Sequential::forward_flops(const Shape& input) const {
  int64_t flops = 0;
  Shape shape = input;
  for (const auto& layer : layers_) {
    flops += layer->forward_flops(shape);
    shape = layer->output_shape(shape);
  }
  return flops;
}

std::vector<Parameter*> Sequential::parameters() {
  std::vector<Parameter*> out;
  for (auto& layer : layers_)
    for (Parameter* p : layer->parameters()) out.push_back(p);
  return out;
}

std::vector<Parameter*> Sequential::buffers() {
  std::vector<Parameter*> out;
  for (auto& layer : layers_)
    for (Parameter* b : layer->buffers()) out.push_back(b);
  return out;
}

Tensor Sequential::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  ctx.children.assign(layers_.size(), Context{});
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (options.observer == nullptr || names_[i].empty()) {
      h = layers_[i]->forward(h, ctx.children[i], options);
      continue;
    }
    const RunOptions named = child_options(options, names_[i]);
    h = layers_[i]->forward(h, ctx.children[i], named);
    options.observer->on_forward(named.path, h);
  }
  return h;
}

Tensor Sequential::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) {
  if (ctx.children.size() != layers_.size()) throw std::logic_error("Sequential: backward without forward");
  Tensor g = dy;
  for (size_t i = layers_.size(); i-- > 0;) {
    if (options.observer == nullptr || names_[i].empty()) {
      g = layers_[i]->backward(g, ctx.children[i], options, need_input_grad || i > 0);
      continue;
    }
    const RunOptions named = child_options(options, names_[i]);
    options.observer->on_backward(named.path, g);
    g = layers_[i]->backward(g, ctx.children[i], named, need_input_grad || i > 0);
  }
  return g;
}

}  // namespace pure16::nn
