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

int64_t padded(int64_t numel) { return (numel + kAlignElements - 1) / kAlignElements * kAlignElements; }

// Assigns each parameter its aligned offset; returns the arena length.
int64_t lay_out(const std::vector<Parameter*>& params) {
  int64_t numel = 0;
  for (Parameter* p : params) {
    p->offset = numel;
    numel += padded(shape_numel(p->shape));
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

Tensor view_at(const Tensor& arena, int64_t element, const Shape& shape) {
  return Tensor::view(arena.storage(), size_t(element) * dtype_size(arena.dtype()), shape, arena.dtype());
}

// Groups of consecutive parameters whose layers are kept alike.
std::vector<ParameterGroup> group(const std::vector<Parameter*>& params, const PrecisionPolicy& policy) {
  const std::vector<std::string> layers = layer_paths(params);
  std::vector<bool> kept;
  try {
    kept = policy.kept_layers(layers);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("precision " + policy.name + ": keep fp32: " + e.what());
  }
  std::vector<ParameterGroup> groups;
  size_t layer = 0;
  for (Parameter* p : params) {
    while (layers[layer] != layer_path(p->name)) ++layer;  // a layer's parameters are consecutive
    if (groups.empty() || groups.back().kept_fp32 != kept[layer]) {
      ParameterGroup g;
      g.kept_fp32 = kept[layer];
      g.dtypes = policy.state_dtypes(g.kept_fp32);
      g.begin = p->offset;
      groups.push_back(g);
    }
    ParameterGroup& g = groups.back();
    p->group = groups.size() - 1;
    g.parameters.push_back(p);
    g.numel = p->offset + padded(shape_numel(p->shape)) - g.begin;
  }
  return groups;
}

}  // namespace

std::string layer_path(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::vector<std::string> layer_paths(const std::vector<Parameter*>& params) {
  std::vector<std::string> paths;
  for (const Parameter* p : params) {
    std::string path = layer_path(p->name);
    if (paths.empty() || paths.back() != path) paths.push_back(std::move(path));
  }
  return paths;
}

Tensor Arena::view(const Parameter& p) const {
  return view_at(segments_.at(p.group), p.offset - begins_.at(p.group), p.shape);
}

int64_t Arena::nbytes() const {
  int64_t bytes = 0;
  for (const Tensor& t : segments_) bytes += int64_t(t.nbytes());
  return bytes;
}

Arena Arena::clone() const {
  Arena copy = *this;
  for (Tensor& t : copy.segments_) t = t.clone();
  return copy;
}

void ParameterStore::build(const std::vector<Parameter*>& params, const PrecisionPolicy& policy, uint64_t seed,
                           const std::vector<Parameter*>& buffers) {
  params_ = params;
  numel_ = lay_out(params_);
  groups_ = group(params_, policy);
  values_ = make_arena(&StateDTypes::compute);
  grads_ = make_arena(&StateDTypes::compute);
  // A group without a copy updates its values in place: its master segment is the same tensor.
  master_ = values_;
  for (size_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].dtypes.has_master_copy())
      master_.segments_[g] = Tensor::zeros({groups_[g].numel}, groups_[g].dtypes.master);

  const std::vector<double> init = initial_values(params_, numel_, seed, RandomPurpose::weight_init);
  for (size_t g = 0; g < groups_.size(); ++g) {
    Tensor& master = master_.segments_[g];
    kernels::convert(master.raw(), master.dtype(), init.data() + groups_[g].begin, DType::f64, groups_[g].numel);
  }
  refresh_values_from_master();
  for (Parameter* p : params_) {
    p->value = values_.view(*p);
    p->grad = grads_.view(*p);
  }

  const int64_t buffer_numel = lay_out(buffers);
  buffers_ = Tensor::zeros({buffer_numel}, policy.statistics);
  const std::vector<double> buffer_init = initial_values(buffers, buffer_numel, seed, RandomPurpose::buffer_init);
  kernels::convert(buffers_.raw(), buffers_.dtype(), buffer_init.data(), DType::f64, buffer_numel);
  for (Parameter* b : buffers) {
    b->value = view_at(buffers_, b->offset, b->shape);
    b->grad = Tensor();
  }
}

Arena ParameterStore::make_arena(DType StateDTypes::*role) const {
  Arena arena;
  for (const ParameterGroup& g : groups_) {
    arena.segments_.push_back(Tensor::zeros({g.numel}, g.dtypes.*role));
    arena.begins_.push_back(g.begin);
  }
  return arena;
}

int64_t ParameterStore::parameter_count() const {
  int64_t n = 0;
  for (const Parameter* p : params_) n += shape_numel(p->shape);
  return n;
}

void ParameterStore::zero_grads() {
  for (size_t g = 0; g < grads_.groups(); ++g) std::memset(grads_.segment(g).raw(), 0, grads_.segment(g).nbytes());
}

int64_t ParameterStore::nonfinite_gradients() const {
  int64_t count = 0;
  for (size_t g = 0; g < grads_.groups(); ++g) {
    const Tensor& grads = grads_.segment(g);
    count += kernels::count_nonfinite(grads.raw(), grads.dtype(), grads.numel());
  }
  return count;
}

void ParameterStore::refresh_values_from_master() {
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!groups_[g].dtypes.has_master_copy()) continue;
    Tensor& values = values_.segment(g);
    const Tensor& master = master_.segment(g);
    kernels::convert(values.raw(), values.dtype(), master.raw(), master.dtype(), groups_[g].numel);
  }
}

MemoryReport ParameterStore::memory() const {
  MemoryReport r;
  r.weights_bytes = values_.nbytes();
  r.buffers_bytes = int64_t(buffers_.nbytes());
  r.gradients_bytes = grads_.nbytes();
  for (size_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].dtypes.has_master_copy()) r.master_weights_bytes += int64_t(master_.segment(g).nbytes());
  return r;
}

std::string ParameterStore::describe_groups() const {
  std::string s;
  for (const ParameterGroup& g : groups_) {
    const std::vector<std::string> layers = layer_paths(g.parameters);
    int64_t count = 0;
    for (const Parameter* p : g.parameters) count += shape_numel(p->shape);
    s += (s.empty() ? "" : "; ") + layers.front() + (layers.size() > 1 ? " .. " + layers.back() : "") + " " +
         std::string(dtype_name(g.dtypes.compute)) + (g.kept_fp32 ? " (kept)" : "") + ", " + std::to_string(count) +
         " parameters";
  }
  return s;
}

}  // namespace pure16::nn
