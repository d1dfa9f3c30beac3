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
#include "support/model_state.h"
#include "support/reference.h"

namespace pure16::train {
namespace {

namespace fs = std::filesystem;

bool torch_available() {
  static const bool available = std::system("/usr/bin/python3 -c 'import torch, torchvision' > /dev/null 2>&1") == 0;
  return available;
}

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

struct Outputs {
  Tensor head_input;  // (N, features)
  Tensor logits;      // (N, classes)
};

Outputs evaluate(nn::Sequential& model, const Tensor& x, const nn::RunOptions& options) {
  Outputs out;
  Tensor h = x;
  for (const auto& layer : model.layers()) {
    if (layer == model.layers().back()) out.head_input = h;
    nn::Context ctx;
    h = layer->forward(h, ctx, options);
  }
  out.logits = h;
  return out;
}

// The largest sum of |terms| of a logit: max over samples and classes of sum_j |W_ij h_j| + |b_i|.
double head_magnitude(nn::Linear& head, const Tensor& head_input) {
  const std::vector<double> w = head.weight().value.to_doubles(), b = head.bias().value.to_doubles();
  const std::vector<double> h = head_input.to_doubles();
  const int64_t classes = head.weight().shape[0], width = head.weight().shape[1];
  double magnitude = 0;
  for (int64_t n = 0; n < head_input.size(0); ++n)
    for (int64_t i = 0; i < classes; ++i) {
      double sum = std::abs(b[size_t(i)]);
      for (int64_t j = 0; j < width; ++j) sum += std::abs(w[size_t(i * width + j)] * h[size_t(n * width + j)]);
      magnitude = std::max(magnitude, sum);
    }
  return magnitude;
}

class TorchvisionExport : public ::testing::TestWithParam<Case> {};

TEST_P(TorchvisionExport, PyTorchGivesTheSameLogits) {
  if (!torch_available()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch and torchvision";
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
  const Outputs out = evaluate(*model, x, nn::RunOptions{false, policy.accumulation, 0, 0});

  // The tolerance. PyTorch runs in float64 on exactly the weights, running statistics and
  // (rounded) images pure16 ran, so the difference is pure16's rounding error; float64's own is
  // 2^29 times smaller than binary32's. Each rounding has relative error at most u (2^-24 in
  // binary32, 2^-11 in fp16):
  //   - a convolution or Linear output is a sum of at most K products, computed with an error of
  //     at most accumulation_gamma(K) = gamma_K(2^-24) times the sum of |terms| (binary32 sums),
  //     then stored in the compute dtype: one rounding;
  //   - BatchNorm (binary32 arithmetic, stored once) and the residual sum add one rounding each
  //     (average pooling one more, once); ReLU and max-pooling are exact.
  // So each of the D convolution and Linear layers on the longest path perturbs the values it
  // computes by at most e = accumulation_gamma(K) + 3u relative to the magnitude of their terms.
  // To first order, and if the layers after pass a relative perturbation on without amplifying
  // it (BatchNorm calibrated to the batch keeps every activation of order one, and each residual
  // block is the identity plus a branch), the perturbations add up at the logits:
  //   |pure16 - PyTorch| <= D * e * S,  S = max_i sum_j |W_ij h_j| + |b_i| of the head.
  // Every rounding is taken at its worst here, and random errors partly cancel, so the measured
  // errors lie far below (ResNet-18, 8 images: fp32 2.7e-6 against 5.0e-2, pure-fp16 2.1e-3
  // against 3.2e-1; ResNet-50 fp32 3.6e-5 against 3.4e-1; LeNet-5 fp32 2.2e-8 against 2.8e-5,
  // pure-fp16 5.2e-5 against 1.7e-3). A layout bug does not: transposing every kernel's KH and KW
  // changed these ResNet-18 logits by 0.53, swapping one BatchNorm's mean and variance by 0.39,
  // and LeNet-5's fc1 left in (h, w, c) order by 0.044.
  auto* head = dynamic_cast<nn::Linear*>(model->layers().back().get());
  ASSERT_NE(head, nullptr);
  const double magnitude = head_magnitude(*head, out.head_input);
  const double u = traits(policy.compute).unit_roundoff;
  const double per_layer = testing::accumulation_gamma(c.fan_in, policy.accumulation) + 3 * u;
  const double tolerance = double(c.depth) * per_layer * magnitude;

  const fs::path dir = fs::temp_directory_path() / ("pure16_torchvision_export_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // f32 holds any store's weights exactly.
  io::write_safetensors(dir / "model.safetensors",
                        export_model(*model, store, c.model, ModelLayout::torchvision, DType::f32, 1));
  write_floats(dir / "inputs.f32", x);
  write_floats(dir / "logits.f32", out.logits);
  char tolerance_text[32];
  std::snprintf(tolerance_text, sizeof tolerance_text, "%.6e", tolerance);
  const testing::CliResult check = testing::run_command(
      "/usr/bin/python3 " + std::string(PURE16_SOURCE_DIR) + "/tests/python/check_torchvision_export.py" +
          " --weights " + (dir / "model.safetensors").string() + " --model " + c.model + " --image " +
          std::to_string(c.image[0]) + " " + std::to_string(c.image[1]) + " " + std::to_string(c.image[2]) +
          " --inputs " + (dir / "inputs.f32").string() + " --logits " + (dir / "logits.f32").string() +
          " --tolerance " + tolerance_text,
      dir);
  fs::remove_all(dir);
  std::printf("%s, %s: S = %.3e, D = %lld, e = %.3e; %s", c.model.c_str(), c.preset.c_str(), magnitude,
              static_cast<long long>(c.depth), per_layer, check.out.c_str());
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
