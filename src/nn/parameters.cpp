#include "pure16/nn/parameters.h"

#include <cstring>
#include <stdexcept>

#include "pure16/kernels/elementwise.h"
#include "pure16/numerics/philox.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::nn {
namespace {

// Each parameter starts on a 64-byte boundary in every arena: 32 elements covers the
// narrowest dtype (2 bytes) and is a multiple for the wider ones.
constexpr int64_t kAlignElements = 32;

// Assigns each parameter its aligned offset; returns the arena length.
int64_t lay_out(const std::vector<Parameter*>& params) {
  int64_t numel = 0;
  for (Parameter* p : params) {
    p->offset = numel;
    numel += (shape_numel(p->shape) + kAlignElements - 1) / kAlignElements * kAlignElements;
  }
  return numel;
}

// Every parameter's initial values in float64, in one arena-shaped array. Element i of the
// arena is uniform from the two Philox words of its own (so it depends on nothing but the seed,
// the purpose and i, and no standard-library distribution is involved).
std::vector<double> initial_values(const std::vector<Parameter*>& params, int64_t numel, uint64_t seed,
                                   RandomPurpose purpose) {
  std::vector<double> init(size_t(numel), 0.0);
  const uint64_t stream = random_stream(purpose, 0);
  for (Parameter* p : params) {
    const int64_t n = shape_numel(p->shape);
    double* out = init.data() + p->offset;
    switch (p->init.kind) {
      case Init::Kind::zeros: break;
      case Init::Kind::ones: std::fill(out, out + n, 1.0); break;
      case Init::Kind::uniform:
        for (int64_t i = 0; i < n; ++i) {
          const uint64_t element = uint64_t(p->offset + i);
          const Philox4x32::Block words = Philox4x32::generate(seed, element >> 1, stream);
          const uint64_t bits = uint64_t(words[2 * (element & 1)]) << 32 | words[2 * (element & 1) + 1];
          const double unit = double(bits >> 11) * 0x1.0p-53;  // [0, 1), every value a multiple of 2^-53
          out[i] = p->init.bound * (2.0 * unit - 1.0);
        }
        break;
    }
  }
  return init;
}

Tensor view_at(const Tensor& arena, const Parameter& p) {
  return Tensor::view(arena.storage(), size_t(p.offset) * dtype_size(arena.dtype()), p.shape, arena.dtype());
}

}  // namespace

void ParameterStore::build(const std::vector<Parameter*>& params, const PrecisionPolicy& policy, uint64_t seed,
                           const std::vector<Parameter*>& buffers) {
  params_ = params;
  numel_ = lay_out(params_);
  values_ = Tensor::zeros({numel_}, policy.compute);
  grads_ = Tensor::zeros({numel_}, policy.compute);
  master_ = policy.has_master_copy() ? Tensor::zeros({numel_}, policy.master) : Tensor();

  const std::vector<double> init = initial_values(params_, numel_, seed, RandomPurpose::weight_init);
  kernels::convert(master().raw(), master().dtype(), init.data(), DType::f64, numel_);
  if (has_master_copy()) refresh_values_from_master();
  for (Parameter* p : params_) {
    p->value = view_at(values_, *p);
    p->grad = view_at(grads_, *p);
  }

  const int64_t buffer_numel = lay_out(buffers);
  buffers_ = Tensor::zeros({buffer_numel}, policy.statistics);
  const std::vector<double> buffer_init = initial_values(buffers, buffer_numel, seed, RandomPurpose::buffer_init);
  kernels::convert(buffers_.raw(), buffers_.dtype(), buffer_init.data(), DType::f64, buffer_numel);
  for (Parameter* b : buffers) {
    b->value = view_at(buffers_, *b);
    b->grad = Tensor();
  }
}

int64_t ParameterStore::parameter_count() const {
  int64_t n = 0;
  for (const Parameter* p : params_) n += shape_numel(p->shape);
  return n;
}

Tensor ParameterStore::master_of(const Parameter& p) const {
  return view_at(master_.defined() ? master_ : values_, p);
}

void ParameterStore::zero_grads() { std::memset(grads_.raw(), 0, grads_.nbytes()); }

void ParameterStore::refresh_values_from_master() {
  kernels::convert(values_.raw(), values_.dtype(), master_.raw(), master_.dtype(), numel_);
}

MemoryReport ParameterStore::memory() const {
  MemoryReport r;
  r.weights_bytes = int64_t(values_.nbytes());
  r.buffers_bytes = int64_t(buffers_.nbytes());
  r.gradients_bytes = int64_t(grads_.nbytes());
  r.master_weights_bytes = master_.defined() ? int64_t(master_.nbytes()) : 0;
  return r;
}

}  // namespace pure16::nn
