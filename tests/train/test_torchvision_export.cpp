// A torchvision-layout export loads into the equivalent PyTorch model (load_state_dict with
// strict=True), which then gives pure16's logits within a bound derived from the arithmetic:
// tests/python/check_torchvision_export.py runs it. Skipped where /usr/bin/python3 lacks torch
// or torchvision (bench/install_pytorch.sh installs them).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pure16/kernels/gemm.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/models.h"
#include "pure16/train/model_file.h"
#include "support/cli.h"
#include "support/torch_check.h"
#include "support/model_state.h"
#include "support/reference.h"

namespace pure16::train {
namespace {

namespace fs = std::filesystem;

void write_floats(const fs::path& path, const Tensor& t) {
  const Tensor f32 = t.to(DType::f32);
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(f32.raw()), std::streamsize(f32.nbytes()));
}

struct Case {
  std::string model;
  Shape image;  // (H, W, C)
  std::string preset;
  // The bound's inputs: the convolution and Linear layers on the longest path from the image to
  // a logit (ResNet-18: the stem, 2 a block, the head; ResNet-50: 3 a block), and the most
  // products any of their sums adds (3 * 3 * 512 in the last stage of either ResNet).
  int64_t depth;
  int64_t fan_in;
};

class TorchvisionExport : public ::testing::TestWithParam<Case> {};

TEST_P(TorchvisionExport, PyTorchGivesTheSameLogits) {
  if (!testing::torch_available()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch and torchvision";
  const Case& c = GetParam();
  PrecisionPolicy policy = PrecisionPolicy::preset(c.preset);
  // Binary32 sums on every CPU: with the f16-block sums `auto` picks where AVX512-FP16 exists,
  // gamma_64(2^-11) ~ 3% a layer would put the bound above the logits themselves.
  policy.accumulation = kernels::Accumulation::f32;
  auto model = nn::build_model(c.model, c.image, 10);
  nn::ParameterStore store;
  store.build(model->parameters(), policy, 11, model->buffers());

  const int64_t batch = 8;
  Shape input_shape{batch};
  input_shape.insert(input_shape.end(), c.image.begin(), c.image.end());
  const Tensor x =
      Tensor::from_doubles(testing::random_values(shape_numel(input_shape), 13), input_shape, policy.compute);
  testing::calibrate_batchnorm(*model, x);

  const double tolerance = testing::logits_tolerance(*model, x, policy, c.depth, c.fan_in);
  nn::Context ctx;
  const Tensor logits =
      model->forward(x, ctx, nn::RunOptions{false, policy.accumulation, policy.convolution, 0, 0, nullptr, {}});

  const fs::path dir = fs::temp_directory_path() / ("pure16_torchvision_export_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // f32 holds any store's weights exactly.
  io::write_safetensors(dir / "model.safetensors",
                        export_model(*model, store, c.model, ModelLayout::torchvision, DType::f32, 1));
  write_floats(dir / "inputs.f32", x);
  write_floats(dir / "logits.f32", logits);
  const testing::CliResult check = testing::check_with_torch(dir / "model.safetensors", c.model, c.image,
                                                             dir / "inputs.f32", dir / "logits.f32", tolerance, dir);
  fs::remove_all(dir);
  std::printf("%s, %s: tolerance %.3e; %s", c.model.c_str(), c.preset.c_str(), tolerance, check.out.c_str());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s = info.param.model + "_" + info.param.preset;
  for (char& ch : s)
    if (ch == '-') ch = '_';
  return s;
}

// LeNet-5 and the MLP on 3-channel images, so that the Flatten permutation matters.
INSTANTIATE_TEST_SUITE_P(Models, TorchvisionExport,
                         ::testing::Values(Case{"resnet18-cifar", {32, 32, 3}, "fp32", 18, 9 * 512},
                                           Case{"resnet18-cifar", {32, 32, 3}, "pure-fp16", 18, 9 * 512},
                                           Case{"resnet50-cifar", {32, 32, 3}, "fp32", 50, 9 * 512},
                                           Case{"lenet5", {28, 28, 3}, "fp32", 5, 400},
                                           Case{"lenet5", {28, 28, 3}, "pure-fp16", 5, 400},
                                           Case{"mlp", {8, 8, 3}, "fp32", 3, 512}),
                         case_name);

}  // namespace
}  // namespace pure16::train
