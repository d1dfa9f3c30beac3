#include "pure16/train/options.h"

#include "pure16/kernels/conv.h"
#include "pure16/kernels/gemm.h"
#include "pure16/nn/models.h"

namespace pure16::train {

PrecisionPolicy make_policy(const std::string& preset, const PolicyOverrides& overrides) {
  PrecisionPolicy policy = PrecisionPolicy::preset(preset);
  if (!overrides.loss_scale.empty()) policy.loss_scale = parse_loss_scale(overrides.loss_scale);
  const LossScaleTuning& tuning = overrides.loss_scale_tuning;
  LossScaleConfig& s = policy.loss_scale;
  if (tuning.initial > 0) s.initial = tuning.initial;
  if (tuning.growth_interval > 0) s.growth_interval = tuning.growth_interval;
  if (tuning.growth_factor > 0) s.growth_factor = tuning.growth_factor;
  if (tuning.backoff_factor > 0) s.backoff_factor = tuning.backoff_factor;
  if (tuning.hysteresis > 0) s.hysteresis = tuning.hysteresis;
  if (tuning.min_scale > 0) s.min_scale = tuning.min_scale;
  if (tuning.max_scale > 0) s.max_scale = tuning.max_scale;
  if (!overrides.rounding.empty()) policy.update_rounding = parse_rounding(overrides.rounding);
  if (!overrides.momentum_rounding.empty()) policy.momentum_rounding = parse_rounding(overrides.momentum_rounding);
  if (!overrides.accumulation.empty()) policy.accumulation = kernels::parse_accumulation(overrides.accumulation);
  if (!overrides.convolution.empty()) policy.convolution = kernels::parse_conv_algorithm(overrides.convolution);
  if (!overrides.statistics.empty()) policy.statistics = parse_dtype(overrides.statistics);
  if (!overrides.keep_fp32.empty()) policy.keep_fp32 = parse_keep_fp32(overrides.keep_fp32);
  policy.validate();
  return policy;
}

TrainConfig TrainOptions::config() const {
  TrainConfig config;
  config.model = model;
  config.model_options.dropout = dropout;
  config.policy = make_policy(precision, policy);
  config.optimizer = optim::OptimizerConfig::sgd(lr, momentum, weight_decay, nesterov);
  config.optimizer.name = optimizer;
  config.optimizer.beta1 = beta1;
  config.optimizer.beta2 = beta2;
  config.optimizer.eps = eps;
  config.optimizer.naive = naive_adam;
  config.optimizer.trust_coefficient = trust_coefficient;
  config.lr_schedule = optim::parse_lr_schedule(lr_schedule);
  config.warmup_epochs = warmup_epochs;
  config.lr_milestones = lr_milestones;
  config.lr_gamma = lr_gamma;
  config.epochs = epochs;
  config.max_steps = max_steps;
  config.batch_size = batch_size;
  config.seed = seed;
  config.divergence_window = divergence_window;
  config.stop_on_divergence = !continue_on_divergence;
  config.validate();
  return config;
}

void TrainOptions::check_keep_fp32() const {
  if (policy.keep_fp32.empty()) return;
  PrecisionPolicy p;
  p.keep_fp32 = parse_keep_fp32(policy.keep_fp32);
  for (const nn::ModelInfo& info : nn::model_infos()) {
    if (info.name != model) continue;
    try {
      p.kept_layers(nn::layer_paths(nn::build_model(model, info.sample_shape, info.num_classes)->parameters()));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("--keep-fp32: " + model + ": " + e.what());
    }
  }
}

data::DataOptions TrainOptions::data_options() const {
  data::DataOptions o;
  o.dataset = dataset;
  o.dir = data_dir;
  o.image_size = image_size;
  o.workers = workers;
  o.skip_bad_images = skip_bad_images;
  o.batch_size = batch_size;
  o.seed = seed;
  return o;
}

}  // namespace pure16::train
