// Optimizers over parameter groups: the layers kept in fp32 update in binary32 (checked against
// float64 with a bound derived from the roundings the update makes), and the other layers update
// exactly as they would without the override: each group's sweep reads the random words and
// writes the places a single arena's sweep would, element by element.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "pure16/nn/linear.h"
#include "pure16/nn/sequential.h"
#include "pure16/optim/optimizer.h"
#include "pure16/optim/sgd.h"
#include "support/reference.h"

namespace pure16::optim {
namespace {

constexpr float kScale = 1024.0f;  // the loss scale the gradients carry: a power of two, so unscaling is exact

struct Trained {
  std::unique_ptr<nn::Sequential> model;
  nn::ParameterStore store;
  std::unique_ptr<Optimizer> optimizer;
};

// fc1, fc2, fc3 as in the zoo's MLP, small enough for the sanitizer build; sizes that are not
// multiples of 32 leave padding between the parameters and the groups.
std::unique_ptr<nn::Sequential> small_mlp() {
  auto model = std::make_unique<nn::Sequential>();
  model->add(std::make_unique<nn::Linear>(16, 48, true, nn::FusedActivation::relu), "fc1");
  model->add(std::make_unique<nn::Linear>(48, 40, true, nn::FusedActivation::relu), "fc2");
  model->add(std::make_unique<nn::Linear>(40, 10), "fc3");
  return model;
}

std::unique_ptr<Trained> build(const PrecisionPolicy& policy, const OptimizerConfig& config) {
  auto t = std::make_unique<Trained>();
  t->model = small_mlp();
  t->store.build(t->model->parameters(), policy, 11);
  t->optimizer = make_optimizer(t->store, config, policy, 11);
  return t;
}

// The same gradient values in every run, rounded once to each parameter's gradient dtype.
void set_grads(Trained& t, uint64_t step) {
  const std::vector<nn::Parameter*> ps = t.model->parameters();
  for (size_t i = 0; i < ps.size(); ++i) {
    std::vector<double> g = testing::random_values(ps[i]->grad.numel(), 1000 * step + i);
    for (double& v : g) v *= 0.01 * kScale;
    ps[i]->grad.copy_from(Tensor::from_doubles(g, ps[i]->shape, DType::f64));
  }
}

std::string bytes_of(const Tensor& t) { return {static_cast<const char*>(t.raw()), t.nbytes()}; }

struct Case {
  std::string preset, optimizer;
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.preset << " with " << c.optimizer; }
};

class UnkeptLayers : public ::testing::TestWithParam<Case> {};

TEST_P(UnkeptLayers, UpdateBitwiseAsWithoutTheOverride) {
  const Case& c = GetParam();
  OptimizerConfig config = OptimizerConfig::sgd(0.05f, 0.9f, 1e-3f);
  config.name = c.optimizer;
  if (c.optimizer != "sgd" && c.optimizer != "lars") config.lr = 1e-3f;
  PrecisionPolicy plain = PrecisionPolicy::preset(c.preset);
  PrecisionPolicy kept = plain;
  kept.keep_fp32 = {"first", "last"};
  const auto a = build(plain, config), b = build(kept, config);
  ASSERT_EQ(b->store.groups().size(), 3u);
  for (uint64_t step = 0; step < 3; ++step) {
    set_grads(*a, step);
    set_grads(*b, step);
    a->optimizer->step(kScale, step);
    b->optimizer->step(kScale, step);
  }
  const std::vector<StateArena> arenas_a = a->optimizer->state_arenas(), arenas_b = b->optimizer->state_arenas();
  ASSERT_EQ(arenas_a.size(), arenas_b.size());
  const std::vector<nn::Parameter*> pa = a->model->parameters(), pb = b->model->parameters();
  int64_t compared = 0;
  for (size_t i = 0; i < pb.size(); ++i) {
    if (pb[i]->group != 1) {
      EXPECT_EQ(pb[i]->value.dtype(), DType::f32) << pb[i]->name;
      continue;
    }
    EXPECT_EQ(bytes_of(pb[i]->value), bytes_of(pa[i]->value)) << pb[i]->name;
    EXPECT_EQ(bytes_of(b->store.master().view(*pb[i])), bytes_of(a->store.master().view(*pa[i]))) << pb[i]->name;
    for (size_t k = 0; k < arenas_a.size(); ++k)
      EXPECT_EQ(bytes_of(arenas_b[k].arena->view(*pb[i])), bytes_of(arenas_a[k].arena->view(*pa[i])))
          << arenas_b[k].name << "." << pb[i]->name;
    ++compared;
  }
  EXPECT_EQ(compared, 2);  // fc2's weight and bias
}

INSTANTIATE_TEST_SUITE_P(
    PresetsAndOptimizers, UnkeptLayers,
    ::testing::Values(Case{"pure-fp16-naive", "sgd"}, Case{"pure-fp16", "sgd"}, Case{"pure-fp16-kahan", "sgd"},
                      Case{"mixed-fp16", "sgd"}, Case{"pure-bf16", "sgd"}, Case{"pure-fp16", "adam"},
                      Case{"pure-fp16-kahan", "adamw"}, Case{"pure-fp16", "lars"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name = info.param.preset + "_" + info.param.optimizer;
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

// SGD with momentum on the fp32 group of a pure-fp16-naive run, one step at a time from the state
// the previous step left, against float64. With u = 2^-24 and every binary32 operation rounded
// to nearest (|fl(x) - x| <= u |x|), from the stored w, m (fp32) and g (fp32, carrying S = 2^10):
//   g' = g / S                                exact (a power of two)
//   m' = fl(fl(mu m) + g')                    |m' - (mu m + g')| <= u |mu m| + u (|mu m| (1 + u) + |g'|) = Em
//   w' = fl(w - fl(lr m'))                    |w' - (w - lr (mu m + g'))| <= lr Em + u lr (|m*| + Em)
//                                                                            + u (|w| + lr (|m*| + Em)(1 + u))
// with m* = mu m + g' in float64 and mu, lr the binary32 values the kernel multiplies by (the
// float64 evaluation's own error, below 2^-52 relative, is covered by a factor 1 + 2^-40).
TEST(KeptLayers, SgdUpdateMatchesFloat64WithinTheDerivedBound) {
  const OptimizerConfig config = OptimizerConfig::sgd(0.05f, 0.9f, 0.0f);
  PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16-naive");
  policy.keep_fp32 = {"first", "last"};
  const auto t = build(policy, config);
  Sgd& sgd = dynamic_cast<Sgd&>(*t->optimizer);
  const double u = 0x1.0p-24, mu = double(config.momentum), lr = double(config.lr), slack = 1 + 0x1.0p-40;
  int64_t checked = 0, inexact = 0;
  for (uint64_t step = 0; step < 4; ++step) {
    set_grads(*t, step);
    std::vector<std::vector<double>> w0, m0, g0;
    const std::vector<nn::Parameter*> kept = [&] {
      std::vector<nn::Parameter*> out;
      for (nn::Parameter* p : t->model->parameters())
        if (p->group != 1) out.push_back(p);
      return out;
    }();
    for (const nn::Parameter* p : kept) {
      w0.push_back(p->value.to_doubles());
      m0.push_back(sgd.momentum_buffer().view(*p).to_doubles());
      g0.push_back(p->grad.to_doubles());
    }
    sgd.step(kScale, step);
    for (size_t k = 0; k < kept.size(); ++k) {
      ASSERT_EQ(kept[k]->value.dtype(), DType::f32);
      const std::vector<double> w1 = kept[k]->value.to_doubles();
      const std::vector<double> m1 = sgd.momentum_buffer().view(*kept[k]).to_doubles();
      for (size_t i = 0; i < w1.size(); ++i) {
        const double g = g0[k][i] / double(kScale);
        const double mu_m = step == 0 ? 0.0 : mu * m0[k][i];  // the first step sets m = g
        const double m_exact = mu_m + g;
        const double em = (u * std::abs(mu_m) + u * (std::abs(mu_m) * (1 + u) + std::abs(g))) * slack;
        const double w_exact = w0[k][i] - lr * m_exact;
        const double ew = (lr * em + u * lr * (std::abs(m_exact) + em) +
                           u * (std::abs(w0[k][i]) + lr * (std::abs(m_exact) + em) * (1 + u))) *
                          slack;
        ASSERT_LE(std::abs(m1[i] - m_exact), em) << kept[k]->name << "[" << i << "] step " << step;
        ASSERT_LE(std::abs(w1[i] - w_exact), ew) << kept[k]->name << "[" << i << "] step " << step;
        inexact += w1[i] != w_exact ? 1 : 0;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 4 * (16 * 48 + 48 + 40 * 10 + 10));
  EXPECT_GT(inexact, 0);  // the bound is exercised, not met by exact arithmetic
}

}  // namespace
}  // namespace pure16::optim
