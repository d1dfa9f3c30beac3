// The convolutional model zoo: exact torchvision parameter counts, output shapes, FLOPs, and
// a forward pass of the CIFAR ResNet in each training dtype.
#include <gtest/gtest.h>

#include <cmath>

#include "pure16/kernels/elementwise.h"
#include "pure16/nn/lenet.h"
#include "pure16/nn/models.h"
#include "pure16/nn/resnet.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

int64_t count(const std::vector<Parameter*>& params) {
  int64_t n = 0;
  for (const Parameter* p : params) n += shape_numel(p->shape);
  return n;
}

// Sequential does not count FLOPs itself; sum its layers along the shapes.
int64_t model_flops(const Sequential& model, Shape shape) {
  int64_t flops = 0;
  for (const auto& layer : model.layers()) {
    flops += layer->forward_flops(shape);
    shape = layer->output_shape(shape);
  }
  return flops;
}

TEST(ResNet, ParameterCountsMatchTorchvision) {
  // torchvision.models.resnet{18,34,50}(num_classes=1000): trainable parameters only.
  const Shape imagenet{224, 224, 3};
  auto r18 = build_model("resnet18", imagenet, 1000);
  auto r34 = build_model("resnet34", imagenet, 1000);
  auto r50 = build_model("resnet50", imagenet, 1000);
  EXPECT_EQ(count(r18->parameters()), 11689512);
  EXPECT_EQ(count(r34->parameters()), 21797672);
  EXPECT_EQ(count(r50->parameters()), 25557032);
  // Running mean and variance per BatchNorm channel: ResNet-50 has 26560 BN channels.
  EXPECT_EQ(count(r50->buffers()), 2 * 26560);
}

TEST(ResNet, ShapesAndFlops) {
  auto r50 = build_model("resnet50", {224, 224, 3}, 1000);
  EXPECT_EQ(r50->output_shape({2, 224, 224, 3}), (Shape{2, 1000}));
  // torchvision lists 4.09 G multiply-adds for ResNet-50 at 224x224 (and 1.81 G for ResNet-18).
  const double r50_gmacs = double(model_flops(*r50, {1, 224, 224, 3})) / 2e9;
  EXPECT_NEAR(r50_gmacs, 4.09, 0.01);
  auto r18 = build_model("resnet18", {224, 224, 3}, 1000);
  EXPECT_NEAR(double(model_flops(*r18, {1, 224, 224, 3})) / 2e9, 1.81, 0.01);

  auto cifar = build_model("resnet18-cifar", {32, 32, 3}, 10);
  EXPECT_EQ(cifar->output_shape({4, 32, 32, 3}), (Shape{4, 10}));
  EXPECT_EQ(count(cifar->parameters()), 11173962);  // torchvision's ResNet-18 with the 3x3 stem, 10 classes
  auto cifar50 = build_model("resnet50-cifar", {32, 32, 3}, 100);
  EXPECT_EQ(cifar50->output_shape({1, 32, 32, 3}), (Shape{1, 100}));

  auto lenet = build_model("lenet5", {28, 28, 1}, 10);
  EXPECT_EQ(lenet->output_shape({8, 28, 28, 1}), (Shape{8, 10}));
  EXPECT_EQ(count(lenet->parameters()), 61706);
}

TEST(ResNet, EveryRegisteredModelBuilds) {
  for (const ModelInfo& info : model_infos()) {
    const bool imagenet = info.name.rfind("resnet", 0) == 0 && info.name.find("cifar") == std::string::npos;
    const Shape sample = info.name == "mlp" ? Shape{1, 28, 28} : imagenet ? Shape{64, 64, 3} : Shape{28, 28, 1};
    EXPECT_NO_THROW(build_model(info.name, sample, 10)) << info.name;
  }
  EXPECT_THROW(build_model("resnet50", {224, 224}, 10), std::invalid_argument);
  EXPECT_THROW(build_model("lenet5", {784}, 10), std::invalid_argument);
  ModelOptions dropout;
  dropout.dropout = 0.5f;
  EXPECT_THROW(build_model("resnet18", {32, 32, 3}, 10, dropout), std::invalid_argument);
  EXPECT_NO_THROW(build_model("lenet5", {28, 28, 1}, 10, dropout));
}

// A narrow ResNet (tests, small data) has the same layers and names, with width / 64 of the
// channels at every stage.
TEST(ResNet, WidthScalesEveryStageAndKeepsTheNames) {
  const ResNetConfig full{ResNetConfig::Block::bottleneck, {1, 1, 1, 1}, true};
  ResNetConfig narrow = full;
  narrow.width = 8;
  const auto wide_model = resnet(full, {16, 16, 3}, 10), narrow_model = resnet(narrow, {16, 16, 3}, 10);
  const std::vector<Parameter*> wide_params = wide_model->parameters(), narrow_params = narrow_model->parameters();
  ASSERT_EQ(wide_params.size(), narrow_params.size());
  for (size_t i = 0; i < wide_params.size(); ++i) EXPECT_EQ(wide_params[i]->name, narrow_params[i]->name);
  const auto shape_of = [](const std::vector<Parameter*>& params, const std::string& name) {
    for (const Parameter* p : params)
      if (p->name == name) return p->shape;
    return Shape{};
  };
  // Bottleneck stage 4: planes 8 * width, output 4 * 8 * width; the head reads that.
  EXPECT_EQ(shape_of(narrow_params, "layer4.0.conv3.weight")[0], 4 * 8 * 8);
  EXPECT_EQ(shape_of(wide_params, "layer4.0.conv3.weight")[0], 4 * 8 * 64);
  EXPECT_EQ(shape_of(narrow_params, "fc.weight"), (Shape{10, 4 * 8 * 8}));
  EXPECT_EQ(shape_of(narrow_params, "conv1.weight")[0], 8);
  narrow.width = 0;
  EXPECT_THROW(resnet(narrow, {16, 16, 3}, 10), std::invalid_argument);
}

class CifarForward : public ::testing::TestWithParam<DType> {};

TEST_P(CifarForward, TrainingAndEvaluationOutputsAreFinite) {
  const DType dtype = GetParam();
  auto model = build_model("resnet18-cifar", {32, 32, 3}, 10);
  PrecisionPolicy policy;
  policy.name = "test";
  policy.compute = policy.master = policy.optimizer_state = dtype;
  ParameterStore store;
  store.build(model->parameters(), policy, 7, model->buffers());
  const Tensor x = Tensor::from_doubles(testing::random_values(2 * 32 * 32 * 3, 8), {2, 32, 32, 3}, dtype);
  for (bool training : {true, false}) {
    Context ctx;
    RunOptions options;
    options.training = training;
    const Tensor y = model->forward(x, ctx, options);
    EXPECT_EQ(y.shape(), (Shape{2, 10}));
    EXPECT_EQ(y.dtype(), dtype);
    EXPECT_EQ(kernels::count_nonfinite(y.raw(), dtype, y.numel()), 0) << training;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CifarForward, ::testing::Values(DType::f32, DType::f16, DType::bf16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace pure16::nn
