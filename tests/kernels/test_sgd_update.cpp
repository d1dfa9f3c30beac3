// The fused SGD update at every ISA level the CPU supports, against the formula of
// pure16/kernels/sgd_update.h evaluated here element by element: every product and sum a
// separately rounded binary32 operation, each stored value rounded once (to nearest, or
// stochastically with Philox(seed, stream, first_index + i)). The update is exact arithmetic on
// given inputs, so the comparison is bitwise, for every dtype of weights, gradients and momentum.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>
#include <vector>

#include "pure16/kernels/isa.h"
#include "pure16/kernels/sgd_update.h"
#include "pure16/numerics/philox.h"
#include "support/raw_buffer.h"
#include "support/reference.h"

namespace pure16::kernels {
namespace {

using pure16::testing::for_each_isa;

using Buffer = testing::RawBuffer;

// Which stored results round stochastically (the others to nearest).
enum class Stochastic { none, weights, momentum, both };

struct Case {
  DType weight, grad, momentum;
  bool with_momentum, nesterov, first;
  Stochastic stochastic;
  int64_t n;
  uint64_t first_index;
  bool kahan = false;  // a compensation buffer of the weights' dtype; weights then round to nearest
};

bool random_weights(const Case& c) { return c.stochastic == Stochastic::weights || c.stochastic == Stochastic::both; }
bool random_momentum(const Case& c) { return c.stochastic == Stochastic::momentum || c.stochastic == Stochastic::both; }

std::string describe(const Case& c) {
  const char* rounding[] = {" nearest", " stochastic weights", " stochastic momentum", " stochastic"};
  return std::string("w ") + std::string(dtype_name(c.weight)) + " g " + std::string(dtype_name(c.grad)) + " m " +
         (c.with_momentum ? std::string(dtype_name(c.momentum)) : std::string("none")) +
         (c.nesterov ? " nesterov" : "") + (c.first ? " first" : "") + (c.kahan ? " kahan" : "") +
         rounding[int(c.stochastic)] + " n=" + std::to_string(c.n) + " first_index=" + std::to_string(c.first_index);
}

void check(const Case& c) {
  SCOPED_TRACE(describe(c));
  const uint64_t seed = 0x5eed + uint64_t(c.n), weight_stream = 6, momentum_stream = 7;
  const Buffer w0 = Buffer::random(c.weight, c.n, 1 + uint64_t(c.n), -1.0, 1.0);
  // Gradients carry a loss scale of 1024; some are large enough to overflow fp16 once scaled.
  const Buffer g = Buffer::random(c.grad, c.n, 2 + uint64_t(c.n), -2048.0, 2048.0);
  const Buffer m0 = Buffer::random(c.momentum, c.n, 3 + uint64_t(c.n), -0.5, 0.5);
  const float inv_scale = 1.0f / 1024.0f, lr = 0.1f, mu = 0.9f, wd = 5e-4f;

  const Buffer c0 = Buffer::random(c.weight, c.n, 4 + uint64_t(c.n), -1e-3, 1e-3);
  Buffer w_expected = w0, m_expected = m0, c_expected = c0;
  std::vector<float> intended_expected(size_t(c.n));
  for (int64_t i = 0; i < c.n; ++i) {
    const uint64_t index = c.first_index + uint64_t(i);
    const float weight = w0.get(i);
    const float grad = g.get(i) * inv_scale + wd * weight;
    float direction = grad;
    if (c.with_momentum) {
      const float velocity = c.first ? grad : mu * m0.get(i) + grad;
      m_expected.store(i, velocity, random_momentum(c), Philox4x32::word(seed, momentum_stream, index));
      direction = c.nesterov ? grad + mu * velocity : velocity;
    }
    if (!c.kahan) {
      w_expected.store(i, weight - lr * direction, random_weights(c), Philox4x32::word(seed, weight_stream, index));
      intended_expected[size_t(i)] = 0.0f - lr * direction;
      continue;
    }
    const float change = (0.0f - lr * direction) + c0.get(i);
    w_expected.set(i, double(weight + change));
    c_expected.set(i, double(change - (w_expected.get(i) - weight)));
    intended_expected[size_t(i)] = change;
  }

  // With `intended` the kernel also reports the change it meant to make (telemetry's sampled steps).
  for_each_isa([&](Isa isa) {
    for (bool with_intended : {false, true}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + (with_intended ? " with intended changes" : ""));
      Buffer w = w0, m = m0, comp = c0;
      std::vector<float> intended(size_t(c.n), NAN);
      SgdUpdateArgs a;
      a.weights = w.data();
      a.weight_type = c.weight;
      a.grads = g.bytes.data();
      a.grad_type = c.grad;
      if (c.with_momentum) {
        a.momentum = m.data();
        a.momentum_type = c.momentum;
      }
      a.n = c.n;
      a.inv_grad_scale = inv_scale;
      a.lr = lr;
      a.momentum_factor = c.with_momentum ? mu : 0.0f;
      a.weight_decay = wd;
      a.nesterov = c.nesterov;
      a.first = c.first;
      a.stochastic_weights = random_weights(c);
      a.stochastic_momentum = random_momentum(c);
      a.seed = seed;
      a.weight_stream = weight_stream;
      a.momentum_stream = momentum_stream;
      a.first_index = c.first_index;
      if (c.kahan) a.compensation = comp.data();
      if (with_intended) a.intended = intended.data();
      sgd_update(a);
      int64_t bad_w = 0, bad_m = 0, first_bad = -1;
      for (size_t b = 0; b < w.bytes.size(); ++b)
        if (w.bytes[b] != w_expected.bytes[b] && bad_w++ == 0) first_bad = int64_t(b / dtype_size(c.weight));
      for (size_t b = 0; b < m.bytes.size(); ++b) bad_m += m.bytes[b] != m_expected.bytes[b];
      EXPECT_EQ(bad_w, 0) << "weights differ first at element " << first_bad << ": got " << w.get(first_bad)
                          << ", expected " << w_expected.get(first_bad);
      EXPECT_EQ(bad_m, 0) << "momentum bytes differ";
      EXPECT_TRUE(comp.bytes == c_expected.bytes) << "compensation bytes differ";
      if (with_intended) {
        for (int64_t i = 0; i < c.n; ++i) ASSERT_EQ(intended[size_t(i)], intended_expected[size_t(i)]) << "element " << i;
      }
    }
  });
}

constexpr DType kStorage[] = {DType::f32, DType::f16, DType::bf16};

TEST(SgdUpdate, EveryDtypeCombinationMatchesTheFormulaBitwise) {
  for (DType w : kStorage)
    for (DType g : kStorage)
      for (DType m : kStorage)
        for (Stochastic stochastic : {Stochastic::none, Stochastic::weights, Stochastic::momentum, Stochastic::both})
          check({w, g, m, true, false, false, stochastic, 37, 0});
}

TEST(SgdUpdate, KahanCompensationMatchesTheFormulaBitwise) {
  for (DType w : kStorage)
    for (DType g : {DType::f32, DType::f16})
      for (int64_t n : {1, 17, 1000}) check({w, g, w, true, false, false, Stochastic::none, n, 0, true});
  // Kahan weights with stochastically rounded momentum.
  check({DType::f16, DType::f16, DType::f16, true, false, false, Stochastic::momentum, 1000, 0, true});
  check({DType::f64, DType::f64, DType::f64, true, true, false, Stochastic::none, 33, 0, true});
}

TEST(SgdUpdate, MomentumVariantsAndTails) {
  for (bool with_momentum : {false, true})
    for (bool nesterov : {false, true})
      for (bool first : {false, true})
        for (int64_t n : {1, 7, 16, 33, 1000})
          if (with_momentum || !nesterov)
            for (Stochastic stochastic : {Stochastic::weights, Stochastic::both})
              check({DType::f16, DType::f16, DType::f16, with_momentum, nesterov, first, stochastic, n, 5});
}

TEST(SgdUpdate, FloatSixtyFourAndUnalignedRandomStreams) {
  check({DType::f64, DType::f64, DType::f64, true, true, false, Stochastic::none, 33, 0});
  check({DType::f32, DType::f64, DType::f16, true, false, false, Stochastic::both, 33, 0});
  // An element index whose Philox block counter crosses 2^32.
  check({DType::bf16, DType::f16, DType::bf16, true, false, false, Stochastic::both, 100, (uint64_t(1) << 34) - 3});
  check({DType::f16, DType::f16, DType::f16, true, false, false, Stochastic::weights, 100, (uint64_t(1) << 34) - 3});
}

TEST(SgdUpdate, ThreadedSweepGivesTheSameBits) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  check({DType::f16, DType::f16, DType::f16, true, false, false, Stochastic::both, 100003, 0});
  check({DType::f16, DType::f16, DType::f16, true, false, false, Stochastic::weights, 100003, 0});
  check({DType::f32, DType::f16, DType::f32, true, true, false, Stochastic::none, 100003, 0});
  omp_set_num_threads(saved);
}

TEST(SgdUpdate, NegativeLengthIsRejected) {
  SgdUpdateArgs a;
  a.n = -1;
  EXPECT_THROW(sgd_update(a), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::kernels
