// Per-layer numerics telemetry: every N steps, one JSON line of statistics per tensor of the
// step (weights, their gradients, the update, each named layer's output and its gradient): how
// much of each is zero, subnormal, infinite or NaN, its largest magnitude, norm and exponent
// histogram, how many updates rounding lost, and, in fp32 runs, how much fp16 or bf16 would
// have lost. It answers the question a diverged or stalled low-precision run raises: which
// layer overflowed or underflowed first, and where do updates vanish.
//
// Record format (one line each, appended): {"step", "epoch", "loss", "loss_scale",
// "skipped_steps", "dtype", "tensors": [...]}. "step" is the 0-based number of the optimizer step
// (the steps recorded are the multiples of N), "epoch" 0-based, "loss" the batch's (null when it
// is not finite), "loss_scale" the scale the step's gradients carry, "skipped_steps" those skipped
// by the loss scaler so far, this one included, "dtype" the compute dtype. Each tensor:
//   "name": the parameter's path (`fc1.weight`) for weight, weight_grad and update; the layer's
//   path (`fc1`, `layer1.0.conv1`, `layer1.0` for a residual block) for activation and
//   activation_grad; "layer": the layer's path; "role": one of the five.
//   "count", then "zeros", "subnormals", "infs", "nans": fractions of count, in the tensor's
//   stored dtype. Gradients are stored multiplied by the loss scale: these fractions are of the
//   stored values (what underflowed is what was stored), the magnitudes below are unscaled.
//   "max_abs": the largest finite magnitude; "norm": the L2 norm of the finite elements.
//   "exponent_histogram": {"min_exponent", "counts", "zero", "inf", "nan", "below", "above"}:
//   counts[i] finite non-zero elements with floor(log2|x|) = min_exponent + i, of the stored
//   values; kernels::histogram_exponents says which: f16's whole range, so "below" and "above"
//   are 0 there, and [-40, 16] for wider dtypes, "below" and "above" counting the rest.
//   update only: the change each weight of the master copy got, as binary32 differences (so
//   its dtype is f32: zeros are unchanged weights); "lost_updates": of the weights the optimizer
//   meant to change, the fraction rounding left unchanged; with weight decay, "decay_lost": of
//   the non-zero weights, the fraction whose decay step lr * weight_decay * |w| alone would be
//   rounded away (it is under half the spacing of the master dtype below |w|).
//   f32 tensors only: "fp16_underflow", "fp16_below_normal", "fp16_overflow", "bf16_underflow",
//   "bf16_below_normal", "bf16_overflow": the fractions of the elements that would fall below
//   that format's smallest subnormal or smallest normal, or above its largest finite value.
// Skipped steps have no update entries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pure16/kernels/tensor_stats.h"
#include "pure16/nn/layer.h"
#include "pure16/train/run.h"

namespace pure16::train {

/// Steps between two records when not told otherwise. A sampled step of the MNIST MLP in
/// pure-fp16 costs about 10 plain steps more (bench_telemetry: the statistics, and the optimizer's
/// scalar path that reports the intended updates, with stochastic rounding), LeNet-5's less than
/// half a step: 250 keeps the overhead near 4% on the worst of them.
constexpr int64_t kDefaultTelemetryEvery = 250;

class Telemetry : public Callback, private nn::LayerObserver {
 public:
  /// Appends a record to `file` (created if missing; a resumed run continues it) at every step
  /// whose number is a multiple of `every`. Throws std::runtime_error naming the file when it
  /// cannot be opened, std::invalid_argument when every < 1.
  Telemetry(const std::filesystem::path& file, int64_t every = kDefaultTelemetryEvery);
  ~Telemetry() override;
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  void before_step(Run& run) override;
  void after_backward(Run& run) override;
  void after_step(Run& run, const StepResult& step) override;

  /// Records written so far by this object.
  int64_t records() const { return records_; }

 private:
  void on_forward(const std::string& path, const Tensor& output) override;
  void on_backward(const std::string& path, const Tensor& output_grad) override;
  void append(const std::string& line);

  std::filesystem::path path_;
  int fd_ = -1;
  int64_t every_;
  int64_t records_ = 0;
  bool sampled_ = false;
  float scale_ = 1;  // the loss scale of the sampled step's gradients
  std::vector<nlohmann::json> parameter_entries_, layer_entries_;
  nn::Arena master_before_;
  std::vector<float> intended_;
};

/// The JSON entry of a tensor (format above) from its statistics, its magnitudes divided by
/// `magnitude_divisor` (the loss scale for gradients), with the fp16/bf16 fractions when the
/// tensor's own `dtype` is f32.
nlohmann::json tensor_entry(const std::string& name, const std::string& layer, const std::string& role, DType dtype,
                            const kernels::TensorStats& stats, double magnitude_divisor = 1);
/// Of the elements whose intended change is non-zero, the fraction whose value is the same in
/// `after` as in `before` (tensors of one dtype and size; `intended` as many floats); 0 when the
/// optimizer meant to change none.
double lost_update_fraction(const Tensor& before, const Tensor& after, const float* intended);
/// Of the non-zero finite `weights`, the fraction for which |w| - lr * weight_decay * |w|,
/// rounded to nearest in their dtype, is |w| again.
double decay_lost_fraction(const Tensor& weights, float lr, float weight_decay);

}  // namespace pure16::train
