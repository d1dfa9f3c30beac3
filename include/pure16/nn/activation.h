// Parameter-free layers: ReLU, Flatten, Dropout.
#pragma once

#include "pure16/nn/layer.h"

namespace pure16::nn {

/// An activation a layer applies to its own output (a ReLU fused in): the same values and
/// gradients as the layer followed by a ReLU layer, with one pass over memory fewer each way.
enum class FusedActivation { none, relu };

/// The epilogue of a layer whose output's last dimension is its features or channels: adds the
/// bias (if given) to every row of y viewed as (numel / C, C), then applies the activation, in
/// one pass over y.
void apply_bias_and_activation(Tensor& y, const Tensor* bias, FusedActivation activation);
/// The gradient at a ReLU's input, dy where its output y > 0, else 0: shared by the ReLU layer
/// and the layers with one fused in.
Tensor relu_gradient(const Tensor& dy, const Tensor& y);

class ReLU : public Layer {
 public:
  std::string name() const override { return "ReLU"; }
  Shape output_shape(const Shape& input) const override { return input; }

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;
};

/// (B, d1, d2, ...) -> (B, d1 * d2 * ...): a view, no copy. It knows the item shape
/// (d1, d2, ...) it flattens, accepts only that, and so says what the features are: an (H, W, C)
/// map flattens in (h, w, c) order, which a PyTorch export must permute to NCHW's (c, h, w).
class Flatten : public Layer {
 public:
  explicit Flatten(Shape item_shape);
  std::string name() const override { return "Flatten"; }
  Shape output_shape(const Shape& input) const override;
  const Shape& item_shape() const { return item_shape_; }

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  Shape item_shape_;
};

/// Inverted dropout: scales kept activations by 1/(1-p) in training, identity in evaluation.
/// The mask is a pure function of (seed, step, layer number), so backward regenerates it
/// instead of storing it.
class Dropout : public Layer {
 public:
  /// `unit` numbers the dropout layers of a model (from 1): each draws its own random stream.
  explicit Dropout(float p, uint64_t unit);
  std::string name() const override;
  Shape output_shape(const Shape& input) const override { return input; }

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  float p_;
  uint64_t unit_;
};

}  // namespace pure16::nn
