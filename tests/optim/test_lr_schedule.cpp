// Learning-rate schedules against their closed forms (PyTorch's LinearLR warm-up,
// CosineAnnealingLR with eta_min 0, MultiStepLR), stepped once per batch.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "pure16/optim/lr_schedule.h"
#include "pure16/train/run.h"

namespace pure16::optim {
namespace {

TEST(LrSchedule, ConstantIsTheBaseRate) {
  LrSchedule s;
  s.base_lr = 0.3f;
  for (int64_t step : {0, 1, 1000}) EXPECT_EQ(s.at(step), 0.3f);
}

TEST(LrSchedule, WarmupRisesLinearlyToTheBaseRate) {
  LrSchedule s;
  s.base_lr = 0.4f;
  s.warmup_steps = 4;
  EXPECT_FLOAT_EQ(s.at(0), 0.1f);
  EXPECT_FLOAT_EQ(s.at(1), 0.2f);
  EXPECT_FLOAT_EQ(s.at(3), 0.4f);
  EXPECT_FLOAT_EQ(s.at(4), 0.4f);
}

TEST(LrSchedule, CosineFollowsHalfACosineToZero) {
  LrSchedule s;
  s.kind = LrScheduleKind::cosine;
  s.base_lr = 0.1f;
  s.warmup_steps = 10;
  s.total_steps = 110;
  for (int64_t step = 10; step <= 120; step += 7) {
    const double t = std::min(1.0, double(step - 10) / 100.0);
    EXPECT_NEAR(s.at(step), 0.05 * (1 + std::cos(std::numbers::pi * t)), 1e-8) << step;
  }
  EXPECT_FLOAT_EQ(s.at(10), 0.1f);
  EXPECT_NEAR(s.at(60), 0.05, 1e-8);
  EXPECT_EQ(s.at(110), 0.0f);
  EXPECT_EQ(s.at(500), 0.0f);  // past the end it stays at zero
}

TEST(LrSchedule, StepMultipliesByGammaAtEachMilestone) {
  LrSchedule s;
  s.kind = LrScheduleKind::step;
  s.base_lr = 1.0f;
  s.milestones = {30, 80};
  s.gamma = 0.1f;
  EXPECT_FLOAT_EQ(s.at(29), 1.0f);
  EXPECT_FLOAT_EQ(s.at(30), 0.1f);
  EXPECT_FLOAT_EQ(s.at(79), 0.1f);
  EXPECT_FLOAT_EQ(s.at(80), 0.01f);
}

TEST(LrSchedule, BadSettingsAreRejected) {
  LrSchedule cosine;
  cosine.kind = LrScheduleKind::cosine;
  cosine.warmup_steps = 5;
  cosine.total_steps = 5;
  EXPECT_THROW(cosine.validate(), std::invalid_argument);
  LrSchedule step;
  step.kind = LrScheduleKind::step;
  step.milestones = {5, 2};
  EXPECT_THROW(step.validate(), std::invalid_argument);
  step.milestones = {2, 5};
  step.gamma = 0;
  EXPECT_THROW(step.validate(), std::invalid_argument);
  LrSchedule negative;
  negative.base_lr = -1;
  EXPECT_THROW(negative.validate(), std::invalid_argument);
  EXPECT_THROW(parse_lr_schedule("linear"), std::invalid_argument);
  for (auto kind : {LrScheduleKind::constant, LrScheduleKind::cosine, LrScheduleKind::step})
    EXPECT_EQ(parse_lr_schedule(lr_schedule_name(kind)), kind);
}

TEST(LrSchedule, TrainConfigConvertsEpochsToSteps) {
  train::TrainConfig config;
  config.optimizer.lr = 0.2f;
  config.epochs = 10;
  config.lr_schedule = LrScheduleKind::step;
  config.warmup_epochs = 0.5;
  config.lr_milestones = {5, 7.5};
  const LrSchedule s = train::make_lr_schedule(config, 100);
  EXPECT_EQ(s.warmup_steps, 50);
  EXPECT_EQ(s.total_steps, 1000);
  EXPECT_EQ(s.milestones, (std::vector<int64_t>{500, 750}));
  config.lr_schedule = LrScheduleKind::cosine;
  config.max_steps = 300;  // the cosine ends where the run does
  EXPECT_EQ(train::make_lr_schedule(config, 100).total_steps, 300);
}

}  // namespace
}  // namespace pure16::optim
