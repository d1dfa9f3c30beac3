#include "support/model_state.h"

#include "support/reference.h"

namespace pure16::testing {

void randomize_buffers(nn::Layer& model, uint64_t seed) {
  for (nn::Parameter* b : model.buffers()) {
    const bool variance = b->name.ends_with("running_var");
    const std::vector<double> values = random_values(shape_numel(b->shape), seed++, variance ? 0.5 : -0.5,
                                                     variance ? 2.0 : 0.5);
    b->value.copy_from(Tensor::from_doubles(values, b->shape, DType::f64));
  }
}

void calibrate_batchnorm(nn::Layer& model, const Tensor& x) {
  constexpr double kMomentum = 0.1;
  for (nn::Parameter* b : model.buffers()) b->value.fill(0.0);
  nn::Context ctx;
  nn::RunOptions training;
  training.training = true;
  model.forward(x, ctx, training);
  for (nn::Parameter* b : model.buffers()) {
    std::vector<double> statistics = b->value.to_doubles();
    for (double& s : statistics) s /= kMomentum;
    b->value.copy_from(Tensor::from_doubles(statistics, b->shape, DType::f64));
  }
}

std::string arena_bytes(const nn::Arena& arena) {
  std::string bytes;
  for (size_t g = 0; g < arena.groups(); ++g)
    bytes += std::string(static_cast<const char*>(arena.segment(g).raw()), arena.segment(g).nbytes());
  return bytes;
}

std::string optimizer_state_bytes(optim::Optimizer& optimizer) {
  std::string bytes;
  for (const optim::StateArena& arena : optimizer.state_arenas()) bytes += arena.name + arena_bytes(*arena.arena);
  for (const auto& [name, value] : optimizer.state_scalars()) bytes += name + std::to_string(value);
  return bytes;
}

}  // namespace pure16::testing
