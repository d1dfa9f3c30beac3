// Layers: explicit forward and backward with a saved-context object (no tape).
//
// Rule for every backward: parameter gradients accumulate (+=) into the gradient arena, which
// the trainer zeroes once per step; the returned input gradient is assigned (=).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pure16/kernels/conv.h"
#include "pure16/kernels/gemm.h"
#include "pure16/nn/parameters.h"
#include "pure16/tensor/tensor.h"

namespace pure16::kernels {
class ReplicaSum;
}

namespace pure16::nn {

/// Sees what flows between named layers, for telemetry: each named layer's output in forward
/// and the gradient with respect to it in backward. `path` is the layer's path in the model,
/// composed as its parameters' names are (`fc1`, `layer1.0.conv1`; a residual block's output is
/// `layer1.0`). The tensors are only valid during the call.
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  virtual void on_forward(const std::string& path, const Tensor& output) = 0;
  virtual void on_backward(const std::string& path, const Tensor& output_grad) = 0;
};

/// Per-call settings decided by the trainer from the precision policy and the step.
struct RunOptions {
  bool training = true;
  kernels::Accumulation accumulation = kernels::Accumulation::f32;
  kernels::ConvAlgorithm conv_algorithm = kernels::ConvAlgorithm::automatic;
  uint64_t seed = 0;  // with `step`, keys the random streams of stochastic layers (dropout)
  uint64_t step = 0;
  /// Told by the containers about each child they name; null on all but observed steps, which
  /// is what keeps the path below from being built on the others.
  LayerObserver* observer = nullptr;
  std::string path;  // of the layer being run, with an observer: the prefix of its children's paths
  /// Synchronized BatchNorm: training-mode batch statistics are those of every replica's batch
  /// (kernels/batchnorm.h). Null: this process's batch alone.
  kernels::ReplicaSum* batch_statistics_replicas = nullptr;
};

/// `options` for the child called `name` of the layer they are for: its path extended when
/// there is an observer to tell it to.
RunOptions child_options(const RunOptions& options, const std::string& name);

/// What a layer's forward keeps for its backward.
struct Context {
  std::vector<Tensor> saved;
  Shape input_shape;
  DType input_dtype = DType::f32;   // the dtype backward returns the input gradient in
  DType output_dtype = DType::f32;  // the dtype backward hands the layer its output gradient in
  uint64_t stream = 0;
  std::vector<Context> children;  // for composite layers: one per child
};

/// Bytes of the activations a forward pass keeps for its backward, over the context tree; a
/// storage that several layers saved views of (a ReLU output that the next convolution also
/// keeps) is counted once, whole.
int64_t saved_bytes(const Context& ctx);

class Layer {
 public:
  virtual ~Layer() = default;
  /// A description of the layer and its settings, for messages and listings (each parameter's
  /// path in the model is its Parameter::name).
  virtual std::string name() const = 0;
  /// The output shape for an input shape; throws std::invalid_argument naming the layer and
  /// the shape when the input does not fit.
  virtual Shape output_shape(const Shape& input) const = 0;
  virtual std::vector<Parameter*> parameters() { return {}; }
  /// State that is not trained (running statistics): no gradient, not seen by the optimizer.
  virtual std::vector<Parameter*> buffers() { return {}; }
  /// Floating-point operations of one forward pass on `input` (batch included), counting a
  /// multiply-add as two; only the GEMM-like work (convolutions, linear layers) is counted.
  virtual int64_t forward_flops(const Shape& /*input*/) const { return 0; }

  /// Checks the input shape, then runs the layer. A layer with parameters of its own computes in
  /// their dtype (fp32 in a layer the precision policy keeps in fp32) and converts its input to it;
  /// its output stays in that dtype, for the next layer to convert.
  Tensor forward(const Tensor& x, Context& ctx, const RunOptions& options);
  /// Returns dL/dx (undefined Tensor when need_input_grad is false) in the input's dtype, and
  /// accumulates parameter gradients. `dy` must have the output's shape; it is converted to the
  /// output's dtype when it differs.
  Tensor backward(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad = true);

 protected:
  /// The dtype of the layer's own parameters, which it computes in; none for layers without
  /// (activations, pooling, containers), which compute in their input's dtype.
  virtual std::optional<DType> own_dtype() const { return std::nullopt; }
  virtual Tensor forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) = 0;
  virtual Tensor backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options,
                               bool need_input_grad) = 0;
};

/// The dtype of `p`'s values once the store has built them (a layer's own_dtype), none before.
std::optional<DType> dtype_of(const Parameter& p);

/// Renames each parameter and buffer of `layer` to "<prefix>.<its name>". Containers call it on
/// the children they name, innermost first, so a name ends up as the path from the model's root
/// (`layer1.0.conv1.weight`), which is the key PyTorch's state_dict gives the same tensor.
void prefix_state_names(Layer& layer, const std::string& prefix);

}  // namespace pure16::nn
