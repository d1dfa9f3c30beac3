#include "pure16/train/telemetry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace pure16::train {
namespace {

double fraction(int64_t part, int64_t whole) { return whole > 0 ? double(part) / double(whole) : 0.0; }

kernels::TensorStats stats_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  return kernels::tensor_stats(c.raw(), c.dtype(), c.numel());
}

// The change each element got, after - before, in binary32 (the differences of fp16 and bf16
// weights are exact there but for extreme spreads, which telemetry need not resolve).
std::vector<float> changes(const Tensor& before, const Tensor& after) {
  std::vector<float> out(size_t(before.numel()));
  dispatch(before.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* b = static_cast<const T*>(before.raw());
    const T* a = static_cast<const T*>(after.raw());
    for (size_t i = 0; i < out.size(); ++i) out[i] = float(as_double(a[i]) - as_double(b[i]));
  });
  return out;
}

}  // namespace

nlohmann::json tensor_entry(const std::string& name, const std::string& layer, const std::string& role, DType dtype,
                            const kernels::TensorStats& s, double magnitude_divisor) {
  nlohmann::json histogram{{"min_exponent", s.range.min_exponent},
                           {"counts", s.exponent_counts},
                           {"zero", s.zeros},
                           {"inf", s.infs},
                           {"nan", s.nans},
                           {"below", s.below_range},
                           {"above", s.above_range}};
  nlohmann::json entry{{"name", name},
                       {"layer", layer},
                       {"role", role},
                       {"count", s.count},
                       {"zeros", fraction(s.zeros, s.count)},
                       {"subnormals", fraction(s.subnormals, s.count)},
                       {"infs", fraction(s.infs, s.count)},
                       {"nans", fraction(s.nans, s.count)},
                       {"max_abs", s.max_abs / magnitude_divisor},
                       {"norm", std::sqrt(s.sum_squares) / magnitude_divisor},
                       {"exponent_histogram", std::move(histogram)}};
  if (dtype == DType::f32) {
    entry["fp16_underflow"] = fraction(s.fp16_underflow, s.count);
    entry["fp16_below_normal"] = fraction(s.fp16_below_normal, s.count);
    entry["fp16_overflow"] = fraction(s.fp16_overflow, s.count);
    entry["bf16_underflow"] = fraction(s.bf16_underflow, s.count);
    entry["bf16_below_normal"] = fraction(s.bf16_below_normal, s.count);
    entry["bf16_overflow"] = fraction(s.bf16_overflow, s.count);
  }
  return entry;
}

double lost_update_fraction(const Tensor& before, const Tensor& after, const float* intended) {
  if (before.dtype() != after.dtype() || before.numel() != after.numel())
    throw std::invalid_argument("lost_update_fraction: the tensors before and after differ in dtype or size");
  int64_t meant = 0, lost = 0;
  const Tensor before_data = before.contiguous(), after_data = after.contiguous();
  dispatch(before.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* b = static_cast<const T*>(before_data.raw());
    const T* a = static_cast<const T*>(after_data.raw());
    for (int64_t i = 0; i < before.numel(); ++i) {
      if (intended[i] == 0.0f) continue;
      ++meant;
      lost += as_double(a[i]) == as_double(b[i]);
    }
  });
  return fraction(lost, meant);
}

double decay_lost_fraction(const Tensor& weights, float lr, float weight_decay) {
  int64_t nonzero = 0, lost = 0;
  const double factor = double(lr) * double(weight_decay);
  const Tensor data = weights.contiguous();
  dispatch(weights.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* w = static_cast<const T*>(data.raw());
    for (int64_t i = 0; i < weights.numel(); ++i) {
      const double magnitude = std::fabs(as_double(w[i]));
      if (magnitude == 0 || !std::isfinite(magnitude)) continue;
      ++nonzero;
      lost += as_double(from_double<T>(magnitude - factor * magnitude)) == magnitude;
    }
  });
  return fraction(lost, nonzero);
}

Telemetry::Telemetry(const std::filesystem::path& file, int64_t every) : path_(file), every_(every) {
  if (every < 1) throw std::invalid_argument("telemetry: the interval must be at least 1 step, got " + std::to_string(every));
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("telemetry: cannot open " + file.string() + ": " + std::strerror(errno));
}

Telemetry::~Telemetry() { ::close(fd_); }

// One write() of the whole line to a file opened with O_APPEND: a reader never sees half a
// record next to a whole one, and two writers cannot interleave within a line.
void Telemetry::append(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("telemetry: cannot write " + path_.string() + ": " + std::strerror(errno));
    done += size_t(n);
  }
}

void Telemetry::before_step(Run& run) {
  sampled_ = run.steps() % every_ == 0;
  if (!sampled_) return;
  parameter_entries_.clear();
  layer_entries_.clear();
  scale_ = run.scaler().scale();
  intended_.assign(size_t(run.store().numel()), 0.0f);
  run.watch_step({this, intended_.data()});
}

void Telemetry::on_forward(const std::string& path, const Tensor& output) {
  layer_entries_.push_back(tensor_entry(path, path, "activation", output.dtype(), stats_of(output)));
}

void Telemetry::on_backward(const std::string& path, const Tensor& output_grad) {
  layer_entries_.push_back(
      tensor_entry(path, path, "activation_grad", output_grad.dtype(), stats_of(output_grad), scale_));
}

void Telemetry::after_backward(Run& run) {
  if (!sampled_) return;
  for (const nn::Parameter* p : run.store().parameters()) {
    const std::string layer = nn::layer_path(p->name);
    parameter_entries_.push_back(tensor_entry(p->name, layer, "weight", p->value.dtype(), stats_of(p->value)));
    parameter_entries_.push_back(
        tensor_entry(p->name, layer, "weight_grad", p->grad.dtype(), stats_of(p->grad), scale_));
  }
  master_before_ = run.store().master().clone();
}

void Telemetry::after_step(Run& run, const StepResult& step) {
  if (!sampled_) return;
  sampled_ = false;
  nlohmann::json tensors = nlohmann::json::array();
  nn::ParameterStore& store = run.store();
  const optim::OptimizerConfig& optimizer = run.optimizer().config();
  size_t next = 0;
  for (const nn::Parameter* p : store.parameters()) {
    tensors.push_back(std::move(parameter_entries_[next++]));
    tensors.push_back(std::move(parameter_entries_[next++]));
    if (!step.applied) continue;
    const int64_t n = p->value.numel();
    const Tensor before = master_before_.view(*p).reshape({n});
    const Tensor after = store.master().view(*p).reshape({n});
    const std::vector<float> change = changes(before, after);
    // The update's own dtype is the master weights': the fp16/bf16 fractions of an fp32 run's.
    nlohmann::json update = tensor_entry(p->name, nn::layer_path(p->name), "update", before.dtype(),
                                         kernels::tensor_stats(change.data(), DType::f32, n));
    update["lost_updates"] = lost_update_fraction(before, after, intended_.data() + p->offset);
    if (optimizer.weight_decay > 0)
      update["decay_lost"] = decay_lost_fraction(before, optimizer.lr, optimizer.weight_decay);
    tensors.push_back(std::move(update));
  }
  for (nlohmann::json& entry : layer_entries_) tensors.push_back(std::move(entry));
  const nlohmann::json record{{"step", run.steps() - 1},
                              {"epoch", run.position().epoch},
                              {"loss", std::isfinite(step.loss) ? nlohmann::json(step.loss) : nlohmann::json()},
                              {"loss_scale", scale_},
                              {"skipped_steps", run.scaler().skipped_steps()},
                              {"dtype", std::string(dtype_name(run.policy().compute))},
                              {"tensors", std::move(tensors)}};
  append(record.dump() + "\n");
  ++records_;
  parameter_entries_.clear();
  layer_entries_.clear();
  master_before_ = nn::Arena();
}

}  // namespace pure16::train
