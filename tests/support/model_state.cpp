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

}  // namespace pure16::testing
