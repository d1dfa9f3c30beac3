#include "support/gradcheck.h"

#include <cmath>
#include <random>
#include <sstream>

#include "support/reference.h"

namespace pure16::testing {
namespace {

PrecisionPolicy float64_policy() {
  PrecisionPolicy p;
  p.name = "f64-reference";
  p.compute = p.master = p.optimizer_state = DType::f64;
  return p;
}

double weighted_sum(const Tensor& y, const Tensor& r) {
  const double* a = y.data<double>();
  const double* b = r.data<double>();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

std::string gradcheck(nn::Layer& layer, const Shape& input_shape, const GradcheckOptions& options) {
  nn::ParameterStore store;
  store.build(layer.parameters(), float64_policy(), options.seed, layer.buffers());
  const nn::RunOptions run{
      options.training, kernels::Accumulation::f32, kernels::ConvAlgorithm::automatic, options.seed, 3, nullptr, {}};

  std::vector<double> xs = random_values(shape_numel(input_shape), options.seed + 1);
  for (double& v : xs)
    if (std::abs(v) < options.input_magnitude_min) v = v < 0 ? -options.input_magnitude_min : options.input_magnitude_min;
  Tensor x = Tensor::from_doubles(xs, input_shape, DType::f64);
  const Shape out_shape = layer.output_shape(input_shape);
  const Tensor r = Tensor::from_doubles(random_values(shape_numel(out_shape), options.seed + 2), out_shape, DType::f64);

  auto loss = [&] {
    nn::Context ctx;
    return weighted_sum(layer.forward(x, ctx, run).contiguous(), r);
  };
  nn::Context ctx;
  layer.forward(x, ctx, run);
  store.zero_grads();
  const Tensor dx = layer.backward(r, ctx, run, true).contiguous();

  std::ostringstream failure;
  auto check_tensor = [&](const std::string& what, double* values, const double* analytic, int64_t n) {
    const int64_t stride = std::max<int64_t>(1, n / options.max_checks_per_tensor);
    for (int64_t i = 0; i < n; i += stride) {
      const double saved = values[i];
      values[i] = saved + options.step;
      const double plus = loss();
      values[i] = saved - options.step;
      const double minus = loss();
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * options.step);
      if (std::abs(numeric - analytic[i]) > options.tolerance * std::max(1.0, std::abs(analytic[i]))) {
        failure << layer.name() << ": d" << what << "[" << i << "] analytic " << analytic[i] << " numeric " << numeric;
        return false;
      }
    }
    return true;
  };

  if (!check_tensor("input", x.data<double>(), dx.data<double>(), x.numel())) return failure.str();
  for (nn::Parameter* p : layer.parameters())
    if (!check_tensor(p->name, p->value.data<double>(), p->grad.data<double>(), p->value.numel())) return failure.str();
  return {};
}

}  // namespace pure16::testing
