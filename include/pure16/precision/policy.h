// The precision policy: one explicit object, handed to the model, optimizer and trainer, that
// decides what every piece of training state is stored in and what kernels accumulate in.
// Nothing else in the engine chooses a dtype; layers only read policy.compute.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pure16/kernels/conv.h"
#include "pure16/kernels/gemm.h"
#include "pure16/tensor/dtype.h"

namespace pure16 {

enum class LossScaleMode { none, fixed, dynamic };

/// Loss scaling. Dynamic follows PyTorch's GradScaler defaults: start at 2^16, double after
/// growth_interval consecutive clean steps, halve and skip the step when a gradient is inf/NaN;
/// and DeepSpeed's additions: `hysteresis` overflows are tolerated (skipped without lowering the
/// scale) before the first backoff after each growth, and the scale stays within
/// [min_scale, max_scale], so it never reaches 0 or a subnormal.
struct LossScaleConfig {
  LossScaleMode mode = LossScaleMode::none;
  float initial = 65536.0f;  // the fixed scale when mode == fixed
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  int64_t growth_interval = 2000;
  int64_t hysteresis = 1;  // 1: back off at every overflow, as GradScaler does
  float min_scale = 1.0f;  // DeepSpeed's floor
  float max_scale = 16777216.0f;  // 2^24

  /// Throws std::invalid_argument naming the field out of range.
  void validate() const;
};

/// How a value computed in binary32 registers is rounded when stored to a narrower dtype: to
/// nearest, stochastically, or (the weights only) to nearest with a Kahan compensation buffer
/// that carries the rounding error into the next update.
enum class Rounding { nearest, stochastic, kahan };

/// The dtypes one group of parameters keeps its state in (nn::ParameterGroup): the policy's, or
/// fp32 throughout for the layers the policy keeps in fp32.
struct StateDTypes {
  DType compute = DType::f32;  // weights as forward and backward read them, gradients, the layer's arithmetic
  DType master = DType::f32;   // the weights the optimizer updates (equal to compute: no copy)
  DType optimizer_state = DType::f32;

  bool has_master_copy() const { return master != compute; }
  bool operator==(const StateDTypes&) const = default;
};

/// A named preset, for listings.
struct PresetInfo {
  std::string name;
  std::string summary;
};

struct PrecisionPolicy {
  std::string name;
  /// Weights as used by forward/backward, activations, and all gradients.
  DType compute = DType::f32;
  /// The weights the optimizer updates. Equal to `compute`: no separate master copy exists.
  DType master = DType::f32;
  /// Optimizer state (momentum).
  DType optimizer_state = DType::f32;
  /// BatchNorm's running statistics (every preset keeps them in the compute dtype).
  DType statistics = DType::f32;
  /// What GEMMs accumulate in (f16 and f16_block only with compute == f16); `automatic` (every
  /// preset's) is resolved for the CPU when a run starts (resolved()).
  kernels::Accumulation accumulation = kernels::Accumulation::f32;
  /// How convolutions are computed: the implicit GEMM, or Winograd's F(2x2, 3x3) for 3x3 stride-1
  /// convolutions (binary32 transforms, kernels/conv.h); `automatic` (every preset's) takes
  /// Winograd where it is faster.
  kernels::ConvAlgorithm convolution = kernels::ConvAlgorithm::automatic;
  LossScaleConfig loss_scale;
  /// Rounding of the updated weights.
  Rounding update_rounding = Rounding::nearest;
  /// Rounding of the updated momentum of SGD and LARS: nearest or stochastic. Adam's moments
  /// round as the weights: its second moment's root moves by (1 - beta2) / 2 = 0.05% a step, about
  /// half an fp16 ulp, which rounding to nearest distorts (MNIST, Adam, pure-fp16: 0.2 points lower
  /// in 5 of 5 seeds, docs/DESIGN.md).
  Rounding momentum_rounding = Rounding::nearest;

  /// Layers whose parameters, gradients, optimizer state and arithmetic stay in fp32 (their
  /// activations are converted where they enter and leave): `first` and `last` (the first and last
  /// layer with parameters), or a layer's path or a prefix of paths (`fc1`, `layer1.0.conv1`,
  /// `layer4`). Empty: none, the policy's dtypes everywhere.
  std::vector<std::string> keep_fp32;

  bool has_master_copy() const { return master != compute; }
  /// The dtypes of a kept layer's state (fp32 throughout) or of any other layer's (this policy's).
  StateDTypes state_dtypes(bool kept_fp32) const;
  /// For each of `layer_paths` (a model's layers with parameters, in order), whether keep_fp32
  /// keeps it. Throws std::invalid_argument naming a selector that matches no layer, and the valid
  /// ones ("'fc9' matches no layer with parameters (valid: first, last, fc1, fc2, fc3)").
  std::vector<bool> kept_layers(const std::vector<std::string>& layer_paths) const;
  /// Throws std::invalid_argument for inconsistent combinations.
  void validate() const;
  /// One line, e.g. "pure-fp16: compute f16, master none, optimizer state f16, accumulate f32 (auto), ...".
  std::string describe() const;
  /// The accumulation that runs, with "(auto)" when it was chosen for the CPU, or a warning when
  /// an explicit fp16 accumulation has no native fp16 arithmetic under it.
  std::string accumulation_description() const;
  /// This policy with `automatic` accumulation replaced by what it runs as on the active ISA.
  PrecisionPolicy resolved() const;

  /// Named presets (the table in docs/DESIGN.md).
  static PrecisionPolicy preset(std::string_view name);
  static std::vector<std::string> preset_names();
  static const std::vector<PresetInfo>& presets();
};

LossScaleConfig parse_loss_scale(std::string_view text);  // "none", "dynamic", or a positive number
Rounding parse_rounding(std::string_view text);           // an entry of rounding_names()
std::vector<std::string> rounding_names();
std::vector<std::string> momentum_rounding_names();  // those the momentum takes: all but kahan
std::string loss_scale_name(const LossScaleConfig& config);
std::string_view rounding_name(Rounding rounding);
/// "first,last" -> {"first", "last"}; throws std::invalid_argument for an empty or repeated entry.
std::vector<std::string> parse_keep_fp32(std::string_view text);
/// The selectors joined by commas, "none" when there are none.
std::string keep_fp32_name(const std::vector<std::string>& selectors);

}  // namespace pure16
