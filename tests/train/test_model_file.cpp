// Export and import of model weights (train/model_file.h): a round trip is bitwise in either
// layout, the torchvision layout moves channels where PyTorch keeps them, and a bad file is
// rejected by name and leaves the model as it was.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

#include "pure16/nn/batchnorm.h"
#include "pure16/nn/conv2d.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/models.h"
#include "pure16/nn/pooling.h"
#include "pure16/nn/resnet.h"
#include "pure16/train/model_file.h"
#include "support/model_state.h"
#include "support/reference.h"

namespace pure16::train {
namespace {

const std::string kFile = "weights.safetensors";

struct Built {
  std::unique_ptr<nn::Sequential> model;
  nn::ParameterStore store;
};

Built build(std::unique_ptr<nn::Sequential> model, const std::string& preset, uint64_t seed) {
  Built b{std::move(model), {}};
  b.store.build(b.model->parameters(), PrecisionPolicy::preset(preset), seed, b.model->buffers());
  testing::randomize_buffers(*b.model, seed);
  return b;
}

// A 2x3 convolution (a non-square kernel catches a KH/KW mix-up), BatchNorm, a pooled head.
std::unique_ptr<nn::Sequential> tiny_model(int64_t classes) {
  auto model = std::make_unique<nn::Sequential>();
  nn::Conv2dConfig conv{3, 4, {2, 3}, {1, 1}, {0, 1}, {1, 1}, 1, true, nn::FusedActivation::none};
  model->add(std::make_unique<nn::Conv2d>(conv), "conv");
  model->add(std::make_unique<nn::BatchNorm2d>(4), "bn");
  model->emplace<nn::GlobalAvgPool2d>();
  model->add(std::make_unique<nn::Linear>(4, classes), "fc");
  return model;
}

// The zoo's models, small: a narrow ResNet with one block a stage (shortcuts included), LeNet-5
// (a Flatten of a 5x5x16 map), an MLP on a 3-channel image (a Flatten of the input).
std::unique_ptr<nn::Sequential> zoo_model(const std::string& name) {
  if (name == "resnet") return nn::resnet({nn::ResNetConfig::Block::basic, {1, 1, 1, 1}, true, 8}, {8, 8, 3}, 10);
  if (name == "lenet5") return nn::build_model("lenet5", {28, 28, 1}, 10);
  return nn::build_model("mlp", {4, 4, 3}, 10);
}

std::string bytes_of(const Tensor& t) { return {static_cast<const char*>(t.raw()), t.nbytes()}; }

// Everything an import may write: values, master weights, buffers.
std::string state_of(nn::ParameterStore& store) {
  return bytes_of(store.values().segment(0)) + bytes_of(store.master().segment(0)) + bytes_of(store.buffer_values());
}

std::vector<float> floats_of(const io::StoredTensor& t) {
  EXPECT_EQ(t.dtype, "F32") << t.name;
  std::vector<float> out(t.data.size() / sizeof(float));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

io::StoredTensor& tensor_named(io::SafetensorsFile& file, const std::string& name) {
  for (io::StoredTensor& t : file.tensors)
    if (t.name == name) return t;
  throw std::logic_error("no tensor " + name);
}

class RoundTrip
    : public ::testing::TestWithParam<std::tuple<std::string, std::pair<std::string, DType>, ModelLayout>> {};

TEST_P(RoundTrip, IsBitwise) {
  const auto& [model_name, precision, layout] = GetParam();
  const auto& [preset, dtype] = precision;
  Built from = build(zoo_model(model_name), preset, 1);
  const io::SafetensorsFile file = export_model(*from.model, from.store, model_name, layout, dtype, 7);
  Built to = build(zoo_model(model_name), preset, 2);
  ASSERT_NE(state_of(to.store), state_of(from.store));

  const ImportReport report = import_weights(file, kFile, *to.model, to.store, false);
  EXPECT_EQ(report.layout, layout);
  EXPECT_EQ(report.tensors_loaded, int64_t(to.model->parameters().size() + to.model->buffers().size()));
  EXPECT_TRUE(report.skipped.empty());
  EXPECT_EQ(bytes_of(to.store.master().segment(0)), bytes_of(from.store.master().segment(0)));
  EXPECT_EQ(bytes_of(to.store.values().segment(0)), bytes_of(from.store.values().segment(0)));
  EXPECT_EQ(bytes_of(to.store.buffer_values()), bytes_of(from.store.buffer_values()));
}

std::string round_trip_name(const ::testing::TestParamInfo<RoundTrip::ParamType>& info) {
  const auto& [model, precision, layout] = info.param;
  std::string s = model + "_" + precision.first + "_" + std::string(dtype_name(precision.second)) + "_" +
                  std::string(model_layout_name(layout));
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

// Each preset with the export dtypes that hold its master weights exactly.
INSTANTIATE_TEST_SUITE_P(
    ModelsPrecisionsLayouts, RoundTrip,
    ::testing::Combine(::testing::Values("resnet", "lenet5", "mlp"),
                       ::testing::Values(std::pair<std::string, DType>{"fp32", DType::f32},
                                         std::pair<std::string, DType>{"mixed-fp16", DType::f32},
                                         std::pair<std::string, DType>{"pure-fp16", DType::f16},
                                         std::pair<std::string, DType>{"pure-fp16", DType::f32},
                                         std::pair<std::string, DType>{"mixed-bf16", DType::f32},
                                         std::pair<std::string, DType>{"pure-bf16", DType::bf16}),
                       ::testing::Values(ModelLayout::pure16, ModelLayout::torchvision)),
    round_trip_name);

TEST(ModelFile, ExportRoundsTheMasterWeightsOnce) {
  // mixed-fp16 keeps f32 master weights: an f16 export is them rounded to nearest even, which
  // is also what the f16 values are, and an f32 export is them exactly, not the values.
  Built b = build(tiny_model(3), "mixed-fp16", 1);
  const io::SafetensorsFile f16 = export_model(*b.model, b.store, "tiny", ModelLayout::pure16, DType::f16, 0);
  const io::SafetensorsFile f32 = export_model(*b.model, b.store, "tiny", ModelLayout::pure16, DType::f32, 0);
  const io::SafetensorsFile bf16 = export_model(*b.model, b.store, "tiny", ModelLayout::pure16, DType::bf16, 0);
  for (nn::Parameter* p : b.model->parameters()) {
    const Tensor master = b.store.master().view(*p);
    EXPECT_EQ(f16.find(p->name)->data, bytes_of(p->value)) << p->name;
    EXPECT_EQ(f32.find(p->name)->data, bytes_of(master)) << p->name;
    EXPECT_EQ(bf16.find(p->name)->data, bytes_of(master.to(DType::bf16))) << p->name;
    EXPECT_EQ(bf16.find(p->name)->dtype, "BF16");
  }
  EXPECT_THROW(export_model(*b.model, b.store, "tiny", ModelLayout::pure16, DType::f64, 0), std::invalid_argument);
}

TEST(ModelFile, Metadata) {
  Built b = build(tiny_model(3), "pure-fp16", 1);
  const io::SafetensorsFile file = export_model(*b.model, b.store, "tiny", ModelLayout::torchvision, DType::f16, 0);
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"},
                                                               {"pure16_layout", "torchvision"},
                                                               {"pure16_model", "tiny"},
                                                               {"pure16_dtype", "f16"}}));
  EXPECT_EQ(parse_model_layout("pure16"), ModelLayout::pure16);
  EXPECT_EQ(parse_model_layout(model_layout_name(ModelLayout::torchvision)), ModelLayout::torchvision);
  EXPECT_THROW(parse_model_layout("nchw"), std::invalid_argument);
}

TEST(ModelFile, TorchvisionLayoutTransposesConvolutionWeights) {
  Built b = build(tiny_model(3), "fp32", 1);
  io::SafetensorsFile file = export_model(*b.model, b.store, "tiny", ModelLayout::torchvision, DType::f32, 12345);
  std::vector<std::string> names;
  for (const io::StoredTensor& t : file.tensors) names.push_back(t.name);
  // torchvision's state_dict order: each module's parameters, buffers, then the counter.
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                             "bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"}));

  // Ours (O, KH, KW, I) = (4, 2, 3, 3); PyTorch's (O, I, KH, KW) = (4, 3, 2, 3).
  const io::StoredTensor& weight = tensor_named(file, "conv.weight");
  ASSERT_EQ(weight.shape, (Shape{4, 3, 2, 3}));
  const std::vector<float> theirs = floats_of(weight);
  const std::vector<double> ours = b.model->parameters()[0]->value.to_doubles();
  for (int64_t o = 0; o < 4; ++o)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t kh = 0; kh < 2; ++kh)
        for (int64_t kw = 0; kw < 3; ++kw)
          EXPECT_EQ(double(theirs[size_t(((o * 3 + i) * 2 + kh) * 3 + kw)]), ours[size_t(((o * 2 + kh) * 3 + kw) * 3 + i)])
              << o << " " << i << " " << kh << " " << kw;

  const io::StoredTensor& counter = tensor_named(file, "bn.num_batches_tracked");
  EXPECT_EQ(counter.dtype, "I64");
  EXPECT_TRUE(counter.shape.empty());
  EXPECT_EQ(counter.data, std::string("\x39\x30\0\0\0\0\0\0", 8));  // 12345 = 0x3039, little-endian

  // The pure16 layout stores our shapes, and no counter.
  const io::SafetensorsFile native = export_model(*b.model, b.store, "tiny", ModelLayout::pure16, DType::f32, 12345);
  EXPECT_EQ(native.find("conv.weight")->shape, (Shape{4, 2, 3, 3}));
  EXPECT_EQ(native.find("bn.num_batches_tracked"), nullptr);
}

// PyTorch flattens an NCHW map in (c, h, w) order, we flatten NHWC in (h, w, c) order. The
// exported first Linear applied to PyTorch's flattening of a map must give what ours gives on
// ours: the same products summed in another order, so equal to rounding in float64.
void expect_flatten_equivalence(const std::string& model_name, const Shape& map, const std::string& linear) {
  Built b = build(zoo_model(model_name), "fp32", 1);
  const io::SafetensorsFile file = export_model(*b.model, b.store, model_name, ModelLayout::torchvision, DType::f32, 0);
  const io::StoredTensor* exported = file.find(linear + ".weight");
  ASSERT_NE(exported, nullptr);
  const std::vector<float> theirs = floats_of(*exported);
  const nn::Parameter* weight = nullptr;
  for (nn::Parameter* p : b.model->parameters())
    if (p->name == linear + ".weight") weight = p;
  ASSERT_NE(weight, nullptr);
  const std::vector<double> ours = weight->value.to_doubles();
  ASSERT_EQ(exported->shape, weight->shape);

  const int64_t height = map[0], width = map[1], channels = map[2], features = height * width * channels;
  const std::vector<double> x = testing::random_values(features, 5);  // the map, (h, w, c)
  std::vector<double> x_nchw(static_cast<size_t>(features));
  for (int64_t pixel = 0; pixel < height * width; ++pixel)
    for (int64_t c = 0; c < channels; ++c) x_nchw[size_t(c * height * width + pixel)] = x[size_t(pixel * channels + c)];
  int64_t differing = 0;
  for (int64_t o = 0; o < weight->shape[0]; ++o) {
    double y_ours = 0, y_theirs = 0, magnitude = 0;
    for (int64_t j = 0; j < features; ++j) {
      y_ours += ours[size_t(o * features + j)] * x[size_t(j)];
      y_theirs += double(theirs[size_t(o * features + j)]) * x_nchw[size_t(j)];
      magnitude += std::abs(ours[size_t(o * features + j)] * x[size_t(j)]);
      differing += ours[size_t(o * features + j)] != double(theirs[size_t(o * features + j)]);
    }
    EXPECT_NEAR(y_theirs, y_ours, 2 * double(features) * 0x1p-53 * magnitude) << linear << " row " << o;
  }
  EXPECT_GT(differing, 0) << "the columns were not permuted";
}

TEST(ModelFile, TorchvisionLayoutPermutesTheLinearAfterAFlatten) {
  expect_flatten_equivalence("lenet5", {5, 5, 16}, "fc1");
  expect_flatten_equivalence("mlp", {4, 4, 3}, "fc1");
  // Only the first Linear after the Flatten reads the map.
  Built b = build(zoo_model("lenet5"), "fp32", 1);
  const io::SafetensorsFile file = export_model(*b.model, b.store, "lenet5", ModelLayout::torchvision, DType::f32, 0);
  EXPECT_EQ(file.find("fc2.weight")->data, bytes_of(b.model->parameters()[6]->value));
  // A one-channel map flattens alike in both orders.
  Built mnist = build(nn::build_model("mlp", {28, 28, 1}, 10), "fp32", 1);
  const io::SafetensorsFile mnist_file =
      export_model(*mnist.model, mnist.store, "mlp", ModelLayout::torchvision, DType::f32, 0);
  EXPECT_EQ(mnist_file.find("fc1.weight")->data, bytes_of(mnist.model->parameters()[0]->value));
}

// Imports `file` into a fresh tiny model and expects a std::runtime_error that starts with the
// file's name and contains each of `fragments`, with the model unchanged.
void expect_rejected(const io::SafetensorsFile& file, const std::vector<std::string>& fragments) {
  Built b = build(tiny_model(3), "mixed-fp16", 9);
  const std::string before = state_of(b.store);
  try {
    import_weights(file, kFile, *b.model, b.store, false);
    ADD_FAILURE() << "accepted";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.starts_with(kFile + ": ")) << message;
    for (const std::string& fragment : fragments) EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
  EXPECT_EQ(state_of(b.store), before);
}

io::SafetensorsFile tiny_export(ModelLayout layout) {
  Built b = build(tiny_model(3), "fp32", 1);
  return export_model(*b.model, b.store, "tiny", layout, DType::f32, 0);
}

TEST(ModelFile, RejectsAMissingTensor) {
  io::SafetensorsFile file = tiny_export(ModelLayout::pure16);
  std::erase_if(file.tensors, [](const io::StoredTensor& t) { return t.name == "bn.running_var"; });
  expect_rejected(file, {"bn.running_var"});
}

TEST(ModelFile, RejectsATensorTheModelDoesNotHave) {
  io::SafetensorsFile file = tiny_export(ModelLayout::torchvision);
  io::StoredTensor extra = tensor_named(file, "fc.bias");
  extra.name = "fc2.bias";
  file.tensors.push_back(extra);
  expect_rejected(file, {"fc2.bias"});
  // A counter is accepted only for a BatchNorm.
  io::SafetensorsFile counter = tiny_export(ModelLayout::torchvision);
  io::StoredTensor fc_counter = tensor_named(counter, "bn.num_batches_tracked");
  fc_counter.name = "fc.num_batches_tracked";
  counter.tensors.push_back(fc_counter);
  expect_rejected(counter, {"fc.num_batches_tracked"});
}

TEST(ModelFile, RejectsAShapeMismatch) {
  io::SafetensorsFile file = tiny_export(ModelLayout::pure16);
  tensor_named(file, "bn.weight").shape = {2, 2};
  expect_rejected(file, {"bn.weight", "[2, 2]", "[4]"});
  // A pure16 file without its metadata reads as torchvision's: the convolution's shape tells.
  io::SafetensorsFile unlabelled = tiny_export(ModelLayout::pure16);
  unlabelled.metadata.clear();
  expect_rejected(unlabelled, {"conv.weight", "[4, 2, 3, 3]", "[4, 3, 2, 3]", "torchvision"});
}

TEST(ModelFile, RejectsANonFloatTensor) {
  io::SafetensorsFile file = tiny_export(ModelLayout::pure16);
  tensor_named(file, "fc.bias").dtype = "I32";  // the same 4 bytes an element
  expect_rejected(file, {"fc.bias"});
}

TEST(ModelFile, RejectsNaNAndInfinity) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    io::SafetensorsFile file = tiny_export(ModelLayout::pure16);
    // The last tensor, so that a loader writing as it goes would already have changed the model.
    io::StoredTensor& last = file.tensors.back();
    std::memcpy(last.data.data(), &bad, sizeof bad);
    expect_rejected(file, {last.name});
  }
}

TEST(ModelFile, RejectsAnUnknownLayout) {
  io::SafetensorsFile file = tiny_export(ModelLayout::pure16);
  file.metadata["pure16_layout"] = "nchw";
  expect_rejected(file, {"pure16_layout", "nchw"});
}

TEST(ModelFile, AFileWithoutMetadataIsTorchvisionLayout) {
  // As torch's save_file(model.state_dict()) writes it.
  io::SafetensorsFile file = tiny_export(ModelLayout::torchvision);
  file.metadata.clear();
  Built b = build(tiny_model(3), "fp32", 2);
  const ImportReport report = import_weights(file, kFile, *b.model, b.store, false);
  EXPECT_EQ(report.layout, ModelLayout::torchvision);
  EXPECT_EQ(report.tensors_loaded, 8);
  EXPECT_EQ(bytes_of(b.store.values().segment(0)), bytes_of(build(tiny_model(3), "fp32", 1).store.values().segment(0)));
}

TEST(ModelFile, ReplaceHeadKeepsAFreshHeadForOtherClasses) {
  const io::SafetensorsFile file = tiny_export(ModelLayout::torchvision);  // 3 classes
  Built b = build(tiny_model(5), "mixed-fp16", 2);
  const std::string fresh_head = bytes_of(b.model->parameters()[4]->value) + bytes_of(b.model->parameters()[5]->value);
  EXPECT_THROW(import_weights(file, kFile, *b.model, b.store, false), std::runtime_error);

  const ImportReport report = import_weights(file, kFile, *b.model, b.store, true);
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_EQ(report.tensors_loaded, 6);
  EXPECT_EQ(bytes_of(b.model->parameters()[4]->value) + bytes_of(b.model->parameters()[5]->value), fresh_head);
  Built source = build(tiny_model(3), "fp32", 1);
  EXPECT_EQ(b.store.master().view(*b.model->parameters()[0]).to_doubles(), source.model->parameters()[0]->value.to_doubles());

  // Any other mismatch is still an error.
  Built wider = build(tiny_model(5), "fp32", 2);
  io::SafetensorsFile other = file;
  tensor_named(other, "fc.weight").shape = {2, 6};  // another input width: not a head for other classes
  EXPECT_THROW(import_weights(other, kFile, *wider.model, wider.store, true), std::runtime_error);
}

TEST(ModelFile, RejectsAStoreBuiltForAnotherModel) {
  Built a = build(tiny_model(3), "fp32", 1);
  Built b = build(tiny_model(3), "fp32", 1);
  EXPECT_THROW(export_model(*a.model, b.store, "tiny", ModelLayout::pure16, DType::f32, 0), std::invalid_argument);
  const io::SafetensorsFile file = tiny_export(ModelLayout::pure16);
  EXPECT_THROW(import_weights(file, kFile, *a.model, b.store, false), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::train
