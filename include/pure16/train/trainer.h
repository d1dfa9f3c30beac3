// The training loop: one step is forward, scaled loss gradient, backward, overflow check,
// optimizer update; every precision decision comes from the PrecisionPolicy it is given.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pure16/data/batch_source.h"
#include "pure16/data/dataset.h"
#include "pure16/nn/models.h"
#include "pure16/nn/parameters.h"
#include "pure16/optim/lr_schedule.h"
#include "pure16/optim/sgd.h"
#include "pure16/precision/loss_scaler.h"
#include "pure16/precision/policy.h"

namespace pure16::train {

struct StepResult {
  double loss = 0;       // mean cross-entropy of the batch (unscaled)
  bool applied = true;   // false when dynamic loss scaling skipped the update
  bool nonfinite = false;
};

struct EvalResult {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction in [0, 1]
  int64_t samples = 0;
};

class Trainer {
 public:
  /// `policy` is used resolved(): `automatic` accumulation becomes what the CPU runs fastest.
  Trainer(nn::Layer& model, nn::ParameterStore& store, optim::Sgd& optimizer, const PrecisionPolicy& policy,
          uint64_t seed);

  StepResult train_step(const data::Batch& batch);
  /// Mean loss and accuracy over one pass of `source` (its epoch 0), in evaluation mode.
  EvalResult evaluate(data::BatchSource& source);

  const LossScaler& scaler() const { return scaler_; }
  const PrecisionPolicy& policy() const { return policy_; }
  int64_t steps() const { return int64_t(step_); }
  /// The most bytes of saved activations any training step so far has held (nn::saved_bytes).
  int64_t peak_activation_bytes() const { return peak_activation_bytes_; }

 private:
  nn::Layer& model_;
  nn::ParameterStore& store_;
  optim::Sgd& optimizer_;
  PrecisionPolicy policy_;
  LossScaler scaler_;
  uint64_t seed_;
  uint64_t step_ = 0;
  int64_t peak_activation_bytes_ = 0;
};

struct TrainConfig {
  std::string model = "mlp";
  nn::ModelOptions model_options;
  PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
  optim::SgdConfig sgd{0.05f, 0.9f, 0.0f, false};  // sgd.lr is the schedule's base rate
  optim::LrScheduleKind lr_schedule = optim::LrScheduleKind::constant;
  double warmup_epochs = 0;
  std::vector<double> lr_milestones;  // step schedule: epochs (may be fractional) at which lr *= lr_gamma
  float lr_gamma = 0.1f;
  int64_t epochs = 5;
  int64_t max_steps = 0;  // 0: no limit
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  uint64_t seed = 0;
};

/// The per-step schedule of `config` for a run of `steps_per_epoch` batches an epoch; a cosine
/// schedule reaches zero at the last step (max_steps, when that comes first).
optim::LrSchedule make_lr_schedule(const TrainConfig& config, int64_t steps_per_epoch);

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double lr = 0;      // the rate of the epoch's last step
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double images_per_second = 0;
  double seconds = 0;
  double loss_scale = 1;
  int64_t skipped_steps = 0;
  int64_t steps = 0;
  bool partial = false;  // stopped by max_steps before the epoch's end
};

struct TrainResult {
  std::vector<EpochRecord> epochs;
  PrecisionPolicy policy;  // as it ran: accumulation resolved for the CPU
  kernels::Accumulation requested_accumulation = kernels::Accumulation::automatic;
  double test_accuracy = 0;
  nn::MemoryReport memory;
  int64_t parameters = 0;
  int64_t steps = 0;
};

struct Callbacks {
  std::function<void(const EpochRecord&)> on_epoch;
  /// (epoch, batch index, batches in the epoch, running mean loss, images/s so far)
  std::function<void(int64_t, int64_t, int64_t, double, double)> on_batch;
};

/// Builds the model and optimizer for `config` and trains on `train_source`, evaluating on
/// `test_source` after each epoch (also after a partial epoch ended by max_steps).
TrainResult train(const TrainConfig& config, data::BatchSource& train_source, data::BatchSource& test_source,
                  const Callbacks& callbacks = {});
/// The same over in-memory datasets: shuffled batches of config.batch_size for training,
/// batches of config.eval_batch_size in order for evaluation.
TrainResult train(const TrainConfig& config, const data::Split& split, const Callbacks& callbacks = {});

}  // namespace pure16::train
