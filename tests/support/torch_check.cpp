#include "support/torch_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "pure16/nn/linear.h"
#include "support/reference.h"

namespace pure16::testing {
namespace {

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

}  // namespace

bool torch_available() {
  static const bool available = std::system("/usr/bin/python3 -c 'import torch, torchvision' > /dev/null 2>&1") == 0;
  return available;
}

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
double logits_tolerance(nn::Sequential& model, const Tensor& inputs, const PrecisionPolicy& policy, int64_t depth,
                        int64_t fan_in) {
  const Outputs out = evaluate(model, inputs.to(policy.compute),
                               nn::RunOptions{false, policy.accumulation, policy.convolution, 0, 0, nullptr, {}});
  auto* head = dynamic_cast<nn::Linear*>(model.layers().back().get());
  if (head == nullptr) throw std::invalid_argument("logits_tolerance: the model does not end in a Linear layer");
  const double magnitude = head_magnitude(*head, out.head_input);
  const double u = traits(policy.compute).unit_roundoff;
  const double per_layer = accumulation_gamma(fan_in, policy.accumulation) + 3 * u;
  return double(depth) * per_layer * magnitude;
}

CliResult check_with_torch(const std::filesystem::path& weights, const std::string& model_name, const Shape& image,
                           const std::filesystem::path& inputs, const std::filesystem::path& logits, double tolerance,
                           const std::filesystem::path& scratch) {
  char tolerance_text[32];
  std::snprintf(tolerance_text, sizeof tolerance_text, "%.6e", tolerance);
  return run_command("/usr/bin/python3 " + std::string(PURE16_SOURCE_DIR) + "/tests/python/check_torchvision_export.py" +
                         " --weights " + weights.string() + " --model " + model_name + " --image " +
                         std::to_string(image[0]) + " " + std::to_string(image[1]) + " " + std::to_string(image[2]) +
                         " --inputs " + inputs.string() + " --logits " + logits.string() + " --tolerance " + tolerance_text,
                     scratch);
}

}  // namespace pure16::testing
