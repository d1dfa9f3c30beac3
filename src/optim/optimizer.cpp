#include "pure16/optim/optimizer.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "pure16/optim/adam.h"
#include "pure16/optim/lars.h"
#include "pure16/optim/sgd.h"

namespace pure16::optim {
namespace {

struct OptimizerRow {
  OptimizerInfo info;
  std::unique_ptr<Optimizer> (*make)(nn::ParameterStore&, const OptimizerConfig&, const PrecisionPolicy&, uint64_t);
};

template <class T>
std::unique_ptr<Optimizer> make(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy,
                                uint64_t seed) {
  return std::make_unique<T>(store, config, policy, seed);
}

const std::vector<OptimizerRow>& optimizer_rows() {
  static const std::vector<OptimizerRow> rows{
      {{"sgd", "SGD with momentum, Nesterov momentum and weight decay (torch.optim.SGD)"}, make<Sgd>},
      {{"adam", "Adam (torch.optim.Adam), its state kept fp16-safe in the gradient's loss-scaled units"},
       [](nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
           -> std::unique_ptr<Optimizer> { return std::make_unique<Adam>(store, config, policy, seed, false); }},
      {{"adamw", "AdamW (torch.optim.AdamW): Adam with decoupled weight decay"},
       [](nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy, uint64_t seed)
           -> std::unique_ptr<Optimizer> { return std::make_unique<Adam>(store, config, policy, seed, true); }},
      {{"lars", "LARS (You et al. 2017): SGD momentum with a per-tensor trust ratio, 1-D tensors excluded"},
       make<Lars>},
  };
  return rows;
}

const OptimizerRow* find_row(const std::string& name) {
  for (const OptimizerRow& row : optimizer_rows())
    if (row.info.name == name) return &row;
  return nullptr;
}

}  // namespace

void OptimizerConfig::validate() const {
  if (find_row(name) == nullptr) {
    std::string names;
    for (const std::string& n : optimizer_names()) names += (names.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown optimizer '" + name + "' (expected one of " + names + ")");
  }
  auto check = [this](float v, const char* what) {
    if (!(v >= 0.0f) || !std::isfinite(v))
      throw std::invalid_argument(name + ": " + what + " must be a finite non-negative number, got " + std::to_string(v));
  };
  check(lr, "learning rate");
  check(momentum, "momentum");
  check(weight_decay, "weight decay");
  check(eps, "eps");
  check(trust_coefficient, "trust coefficient");
  if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
    throw std::invalid_argument(name + ": betas must lie in [0, 1), got " + std::to_string(beta1) + ", " +
                                std::to_string(beta2));
  if (nesterov && name != "sgd") throw std::invalid_argument(name + ": Nesterov momentum applies to sgd only");
  if (nesterov && momentum == 0.0f) throw std::invalid_argument(name + ": Nesterov momentum needs momentum > 0");
}

std::string OptimizerConfig::describe() const {
  char text[256];
  if (name == "adam" || name == "adamw")
    std::snprintf(text, sizeof text, "%s (beta1 %g, beta2 %g, eps %g, weight decay %g%s)", name.c_str(), beta1, beta2,
                  eps, weight_decay, naive ? ", naive" : "");
  else if (name == "lars")
    std::snprintf(text, sizeof text, "lars (momentum %g, trust coefficient %g, weight decay %g)", momentum,
                  trust_coefficient, weight_decay);
  else
    std::snprintf(text, sizeof text, "%s (momentum %g%s, weight decay %g)", name.c_str(), momentum,
                  nesterov ? ", Nesterov" : "", weight_decay);
  return text;
}

OptimizerConfig OptimizerConfig::sgd(float lr, float momentum, float weight_decay, bool nesterov) {
  OptimizerConfig config;
  config.name = "sgd";
  config.lr = lr;
  config.momentum = momentum;
  config.weight_decay = weight_decay;
  config.nesterov = nesterov;
  return config;
}

Optimizer::Optimizer(nn::ParameterStore& store, const OptimizerConfig& config, const PrecisionPolicy& policy,
                     uint64_t seed)
    : store_(store),
      config_(config),
      rounding_(policy.update_rounding),
      momentum_rounding_(policy.momentum_rounding),
      seed_(seed) {
  config_.validate();
  if (rounding_ == Rounding::kahan) compensation_ = store_.make_arena(&StateDTypes::master);
}

void Optimizer::step(float grad_scale, uint64_t step, float* intended) {
  apply(grad_scale, step, intended);
  ++steps_applied_;
  store_.refresh_values_from_master();
}

std::vector<StateArena> Optimizer::state_arenas() {
  std::vector<StateArena> arenas = own_arenas();
  if (compensation_.defined()) arenas.push_back({"compensation", &compensation_});
  return arenas;
}

int64_t Optimizer::state_bytes() const {
  int64_t bytes = 0;
  for (const StateArena& arena : const_cast<Optimizer*>(this)->state_arenas()) bytes += arena.arena->nbytes();
  return bytes;
}

StateScalars Optimizer::state_scalars() const {
  StateScalars scalars{{"steps_applied", double(steps_applied_)}};
  for (auto& scalar : own_scalars()) scalars.push_back(scalar);
  return scalars;
}

void Optimizer::restore_scalars(const StateScalars& scalars) {
  const double steps = scalar_named(scalars, "steps_applied");
  if (!(steps >= 0) || steps != std::floor(steps))
    throw std::invalid_argument("optimizer state: steps_applied must be a non-negative whole number");
  steps_applied_ = int64_t(steps);
  restore_own_scalars(scalars);
}

double scalar_named(const StateScalars& scalars, const std::string& name) {
  for (const auto& [key, value] : scalars)
    if (key == name) return value;
  throw std::invalid_argument("optimizer state has no " + name);
}

const std::vector<OptimizerInfo>& optimizer_infos() {
  static const std::vector<OptimizerInfo> infos = [] {
    std::vector<OptimizerInfo> out;
    for (const OptimizerRow& row : optimizer_rows()) out.push_back(row.info);
    return out;
  }();
  return infos;
}

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const OptimizerInfo& info : optimizer_infos()) names.push_back(info.name);
  return names;
}

std::unique_ptr<Optimizer> make_optimizer(nn::ParameterStore& store, const OptimizerConfig& config,
                                          const PrecisionPolicy& policy, uint64_t seed) {
  config.validate();
  return find_row(config.name)->make(store, config, policy, seed);
}

}  // namespace pure16::optim
