// A chain of layers; itself a layer, so chains nest.
#pragma once

#include <memory>
#include <vector>

#include "pure16/nn/layer.h"

namespace pure16::nn {

class Sequential : public Layer {
 public:
  Sequential() = default;
  /// Appends `layer`. A non-empty `name` becomes the prefix of its parameters' and buffers'
  /// names (prefix_state_names) and its path for a LayerObserver; layers without state need none.
  Sequential& add(std::unique_ptr<Layer> layer, const std::string& name = "");
  template <class L, class... Args>
  L& emplace(Args&&... args) {
    auto layer = std::make_unique<L>(std::forward<Args>(args)...);
    L& ref = *layer;
    add(std::move(layer));
    return ref;
  }

  std::string name() const override;
  Shape output_shape(const Shape& input) const override;
  std::vector<Parameter*> parameters() override;
  std::vector<Parameter*> buffers() override;
  int64_t forward_flops(const Shape& input) const override;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> names_;  // per layer, "" when unnamed
};

}  // namespace pure16::nn
