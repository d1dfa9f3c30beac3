// Parameter groups: the layers a precision policy keeps in fp32 get arena segments of their own,
// in fp32, while the others keep the policy's dtypes, bit for bit what they would be without it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pure16/nn/linear.h"
#include "pure16/nn/models.h"
#include "pure16/nn/parameters.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

struct Built {
  std::unique_ptr<Sequential> model;
  ParameterStore store;
};

std::unique_ptr<Built> build(const std::string& model, const Shape& sample, const PrecisionPolicy& policy) {
  auto b = std::make_unique<Built>();
  b->model = build_model(model, sample, 10);
  b->store.build(b->model->parameters(), policy, 5, b->model->buffers());
  return b;
}

PrecisionPolicy keeping(const std::string& preset, std::vector<std::string> selectors) {
  PrecisionPolicy p = PrecisionPolicy::preset(preset);
  p.keep_fp32 = std::move(selectors);
  return p;
}

std::string bytes_of(const Tensor& t) { return {static_cast<const char*>(t.raw()), t.nbytes()}; }

// Elements each parameter takes in an arena: its size rounded up to 32 (64-byte alignment).
int64_t padded(const Parameter& p) { return (shape_numel(p.shape) + 31) / 32 * 32; }

TEST(ParameterGroups, FirstAndLastLayerOfTheMlpInFp32) {
  const auto kept = build("mlp", {8, 8, 1}, keeping("pure-fp16-naive", {"first", "last"}));
  const ParameterStore& store = kept->store;
  ASSERT_EQ(store.groups().size(), 3u);
  const std::vector<std::string> layers{"fc1", "fc2", "fc3"};
  const std::vector<DType> dtypes{DType::f32, DType::f16, DType::f32};
  int64_t weights = 0, fp32_elements = 0, fp16_elements = 0;
  for (size_t g = 0; g < 3; ++g) {
    const ParameterGroup& group = store.groups()[g];
    EXPECT_EQ(layer_paths(group.parameters), std::vector<std::string>{layers[g]});
    EXPECT_EQ(group.kept_fp32, dtypes[g] == DType::f32);
    EXPECT_EQ(group.dtypes, (StateDTypes{dtypes[g], dtypes[g], dtypes[g]}));
    int64_t elements = 0;
    for (const Parameter* p : group.parameters) {
      EXPECT_EQ(p->value.dtype(), dtypes[g]) << p->name;
      EXPECT_EQ(p->grad.dtype(), dtypes[g]) << p->name;
      EXPECT_EQ(p->group, g);
      elements += padded(*p);
    }
    EXPECT_EQ(group.numel, elements);
    (dtypes[g] == DType::f32 ? fp32_elements : fp16_elements) += elements;
    weights += elements * int64_t(dtype_size(dtypes[g]));
  }
  // fc1 64x512 + 512, fc3 512x10 + 10 (padded to 32) in fp32; fc2 512x512 + 512 in fp16.
  EXPECT_EQ(fp32_elements, 64 * 512 + 512 + 512 * 10 + 32);
  EXPECT_EQ(fp16_elements, 512 * 512 + 512);
  const MemoryReport memory = store.memory();
  EXPECT_EQ(memory.weights_bytes, weights);
  EXPECT_EQ(memory.weights_bytes, 4 * fp32_elements + 2 * fp16_elements);
  EXPECT_EQ(memory.gradients_bytes, memory.weights_bytes);
  EXPECT_EQ(memory.master_weights_bytes, 0);
  EXPECT_EQ(store.make_arena(&StateDTypes::optimizer_state).nbytes(), memory.weights_bytes);
  EXPECT_EQ(store.numel(), fp32_elements + fp16_elements);
}

TEST(ParameterGroups, InitialValuesAreThoseOfTheRunTheLayerBelongsTo) {
  // Each element's draw depends on its offset alone: a kept layer starts where an fp32 run's
  // does, the others where the same preset without the override starts, to the bit.
  const auto kept = build("mlp", {8, 8, 1}, keeping("pure-fp16", {"first", "last"}));
  const auto fp32 = build("mlp", {8, 8, 1}, PrecisionPolicy::preset("fp32"));
  const auto fp16 = build("mlp", {8, 8, 1}, PrecisionPolicy::preset("pure-fp16"));
  const std::vector<Parameter*> ps = kept->model->parameters();
  for (size_t i = 0; i < ps.size(); ++i) {
    const bool in_fp32 = ps[i]->value.dtype() == DType::f32;
    const Parameter& same = *(in_fp32 ? fp32 : fp16)->model->parameters()[i];
    EXPECT_EQ(bytes_of(ps[i]->value), bytes_of(same.value)) << ps[i]->name;
  }
}

TEST(ParameterGroups, MixedPrecisionKeepsAMasterCopyOnlyWhereTheDtypesDiffer) {
  const auto kept = build("mlp", {8, 8, 1}, keeping("mixed-fp16", {"fc1"}));
  const ParameterStore& store = kept->store;
  ASSERT_EQ(store.groups().size(), 2u);
  const Parameter& fc1 = *store.groups()[0].parameters.front();
  const Parameter& fc2 = *store.groups()[1].parameters.front();
  EXPECT_FALSE(store.has_master_copy(fc1));
  EXPECT_TRUE(store.has_master_copy(fc2));
  EXPECT_EQ(store.master().view(fc1).dtype(), DType::f32);
  EXPECT_EQ(store.master().view(fc2).dtype(), DType::f32);
  EXPECT_EQ(fc2.value.dtype(), DType::f16);
  // The master copy of the fp16 group alone: 4 bytes an element of fc2 and fc3.
  EXPECT_EQ(store.memory().master_weights_bytes, 4 * store.groups()[1].numel);
}

TEST(ParameterGroups, SelectorsArePathsOrPrefixesOfWholeComponents) {
  // A ResNet's naming in miniature: conv1, layer1.0, layer1.1, layer10, fc.
  Sequential model;
  model.add(std::make_unique<Linear>(4, 8), "conv1");
  auto layer1 = std::make_unique<Sequential>();
  layer1->add(std::make_unique<Linear>(8, 8), "0");
  layer1->add(std::make_unique<Linear>(8, 8), "1");
  model.add(std::move(layer1), "layer1");
  model.add(std::make_unique<Linear>(8, 8), "layer10");
  model.add(std::make_unique<Linear>(8, 4), "fc");
  ParameterStore store;
  store.build(model.parameters(), keeping("pure-fp16", {"layer1", "fc"}), 5);
  for (const Parameter* p : model.parameters()) {
    const bool kept = p->name.starts_with("layer1.") || p->name.starts_with("fc.");
    EXPECT_EQ(p->value.dtype(), kept ? DType::f32 : DType::f16) << p->name;
  }
  // Groups are runs of consecutive layers: conv1, layer1.0 and layer1.1, layer10, fc.
  EXPECT_EQ(store.groups().size(), 4u);

  PrecisionPolicy policy = keeping("pure-fp16", {"first", "fc9"});
  try {
    policy.kept_layers({"fc1", "fc2", "fc3"});
    FAIL() << "fc9 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "'fc9' matches no layer with parameters (valid: first, last, fc1, fc2, fc3)");
  }
  // A deep model's valid selectors are named by their top-level prefixes.
  policy.keep_fp32 = {"layer9"};
  try {
    policy.kept_layers(layer_paths(build_model("resnet18-cifar", {32, 32, 3}, 10)->parameters()));
    FAIL() << "layer9 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "'layer9' matches no layer with parameters (valid: first, last, conv1, bn1, layer1, "
                                     "layer2, layer3, layer4, fc, or a layer path under one of them, e.g. layer1.0.conv1)");
  }
  policy.keep_fp32 = {"fc"};  // a prefix of names, not of components
  EXPECT_THROW(policy.kept_layers({"fc1", "fc2", "fc3"}), std::invalid_argument);
  policy.keep_fp32 = {"layer1.0"};
  EXPECT_EQ(policy.kept_layers({"conv1", "layer1.0.conv1", "layer1.0.bn1", "layer1.1.conv1", "layer10.0.conv1"}),
            (std::vector<bool>{false, true, true, false, false}));
  policy.keep_fp32 = {"layer1.2"};  // the store refuses what the policy cannot resolve
  EXPECT_THROW(ParameterStore().build(model.parameters(), policy, 1), std::invalid_argument);
}

TEST(ParameterGroups, KeptLastLayerGivesFp32LogitsAndFp16InputGradients) {
  const auto kept = build("mlp", {8, 8, 1}, keeping("pure-fp16", {"first", "last"}));
  const Tensor x = Tensor::from_doubles(testing::random_values(4 * 64, 9), {4, 8, 8, 1}, DType::f16);
  Context ctx;
  const Tensor logits = kept->model->forward(x, ctx, RunOptions{});
  EXPECT_EQ(logits.dtype(), DType::f32);
  // fc2 computes in fp16: its saved input is fp16, converted where fc1's fp32 output entered it.
  EXPECT_EQ(ctx.children[2].saved.at(0).dtype(), DType::f16);
  kept->store.zero_grads();
  const Tensor dlogits = Tensor::from_doubles(std::vector<double>(size_t(logits.numel()), 0.25), logits.shape(), DType::f32);
  const Tensor dx = kept->model->backward(dlogits, ctx, RunOptions{});
  EXPECT_EQ(dx.dtype(), DType::f16);
  EXPECT_EQ(kept->store.nonfinite_gradients(), 0);
}

}  // namespace
}  // namespace pure16::nn
