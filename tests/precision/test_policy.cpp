#include <gtest/gtest.h>

#include "pure16/precision/loss_scaler.h"
#include "pure16/precision/policy.h"

namespace pure16 {
namespace {

TEST(Policy, Presets) {
  const PrecisionPolicy fp32 = PrecisionPolicy::preset("fp32");
  EXPECT_EQ(fp32.compute, DType::f32);
  EXPECT_FALSE(fp32.has_master_copy());
  EXPECT_EQ(fp32.loss_scale.mode, LossScaleMode::none);

  const PrecisionPolicy mixed = PrecisionPolicy::preset("mixed-fp16");
  EXPECT_EQ(mixed.compute, DType::f16);
  EXPECT_EQ(mixed.master, DType::f32);
  EXPECT_EQ(mixed.optimizer_state, DType::f32);
  EXPECT_TRUE(mixed.has_master_copy());
  EXPECT_EQ(mixed.loss_scale.mode, LossScaleMode::dynamic);

  const PrecisionPolicy pure = PrecisionPolicy::preset("pure-fp16");
  EXPECT_EQ(pure.compute, DType::f16);
  EXPECT_EQ(pure.master, DType::f16);
  EXPECT_EQ(pure.optimizer_state, DType::f16);
  EXPECT_FALSE(pure.has_master_copy());
  EXPECT_EQ(pure.loss_scale.mode, LossScaleMode::dynamic);
  EXPECT_EQ(pure.update_rounding, Rounding::stochastic);
  EXPECT_THROW(PrecisionPolicy::preset("fp8"), std::invalid_argument);
}

TEST(Policy, ParsesOptions) {
  EXPECT_EQ(parse_loss_scale("none").mode, LossScaleMode::none);
  EXPECT_EQ(parse_loss_scale("dynamic").mode, LossScaleMode::dynamic);
  const LossScaleConfig fixed = parse_loss_scale("128");
  EXPECT_EQ(fixed.mode, LossScaleMode::fixed);
  EXPECT_EQ(fixed.initial, 128.0f);
  for (const char* bad : {"", "-1", "0", "abc", "12x", "inf", "nan"})
    EXPECT_THROW(parse_loss_scale(bad), std::invalid_argument) << bad;
  EXPECT_EQ(parse_rounding("stochastic"), Rounding::stochastic);
  EXPECT_THROW(parse_rounding("up"), std::invalid_argument);
}

TEST(Policy, RejectsF16AccumulationWithoutF16Compute) {
  PrecisionPolicy p = PrecisionPolicy::preset("fp32");
  p.accumulation = kernels::Accumulation::f16;
  EXPECT_THROW(p.validate(), std::invalid_argument);
}

TEST(LossScaler, DynamicFollowsGradScalerDefaults) {
  LossScaleConfig config;
  config.mode = LossScaleMode::dynamic;
  LossScaler scaler(config);
  EXPECT_EQ(scaler.scale(), 65536.0f);
  EXPECT_FALSE(scaler.update(true));  // overflow: skip and halve
  EXPECT_EQ(scaler.scale(), 32768.0f);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  for (int i = 0; i < 1999; ++i) EXPECT_TRUE(scaler.update(false));
  EXPECT_EQ(scaler.scale(), 32768.0f);
  EXPECT_TRUE(scaler.update(false));  // the 2000th clean step doubles
  EXPECT_EQ(scaler.scale(), 65536.0f);
  for (int i = 0; i < 1000; ++i) scaler.update(false);
  scaler.update(true);  // an overflow resets the count of clean steps
  for (int i = 0; i < 1999; ++i) scaler.update(false);
  EXPECT_EQ(scaler.scale(), 32768.0f);
}

TEST(LossScaler, NoneAndFixedNeverSkip) {
  LossScaler none(parse_loss_scale("none"));
  EXPECT_EQ(none.scale(), 1.0f);
  EXPECT_TRUE(none.update(true));
  LossScaler fixed(parse_loss_scale("512"));
  EXPECT_EQ(fixed.scale(), 512.0f);
  EXPECT_TRUE(fixed.update(true));
  EXPECT_EQ(fixed.scale(), 512.0f);
  EXPECT_EQ(fixed.skipped_steps(), 0);
}

}  // namespace
}  // namespace pure16
