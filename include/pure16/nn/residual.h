// A residual block: y = main(x) + shortcut(x), the shortcut being the identity when absent
// (torchvision's BasicBlock/Bottleneck without the final ReLU, which is a separate layer in
// the enclosing Sequential). The context has one child per branch: main, then shortcut.
// As in torchvision, the main branch's state is named as the block's own (`conv1.weight`) and
// the shortcut's under `downsample.` (`downsample.0.weight`).
#pragma once

#include <memory>

#include "pure16/nn/sequential.h"

namespace pure16::nn {

class Residual : public Layer {
 public:
  explicit Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut = nullptr);

  std::string name() const override;
  Shape output_shape(const Shape& input) const override;
  std::vector<Parameter*> parameters() override;
  std::vector<Parameter*> buffers() override;
  int64_t forward_flops(const Shape& input) const override;

  Sequential& main() { return *main_; }
  Sequential* shortcut() { return shortcut_.get(); }  // nullptr: identity

 protected:
  Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) override;
  Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) override;

 private:
  std::unique_ptr<Sequential> main_, shortcut_;
};

}  // namespace pure16::nn
