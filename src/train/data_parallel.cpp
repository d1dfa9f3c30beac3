#include "pure16/train/data_parallel.h"

#include <vector>

#include "pure16/kernels/elementwise.h"

namespace pure16::train {
namespace {

std::vector<Tensor> grads_in_backward_order(nn::ParameterStore& store) {
  std::vector<Tensor> grads;
  for (auto p = store.parameters().rbegin(); p != store.parameters().rend(); ++p) grads.push_back((*p)->grad);
  return grads;
}

int64_t bytes_of(const Tensor& t) { return t.numel() * int64_t(traits(t.dtype()).size); }

uint64_t fnv1a(const Tensor& t, uint64_t hash) {
  const auto* bytes = static_cast<const unsigned char*>(t.raw());
  for (int64_t i = 0; i < bytes_of(t); ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}

}  // namespace

dist::ReducerOptions reducer_options(const Run& run, const DataParallelOptions& options) {
  dist::ReducerOptions r;
  r.comm_dtype = options.comm_dtype.value_or(run.policy().compute);
  r.bucket_bytes = options.bucket_bytes;
  r.first_bucket_bytes = options.first_bucket_bytes;
  r.division = options.division;
  return r;
}

DataParallel::DataParallel(Run& run, dist::Communicator& comm, const DataParallelOptions& options)
    : run_(run),
      comm_(comm),
      options_(options),
      reducer_(comm, grads_in_backward_order(run.store()), reducer_options(run, options)) {
  run.set_communicator(comm);
  nn::ParameterStore& store = run.store();
  for (nn::Parameter* p : store.parameters()) {
    comm.broadcast(p->value.raw(), bytes_of(p->value), 0);
    if (store.has_master_copy(*p)) {
      Tensor master = store.master().view(*p);
      comm.broadcast(master.raw(), bytes_of(master), 0);
    }
  }
  for (nn::Parameter* b : run.model().buffers()) comm.broadcast(b->value.raw(), bytes_of(b->value), 0);
  for (const optim::StateArena& arena : run.optimizer().state_arenas())
    for (size_t g = 0; g < arena.arena->groups(); ++g)
      comm.broadcast(arena.arena->segment(g).raw(), bytes_of(arena.arena->segment(g)), 0);

  if (options.overlap) {
    // The model's top-level layers run their backward in reverse; a layer's parameters carry its
    // name as prefix (Sequential::add) and are consecutive in the store's order, so when a layer
    // starts its backward, the gradients after its last parameter are final.
    const std::vector<nn::Parameter*>& params = store.parameters();
    const int64_t total = int64_t(params.size());
    for (int64_t i = 0; i < total; ++i) {
      const std::string& name = params[size_t(i)]->name;
      const size_t dot = name.find('.');
      if (dot != std::string::npos) complete_at_[name.substr(0, dot)] = total - i - 1;
    }
    run.observe_layers(this);
  }
  if (options.sync_batchnorm) run.synchronize_batch_statistics(this);
  run.add_callback(*this);
}

DataParallel::~DataParallel() {
  run_.observe_layers(nullptr);
  run_.synchronize_batch_statistics(nullptr);
}

void DataParallel::on_backward(const std::string& path, const Tensor&) {
  const auto found = complete_at_.find(path);
  if (found == complete_at_.end()) return;
  // The top-level layer named `path` is about to run its backward.
  complete_ = std::max(complete_, found->second);
  reducer_.ready(complete_);
}

void DataParallel::after_batch(Run& run, const BatchProgress& progress) {
  const int64_t step = run.steps();
  const bool epoch_end = progress.batch == progress.batches;
  const bool last_step = run.config().max_steps > 0 && step >= run.config().max_steps;
  const bool periodic = options_.buffer_sync_every > 0 && step % options_.buffer_sync_every == 0;
  if (epoch_end || last_step || periodic) average_buffers();
}

void DataParallel::average_buffers() {
  const std::vector<nn::Parameter*> buffers = run_.model().buffers();
  int64_t total = 0;
  for (const nn::Parameter* b : buffers) total += b->value.numel();
  if (total == 0 || comm_.size() == 1) return;
  std::vector<float> sums(static_cast<size_t>(total));
  int64_t at = 0;
  for (const nn::Parameter* b : buffers) {
    kernels::convert(sums.data() + at, DType::f32, b->value.raw(), b->value.dtype(), b->value.numel());
    at += b->value.numel();
  }
  comm_.sum(sums.data(), total, DType::f32);
  at = 0;
  for (nn::Parameter* b : buffers) {
    dist::convert_scaled(b->value.raw(), b->value.dtype(), sums.data() + at, DType::f32, b->value.numel(),
                         1.0f / float(comm_.size()));
    at += b->value.numel();
  }
}

uint64_t DataParallel::state_hash() const {
  uint64_t hash = 0xcbf29ce484222325ull;
  nn::ParameterStore& store = run_.store();
  const auto hash_arena = [&hash](const nn::Arena& arena) {
    for (size_t g = 0; g < arena.groups(); ++g) hash = fnv1a(arena.segment(g), hash);
  };
  hash_arena(store.values());
  // A group without a master copy has its values as master segment, hashed already.
  for (nn::Parameter* p : store.parameters())
    if (store.has_master_copy(*p)) hash = fnv1a(store.master().view(*p), hash);
  hash = fnv1a(store.buffer_values(), hash);
  for (const optim::StateArena& arena : run_.optimizer().state_arenas()) hash_arena(*arena.arena);
  return hash;
}

bool DataParallel::replicas_identical() {
  const uint64_t mine = state_hash();
  uint64_t root = mine;
  comm_.broadcast(&root, sizeof root, 0);
  double differing = root == mine ? 0.0 : 1.0;
  comm_.sum(&differing, 1, DType::f64);
  return differing == 0.0;
}

}  // namespace pure16::train
