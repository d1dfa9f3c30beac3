// A training run as an object: it owns the model, the parameter store, the optimizer, the loss
// scaler, the schedule and the position (step, epoch, batch), and it can step, evaluate, fit,
// save and restore. Callbacks hook into it after backward, after each step, batch and epoch,
// as Lightning's callbacks and DDP's gradient hooks do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/data/batch_source.h"
#include "pure16/data/dataset.h"
#include "pure16/data/identity.h"
#include "pure16/dist/communicator.h"
#include "pure16/io/safetensors.h"
#include "pure16/nn/models.h"
#include "pure16/nn/parameters.h"
#include "pure16/optim/lr_schedule.h"
#include "pure16/optim/optimizer.h"
#include "pure16/precision/loss_scaler.h"
#include "pure16/precision/policy.h"
#include "pure16/train/config.h"

namespace pure16::train {

struct StepResult {
  double loss = 0;       // mean cross-entropy of the batch (unscaled)
  bool applied = true;   // false when dynamic loss scaling skipped the update
  bool nonfinite = false;
};

struct EvalResult {
  double loss = 0;          // mean cross-entropy
  double accuracy = 0;      // top-1, a fraction in [0, 1]
  double top5_accuracy = 0; // the label among the five largest logits (all of them below five classes)
  int64_t samples = 0;
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double lr = 0;      // the rate of the epoch's last step
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double test_top5_accuracy = 0;
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

/// Where a run stands, and the running sums of the epoch in progress, so that an epoch cut by
/// a checkpoint and a resume reports what it would have reported whole.
struct RunPosition {
  int64_t step = 0;   // optimizer steps taken, applied or skipped
  int64_t epoch = 0;  // the epoch in progress, 0-based
  int64_t batch = 0;  // the next batch of that epoch
  double loss_sum = 0;
  int64_t finite_batches = 0;
  int64_t images = 0;
  int64_t skipped_at_epoch_start = 0;
  double seconds = 0;  // training time of the epoch so far
  int64_t skipped_in_a_row = 0;  // steps the loss scaler skipped since the last applied one
};

/// The exit status of a command-line run that diverged (1 is an error, 2 a command-line mistake),
/// which tells a runner of many runs (pure16 ablate) that the run is over and its log complete.
constexpr int kExitDiverged = 3;

/// Thrown by Run::train_step when the run diverges (TrainConfig::divergence_window says when).
class Diverged : public std::runtime_error {
 public:
  Diverged(const std::string& what, int64_t step) : std::runtime_error(what), step_(step) {}
  int64_t step() const { return step_; }

 private:
  int64_t step_;
};

/// Progress within an epoch of fit(), after a batch.
struct BatchProgress {
  int64_t epoch = 0;  // 1-based
  int64_t batch = 0;  // batches done in this epoch
  int64_t batches = 0;
  double mean_loss = 0;
  double images_per_second = 0;
};

class Run;

/// What a callback asks to see of the step about to run (Run::watch_step). Null fields: nothing.
struct StepWatch {
  /// Told each named layer's output in forward and the gradient with respect to it in backward.
  nn::LayerObserver* layers = nullptr;
  /// store().numel() floats: the optimizer writes the change it meant to add to each weight
  /// before rounding (Optimizer::step's `intended`); untouched when the step is skipped.
  float* intended_updates = nullptr;
};

/// Hooks into a run. Every default does nothing.
class Callback {
 public:
  virtual ~Callback() = default;
  /// Before each training step's forward pass; run.steps() is the step's number. A callback
  /// that looks inside the step (telemetry) asks for it here with run.watch_step.
  virtual void before_step(Run&) {}
  /// After backward, before the overflow check and the update: the step's gradients are in
  /// run.store().grads() (a segment per parameter group), scaled by run.scaler().scale().
  /// Data-parallel training reduces them here.
  virtual void after_backward(Run&) {}
  /// After each training step, applied or skipped, also the step the run diverged at (before
  /// train_step throws Diverged): telemetry records that step above all.
  virtual void after_step(Run&, const StepResult&) {}
  /// After each batch of fit(), once the position has moved past it (a checkpoint taken here
  /// resumes with the next batch).
  virtual void after_batch(Run&, const BatchProgress&) {}
  /// After each epoch's evaluation, also a partial epoch ended by max_steps; the position is
  /// then at the next epoch.
  virtual void after_epoch(Run&, const EpochRecord&) {}
};

class Run {
 public:
  /// Builds the model of `config` for samples of `sample_shape` (no batch dimension) and
  /// `num_classes` classes, its parameter store (initialized from config.seed), the optimizer,
  /// the loss scaler and the schedule for `steps_per_epoch` batches an epoch. The policy is
  /// used resolved(): `automatic` accumulation becomes what the CPU runs fastest.
  Run(const TrainConfig& config, const Shape& sample_shape, int64_t num_classes, int64_t steps_per_epoch);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  /// Hooks called in the order added; not owned, and must outlive their use.
  void add_callback(Callback& callback) { callbacks_.push_back(&callback); }
  /// Looks inside the step about to run, and only that one: called from Callback::before_step
  /// on the steps a callback samples, so that every other step runs as fast as it would without
  /// it (no layer is told anything, the update takes its vector path). One watch a step: a
  /// second throws std::logic_error, as would a call outside before_step.
  void watch_step(const StepWatch& watch);
  /// Tells `observer` about every step's layers from now on (data-parallel training starts each
  /// bucket's sum as backward completes it), besides any watch_step; null stops it. Not owned.
  void observe_layers(nn::LayerObserver* observer) { layer_observer_ = observer; }
  /// Makes this run one rank of a data-parallel job: evaluate() sums its counts over the ranks
  /// (each evaluates its shard), and dropout draws the rank's own masks (dropout_key). Not owned.
  void set_communicator(dist::Communicator& comm) { comm_ = &comm; }
  /// Synchronized BatchNorm: training steps normalize with the statistics of every replica's
  /// batch, summed through `replicas` (nn::RunOptions); null: each rank's own. Not owned.
  void synchronize_batch_statistics(kernels::ReplicaSum* replicas) { batch_statistics_replicas_ = replicas; }
  /// The job this run is part of; one process unless set_communicator was called.
  dist::Communicator& communicator() const { return *comm_; }
  /// What the run trains on, recorded in checkpoints and checked when one is restored.
  void set_dataset(const data::DatasetIdentity& identity) { dataset_ = identity; }
  const data::DatasetIdentity& dataset() const { return dataset_; }

  /// One step on `batch` at the schedule's rate for the current step: forward, scaled loss
  /// gradient, backward, overflow check, update. Advances the step count. Throws Diverged when
  /// the run diverges and config().stop_on_divergence.
  StepResult train_step(const data::Batch& batch);
  /// The model's output for `inputs` (B, sample_shape...), in evaluation mode (BatchNorm's running
  /// statistics, no dropout): in the compute dtype, or fp32 when the policy keeps the last layer in fp32.
  Tensor logits(const Tensor& inputs);
  /// Mean loss, top-1 and top-5 accuracy over one pass of `source` (its epoch 0), in evaluation
  /// mode; in a data-parallel run, over the union of every rank's `source` (its shard).
  EvalResult evaluate(data::BatchSource& source);
  /// Trains from the current position to the end of config().epochs (or max_steps),
  /// evaluating on `test_source` after each epoch. `train_source` must have steps_per_epoch
  /// batches. Returns every epoch's record, those before a restore included.
  TrainResult fit(data::BatchSource& train_source, data::BatchSource& test_source);
  /// The summary of the run so far.
  TrainResult result() const;
  bool finished() const;

  /// Writes a checkpoint (train/checkpoint.h) of everything the run needs to continue bitwise.
  void save(const std::filesystem::path& path) const;
  /// Continues from a checkpoint written by save(). Throws std::runtime_error naming the file
  /// when it is not one, or when its model, model options, precision, batch size, seed or
  /// dataset differ from this run's.
  void restore(const std::filesystem::path& path);
  /// The same from a checkpoint already read from `file`.
  void restore(const io::SafetensorsFile& contents, const std::string& file);

  const TrainConfig& config() const { return config_; }
  const PrecisionPolicy& policy() const { return policy_; }
  nn::Sequential& model() { return *model_; }
  nn::ParameterStore& store() { return store_; }
  const nn::ParameterStore& store() const { return store_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  const optim::Optimizer& optimizer() const { return *optimizer_; }
  LossScaler& scaler() { return scaler_; }
  const LossScaler& scaler() const { return scaler_; }
  const optim::LrSchedule& schedule() const { return schedule_; }
  const RunPosition& position() const { return position_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  const Shape& sample_shape() const { return sample_shape_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t steps() const { return position_.step; }
  /// The most bytes of saved activations any training step so far has held (nn::saved_bytes).
  int64_t peak_activation_bytes() const { return peak_activation_bytes_; }
  /// The dtype batches are given in: that of the model's first layer with parameters, which reads
  /// them in every model of the zoo (the compute dtype, fp32 when the policy keeps that layer).
  DType input_dtype() const;

 private:
  EpochRecord finish_epoch(data::BatchSource& test_source);
  void check_divergence(const StepResult& step, float scale_used) const;

  TrainConfig config_;
  PrecisionPolicy policy_;
  Shape sample_shape_;
  int64_t num_classes_;
  int64_t steps_per_epoch_;
  std::unique_ptr<nn::Sequential> model_;
  nn::ParameterStore store_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  LossScaler scaler_;
  optim::LrSchedule schedule_;
  RunPosition position_;
  std::vector<EpochRecord> history_;
  data::DatasetIdentity dataset_;
  std::vector<Callback*> callbacks_;
  std::unique_ptr<dist::Communicator> single_process_ = dist::make_single_process_world();
  dist::Communicator* comm_ = single_process_.get();
  nn::LayerObserver* layer_observer_ = nullptr;
  kernels::ReplicaSum* batch_statistics_replicas_ = nullptr;
  bool before_step_running_ = false;
  StepWatch watch_;
  int64_t peak_activation_bytes_ = 0;
};

/// Builds a Run for `config` over `train_source` and fits it, calling `callbacks`.
TrainResult train(const TrainConfig& config, data::BatchSource& train_source, data::BatchSource& test_source,
                  const std::vector<Callback*>& callbacks = {});
/// The same over in-memory datasets: shuffled batches of config.batch_size for training,
/// batches of config.eval_batch_size in order for evaluation.
TrainResult train(const TrainConfig& config, const data::Split& split, const std::vector<Callback*>& callbacks = {});

}  // namespace pure16::train
