// Every parameter and buffer is named by its path in the model, and for the ResNets that path is
// torchvision's state_dict key, in torchvision's order.
#include <gtest/gtest.h>

#include <set>

#include "pure16/nn/models.h"
#include "support/torchvision_state_dicts.h"

namespace pure16::nn {
namespace {

std::vector<std::string> names_of(const std::vector<Parameter*>& tensors) {
  std::vector<std::string> names;
  for (const Parameter* t : tensors) names.push_back(t->name);
  return names;
}

bool is_buffer_name(const std::string& name) {
  for (const char* suffix : {".running_mean", ".running_var"})
    if (name.ends_with(suffix)) return true;
  return false;
}

// Our shape of a torchvision tensor: convolution weights are (O, KH, KW, I) here, (O, I, KH, KW) there.
Shape our_shape(const Shape& torchvision_shape) {
  const Shape& s = torchvision_shape;
  return s.size() == 4 ? Shape{s[0], s[2], s[3], s[1]} : s;
}

// torchvision's parameters, then its buffers, each in state_dict order, without the
// num_batches_tracked counters (which we do not keep), as our (name, shape) pairs.
std::pair<std::vector<testing::NamedShape>, std::vector<testing::NamedShape>> split_state_dict(
    const std::vector<testing::NamedShape>& state_dict) {
  std::vector<testing::NamedShape> parameters, buffers;
  for (const testing::NamedShape& entry : state_dict) {
    if (entry.name.ends_with(".num_batches_tracked")) continue;
    (is_buffer_name(entry.name) ? buffers : parameters).push_back({entry.name, our_shape(entry.shape)});
  }
  return {parameters, buffers};
}

void expect_tensors(const std::vector<Parameter*>& ours, const std::vector<testing::NamedShape>& expected) {
  ASSERT_EQ(ours.size(), expected.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i]->name, expected[i].name) << "tensor " << i;
    EXPECT_EQ(ours[i]->shape, expected[i].shape) << ours[i]->name;
  }
}

TEST(ParameterNames, AreUniquePathsInEveryRegisteredModel) {
  for (const ModelInfo& info : model_infos()) {
    auto model = build_model(info.name, info.sample_shape, info.num_classes);
    std::vector<std::string> names = names_of(model->parameters());
    for (const std::string& name : names_of(model->buffers())) names.push_back(name);
    const std::set<std::string> unique(names.begin(), names.end());
    EXPECT_EQ(unique.size(), names.size()) << info.name;
    // Every tensor sits in a named layer: no bare "weight".
    for (const std::string& name : names) EXPECT_NE(name.find('.'), std::string::npos) << info.name << ": " << name;
  }
}

TEST(ParameterNames, ResNet18MatchesTorchvisionStateDict) {
  auto model = build_model("resnet18", {224, 224, 3}, 1000);
  const auto [parameters, buffers] = split_state_dict(testing::torchvision_resnet18_state_dict());
  expect_tensors(model->parameters(), parameters);
  expect_tensors(model->buffers(), buffers);
}

TEST(ParameterNames, ResNet50MatchesTorchvisionStateDict) {
  auto model = build_model("resnet50", {224, 224, 3}, 1000);
  const auto [parameters, buffers] = split_state_dict(testing::torchvision_resnet50_state_dict());
  expect_tensors(model->parameters(), parameters);
  expect_tensors(model->buffers(), buffers);
}

TEST(ParameterNames, CifarResNetsNameTheirStemConv1) {
  for (const char* name : {"resnet18-cifar", "resnet50-cifar"}) {
    auto model = build_model(name, {32, 32, 3}, 10);
    const std::vector<Parameter*> parameters = model->parameters();
    EXPECT_EQ(parameters.front()->name, "conv1.weight") << name;
    EXPECT_EQ(parameters.front()->shape, (Shape{64, 3, 3, 3})) << name;
    EXPECT_EQ(parameters.back()->name, "fc.bias") << name;
  }
}

TEST(ParameterNames, MlpAndLeNet) {
  auto mlp = build_model("mlp", {28, 28, 1}, 10);
  EXPECT_EQ(names_of(mlp->parameters()),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"}));
  ModelOptions dropout;
  dropout.dropout = 0.5f;  // Dropout layers have no state, so they shift no name
  auto lenet = build_model("lenet5", {28, 28, 1}, 10, dropout);
  EXPECT_EQ(names_of(lenet->parameters()),
            (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                                      "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"}));
  EXPECT_TRUE(lenet->buffers().empty());
}

}  // namespace
}  // namespace pure16::nn
