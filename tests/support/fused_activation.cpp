#include "support/fused_activation.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "pure16/nn/activation.h"
#include "pure16/nn/parameters.h"
#include "support/reference.h"

namespace pure16::testing {

void expect_fused_relu_gives_layer_then_relu(nn::Layer& fused, nn::Layer& plain, const Shape& input, DType dtype) {
  PrecisionPolicy policy;
  policy.name = "test";
  policy.compute = policy.master = policy.optimizer_state = dtype;
  nn::ParameterStore fused_store, plain_store;
  fused_store.build(fused.parameters(), policy, 3);
  plain_store.build(plain.parameters(), policy, 3);
  fused_store.zero_grads();
  plain_store.zero_grads();
  nn::ReLU relu;
  const Shape output = plain.output_shape(input);
  const Tensor x = Tensor::from_doubles(random_values(shape_numel(input), 4), input, dtype);
  const Tensor dy = Tensor::from_doubles(random_values(shape_numel(output), 5), output, dtype);
  nn::Context fused_ctx, plain_ctx, relu_ctx;
  const std::vector<double> y = fused.forward(x, fused_ctx, nn::RunOptions{}).to_doubles();
  EXPECT_EQ(y, relu.forward(plain.forward(x, plain_ctx, nn::RunOptions{}), relu_ctx, nn::RunOptions{}).to_doubles());
  EXPECT_GT(std::count(y.begin(), y.end(), 0.0), 0);  // the ReLU did cut
  EXPECT_EQ(fused.backward(dy, fused_ctx, nn::RunOptions{}).to_doubles(),
            plain.backward(relu.backward(dy, relu_ctx, nn::RunOptions{}), plain_ctx, nn::RunOptions{}).to_doubles());
  EXPECT_EQ(fused_store.grads().segment(0).to_doubles(), plain_store.grads().segment(0).to_doubles());
}

}  // namespace pure16::testing
