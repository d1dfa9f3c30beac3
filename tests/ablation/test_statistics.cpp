// Mean, sample standard deviation and paired differences, against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "pure16/ablation/statistics.h"

namespace {

using pure16::ablation::paired_difference;
using pure16::ablation::summarize;

TEST(Statistics, SampleStandardDeviationDividesByNMinusOne) {
  // mean 5; squared deviations 9 + 1 + 1 + 9 = 20; 20 / (4 - 1) = 6.666...
  const auto s = summarize({2, 4, 6, 8});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(20.0 / 3.0));
  EXPECT_DOUBLE_EQ(s.min, 2.0);
  EXPECT_DOUBLE_EQ(s.max, 8.0);
}

TEST(Statistics, AccuraciesCloseTogetherKeepTheirSpread) {
  // 0.981, 0.982, 0.983: mean 0.982, deviations -0.001, 0, 0.001: std sqrt(2e-6 / 2) = 0.001.
  const auto s = summarize({0.981, 0.982, 0.983});
  EXPECT_NEAR(s.mean, 0.982, 1e-15);
  EXPECT_NEAR(s.std, 0.001, 1e-12);
}

TEST(Statistics, OneValueHasNoSpreadAndNoValuesNoMean) {
  const auto one = summarize({0.5});
  EXPECT_EQ(one.n, 1);
  EXPECT_DOUBLE_EQ(one.mean, 0.5);
  EXPECT_TRUE(std::isnan(one.std));
  const auto none = summarize({});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.mean));
}

TEST(Statistics, ADivergedRunShowsInTheMean) {
  EXPECT_TRUE(std::isnan(summarize({0.1, NAN, 0.2}).mean));
}

TEST(Statistics, PairedDifferencesUseOnlySeedsBothHave) {
  // Seed 0: 0.97 - 0.98 = -0.01; seed 1: 0.99 - 0.97 = 0.02; seed 2 has no baseline, seed 3 no arm.
  // mean 0.005; deviations -0.015, 0.015: std sqrt(2 * 0.015^2 / 1) = 0.0212132...
  const auto d = paired_difference({{0, 0.97}, {1, 0.99}, {2, 0.5}}, {{0, 0.98}, {1, 0.97}, {3, 0.9}});
  EXPECT_EQ(d.n, 2);
  EXPECT_NEAR(d.mean, 0.005, 1e-15);
  EXPECT_NEAR(d.std, 0.015 * std::sqrt(2.0), 1e-15);
}

TEST(Statistics, PairingRemovesWhatTheSeedDoesToBoth) {
  // The seeds differ by 0.1 but each strategy is exactly 0.002 below the baseline: no spread.
  const auto d = paired_difference({{0, 0.898}, {1, 0.998}}, {{0, 0.9}, {1, 1.0}});
  EXPECT_NEAR(d.mean, -0.002, 1e-15);
  EXPECT_NEAR(d.std, 0.0, 1e-15);
}

}  // namespace
