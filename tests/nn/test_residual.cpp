// Residual blocks: float64 gradient checks with the identity and with a projection shortcut,
// a small convolutional network end to end, and the block's bookkeeping.
#include <gtest/gtest.h>

#include "pure16/nn/activation.h"
#include "pure16/nn/batchnorm.h"
#include "pure16/nn/conv2d.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/pooling.h"
#include "pure16/nn/residual.h"
#include "support/gradcheck.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

using testing::gradcheck;
using testing::GradcheckOptions;

// conv3x3 (stride) + BN + ReLU + conv3x3 + BN, as a BasicBlock's main branch.
std::unique_ptr<Sequential> basic_main(int64_t in, int64_t out, int64_t stride) {
  auto main = std::make_unique<Sequential>();
  main->emplace<Conv2d>(in, out, 3, stride, 1);
  main->emplace<BatchNorm2d>(out);
  main->emplace<ReLU>();
  main->emplace<Conv2d>(out, out, 3, 1, 1);
  main->emplace<BatchNorm2d>(out);
  return main;
}

std::unique_ptr<Sequential> projection(int64_t in, int64_t out, int64_t stride) {
  auto shortcut = std::make_unique<Sequential>();
  shortcut->emplace<Conv2d>(in, out, 1, stride, 0);
  shortcut->emplace<BatchNorm2d>(out);
  return shortcut;
}

GradcheckOptions quick() {
  GradcheckOptions options;
  options.max_checks_per_tensor = 24;
  return options;
}

TEST(ResidualGradients, IdentityShortcut) {
  Residual block(basic_main(3, 3, 1));
  EXPECT_EQ(gradcheck(block, {2, 4, 5, 3}, quick()), "");
}

TEST(ResidualGradients, ProjectionShortcut) {
  Residual block(basic_main(3, 5, 2), projection(3, 5, 2));
  EXPECT_EQ(gradcheck(block, {2, 5, 6, 3}, quick()), "");
}

TEST(ResidualGradients, ProjectionShortcutInEvaluation) {
  Residual block(basic_main(2, 4, 1), projection(2, 4, 1));
  GradcheckOptions options = quick();
  options.training = false;
  EXPECT_EQ(gradcheck(block, {2, 4, 4, 2}, options), "");
}

TEST(ResidualGradients, SmallResNetEndToEnd) {
  // stem conv + BN + ReLU + max-pool, a projection block, a residual ReLU, global pool, head.
  Sequential net;
  net.emplace<Conv2d>(2, 4, 3, 1, 1);
  net.emplace<BatchNorm2d>(4);
  net.emplace<ReLU>();
  net.emplace<MaxPool2d>(3, 2, 1);
  net.add(std::make_unique<Residual>(basic_main(4, 6, 2), projection(4, 6, 2)));
  net.emplace<ReLU>();
  net.emplace<GlobalAvgPool2d>();
  net.emplace<Linear>(6, 3);
  EXPECT_EQ(gradcheck(net, {3, 8, 8, 2}, quick()), "");
}

TEST(Residual, ParametersBuffersAndContexts) {
  Residual with(basic_main(3, 5, 2), projection(3, 5, 2));
  // main: conv (5*3*3*3), BN (5+5), conv (5*3*3*5), BN (5+5); shortcut: conv (5*3), BN (5+5).
  EXPECT_EQ(with.parameters().size(), 9u);
  EXPECT_EQ(with.buffers().size(), 6u);
  Residual without(basic_main(3, 3, 1));
  EXPECT_EQ(without.parameters().size(), 6u);
  EXPECT_EQ(without.shortcut(), nullptr);

  PrecisionPolicy policy;
  policy.name = "test";
  ParameterStore store;
  store.build(with.parameters(), policy, 1, with.buffers());
  EXPECT_EQ(store.parameter_count(), 5 * 27 + 10 + 5 * 45 + 10 + 15 + 10);
  Context ctx;
  const Tensor y = with.forward(Tensor::zeros({2, 6, 6, 3}, DType::f32), ctx, RunOptions{});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
  EXPECT_EQ(ctx.children.size(), 2u);  // main, shortcut
  EXPECT_EQ(ctx.children[0].children.size(), 5u);
  EXPECT_EQ(with.forward_flops({2, 6, 6, 3}), 2 * 2 * 9 * (5 * 27 + 5 * 45 + 5 * 3));
}

TEST(Residual, SumIsRoundedOncePerElementInEveryDtype) {
  // An empty main branch is the identity, so y = x + x = 2x and dx = 2 dy exactly (no overflow
  // for |x| <= 1). 3 * 4099 elements cover several conversion chunks and a ragged tail.
  for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
    Residual block(std::make_unique<Sequential>());
    const Shape shape{3, 1, 1, 4099};
    const Tensor x = Tensor::from_doubles(testing::random_values(shape_numel(shape), 4), shape, dtype);
    Context ctx;
    const std::vector<double> y = block.forward(x, ctx, RunOptions{}).to_doubles(), xs = x.to_doubles();
    const std::vector<double> dx = block.backward(x, ctx, RunOptions{}).to_doubles();
    for (size_t i = 0; i < xs.size(); ++i) {
      ASSERT_EQ(y[i], 2 * xs[i]) << dtype_name(dtype) << " " << i;
      ASSERT_EQ(dx[i], 2 * xs[i]) << dtype_name(dtype) << " " << i;
    }
  }
}

TEST(Residual, RejectsBranchesOfDifferentShapes) {
  Residual bad(basic_main(3, 5, 2));  // identity shortcut cannot match 5 channels at stride 2
  EXPECT_THROW(bad.output_shape({1, 6, 6, 3}), std::invalid_argument);
  EXPECT_THROW(Residual(nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::nn
