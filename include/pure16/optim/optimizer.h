// The optimizer interface: one update of the parameter arena from the gradients of a step, and
// the state that update keeps (arenas the length of the parameter arena, and a few scalars), so
// that the run, checkpoints, memory reports and telemetry treat every optimizer alike. The
// optimizers are one registry (optimizer_infos()); make_optimizer builds one by name.
//
// Every optimizer does its arithmetic in binary32 registers and rounds each stored result once,
// as the precision policy says: the weights to nearest, stochastically, or to nearest with a Kahan
// compensation arena that carries what their rounding dropped into the next step (Zamirai et al.,
// "Revisiting BFloat16 Training", 2020); SGD's and LARS's momentum as the policy's momentum rounding
// says, Adam's moments as the weights.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pure16/nn/parameters.h"
#include "pure16/precision/policy.h"

namespace pure16::optim {

/// Every optimizer's hyperparameters; each optimizer reads the ones it documents.
struct OptimizerConfig {
  std::string name = "sgd";  // an entry of optimizer_infos()
  float lr = 0.05f;          // the schedule's base rate
  float momentum = 0.9f;     // sgd, lars
  float weight_decay = 0.0f;
  bool nesterov = false;  // sgd
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adam, adamw
  /// adam, adamw: PyTorch's Adam on fp16 tensors (every operation rounded to the state dtype,
  /// the second moment stored as is), for the ablation's naive arm.
  bool naive = false;
  float trust_coefficient = 0.001f;  // lars: eta of You et al. 2017

  /// Throws std::invalid_argument naming the field that is out of range or the unknown name.
  void validate() const;
  /// The name and the settings the optimizer reads, e.g. "adam (beta1 0.9, beta2 0.999, eps 1e-08,
  /// weight decay 0)".
  std::string describe() const;
  /// SGD with these settings, every other field at its default.
  static OptimizerConfig sgd(float lr, float momentum, float weight_decay = 0.0f, bool nesterov = false);
};

/// An arena of optimizer state in the store's layout (a segment per parameter group, in the
/// group's dtype): checkpoints save it per parameter as "<name>.<parameter path>" (e.g.
/// "momentum.fc1.weight").
struct StateArena {
  std::string name;
  nn::Arena* arena;
};

/// The optimizer's scalar state by name (steps taken, the scale the state is kept in), for checkpoints.
using StateScalars = std::vector<std::pair<std::string, double>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Applies one update from the gradients in the store, which carry the loss scale
  /// `grad_scale`. `step` numbers the update and keys stochastic rounding, so a run is
  /// reproducible from its seed. With `intended` (store.numel() floats) it also writes, per
  /// element, the binary32 change it added to the weight before rounding it (telemetry counts
  /// the updates rounding lost from it); that path may be slower.
  void step(float grad_scale, uint64_t step, float* intended = nullptr);

  void set_lr(float lr) { config_.lr = lr; }
  const OptimizerConfig& config() const { return config_; }
  /// Updates applied so far (Adam's bias correction counts them; SGD's first sets m = g).
  int64_t steps_applied() const { return steps_applied_; }

  /// Every state arena, the Kahan compensation included.
  std::vector<StateArena> state_arenas();
  int64_t state_bytes() const;
  StateScalars state_scalars() const;
  /// Continues from saved scalars; throws std::invalid_argument naming a missing or invalid one.
  void restore_scalars(const StateScalars& scalars);

 protected:
  Optimizer(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed);

  /// The optimizer's own update of every parameter group, with compensation_ when the rounding is
  /// kahan. A sweep over group g passes first_index = its begin and `intended` + its begin, so
  /// every element draws the random words and writes the place a single arena's sweep would.
  virtual void apply(float grad_scale, uint64_t step, float* intended) = 0;
  virtual std::vector<StateArena> own_arenas() { return {}; }
  virtual StateScalars own_scalars() const { return {}; }
  virtual void restore_own_scalars(const StateScalars&) {}

  nn::ParameterStore& store_;
  OptimizerConfig config_;
  Rounding rounding_;           // of the weights
  Rounding momentum_rounding_;  // of SGD's and LARS's momentum
  uint64_t seed_;
  nn::Arena compensation_;  // in each group's master dtype; only with Kahan rounding
  int64_t steps_applied_ = 0;
};

struct OptimizerInfo {
  std::string name;
  std::string summary;
};

/// The optimizers, for the CLI's choices, `pure16 info`, the docs and the tests.
const std::vector<OptimizerInfo>& optimizer_infos();
std::vector<std::string> optimizer_names();

/// The optimizer `config.name` over `store`, keeping state as `policy` says.
std::unique_ptr<Optimizer> make_optimizer(nn::ParameterStore& store, const OptimizerConfig& config,
                                          const PrecisionPolicy& policy, uint64_t seed);

/// The value of `name` in `scalars`; throws std::invalid_argument when it is missing.
double scalar_named(const StateScalars& scalars, const std::string& name);

}  // namespace pure16::optim
