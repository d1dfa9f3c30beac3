// A training run as a front end states it: names and numbers, the way the CLI's flags give
// them. The library turns them into a TrainConfig and DataOptions, so every front end (the CLI,
// bench, tests, a future ablation runner) maps the same options to the same run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pure16/data/sources.h"
#include "pure16/train/config.h"

namespace pure16::train {

/// The dynamic loss scaler's settings; a zero or negative field keeps the preset's.
struct LossScaleTuning {
  float initial = 0;
  int64_t growth_interval = 0;
  float growth_factor = 0;
  float backoff_factor = 0;
  int64_t hysteresis = 0;
  float min_scale = 0;
  float max_scale = 0;
};

/// Changes to a precision preset; an empty string keeps the preset's.
struct PolicyOverrides {
  std::string loss_scale;    // none, dynamic or a number
  std::string rounding;      // of the weights: nearest, stochastic, kahan
  std::string momentum_rounding;  // of SGD's and LARS's momentum: nearest, stochastic
  std::string accumulation;  // auto, f32, f16, f16-block
  std::string convolution;   // auto, gemm, winograd
  std::string statistics;    // BatchNorm running statistics: f32, f16, bf16
  std::string keep_fp32;     // layers kept in fp32: "first,last", layer paths or prefixes
  LossScaleTuning loss_scale_tuning;
};

struct TrainOptions {
  std::string model = "mlp";
  std::string dataset = "mnist";
  std::string data_dir;
  int64_t image_size = 224;
  int64_t workers = 2;
  bool skip_bad_images = false;
  std::string precision = "pure-fp16";
  PolicyOverrides policy;
  int64_t epochs = 5;
  int64_t max_steps = 0;
  int64_t batch_size = 128;
  float lr = 0.05f;
  std::string lr_schedule = "constant";
  double warmup_epochs = 0;
  std::vector<double> lr_milestones;
  float lr_gamma = 0.1f;
  std::string optimizer = "sgd";
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  bool naive_adam = false;
  float trust_coefficient = 0.001f;
  float dropout = 0.0f;
  uint64_t seed = 0;
  int64_t divergence_window = 100;
  bool continue_on_divergence = false;

  /// Throws std::invalid_argument naming the option that is wrong.
  TrainConfig config() const;
  /// Checks the --keep-fp32 selectors against the model's layers (their paths do not depend on the
  /// data), so that a bad one is a command-line mistake; throws std::invalid_argument naming it,
  /// the model and the valid selectors.
  void check_keep_fp32() const;
  data::DataOptions data_options() const;
};

/// The precision preset `preset` with the overrides applied, validated.
PrecisionPolicy make_policy(const std::string& preset, const PolicyOverrides& overrides = {});

}  // namespace pure16::train
