#include "pure16/optim/sgd.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "pure16/kernels/elementwise.h"

namespace pure16::optim {
namespace {

constexpr int64_t kChunk = 4096;  // elements per block: three float buffers stay in L1/L2

// Rounds `n` binary32 values into `dst` of `dtype` with the policy's rounding; stream keys the
// random words of stochastic rounding (distinct per tensor and step).
void store_rounded(void* dst, DType dtype, const float* src, int64_t n, Rounding rounding, uint64_t seed,
                   uint64_t stream, int64_t first_index) {
  if (rounding == Rounding::stochastic && dtype != DType::f32)
    kernels::convert_stochastic(dst, dtype, src, n, seed, stream, uint64_t(first_index));
  else
    kernels::convert(dst, dtype, src, DType::f32, n);
}

std::byte* at(Tensor& t, int64_t index) { return static_cast<std::byte*>(t.raw()) + index * int64_t(dtype_size(t.dtype())); }

}  // namespace

void SgdConfig::validate() const {
  auto check = [](float v, const char* what) {
    if (!(v >= 0.0f) || !std::isfinite(v))
      throw std::invalid_argument(std::string("SGD: ") + what + " must be a finite non-negative number, got " + std::to_string(v));
  };
  check(lr, "learning rate");
  check(momentum, "momentum");
  check(weight_decay, "weight decay");
  if (nesterov && momentum == 0.0f) throw std::invalid_argument("SGD: Nesterov momentum needs momentum > 0");
}

Sgd::Sgd(nn::ParameterStore& store, const SgdConfig& config, const PrecisionPolicy& policy, uint64_t seed)
    : store_(store), config_(config), rounding_(policy.update_rounding), seed_(seed) {
  config_.validate();
  if (config_.momentum > 0.0f) momentum_ = Tensor::zeros({store_.numel()}, policy.optimizer_state);
}

void Sgd::step(float grad_scale, uint64_t step) {
  Tensor& weights = store_.master();
  Tensor& grads = store_.grads();
  const int64_t n = store_.numel();
  const float inv_scale = 1.0f / grad_scale;
  const float lr = config_.lr, mu = config_.momentum, wd = config_.weight_decay;
  const bool use_momentum = momentum_.defined();
  const bool first = !momentum_started_;
  const uint64_t weight_stream = 2 * step, momentum_stream = 2 * step + 1;

#pragma omp parallel for schedule(static)
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - begin);
    float w[kChunk], g[kChunk], m[kChunk];
    kernels::convert(w, DType::f32, at(weights, begin), weights.dtype(), len);
    kernels::convert(g, DType::f32, at(grads, begin), grads.dtype(), len);
    if (use_momentum && !first) kernels::convert(m, DType::f32, at(momentum_, begin), momentum_.dtype(), len);
    for (int64_t i = 0; i < len; ++i) {
      const float grad = g[i] * inv_scale + wd * w[i];
      float direction = grad;
      if (use_momentum) {
        m[i] = first ? grad : mu * m[i] + grad;
        direction = config_.nesterov ? grad + mu * m[i] : m[i];
      }
      w[i] -= lr * direction;
    }
    if (use_momentum) store_rounded(at(momentum_, begin), momentum_.dtype(), m, len, rounding_, seed_, momentum_stream, begin);
    store_rounded(at(weights, begin), weights.dtype(), w, len, rounding_, seed_, weight_stream, begin);
  }
  momentum_started_ = true;
  if (store_.has_master_copy()) store_.refresh_values_from_master();
}

}  // namespace pure16::optim
