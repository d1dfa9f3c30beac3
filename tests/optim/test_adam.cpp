// Adam and AdamW against a float64 model of torch.optim.Adam / AdamW, with an error bound
// carried alongside the model per element from the arithmetic the kernel does; and the failure
// that motivates the safe state: fp16 Adam as PyTorch runs it, on gradients of 1e-4..1e-3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "pure16/optim/adam.h"
#include "support/optimizer_fixture.h"
#include "support/reference.h"

namespace pure16::optim {
namespace {

constexpr double kU32 = 0x1.0p-24;  // binary32 unit roundoff: every register operation

using Fixture = testing::OptimizerFixture;

// Unit roundoff and the absolute error of rounding to nearest below the normal range (half the
// smallest subnormal) of a storage dtype.
struct Rounding16 {
  double u, eta;
};
Rounding16 rounding_of(DType t) {
  switch (t) {
    case DType::f16:
      return {0x1.0p-11, 0x1.0p-25};
    case DType::bf16:
      return {0x1.0p-8, 0x1.0p-134};
    default:
      return {kU32, 0x1.0p-150};
  }
}

struct Reference {
  std::vector<double> w, bound;  // the float64 weights, and how far the optimizer's may be
};

// torch.optim.Adam / AdamW in float64 on the stored gradients (exactly what the optimizer
// reads, unscaled by a power of two: exact), with the hyperparameters' binary32 values. Next to
// each quantity q it carries E(q), a bound on |optimizer's q - q| in unscaled units, to first
// order plus margins of one u per product of errors: the state's store rounds to nearest
// (relative u_s, absolute eta_s / S below fp16's normals, S the loss scale), the weight's
// likewise in its dtype, and every binary32 operation adds u32 relative to its result.
Reference reference_adam(std::vector<double> w, const std::vector<std::vector<double>>& grads, const OptimizerConfig& c,
                         bool decoupled, double scale, DType state, DType weight) {
  const Rounding16 rs = rounding_of(state), rw = rounding_of(weight);
  const double eta_s = rs.eta / scale;
  const double b1 = c.beta1, b2 = c.beta2, eps = c.eps, lr = c.lr;
  const double wd = decoupled ? 0.0 : c.weight_decay, decay = decoupled ? lr * double(c.weight_decay) : 0.0;
  const size_t n = w.size();
  Reference out{std::move(w), std::vector<double>(n, 0.0)};
  std::vector<double>& ew = out.bound;
  std::vector<double> m(n, 0.0), v(n, 0.0), em(n, 0.0), es(n, 0.0);
  for (size_t s = 0; s < grads.size(); ++s) {
    const double t = double(s + 1), bc1 = 1 - std::pow(b1, t), c2 = std::sqrt(1 - std::pow(b2, t));
    for (size_t i = 0; i < n; ++i) {
      const double g = grads[s][i] / scale + wd * out.w[i];
      const double eg = wd * ew[i] + 2 * kU32 * (std::abs(grads[s][i] / scale) + std::abs(wd * out.w[i]));
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double root = std::sqrt(v[i]);
      // m: two products and a sum; s: five operations under the root (half their error after
      // it) and the root itself, sensitivities sqrt(b2) to the old root and sqrt(1 - b2) to g.
      em[i] = b1 * em[i] + (1 - b1) * eg + 3 * kU32 * (b1 * std::abs(m[i]) + (1 - b1) * std::abs(g)) +
              rs.u * std::abs(m[i]) + eta_s;
      es[i] = std::sqrt(b2) * es[i] + std::sqrt(1 - b2) * eg + 4 * kU32 * root + rs.u * root + eta_s;
      const double denom = root / c2 + eps, e_denom = es[i] / c2 + 3 * kU32 * denom;
      const double ratio = m[i] / denom;
      const double e_ratio = e_denom < denom
                                 ? (em[i] + std::abs(ratio) * e_denom) / (denom - e_denom) + 2 * kU32 * std::abs(ratio)
                                 : std::numeric_limits<double>::infinity();
      const double change = lr / bc1 * ratio + decay * out.w[i];
      const double e_change =
          lr / bc1 * (e_ratio + kU32 * std::abs(ratio)) + decay * ew[i] + 3 * kU32 * std::abs(change);
      out.w[i] -= change;
      ew[i] += e_change + rw.u * std::abs(out.w[i]) + rw.eta;
    }
  }
  return out;
}

struct Outcome {
  std::vector<double> w, bound;
  int64_t nonfinite = 0, zero_second_moment = 0;
};

Outcome run_adam(const PrecisionPolicy& policy, const OptimizerConfig& config, double scale, double lo, double hi,
                 int steps = 8) {
  Fixture f(policy);
  auto adam = make_optimizer(f.store, config, policy, 9);
  const std::vector<double> w0 = f.store.master().segment(0).to_doubles();
  std::vector<std::vector<double>> grads;
  for (int s = 0; s < steps; ++s) {
    f.set_grads(100 + uint64_t(s), lo, hi, scale);
    grads.push_back(f.store.grads().segment(0).to_doubles());
    adam->step(float(scale), uint64_t(s));
  }
  const Reference ref =
      reference_adam(w0, grads, config, config.name == "adamw", scale, policy.optimizer_state, policy.master);
  Outcome out{f.store.master().segment(0).to_doubles(), {}, 0, 0};
  for (size_t i = 0; i < out.w.size(); ++i) {
    out.nonfinite += std::isfinite(out.w[i]) ? 0 : 1;
    const double err = std::abs(out.w[i] - ref.w[i]);
    if (!(err <= ref.bound[i])) out.bound.push_back(double(i));
  }
  for (const StateArena& arena : adam->state_arenas())
    if (arena.name != "exp_avg")
      for (double x : arena.arena->segment(0).to_doubles()) out.zero_second_moment += x == 0 ? 1 : 0;
  return out;
}

OptimizerConfig adam_config(const std::string& name, float lr, float weight_decay, float beta2 = 0.999f) {
  OptimizerConfig c;
  c.name = name;
  c.lr = lr;
  c.weight_decay = weight_decay;
  c.beta2 = beta2;
  return c;
}

PrecisionPolicy nearest(const std::string& preset) {
  PrecisionPolicy p = PrecisionPolicy::preset(preset);
  p.update_rounding = Rounding::nearest;
  return p;
}

void expect_within_bound(const Outcome& o) {
  EXPECT_EQ(o.nonfinite, 0);
  EXPECT_TRUE(o.bound.empty()) << o.bound.size() << " weights outside the bound, first element " << o.bound[0];
}

TEST(Adam, Fp32MatchesTorchSemantics) {
  expect_within_bound(run_adam(PrecisionPolicy::preset("fp32"), adam_config("adam", 1e-2f, 1e-2f), 1.0, 0.0, 1.0));
}

TEST(Adam, AdamWMatchesTorchSemantics) {
  expect_within_bound(run_adam(PrecisionPolicy::preset("fp32"), adam_config("adamw", 1e-2f, 0.1f), 1.0, 0.0, 1.0));
}

TEST(Adam, MixedPrecisionKeepsScaledBinary32State) {
  expect_within_bound(
      run_adam(PrecisionPolicy::preset("mixed-fp16"), adam_config("adam", 1e-2f, 0.0f), 1024.0, 0.0, 1.0));
}

TEST(Adam, PureFp16StaysWithinRoundingOfReference) {
  // beta2 = 0.9999 (1 in fp16) works: the hyperparameters stay binary32.
  expect_within_bound(run_adam(nearest("pure-fp16"), adam_config("adam", 1e-2f, 1e-2f, 0.9999f), 1024.0, 0.0, 1.0));
  expect_within_bound(run_adam(nearest("pure-fp16"), adam_config("adamw", 1e-2f, 0.1f), 1024.0, 0.0, 1.0));
}

TEST(Adam, SmallGradientsBreakNaiveFp16AdamButNotTheSafeState) {
  // |g| in [1e-4, 1e-3): (1 - beta2) g^2 <= 1e-9 is below half the smallest fp16 subnormal
  // (2^-25 = 3e-8), so v stays 0; eps = 1e-8 rounds to 0 too, and m / 0 is infinite.
  OptimizerConfig naive = adam_config("adam", 1e-3f, 0.0f);
  naive.naive = true;
  for (double scale : {1.0, 1024.0}) {
    SCOPED_TRACE("loss scale " + std::to_string(scale));
    const Outcome broken = run_adam(nearest("pure-fp16"), naive, scale, 1e-4, 1e-3);
    EXPECT_EQ(broken.zero_second_moment, int64_t(broken.w.size()));
    EXPECT_EQ(broken.nonfinite, int64_t(broken.w.size()));
    const Outcome safe = run_adam(nearest("pure-fp16"), adam_config("adam", 1e-3f, 0.0f), scale, 1e-4, 1e-3);
    EXPECT_EQ(safe.zero_second_moment, 0);
    expect_within_bound(safe);
  }
}

TEST(Adam, LossScaleChangesRescaleTheStateExactly) {
  // The same unscaled gradients carried by scales that change every step (as dynamic loss
  // scaling does, by powers of two) give the bits of a constant scale: the state's rescaling
  // and every other scaled quantity are exact powers of two away.
  auto run = [](bool changing) {
    const PrecisionPolicy policy = PrecisionPolicy::preset("fp32");
    Fixture f(policy);
    Adam adam(f.store, adam_config("adam", 1e-2f, 1e-2f), policy, 4, false);
    const double scales[] = {1024, 4096, 512, 512, 65536, 8};
    for (int s = 0; s < 6; ++s) {
      const double scale = changing ? scales[s] : 1024;
      f.set_grads(50 + uint64_t(s), 0.0, 1.0, scale);
      adam.step(float(scale), uint64_t(s));
      EXPECT_EQ(adam.state_scale(), scale);
    }
    return f.store.master().segment(0).to_doubles();
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(Adam, RescalingSaturatesInsteadOfOverflowing) {
  PrecisionPolicy policy = nearest("pure-fp16");
  Fixture f(policy);
  Adam adam(f.store, adam_config("adam", 1e-3f, 0.0f), policy, 4, false);
  // The same gradients near fp16's largest, in loss-scaled units, bring m~ and s~ near them too.
  for (int s = 0; s < 30; ++s) {
    f.set_grads(1, 30000.0, 60000.0, 1.0);
    adam.step(1.0f, uint64_t(s));
  }
  f.set_grads(2, 0.0, 0.5, 8.0);  // the scale grew 8 times: the state would pass 65504
  adam.step(8.0f, 30);
  // m~ ~ 0.96 * 45000 times 8 saturates at 65504; one step on gradients of at most 4 leaves
  // 0.9 * 65504 + 0.4, within an fp16 spacing (32) of it.
  double largest_mean = 0;
  for (double x : adam.exp_avg().segment(0).to_doubles()) largest_mean = std::max(largest_mean, std::abs(x));
  EXPECT_NEAR(largest_mean, 0.9 * 65504, 32);
  for (const StateArena& arena : adam.state_arenas())
    for (double x : arena.arena->segment(0).to_doubles()) ASSERT_TRUE(std::isfinite(x)) << arena.name;
  for (double x : f.store.master().segment(0).to_doubles()) ASSERT_TRUE(std::isfinite(x));
}

TEST(Adam, PureFp16KeepsTwoHalfPrecisionArenas) {
  for (const char* preset : {"pure-fp16", "pure-fp16-kahan"}) {
    SCOPED_TRACE(preset);
    const PrecisionPolicy policy = PrecisionPolicy::preset(preset);
    Fixture f(policy);
    Adam adam(f.store, adam_config("adam", 1e-3f, 0.0f), policy, 1, false);
    const std::vector<StateArena> arenas = adam.state_arenas();
    const bool kahan = policy.update_rounding == Rounding::kahan;
    ASSERT_EQ(arenas.size(), kahan ? 3u : 2u);
    EXPECT_EQ(arenas[0].name, "exp_avg");
    EXPECT_EQ(arenas[1].name, "exp_avg_sq_sqrt");
    if (kahan) {
      EXPECT_EQ(arenas[2].name, "compensation");
    }
    for (const StateArena& a : arenas) EXPECT_EQ(a.arena->segment(0).dtype(), DType::f16) << a.name;
    EXPECT_EQ(adam.state_bytes(), int64_t(arenas.size()) * f.store.numel() * 2);
    EXPECT_EQ(f.store.memory().master_weights_bytes, 0);
  }
}

TEST(Adam, StateScaleIsSavedAndRestored) {
  const PrecisionPolicy policy = PrecisionPolicy::preset("pure-fp16");
  Fixture f(policy);
  Adam adam(f.store, adam_config("adam", 1e-3f, 0.0f), policy, 1, false);
  f.set_grads(1, 0.0, 1.0, 256.0);
  adam.step(256.0f, 0);
  const StateScalars saved = adam.state_scalars();
  EXPECT_EQ(scalar_named(saved, "state_scale"), 256.0);
  Adam restored(f.store, adam_config("adam", 1e-3f, 0.0f), policy, 1, false);
  restored.restore_scalars(saved);
  EXPECT_EQ(restored.state_scale(), 256.0);
  EXPECT_EQ(restored.steps_applied(), 1);
  EXPECT_THROW(restored.restore_scalars({{"steps_applied", 1.0}}), std::invalid_argument);
}

TEST(Adam, IsInTheRegistry) {
  for (const char* name : {"adam", "adamw", "lars"}) {
    const std::vector<std::string> names = optimizer_names();
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

}  // namespace
}  // namespace pure16::optim
