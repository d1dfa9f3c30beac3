// The alpha-beta fit recovers the parameters of times that follow the model, and the projection
// hides communication behind backward up to the last bucket.
#include <gtest/gtest.h>

#include <stdexcept>

#include "pure16/dist/ring_model.h"

namespace pure16::dist {
namespace {

TEST(RingModel, FitRecoversAlphaAndBeta) {
  const RingModel truth{20e-6, 1.0 / 5e9};
  std::vector<RingSample> samples;
  for (int64_t p : {2, 4})
    for (double bytes : {4e6, 16e6, 100e6}) samples.push_back({p, bytes, truth.seconds(p, bytes)});
  const RingModel fit = fit_ring(samples);
  EXPECT_NEAR(fit.alpha, truth.alpha, 1e-9);
  EXPECT_NEAR(fit.beta * 5e9, 1.0, 1e-9);
}

TEST(RingModel, LinkAndTime) {
  const RingModel link = RingModel::link(100, 5);  // 100 Gbit/s: 12.5 GB/s
  EXPECT_DOUBLE_EQ(link.alpha, 5e-6);
  // 8 ranks, 100 MB: 14 messages and 2 * 7/8 * 100 MB at 12.5 GB/s.
  EXPECT_NEAR(link.seconds(8, 100e6), 14 * 5e-6 + 1.75 * 100e6 / 12.5e9, 1e-12);
  EXPECT_EQ(link.seconds(1, 100e6), 0);
}

TEST(RingModel, ProjectionHidesAllButTheLastBucket) {
  const RingModel m{0, 1e-9};  // 1 GB/s
  // 4 buckets of 25 MB over 2 ranks: 0.1 s in all, 0.025 s the last one.
  const StepProjection long_backward = project_step(m, 2, 100e6, 4, 1.0, 0.6);
  EXPECT_NEAR(long_backward.exposed_seconds, 0.025, 1e-12);
  EXPECT_NEAR(long_backward.hidden_fraction, 0.75, 1e-12);
  const StepProjection short_backward = project_step(m, 2, 100e6, 4, 0.06, 0.04);
  EXPECT_NEAR(short_backward.exposed_seconds, 0.06, 1e-12);
  EXPECT_NEAR(short_backward.efficiency, 0.06 / 0.12, 1e-12);
}

TEST(RingModel, FitNeedsTwoSizes) {
  EXPECT_THROW(fit_ring({{2, 1e6, 1e-3}}), std::invalid_argument);
  EXPECT_THROW(fit_ring({{2, 1e6, 1e-3}, {2, 1e6, 1e-3}}), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::dist
