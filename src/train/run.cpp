#include "pure16/train/run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "pure16/data/loader.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::train {
namespace {

// Rows of `logits` whose label is among the row's five largest values: fewer than five logits
// are strictly larger than the label's (ties count for the label, as they do for top-1).
int64_t count_top5(const Tensor& logits, const std::vector<int32_t>& labels) {
  const int64_t rows = logits.size(0), classes = logits.size(1);
  std::vector<float> values(size_t(rows * classes));
  kernels::convert(values.data(), DType::f32, logits.contiguous().raw(), logits.dtype(), rows * classes);
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * classes;
    const float target = row[labels[size_t(r)]];
    int64_t larger = 0;
    for (int64_t c = 0; c < classes; ++c) larger += row[c] > target ? 1 : 0;
    hits += larger < 5 ? 1 : 0;
  }
  return hits;
}

// A step watched (watch_step) in a run that also observes every step (observe_layers).
class BothObservers : public nn::LayerObserver {
 public:
  BothObservers(nn::LayerObserver& first, nn::LayerObserver& second) : first_(first), second_(second) {}
  void on_forward(const std::string& path, const Tensor& output) override {
    first_.on_forward(path, output);
    second_.on_forward(path, output);
  }
  void on_backward(const std::string& path, const Tensor& output_grad) override {
    first_.on_backward(path, output_grad);
    second_.on_backward(path, output_grad);
  }

 private:
  nn::LayerObserver& first_;
  nn::LayerObserver& second_;
};

}  // namespace

Run::Run(const TrainConfig& config, const Shape& sample_shape, int64_t num_classes, int64_t steps_per_epoch)
    : config_(config),
      policy_(config.policy.resolved()),
      sample_shape_(sample_shape),
      num_classes_(num_classes),
      steps_per_epoch_(steps_per_epoch),
      scaler_(config.policy.loss_scale) {
  config_.validate();
  if (steps_per_epoch <= 0)
    throw std::invalid_argument("a run needs at least one batch an epoch, got " + std::to_string(steps_per_epoch));
  model_ = nn::build_model(config_.model, sample_shape_, num_classes_, config_.model_options);
  store_.build(model_->parameters(), config_.policy, config_.seed, model_->buffers());
  optimizer_ = optim::make_optimizer(store_, config_.optimizer, config_.policy, config_.seed);
  schedule_ = make_lr_schedule(config_, steps_per_epoch_);
}

void Run::watch_step(const StepWatch& watch) {
  if (!before_step_running_) throw std::logic_error("Run::watch_step: only a before_step callback can watch a step");
  if (watch_.layers != nullptr || watch_.intended_updates != nullptr)
    throw std::logic_error("Run::watch_step: step " + std::to_string(position_.step) + " is already watched");
  watch_ = watch;
}

StepResult Run::train_step(const data::Batch& batch) {
  optimizer_->set_lr(schedule_.at(position_.step));
  watch_ = {};
  before_step_running_ = true;
  for (Callback* c : callbacks_) c->before_step(*this);
  before_step_running_ = false;
  std::optional<BothObservers> both;
  nn::LayerObserver* observer = watch_.layers != nullptr ? watch_.layers : layer_observer_;
  if (watch_.layers != nullptr && layer_observer_ != nullptr) observer = &both.emplace(*watch_.layers, *layer_observer_);
  const nn::RunOptions options{true,
                               policy_.accumulation,
                               policy_.convolution,
                               dropout_key(config_.seed, comm_->rank()),
                               uint64_t(position_.step),
                               observer,
                               {},
                               batch_statistics_replicas_};
  nn::Context ctx;
  const Tensor logits = model_->forward(batch.inputs, ctx, options);
  peak_activation_bytes_ = std::max(peak_activation_bytes_, nn::saved_bytes(ctx));
  const int64_t rows = logits.size(0), classes = logits.size(1);

  // The loss is the batch mean, so its gradient carries 1/rows; the loss scale multiplies it
  // here, before any fp16 gradient exists, which is what keeps small gradients from flushing.
  Tensor dlogits = Tensor::zeros(logits.shape(), logits.dtype());
  const float grad_scale = scaler_.scale() / float(rows);
  const kernels::SoftmaxXentResult loss = kernels::softmax_cross_entropy(
      dlogits.raw(), logits.raw(), batch.labels.data(), logits.dtype(), rows, classes, grad_scale);

  store_.zero_grads();
  model_->backward(dlogits, ctx, options, false);
  for (Callback* c : callbacks_) c->after_backward(*this);

  StepResult result;
  result.loss = loss.loss_sum / double(rows);
  result.nonfinite = store_.nonfinite_gradients() > 0;
  const float scale_used = scaler_.scale();
  result.applied = scaler_.update(result.nonfinite);
  if (result.applied) optimizer_->step(scale_used, uint64_t(position_.step), watch_.intended_updates);
  watch_ = {};
  position_.skipped_in_a_row = result.applied ? 0 : position_.skipped_in_a_row + 1;
  ++position_.step;
  for (Callback* c : callbacks_) c->after_step(*this, result);
  if (config_.stop_on_divergence) check_divergence(result, scale_used);
  return result;
}

void Run::check_divergence(const StepResult& step, float scale_used) const {
  const int64_t at = position_.step - 1;
  if (step.applied && (step.nonfinite || !std::isfinite(step.loss)))
    throw Diverged("diverged at step " + std::to_string(at) + ": the loss is " + std::to_string(step.loss) +
                       (step.nonfinite ? " and the gradients hold inf or NaN" : "") + " with loss scale " +
                       std::to_string(scale_used) + " (" + loss_scale_name(policy_.loss_scale) +
                       " loss scaling), and the update was applied, so the weights are no longer finite",
                   at);
  if (position_.skipped_in_a_row >= config_.divergence_window)
    throw Diverged("diverged at step " + std::to_string(at) + ": the last " +
                       std::to_string(position_.skipped_in_a_row) +
                       " steps overflowed and were skipped, the loss scale is down to " + std::to_string(scaler_.scale()),
                   at);
}

DType Run::input_dtype() const {
  return store_.parameters().empty() ? policy_.compute : store_.parameters().front()->value.dtype();
}

Tensor Run::logits(const Tensor& inputs) {
  const nn::RunOptions options{
      false, policy_.accumulation, policy_.convolution, config_.seed, uint64_t(position_.step), nullptr, {}};
  nn::Context ctx;
  return model_->forward(inputs.to(input_dtype()), ctx, options);
}

EvalResult Run::evaluate(data::BatchSource& source) {
  source.start_epoch(0);
  double loss_sum = 0;
  int64_t correct = 0, top5 = 0, samples = 0;
  for (int64_t b = 0; b < source.num_batches(); ++b) {
    const data::Batch batch = source.batch(b, input_dtype());
    const Tensor logits = this->logits(batch.inputs);
    const kernels::SoftmaxXentResult r = kernels::softmax_cross_entropy(
        nullptr, logits.raw(), batch.labels.data(), logits.dtype(), logits.size(0), logits.size(1), 1.0f);
    loss_sum += r.loss_sum;
    correct += r.correct;
    top5 += count_top5(logits, batch.labels);
    samples += logits.size(0);
  }
  // Counts below 2^53 and a sum of losses: binary64 holds them exactly, and the sum closely.
  double totals[4] = {loss_sum, double(correct), double(top5), double(samples)};
  comm_->sum(totals, 4, DType::f64);
  loss_sum = totals[0];
  correct = int64_t(totals[1]);
  top5 = int64_t(totals[2]);
  samples = int64_t(totals[3]);
  EvalResult result;
  result.samples = samples;
  result.loss = samples ? loss_sum / double(samples) : 0.0;
  result.accuracy = samples ? double(correct) / double(samples) : 0.0;
  result.top5_accuracy = samples ? double(top5) / double(samples) : 0.0;
  return result;
}

bool Run::finished() const {
  if (config_.max_steps > 0 && position_.step >= config_.max_steps) return true;
  return position_.epoch >= config_.epochs;
}

EpochRecord Run::finish_epoch(data::BatchSource& test_source) {
  const EvalResult eval = evaluate(test_source);
  const RunPosition& p = position_;
  EpochRecord record;
  record.epoch = p.epoch + 1;
  record.lr = optimizer_->config().lr;
  record.train_loss = p.finite_batches ? p.loss_sum / double(p.finite_batches) : NAN;
  record.test_loss = eval.loss;
  record.test_accuracy = eval.accuracy;
  record.test_top5_accuracy = eval.top5_accuracy;
  record.seconds = p.seconds;
  record.images_per_second = p.seconds > 0 ? double(p.images) / p.seconds : 0.0;
  record.loss_scale = scaler_.scale();
  record.skipped_steps = scaler_.skipped_steps() - p.skipped_at_epoch_start;
  record.steps = p.batch;
  record.partial = p.batch < steps_per_epoch_;
  history_.push_back(record);
  position_ = RunPosition{position_.step, position_.epoch + 1, 0, 0, 0, 0, scaler_.skipped_steps(), 0,
                          position_.skipped_in_a_row};
  return record;
}

TrainResult Run::fit(data::BatchSource& train_source, data::BatchSource& test_source) {
  if (train_source.num_batches() != steps_per_epoch_)
    throw std::invalid_argument("fit: the training source has " + std::to_string(train_source.num_batches()) +
                                " batches an epoch, the run was built for " + std::to_string(steps_per_epoch_));
  using Clock = std::chrono::steady_clock;
  while (!finished()) {
    train_source.start_epoch(position_.epoch);
    bool stopped = false;
    while (position_.batch < steps_per_epoch_) {
      if (config_.max_steps > 0 && position_.step >= config_.max_steps) {
        stopped = true;
        break;
      }
      const auto start = Clock::now();
      const data::Batch batch = train_source.batch(position_.batch, input_dtype());
      const StepResult step = train_step(batch);
      RunPosition& p = position_;
      if (std::isfinite(step.loss)) {
        p.loss_sum += step.loss;
        ++p.finite_batches;
      }
      p.images += int64_t(batch.labels.size());
      ++p.batch;
      p.seconds += std::chrono::duration<double>(Clock::now() - start).count();
      const BatchProgress progress{p.epoch + 1, p.batch, steps_per_epoch_,
                                   p.finite_batches ? p.loss_sum / double(p.finite_batches) : NAN,
                                   p.seconds > 0 ? double(p.images) / p.seconds : 0.0};
      for (Callback* c : callbacks_) c->after_batch(*this, progress);
    }
    // An epoch cut by max_steps is evaluated too, unless it had not started.
    if (stopped && position_.batch == 0) break;
    const EpochRecord record = finish_epoch(test_source);
    for (Callback* c : callbacks_) c->after_epoch(*this, record);
    if (stopped) break;
  }
  return result();
}

TrainResult Run::result() const {
  TrainResult result;
  result.epochs = history_;
  result.test_accuracy = history_.empty() ? 0.0 : history_.back().test_accuracy;
  result.policy = policy_;
  result.requested_accumulation = config_.policy.accumulation;
  result.memory = store_.memory();
  result.memory.optimizer_bytes = optimizer_->state_bytes();
  result.memory.activations_bytes = peak_activation_bytes_;
  result.parameters = store_.parameter_count();
  result.steps = position_.step;
  return result;
}

TrainResult train(const TrainConfig& config, data::BatchSource& train_source, data::BatchSource& test_source,
                  const std::vector<Callback*>& callbacks) {
  Run run(config, train_source.sample_shape(), train_source.num_classes(), train_source.num_batches());
  for (Callback* c : callbacks) run.add_callback(*c);
  return run.fit(train_source, test_source);
}

TrainResult train(const TrainConfig& config, const data::Split& split, const std::vector<Callback*>& callbacks) {
  data::Loader train_loader(split.train, config.batch_size, true, config.seed);
  data::Loader test_loader(split.test, config.eval_batch_size, false, config.seed);
  return train(config, train_loader, test_loader, callbacks);
}

}  // namespace pure16::train
