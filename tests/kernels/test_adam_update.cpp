// The fused Adam update at every ISA level the CPU supports, against the formula of
// pure16/kernels/adam_update.h evaluated here element by element: every product, quotient, sum
// and square root a separately rounded binary32 operation, each stored value rounded once (to
// nearest, or stochastically with Philox(seed, stream, first_index + i)). The update is exact
// arithmetic on given inputs, so the comparison is bitwise, for every dtype of weights,
// gradients and state, with and without Kahan compensation, and across a loss-scale change.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "pure16/kernels/adam_update.h"
#include "pure16/kernels/isa.h"
#include "pure16/numerics/philox.h"
#include "support/raw_buffer.h"
#include "support/reference.h"

namespace pure16::kernels {
namespace {

using pure16::testing::for_each_isa;

using Buffer = testing::RawBuffer;

float largest(DType t) {
  switch (t) {
    case DType::f16: return 65504.0f;
    case DType::bf16: return std::bit_cast<float>(0x7f7f0000u);
    default: return std::numeric_limits<float>::max();
  }
}

struct Case {
  DType weight, grad, state;
  bool stochastic = false, kahan = false, decoupled = false, naive = false;
  float rescale = 1.0f;
  int64_t n = 37;
  uint64_t first_index = 0;
};

std::string describe(const Case& c) {
  return std::string("w ") + std::string(dtype_name(c.weight)) + " g " + std::string(dtype_name(c.grad)) + " state " +
         std::string(dtype_name(c.state)) + (c.stochastic ? " stochastic" : " nearest") + (c.kahan ? " kahan" : "") +
         (c.decoupled ? " adamw" : "") + (c.naive ? " naive" : "") + " rescale " + std::to_string(c.rescale) +
         " n=" + std::to_string(c.n) + " first_index=" + std::to_string(c.first_index);
}

void check(const Case& c) {
  SCOPED_TRACE(describe(c));
  const uint64_t seed = 0x5eed + uint64_t(c.n), weight_stream = 6, mean_stream = 7, root_stream = 8;
  const float scale = c.naive ? 1.0f : 1024.0f;
  const Buffer w0 = Buffer::random(c.weight, c.n, 1 + uint64_t(c.n), -1.0, 1.0);
  // Scaled gradients up to 2048 (2 unscaled); the state as a few steps would leave it, large
  // enough in places that a rescale by 2^k saturates in fp16.
  const Buffer g = Buffer::random(c.grad, c.n, 2 + uint64_t(c.n), -2048.0, 2048.0);
  const Buffer m0 = Buffer::random(c.state, c.n, 3 + uint64_t(c.n), -40000.0, 40000.0);
  Buffer v0 = Buffer::random(c.state, c.n, 4 + uint64_t(c.n), 0.0, 40000.0);
  if (c.naive)
    for (int64_t i = 0; i < c.n; ++i) v0.set(i, std::ldexp(double(v0.get(i)), -20));  // v, not its root
  const Buffer c0 = Buffer::random(c.kahan ? c.weight : DType::f32, c.n, 5 + uint64_t(c.n), -1e-4, 1e-4);
  AdamUpdateArgs a;
  a.weight_type = c.weight;
  a.grads = g.bytes.data();
  a.grad_type = c.grad;
  a.state_type = c.state;
  a.n = c.n;
  a.naive = c.naive;
  a.state_rescale = c.rescale;
  a.inv_grad_scale = 1.0f / scale;
  a.grad_scale = scale;
  a.beta1 = 0.9f;
  a.beta2 = 0.999f;
  a.eps = 1e-8f;
  a.weight_decay = c.decoupled ? 0.0f : 1e-2f;
  a.decoupled_decay = c.decoupled ? 1e-3f * 1e-2f : 0.0f;
  a.step_size = float(1e-3 / (1 - std::pow(0.9, 3)));
  a.bias_correction2_sqrt = float(std::sqrt(1 - std::pow(0.999, 3)));
  a.stochastic = c.stochastic;
  a.seed = seed;
  a.weight_stream = weight_stream;
  a.exp_avg_stream = mean_stream;
  a.exp_avg_sq_stream = root_stream;
  a.first_index = c.first_index;

  Buffer w_expected = w0, m_expected = m0, v_expected = v0, c_expected = c0;
  std::vector<float> intended_expected(size_t(c.n));
  const float top = largest(c.state);
  const auto clamp = [top](float x) { return std::min(std::max(x, -top), top); };
  const auto r = [&](float x) { return m0.rounded(x); };  // to nearest in the state dtype
  for (int64_t i = 0; i < c.n; ++i) {
    const uint64_t index = c.first_index + uint64_t(i);
    float weight = w0.get(i);
    float change;
    if (c.naive) {
      float grad = r(g.get(i) * a.inv_grad_scale);
      if (a.weight_decay != 0.0f) grad = r(grad + a.weight_decay * weight);
      if (a.decoupled_decay != 0.0f) weight = w0.rounded(weight * (1.0f - a.decoupled_decay));
      const float mean = r(m0.get(i) + (1.0f - a.beta1) * (grad - m0.get(i)));
      const float square = r(r(a.beta2 * v0.get(i)) + (1.0f - a.beta2) * grad * grad);
      m_expected.set(i, double(mean));
      v_expected.set(i, double(square));
      change = 0.0f - a.step_size * (mean / r(r(r(std::sqrt(square)) / a.bias_correction2_sqrt) + a.eps));
    } else {
      const float grad = g.get(i) + (a.weight_decay * scale) * weight;
      const float mean = a.beta1 * clamp(m0.get(i) * c.rescale) + (1.0f - a.beta1) * grad;
      const float root0 = clamp(v0.get(i) * c.rescale);
      const float root = std::sqrt(a.beta2 * (root0 * root0) + (1.0f - a.beta2) * (grad * grad));
      m_expected.store(i, mean, c.stochastic, Philox4x32::word(seed, mean_stream, index));
      v_expected.store(i, root, c.stochastic, Philox4x32::word(seed, root_stream, index));
      change = 0.0f - (a.step_size * (mean / (root / a.bias_correction2_sqrt + a.eps * scale)) +
                       a.decoupled_decay * weight);
    }
    if (!c.kahan) {
      w_expected.store(i, weight + change, c.stochastic, Philox4x32::word(seed, weight_stream, index));
      intended_expected[size_t(i)] = change;
      continue;
    }
    const float u = change + c0.get(i);
    w_expected.set(i, double(weight + u));
    c_expected.set(i, double(u - (w_expected.get(i) - weight)));
    intended_expected[size_t(i)] = u;
  }

  for_each_isa([&](Isa isa) {
    SCOPED_TRACE(std::string(isa_name(isa)));
    for (bool with_intended : {false, true}) {
      Buffer w = w0, m = m0, v = v0, comp = c0;
      std::vector<float> intended(size_t(c.n), -1.0f);
      AdamUpdateArgs b = a;
      b.weights = w.data();
      b.exp_avg = m.data();
      b.exp_avg_sq = v.data();
      if (c.kahan) b.compensation = comp.data();
      b.intended = with_intended ? intended.data() : nullptr;
      adam_update(b);
      EXPECT_EQ(w.bytes, w_expected.bytes) << "weights";
      EXPECT_EQ(m.bytes, m_expected.bytes) << "exp_avg";
      EXPECT_EQ(v.bytes, v_expected.bytes) << "exp_avg_sq";
      if (c.kahan) {
        EXPECT_EQ(comp.bytes, c_expected.bytes) << "compensation";
      }
      if (with_intended) {
        for (int64_t i = 0; i < c.n; ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(intended[size_t(i)]), std::bit_cast<uint32_t>(intended_expected[size_t(i)]))
              << "intended change of element " << i;
      }
    }
  });
}

constexpr DType kStorage[] = {DType::f32, DType::f16, DType::bf16};

TEST(AdamUpdate, EveryDtypeCombinationMatchesTheFormulaBitwise) {
  for (DType w : kStorage)
    for (DType g : kStorage)
      for (DType s : kStorage)
        for (bool stochastic : {false, true}) {
          check({.weight = w, .grad = g, .state = s, .stochastic = stochastic});
          check({.weight = w, .grad = g, .state = s, .stochastic = stochastic, .kahan = true});
        }
}

TEST(AdamUpdate, AdamWRescaledStateAndTails) {
  for (int64_t n : {1, 7, 16, 33, 1000})
    for (float rescale : {1.0f, 2.0f, 0.5f})  // growth saturates the largest fp16 states
      for (bool decoupled : {false, true})
        check({.weight = DType::f16, .grad = DType::f16, .state = DType::f16, .stochastic = true,
               .decoupled = decoupled, .rescale = rescale, .n = n, .first_index = 5});
}

TEST(AdamUpdate, NaiveRoundsEveryOperation) {
  for (DType s : kStorage)
    for (bool decoupled : {false, true})
      check({.weight = s, .grad = s, .state = s, .stochastic = true, .decoupled = decoupled, .naive = true});
}

TEST(AdamUpdate, FloatSixtyFourAndUnalignedRandomStreams) {
  check({.weight = DType::f64, .grad = DType::f64, .state = DType::f64});
  check({.weight = DType::f32, .grad = DType::f64, .state = DType::f16, .stochastic = true});
  // An element index whose Philox block counter crosses 2^32.
  check({.weight = DType::bf16, .grad = DType::f16, .state = DType::bf16, .stochastic = true, .n = 100,
         .first_index = (uint64_t(1) << 34) - 3});
}

TEST(AdamUpdate, ThreadedSweepGivesTheSameBits) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  check({.weight = DType::f16, .grad = DType::f16, .state = DType::f16, .stochastic = true, .n = 100003});
  check({.weight = DType::f32, .grad = DType::f16, .state = DType::f32, .rescale = 0.5f, .n = 100003});
  omp_set_num_threads(saved);
}

TEST(AdamUpdate, NegativeLengthIsRejected) {
  AdamUpdateArgs a;
  a.n = -1;
  EXPECT_THROW(adam_update(a), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::kernels
