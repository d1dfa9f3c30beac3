#include "pure16/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "pure16/data/loader.h"
#include "pure16/kernels/elementwise.h"

namespace pure16::train {

Trainer::Trainer(nn::Layer& model, nn::ParameterStore& store, optim::Sgd& optimizer, const PrecisionPolicy& policy,
                 uint64_t seed)
    : model_(model),
      store_(store),
      optimizer_(optimizer),
      policy_(policy.resolved()),
      scaler_(policy.loss_scale),
      seed_(seed) {}

StepResult Trainer::train_step(const data::Batch& batch) {
  const nn::RunOptions options{true, policy_.accumulation, seed_, step_};
  nn::Context ctx;
  const Tensor logits = model_.forward(batch.inputs, ctx, options);
  peak_activation_bytes_ = std::max(peak_activation_bytes_, nn::saved_bytes(ctx));
  const int64_t rows = logits.size(0), classes = logits.size(1);

  // The loss is the batch mean, so its gradient carries 1/rows; the loss scale multiplies it
  // here, before any fp16 gradient exists, which is what keeps small gradients from flushing.
  Tensor dlogits = Tensor::zeros(logits.shape(), logits.dtype());
  const float grad_scale = scaler_.scale() / float(rows);
  const kernels::SoftmaxXentResult loss = kernels::softmax_cross_entropy(
      dlogits.raw(), logits.raw(), batch.labels.data(), logits.dtype(), rows, classes, grad_scale);

  store_.zero_grads();
  model_.backward(dlogits, ctx, options, false);

  StepResult result;
  result.loss = loss.loss_sum / double(rows);
  result.nonfinite = kernels::count_nonfinite(store_.grads().raw(), store_.grads().dtype(), store_.numel()) > 0;
  const float scale_used = scaler_.scale();
  result.applied = scaler_.update(result.nonfinite);
  if (result.applied) optimizer_.step(scale_used, step_);
  ++step_;
  return result;
}

EvalResult Trainer::evaluate(data::BatchSource& source) {
  source.start_epoch(0);
  const nn::RunOptions options{false, policy_.accumulation, seed_, step_};
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  for (int64_t b = 0; b < source.num_batches(); ++b) {
    const data::Batch batch = source.batch(b, policy_.compute);
    nn::Context ctx;
    const Tensor logits = model_.forward(batch.inputs, ctx, options);
    const kernels::SoftmaxXentResult r = kernels::softmax_cross_entropy(
        nullptr, logits.raw(), batch.labels.data(), logits.dtype(), logits.size(0), logits.size(1), 1.0f);
    loss_sum += r.loss_sum;
    correct += r.correct;
    samples += logits.size(0);
  }
  EvalResult result;
  result.samples = samples;
  result.loss = samples ? loss_sum / double(samples) : 0.0;
  result.accuracy = samples ? double(correct) / double(samples) : 0.0;
  return result;
}

TrainResult train(const TrainConfig& config, const data::Split& split, const Callbacks& callbacks) {
  data::Loader train_loader(split.train, config.batch_size, true, config.seed);
  data::Loader test_loader(split.test, config.eval_batch_size, false, config.seed);
  return train(config, train_loader, test_loader, callbacks);
}

optim::LrSchedule make_lr_schedule(const TrainConfig& config, int64_t steps_per_epoch) {
  optim::LrSchedule schedule;
  schedule.kind = config.lr_schedule;
  schedule.base_lr = config.sgd.lr;
  schedule.gamma = config.lr_gamma;
  const auto to_steps = [&](double epochs) { return int64_t(std::llround(epochs * double(steps_per_epoch))); };
  schedule.warmup_steps = to_steps(config.warmup_epochs);
  schedule.total_steps = config.epochs * steps_per_epoch;
  if (config.max_steps > 0) schedule.total_steps = std::min(schedule.total_steps, config.max_steps);
  for (double m : config.lr_milestones) schedule.milestones.push_back(to_steps(m));
  schedule.validate();
  return schedule;
}

TrainResult train(const TrainConfig& config, data::BatchSource& loader, data::BatchSource& test_source,
                  const Callbacks& callbacks) {
  if (config.epochs <= 0) throw std::invalid_argument("epochs must be positive");
  if (config.max_steps < 0) throw std::invalid_argument("max steps must be non-negative");
  config.policy.validate();

  auto model = nn::build_model(config.model, loader.sample_shape(), loader.num_classes(), config.model_options);
  nn::ParameterStore store;
  store.build(model->parameters(), config.policy, config.seed, model->buffers());
  optim::Sgd optimizer(store, config.sgd, config.policy, config.seed);
  const optim::LrSchedule schedule = make_lr_schedule(config, loader.num_batches());
  Trainer trainer(*model, store, optimizer, config.policy, config.seed);

  using Clock = std::chrono::steady_clock;
  TrainResult result;
  bool stop = false;
  for (int64_t epoch = 1; epoch <= config.epochs && !stop; ++epoch) {
    loader.start_epoch(epoch - 1);
    const int64_t skipped_before = trainer.scaler().skipped_steps();
    const auto start = Clock::now();
    double loss_sum = 0;
    int64_t finite_batches = 0, images = 0, batches_done = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      if (config.max_steps > 0 && trainer.steps() >= config.max_steps) {
        stop = true;
        break;
      }
      const data::Batch batch = loader.batch(b, config.policy.compute);
      optimizer.set_lr(schedule.at(trainer.steps()));
      const StepResult step = trainer.train_step(batch);
      if (std::isfinite(step.loss)) {
        loss_sum += step.loss;
        ++finite_batches;
      }
      images += int64_t(batch.labels.size());
      ++batches_done;
      if (callbacks.on_batch) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        callbacks.on_batch(epoch, b + 1, loader.num_batches(), finite_batches ? loss_sum / double(finite_batches) : NAN,
                           elapsed > 0 ? double(images) / elapsed : 0.0);
      }
    }
    if (config.max_steps > 0 && trainer.steps() >= config.max_steps) stop = true;
    if (batches_done == 0) break;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const EvalResult eval = trainer.evaluate(test_source);

    EpochRecord record;
    record.epoch = epoch;
    record.lr = optimizer.config().lr;
    record.train_loss = finite_batches ? loss_sum / double(finite_batches) : NAN;
    record.test_loss = eval.loss;
    record.test_accuracy = eval.accuracy;
    record.seconds = seconds;
    record.images_per_second = seconds > 0 ? double(images) / seconds : 0.0;
    record.loss_scale = trainer.scaler().scale();
    record.skipped_steps = trainer.scaler().skipped_steps() - skipped_before;
    record.steps = batches_done;
    record.partial = batches_done < loader.num_batches();
    result.epochs.push_back(record);
    if (callbacks.on_epoch) callbacks.on_epoch(record);
  }
  result.test_accuracy = result.epochs.empty() ? 0.0 : result.epochs.back().test_accuracy;
  result.policy = config.policy.resolved();
  result.requested_accumulation = config.policy.accumulation;
  result.memory = store.memory();
  result.memory.optimizer_bytes = optimizer.state_bytes();
  result.memory.activations_bytes = trainer.peak_activation_bytes();
  result.parameters = store.parameter_count();
  result.steps = trainer.steps();
  return result;
}

}  // namespace pure16::train
