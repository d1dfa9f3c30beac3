// LARS against a float64 model of You et al.'s update, per parameter tensor, with the 1-D
// tensors left out of the trust ratio and the weight decay.
#include <gtest/gtest.h>

#include <cmath>

#include "pure16/kernels/elementwise.h"
#include "pure16/optim/lars.h"
#include "support/optimizer_fixture.h"
#include "support/reference.h"

namespace pure16::optim {
namespace {

constexpr double kU32 = 0x1.0p-24;

using Fixture = testing::OptimizerFixture;

OptimizerConfig lars_config() {
  OptimizerConfig c;
  c.name = "lars";
  c.lr = 2.0f;
  c.momentum = 0.9f;
  c.weight_decay = 5e-3f;
  c.trust_coefficient = 0.02f;
  return c;
}

TEST(Lars, Fp32MatchesTheFloat64Reference) {
  const PrecisionPolicy policy = PrecisionPolicy::preset("fp32");
  const OptimizerConfig c = lars_config();
  const double scale = 1024;
  Fixture f(policy);
  auto lars = make_optimizer(f.store, c, policy, 9);
  const Tensor& master = f.store.master().segment(0);
  std::vector<double> w = master.to_doubles();
  std::vector<double> m(w.size()), em(w.size()), ew(w.size());  // zeros
  const int steps = 5;
  for (int s = 0; s < steps; ++s) {
    f.set_grads(100 + uint64_t(s), scale);
    const std::vector<double> grads = f.store.grads().segment(0).to_doubles();
    lars->step(float(scale), uint64_t(s));
    for (const nn::Parameter* p : f.store.parameters()) {
      const bool adapted = p->shape.size() > 1;
      const size_t begin = size_t(p->offset), end = begin + size_t(p->value.numel());
      double w_norm = 0, g_norm = 0;
      for (size_t i = begin; i < end; ++i) {
        w_norm += w[i] * w[i];
        g_norm += grads[i] / scale * (grads[i] / scale);
      }
      w_norm = std::sqrt(w_norm);
      g_norm = std::sqrt(g_norm);
      const double wd = adapted ? double(c.weight_decay) : 0.0;
      const double rate = adapted ? double(c.trust_coefficient) * w_norm / (g_norm + wd * w_norm) : 1.0;
      EXPECT_NEAR(static_cast<Lars&>(*lars).local_lr(*p), rate, 1e-6 * rate) << p->name;
      // The local rate reaches the kernel rounded to binary32 twice (rate / S, rate wd) and
      // off by the weights' own relative deviation (at most steps * 2 u32, through ||w||
      // twice): rho = 2 u32 + 2 * 10 u32 relative on the gradient term. The kernel's g is two
      // products and a sum (3 u32), m two more operations, w two more, each rounded in binary32.
      const double rho = 22 * kU32;
      for (size_t i = begin; i < end; ++i) {
        const double g = rate * (grads[i] / scale + wd * w[i]);
        const double eg = (rho + 3 * kU32) * std::abs(g) + rate * wd * ew[i];
        m[i] = s == 0 ? g : double(c.momentum) * m[i] + g;
        em[i] = (s == 0 ? 0 : double(c.momentum) * em[i]) + eg + 2 * kU32 * std::abs(m[i]);
        w[i] -= double(c.lr) * m[i];
        ew[i] += double(c.lr) * (em[i] + kU32 * std::abs(m[i])) + 2 * kU32 * std::abs(w[i]);
      }
    }
  }
  const std::vector<double> got = master.to_doubles();
  for (const nn::Parameter* p : f.store.parameters())
    for (int64_t i = p->offset; i < p->offset + p->value.numel(); ++i)
      ASSERT_NEAR(got[size_t(i)], w[size_t(i)], ew[size_t(i)]) << p->name << " element " << i - p->offset;
}

TEST(Lars, OneDimensionalTensorsAreNotAdaptedNorDecayed) {
  const PrecisionPolicy policy = PrecisionPolicy::preset("fp32");
  Fixture f(policy);
  Lars lars(f.store, lars_config(), policy, 1);
  f.set_grads(1, 1.0);
  const std::vector<double> w0 = f.store.master().segment(0).to_doubles(), g = f.store.grads().segment(0).to_doubles();
  lars.step(1.0f, 0);
  EXPECT_EQ(lars.local_lr(f.bias), 1.0);
  EXPECT_NE(lars.local_lr(f.weight), 1.0);
  // Plain SGD's first step on the bias: w - lr g, one binary32 product and difference.
  const std::vector<double> w = f.store.master().segment(0).to_doubles();
  for (int64_t i = f.bias.offset; i < f.bias.offset + f.bias.value.numel(); ++i)
    EXPECT_EQ(w[size_t(i)], double(float(w0[size_t(i)]) - float(2.0f * float(g[size_t(i)]))));
}

TEST(Lars, ZeroWeightsOrGradientsKeepTheGlobalRate) {
  const PrecisionPolicy policy = PrecisionPolicy::preset("fp32");
  Fixture f(policy);
  Lars lars(f.store, lars_config(), policy, 1);
  f.store.grads().segment(0).fill(0.0);
  lars.step(1.0f, 0);
  EXPECT_EQ(lars.local_lr(f.weight), 1.0);
}

TEST(Lars, SumOfSquaresIsExactSquaresSummedInBinary64) {
  // fp16 values: each square is exact in binary64, so the sum of 3 x 2^15 of them is within
  // (n - 1) 2^-53 of the float64 one in any order; the blocks make it independent of threads.
  const int64_t n = 3 << 15;
  const std::vector<double> v = testing::random_values(n, 5, -3.0, 3.0);
  const Tensor t = Tensor::from_doubles(v, {n}, DType::f16);
  double exact = 0;
  for (double x : t.to_doubles()) exact += x * x;
  const double got = kernels::sum_squares(t.raw(), DType::f16, n);
  EXPECT_NEAR(got, exact, 2.0 * double(n) * 0x1.0p-53 * exact);
  EXPECT_EQ(kernels::sum_squares(t.raw(), DType::f16, 0), 0.0);
}

}  // namespace
}  // namespace pure16::optim
