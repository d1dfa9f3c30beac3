// SGD against a float64 model of torch.optim.SGD, in each precision policy.
#include <gtest/gtest.h>

#include <cmath>

#include "pure16/numerics/float16.h"
#include "pure16/optim/sgd.h"
#include "support/optimizer_fixture.h"
#include "support/reference.h"

namespace pure16::optim {
namespace {

using Fixture = testing::OptimizerFixture;

// The float64 model, fed the same stored gradients; returns the weights after `steps`.
std::vector<double> reference_sgd(std::vector<double> w, const std::vector<std::vector<double>>& grads,
                                  const OptimizerConfig& c, double grad_scale) {
  std::vector<double> m(w.size(), 0.0);
  for (size_t s = 0; s < grads.size(); ++s)
    for (size_t i = 0; i < w.size(); ++i) {
      const double g = grads[s][i] / grad_scale + c.weight_decay * w[i];
      m[i] = s == 0 ? g : c.momentum * m[i] + g;
      const double d = c.nesterov ? g + c.momentum * m[i] : m[i];
      w[i] -= c.lr * d;
    }
  return w;
}

void expect_matches_reference(const PrecisionPolicy& policy, const OptimizerConfig& config, double grad_scale,
                              double tolerance) {
  Fixture f(policy);
  Sgd sgd(f.store, config, policy, 9);
  const std::vector<double> w0 = f.store.master().segment(0).to_doubles();
  std::vector<std::vector<double>> grads;
  const int steps = 5;
  for (int s = 0; s < steps; ++s) {
    f.set_grads(100 + s, grad_scale);
    grads.push_back(f.store.grads().segment(0).to_doubles());
    sgd.step(float(grad_scale), uint64_t(s));
  }
  const std::vector<double> expected = reference_sgd(w0, grads, config, grad_scale);
  const std::vector<double> got = f.store.master().segment(0).to_doubles();
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected[i], tolerance * std::max(1.0, std::abs(expected[i]))) << "element " << i;
  if (policy.has_master_copy()) {
    // The compute copy is the master rounded to nearest.
    const std::vector<double> values = f.store.values().segment(0).to_doubles();
    const Tensor rounded = f.store.master().segment(0).to(policy.compute);
    EXPECT_EQ(values, rounded.to_doubles());
  }
}

TEST(Sgd, Fp32MatchesTorchSemantics) {
  // Each of 5 steps does ~6 binary32 operations per element on O(1) values.
  const OptimizerConfig config = OptimizerConfig::sgd(0.1f, 0.9f, 0.01f, false);
  expect_matches_reference(PrecisionPolicy::preset("fp32"), config, 1.0, 5 * 8 * 0x1.0p-24);
}

TEST(Sgd, NesterovMatchesTorchSemantics) {
  const OptimizerConfig config = OptimizerConfig::sgd(0.05f, 0.8f, 0.0f, true);
  expect_matches_reference(PrecisionPolicy::preset("fp32"), config, 1.0, 5 * 8 * 0x1.0p-24);
}

TEST(Sgd, MixedPrecisionUnscalesAndKeepsMaster) {
  // fp16 gradients carrying a loss scale of 1024; the master update is binary32.
  const OptimizerConfig config = OptimizerConfig::sgd(0.1f, 0.9f, 0.0f, false);
  expect_matches_reference(PrecisionPolicy::preset("mixed-fp16"), config, 1024.0, 5 * 8 * 0x1.0p-24);
}

TEST(Sgd, PureFp16NearestStaysWithinRoundingOfReference) {
  // Weights and momentum rounded to fp16 each step: per step the weight error grows by at most
  // one fp16 rounding of w (u|w|) plus lr times the momentum's rounding error, which itself
  // accumulates u|m| per step (|m| <= 1/(1-mu) * max|g| = 10 here).
  PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
  policy.update_rounding = Rounding::nearest;
  const OptimizerConfig config = OptimizerConfig::sgd(0.01f, 0.9f, 0.0f, false);
  const double u = 0x1.0p-11;
  const double per_step = u * 1.5 + 0.01 * 5 * u * 10;
  expect_matches_reference(policy, config, 1.0, 5 * per_step);
}

TEST(Sgd, PureFp16StoresOnlyHalfPrecisionState) {
  const PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
  Fixture f(policy);
  Sgd sgd(f.store, OptimizerConfig::sgd(0.1f, 0.9f, 0.0f, false), policy, 1);
  EXPECT_EQ(f.store.master().segment(0).dtype(), DType::f16);
  EXPECT_FALSE(f.store.has_master_copy(f.weight));
  EXPECT_EQ(sgd.momentum_buffer().segment(0).dtype(), DType::f16);
  const nn::MemoryReport m = f.store.memory();
  EXPECT_EQ(m.master_weights_bytes, 0);
  EXPECT_EQ(m.weights_bytes, f.store.numel() * 2);
  EXPECT_EQ(sgd.state_bytes(), f.store.numel() * 2);
}

TEST(Sgd, MomentumRoundsAsThePolicySays) {
  // After two steps the momentum is 0.9 m + g in binary32, stored to nearest (pure-fp16) or to
  // either fp16 neighbour (--momentum-rounding stochastic), which differs from nearest somewhere.
  for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
    SCOPED_TRACE(std::string(rounding_name(rounding)));
    PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
    policy.momentum_rounding = rounding;
    Fixture f(policy);
    Sgd sgd(f.store, OptimizerConfig::sgd(0.1f, 0.9f, 0.0f, false), policy, 5);
    f.set_grads(1, 1.0);
    sgd.step(1.0f, 0);
    const std::vector<double> first = sgd.momentum_buffer().segment(0).to_doubles();
    f.set_grads(2, 1.0);
    const std::vector<double> grads = f.store.grads().segment(0).to_doubles();
    sgd.step(1.0f, 1);
    const std::vector<double> got = sgd.momentum_buffer().segment(0).to_doubles();
    int64_t not_nearest = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const float velocity = 0.9f * float(first[i]) + float(grads[i]);
      const double nearest = to_double(to_fp16(velocity));
      const double down = to_double(to_fp16_stochastic(velocity, 0xffffffffu));
      const double up = to_double(to_fp16_stochastic(velocity, 0));
      ASSERT_TRUE(got[i] == down || got[i] == up) << "element " << i << ": " << got[i] << " for " << velocity;
      not_nearest += got[i] != nearest;
    }
    if (rounding == Rounding::nearest)
      EXPECT_EQ(not_nearest, 0);
    else
      EXPECT_GT(not_nearest, int64_t(got.size()) / 10);  // about a quarter
  }
}

TEST(Sgd, StochasticAndKahanRoundingKeepTinyUpdates) {
  // Starting from 1, each step subtracts 2^-14, an eighth of the fp16 spacing just below 1
  // (2^-11). Nearest rounding loses every such update; stochastic rounding moves the expected
  // value by exactly that much per step, and Kahan compensation the value itself.
  for (Rounding rounding : {Rounding::nearest, Rounding::stochastic, Rounding::kahan}) {
    PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
    policy.update_rounding = rounding;
    nn::Parameter p;
    p.name = "w";
    p.shape = {4096};
    p.init = nn::Init{nn::Init::Kind::ones, 0};
    nn::ParameterStore store;
    store.build({&p}, policy, 1);
    Sgd sgd(store, OptimizerConfig::sgd(1.0f, 0.0f, 0.0f, false), policy, 42);
    const double update = 0x1.0p-14;
    store.grads().segment(0).fill(update);
    const int steps = 64;
    for (int s = 0; s < steps; ++s) sgd.step(1.0f, uint64_t(s));
    double mean = 0;
    for (double v : store.values().segment(0).to_doubles()) mean += v;
    mean /= 4096;
    const double expected = 1.0 - steps * update;
    if (rounding == Rounding::nearest) {
      EXPECT_EQ(mean, 1.0);  // every update rounded away
    } else if (rounding == Rounding::kahan) {
      // The compensation holds the dropped updates until they add up to an ulp: every 8th step
      // moves the weight by 2^-11, exactly; after 64 steps it is 1 - 2^-8 with nothing left over.
      EXPECT_EQ(mean, expected);
      EXPECT_EQ(sgd.state_bytes(), 4096 * 2);  // the compensation buffer, fp16
    } else {
      // Each element's final value has variance <= steps * (2^-11)^2 / 4; the mean of 4096 has
      // standard deviation <= sqrt(64/4/4096) * 2^-11; allow 5 sigma.
      EXPECT_NEAR(mean, expected, 5 * std::sqrt(64.0 / 4 / 4096) * 0x1.0p-11);
    }
  }
}

TEST(Sgd, StochasticRoundingIsReproducibleFromTheSeed) {
  auto run = [](uint64_t seed) {
    const PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
    Fixture f(policy);
    Sgd sgd(f.store, OptimizerConfig::sgd(0.1f, 0.9f, 0.0f, false), policy, seed);
    for (int s = 0; s < 3; ++s) {
      f.set_grads(7 + s, 1.0);
      sgd.step(1.0f, uint64_t(s));
    }
    return f.store.values().segment(0).to_doubles();
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(Sgd, RejectsBadHyperparameters) {
  EXPECT_THROW((OptimizerConfig::sgd(-0.1f, 0.0f, 0.0f, false).validate()), std::invalid_argument);
  OptimizerConfig unknown = OptimizerConfig::sgd(0.1f, 0.0f);
  unknown.name = "adagrad";
  EXPECT_THROW(unknown.validate(), std::invalid_argument);
  EXPECT_THROW((OptimizerConfig::sgd(0.1f, 0.0f, 0.0f, true).validate()), std::invalid_argument);
  EXPECT_THROW((OptimizerConfig::sgd(NAN, 0.0f, 0.0f, false).validate()), std::invalid_argument);
}

// Only SGD reads `nesterov`: asking another optimizer for it is an error, not a silent no-op.
TEST(Sgd, NesterovIsRejectedForOtherOptimizers) {
  OptimizerConfig config = OptimizerConfig::sgd(0.1f, 0.9f, 0.0f, true);
  EXPECT_NO_THROW(config.validate());
  for (const std::string& name : optimizer_names()) {
    if (name == "sgd") continue;
    config.name = name;
    EXPECT_THROW(config.validate(), std::invalid_argument) << name;
  }
}

}  // namespace
}  // namespace pure16::optim
