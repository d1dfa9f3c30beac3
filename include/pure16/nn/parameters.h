// Parameters live in arenas, one per role (weights, gradients, master weights, optimizer state),
// with a view per layer parameter. An arena is one contiguous tensor per parameter group (a run
// of layers kept in one set of dtypes; one group unless the policy keeps layers in fp32), so an
// optimizer sweep, an overflow check or a checkpoint is one pass a group, and memory is counted
// exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pure16/precision/policy.h"
#include "pure16/tensor/tensor.h"

namespace pure16::nn {

/// Initialisation: uniform in [-bound, bound] (PyTorch's default for Linear uses
/// bound = 1/sqrt(fan_in) for weight and bias), or zeros/ones.
struct Init {
  enum class Kind { uniform, zeros, ones } kind = Kind::zeros;
  double bound = 0;
  static Init uniform(double b) { return {Kind::uniform, b}; }
};

/// A parameter declared by a layer. `value` and `grad` are views into the store's arenas,
/// valid once ParameterStore::build has run.
struct Parameter {
  std::string name;
  Shape shape;
  Init init;
  Tensor value;  // its group's compute dtype: what forward and backward read
  Tensor grad;   // its group's compute dtype: accumulated (+=) by backward
  int64_t offset = 0;  // element offset in the arenas' numbering (keys the random streams)
  size_t group = 0;    // the ParameterGroup that holds it
};

/// The path of the layer that declares a parameter named `name`: all but its last component
/// ("fc1" for "fc1.weight"; a bare name, a layer's own before a container names it, is its own).
std::string layer_path(const std::string& name);
/// The layers that declare `params`, in order, each once.
std::vector<std::string> layer_paths(const std::vector<Parameter*>& params);

/// A segment of the arenas: consecutive parameters (in declaration order) whose state is kept in
/// the same dtypes. A run without per-layer overrides has one group; keeping the first and last
/// layer of an MLP in fp32 makes three (fp32, the policy's, fp32).
struct ParameterGroup {
  StateDTypes dtypes;
  bool kept_fp32 = false;
  int64_t begin = 0;  // its first element in the arenas' numbering
  int64_t numel = 0;  // its length, padding included
  std::vector<Parameter*> parameters;
};

/// One role's arena (weights, gradients, momentum, ...) in the store's layout: a tensor per
/// parameter group, of the group's length, each in the dtype the group keeps that role in.
class Arena {
 public:
  bool defined() const { return !segments_.empty(); }
  size_t groups() const { return segments_.size(); }
  Tensor& segment(size_t group) { return segments_.at(group); }
  const Tensor& segment(size_t group) const { return segments_.at(group); }
  /// Parameter p's elements, with its shape and its group's dtype (a view: writes go to the arena).
  Tensor view(const Parameter& p) const;
  int64_t nbytes() const;
  Arena clone() const;

 private:
  friend class ParameterStore;
  std::vector<Tensor> segments_;
  std::vector<int64_t> begins_;  // each group's first element
};

struct MemoryReport {
  int64_t weights_bytes = 0;
  int64_t buffers_bytes = 0;  // non-trained state such as BatchNorm running statistics
  int64_t gradients_bytes = 0;
  int64_t optimizer_bytes = 0;
  int64_t master_weights_bytes = 0;
  int64_t activations_bytes = 0;  // peak over training steps of what forward keeps for backward
};

class ParameterStore {
 public:
  /// Lays out `params` in parameter groups (the layers policy.keep_fp32 keeps get fp32 groups,
  /// the others the policy's dtypes) and initialises them from `seed` (values drawn in float64,
  /// rounded once to the master dtype, then to compute; each element's draw depends on its
  /// offset alone, so the groups do not change anyone's initial value). `buffers` (state that is
  /// not trained: no gradient, never touched by the optimizer) get an arena of their own in the
  /// policy's statistics dtype; their `grad` stays undefined. Throws std::invalid_argument for a
  /// keep_fp32 selector that matches no layer.
  void build(const std::vector<Parameter*>& params, const PrecisionPolicy& policy, uint64_t seed,
             const std::vector<Parameter*>& buffers = {});

  int64_t numel() const { return numel_; }  // elements of all groups, padding included
  int64_t parameter_count() const;          // sum of the parameters' sizes
  const std::vector<Parameter*>& parameters() const { return params_; }
  const std::vector<ParameterGroup>& groups() const { return groups_; }
  Arena& values() { return values_; }
  const Arena& values() const { return values_; }
  Arena& grads() { return grads_; }
  const Arena& grads() const { return grads_; }
  /// The weights the optimizer updates: a group's master copy, or its values when it has none.
  Arena& master() { return master_; }
  const Arena& master() const { return master_; }
  Tensor& buffer_values() { return buffers_; }
  /// Whether p's group keeps a master copy apart from its values.
  bool has_master_copy(const Parameter& p) const { return groups_.at(p.group).dtypes.has_master_copy(); }
  /// A zero arena of this layout whose group g has dtype groups()[g].dtypes.*role (an
  /// optimizer's state: &StateDTypes::optimizer_state).
  Arena make_arena(DType StateDTypes::*role) const;
  void zero_grads();
  /// Gradient elements that are inf or NaN, over every group.
  int64_t nonfinite_gradients() const;
  /// Rounds the master weights into `values` in the groups that keep a copy (after an update).
  void refresh_values_from_master();
  /// Bytes of each arena, summed over the groups (optimizer_bytes and activations_bytes: 0).
  MemoryReport memory() const;
  /// One entry a group: its layers, dtypes and size, e.g. "fc1 f32 (401920 parameters)".
  std::string describe_groups() const;

 private:
  std::vector<Parameter*> params_;
  std::vector<ParameterGroup> groups_;
  int64_t numel_ = 0;
  Arena values_, grads_, master_;
  Tensor buffers_;
};

}  // namespace pure16::nn
