// Parameters live in contiguous arenas, one per role (weights, gradients, master weights),
// with a view per layer parameter. One arena means one optimizer sweep, one all-reduce, one
// checkpoint write, and memory that can be counted exactly.
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
  Tensor value;  // compute dtype: what forward and backward read
  Tensor grad;   // compute dtype: accumulated (+=) by backward
  int64_t offset = 0;  // element offset into the arenas
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
  /// Lays out `params` in arenas of the policy's dtypes and initialises them from `seed`
  /// (values drawn in float64, rounded once to the master dtype, then to compute).
  /// `buffers` (state that is not trained: no gradient, never touched by the optimizer) get an
  /// arena of their own in the compute dtype; their `grad` stays undefined.
  void build(const std::vector<Parameter*>& params, const PrecisionPolicy& policy, uint64_t seed,
             const std::vector<Parameter*>& buffers = {});

  int64_t numel() const { return numel_; }  // arena length in elements, padding included
  int64_t parameter_count() const;          // sum of the parameters' sizes
  const std::vector<Parameter*>& parameters() const { return params_; }
  Tensor& values() { return values_; }
  Tensor& buffer_values() { return buffers_; }
  Tensor& grads() { return grads_; }
  /// The weights the optimizer updates: the master arena, or `values` when there is no copy.
  Tensor& master() { return master_.defined() ? master_ : values_; }
  bool has_master_copy() const { return master_.defined(); }
  /// The view of master() that holds `p`: the weights an export reads and an import writes.
  Tensor master_of(const Parameter& p) const;
  void zero_grads();
  /// Rounds the master weights into `values` (after an update to a separate master copy).
  void refresh_values_from_master();
  MemoryReport memory() const;

 private:
  std::vector<Parameter*> params_;
  int64_t numel_ = 0;
  Tensor values_, grads_, master_, buffers_;
};

}  // namespace pure16::nn
