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

TEST(RingModel, ProjectionPipelinesBucketsBehindBackward) {
  const RingModel m{0, 1e-9};  // 2 ranks: 1 ns a byte of buffer
  // 100 MB in buckets of 10 MB, 40 MB, 40 MB and the last 10 MB, produced over 1 s of backward:
  // ready at 0.1, 0.5, 0.9 and 1.0 s, each taking 10 ms per 10 MB, so only the last is exposed.
  const StepProjection long_backward = project_step(m, 2, 100e6, 40e6, 10e6, 1.5, 1.0);
  EXPECT_NEAR(long_backward.comm_seconds, 0.1, 1e-12);
  EXPECT_NEAR(long_backward.exposed_seconds, 0.01, 1e-12);
  EXPECT_NEAR(long_backward.hidden_fraction, 0.9, 1e-12);
  EXPECT_NEAR(long_backward.step_seconds, 1.51, 1e-12);
  // Backward of 20 ms: the first bucket is ready at 2 ms, and the all-reduces then run back to
  // back for 100 ms, ending at 102 ms: 82 ms past backward.
  const StepProjection short_backward = project_step(m, 2, 100e6, 40e6, 10e6, 0.03, 0.02);
  EXPECT_NEAR(short_backward.exposed_seconds, 0.082, 1e-12);
  EXPECT_NEAR(short_backward.efficiency, 0.03 / 0.112, 1e-12);
}

TEST(RingModel, FitNeedsTwoSizes) {
  EXPECT_THROW(fit_ring({{2, 1e6, 1e-3}}), std::invalid_argument);
  EXPECT_THROW(fit_ring({{2, 1e6, 1e-3}, {2, 1e6, 1e-3}}), std::invalid_argument);
}

}  // namespace
}  // namespace pure16::dist
