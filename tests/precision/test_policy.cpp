#include <gtest/gtest.h>

#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/precision/loss_scaler.h"
#include "pure16/precision/policy.h"
#include "support/reference.h"

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
  EXPECT_EQ(pure.momentum_rounding, Rounding::nearest);
  EXPECT_THROW(PrecisionPolicy::preset("fp8"), std::invalid_argument);

  const PrecisionPolicy pure_bf16 = PrecisionPolicy::preset("pure-bf16");
  EXPECT_EQ(pure_bf16.compute, DType::bf16);
  EXPECT_EQ(pure_bf16.master, DType::bf16);
  EXPECT_EQ(pure_bf16.optimizer_state, DType::bf16);
  EXPECT_EQ(pure_bf16.loss_scale.mode, LossScaleMode::none);
  EXPECT_EQ(pure_bf16.update_rounding, Rounding::stochastic);
  EXPECT_EQ(pure_bf16.momentum_rounding, Rounding::stochastic);

  for (const char* name : {"pure-fp16-naive", "pure-bf16-naive"}) {
    const PrecisionPolicy naive = PrecisionPolicy::preset(name);
    EXPECT_EQ(naive.master, naive.compute) << name;
    EXPECT_EQ(naive.optimizer_state, naive.compute) << name;
    EXPECT_EQ(naive.loss_scale.mode, LossScaleMode::none) << name;
    EXPECT_EQ(naive.update_rounding, Rounding::nearest) << name;
    EXPECT_EQ(naive.momentum_rounding, Rounding::nearest) << name;
  }
  const PrecisionPolicy kahan = PrecisionPolicy::preset("pure-fp16-kahan");
  EXPECT_EQ(kahan.master, DType::f16);
  EXPECT_EQ(kahan.loss_scale.mode, LossScaleMode::dynamic);
  EXPECT_EQ(kahan.update_rounding, Rounding::kahan);
  EXPECT_EQ(kahan.momentum_rounding, Rounding::nearest);
  const PrecisionPolicy kahan_bf16 = PrecisionPolicy::preset("pure-bf16-kahan");
  EXPECT_EQ(kahan_bf16.master, DType::bf16);
  EXPECT_EQ(kahan_bf16.loss_scale.mode, LossScaleMode::none);
  EXPECT_EQ(kahan_bf16.update_rounding, Rounding::kahan);

  const PrecisionPolicy mixed_bf16 = PrecisionPolicy::preset("mixed-bf16");
  EXPECT_EQ(mixed_bf16.compute, DType::bf16);
  EXPECT_EQ(mixed_bf16.master, DType::f32);
  EXPECT_EQ(mixed_bf16.optimizer_state, DType::f32);
  EXPECT_EQ(mixed_bf16.loss_scale.mode, LossScaleMode::none);
}

TEST(Policy, PresetListingsComeFromOneTable) {
  const std::vector<std::string> names = PrecisionPolicy::preset_names();
  ASSERT_EQ(names.size(), PrecisionPolicy::presets().size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(PrecisionPolicy::presets()[i].name, names[i]);
    EXPECT_FALSE(PrecisionPolicy::presets()[i].summary.empty()) << names[i];
    const PrecisionPolicy p = PrecisionPolicy::preset(names[i]);
    EXPECT_EQ(p.name, names[i]);
    EXPECT_NO_THROW(p.validate()) << names[i];
    // No two presets are the same policy under two names.
    for (size_t j = 0; j < i; ++j) {
      PrecisionPolicy other = PrecisionPolicy::preset(names[j]);
      other.name = p.name;
      EXPECT_NE(other.describe(), p.describe()) << names[i] << " and " << names[j];
    }
  }
}

// Every preset leaves the accumulation to the CPU: f16-block only where fp16 FMAs are native,
// binary32 sums everywhere else, so no preset ever runs the scalar reference GEMM (or the
// emulated fp16 sums) on a CPU with vector units.
TEST(Policy, PresetsAccumulateAtTheCpusFullRate) {
  testing::for_each_isa([](kernels::Isa level) {
    for (const std::string& name : PrecisionPolicy::preset_names()) {
      const PrecisionPolicy p = PrecisionPolicy::preset(name);
      EXPECT_EQ(p.accumulation, kernels::Accumulation::automatic) << name;
      const PrecisionPolicy ran = p.resolved();
      const bool native_fp16 = level >= kernels::Isa::avx512fp16 && p.compute == DType::f16;
      EXPECT_EQ(ran.accumulation, native_fp16 ? kernels::Accumulation::f16_block : kernels::Accumulation::f32)
          << name << " at " << kernels::isa_name(level);
      EXPECT_TRUE(kernels::accumulation_is_native(p.compute, p.accumulation)) << name;
      if (level > kernels::Isa::scalar) {
        EXPECT_NE(kernels::gemm_variant(p.compute, p.accumulation), "scalar") << name << " at " << kernels::isa_name(level);
      }
      EXPECT_NE(p.describe().find(std::string(kernels::accumulation_name(ran.accumulation)) + " (auto)"),
                std::string::npos)
          << p.describe();
    }
    // An explicit fp16 accumulation is kept, and said to be slow where it is.
    PrecisionPolicy explicit_block = PrecisionPolicy::preset("pure-fp16");
    explicit_block.accumulation = kernels::Accumulation::f16_block;
    EXPECT_EQ(explicit_block.resolved().accumulation, kernels::Accumulation::f16_block);
    const bool slow = level < kernels::Isa::avx512fp16;
    EXPECT_EQ(explicit_block.describe().find("slower than f32") != std::string::npos, slow) << explicit_block.describe();
  });
}

TEST(Policy, ParsesOptions) {
  EXPECT_EQ(parse_loss_scale("none").mode, LossScaleMode::none);
  EXPECT_EQ(parse_loss_scale("dynamic").mode, LossScaleMode::dynamic);
  const LossScaleConfig fixed = parse_loss_scale("128");
  EXPECT_EQ(fixed.mode, LossScaleMode::fixed);
  EXPECT_EQ(fixed.initial, 128.0f);
  for (const char* bad : {"", "-1", "0", "abc", "12x", "inf", "nan"})
    EXPECT_THROW(parse_loss_scale(bad), std::invalid_argument) << bad;
  for (const std::string& name : rounding_names()) EXPECT_EQ(rounding_name(parse_rounding(name)), name);
  EXPECT_EQ(parse_rounding("kahan"), Rounding::kahan);
  EXPECT_THROW(parse_rounding("up"), std::invalid_argument);
}

TEST(Policy, MomentumRoundsToNearestOrStochastically) {
  EXPECT_EQ(momentum_rounding_names(), (std::vector<std::string>{"nearest", "stochastic"}));
  PrecisionPolicy p = PrecisionPolicy::preset("pure-fp16");
  p.momentum_rounding = Rounding::stochastic;
  EXPECT_NO_THROW(p.validate());
  EXPECT_NE(p.describe().find("momentum rounding stochastic"), std::string::npos) << p.describe();
  p.momentum_rounding = Rounding::kahan;  // compensation is kept for the weights only
  EXPECT_THROW(p.validate(), std::invalid_argument);
}

TEST(Policy, RejectsF16AccumulationWithoutF16Compute) {
  for (const char* name : {"fp32", "pure-bf16"})
    for (kernels::Accumulation acc : {kernels::Accumulation::f16, kernels::Accumulation::f16_block}) {
      PrecisionPolicy p = PrecisionPolicy::preset(name);
      p.accumulation = acc;
      EXPECT_THROW(p.validate(), std::invalid_argument) << name;
    }
}

TEST(Policy, KeepFp32SelectorsAndTheDtypesOfKeptLayers) {
  EXPECT_EQ(parse_keep_fp32("first,last"), (std::vector<std::string>{"first", "last"}));
  EXPECT_EQ(parse_keep_fp32("layer1.0.conv1"), std::vector<std::string>{"layer1.0.conv1"});
  for (const char* bad : {"", "first,", ",last", "first,,last", "fc1,fc1"}) EXPECT_THROW(parse_keep_fp32(bad), std::invalid_argument) << bad;
  EXPECT_EQ(keep_fp32_name({}), "none");

  PrecisionPolicy p = PrecisionPolicy::preset("mixed-fp16");
  EXPECT_EQ(p.state_dtypes(false), (StateDTypes{DType::f16, DType::f32, DType::f32}));
  EXPECT_EQ(p.state_dtypes(true), (StateDTypes{DType::f32, DType::f32, DType::f32}));
  EXPECT_TRUE(p.state_dtypes(false).has_master_copy());
  EXPECT_FALSE(p.state_dtypes(true).has_master_copy());
  EXPECT_EQ(p.describe().find("keep fp32"), std::string::npos);
  p.keep_fp32 = {"first", "last"};
  EXPECT_NE(p.describe().find(", keep fp32 first,last"), std::string::npos) << p.describe();
  EXPECT_NO_THROW(p.validate());
  p.keep_fp32 = {"first", ""};
  EXPECT_THROW(p.validate(), std::invalid_argument);
  p.keep_fp32 = {"a,b"};
  EXPECT_THROW(p.validate(), std::invalid_argument);
  p.keep_fp32 = {"last"};
  EXPECT_EQ(p.kept_layers({"fc1", "fc2", "fc3"}), (std::vector<bool>{false, false, true}));
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

LossScaleConfig dynamic_config() {
  LossScaleConfig config;
  config.mode = LossScaleMode::dynamic;
  return config;
}

// DeepSpeed's hysteresis: the first `hysteresis - 1` overflows after a growth are skipped
// without lowering the scale; once it is used up every overflow halves the scale, until the
// next growth restores it.
TEST(LossScaler, HysteresisToleratesOverflowsUntilTheScaleGrows) {
  LossScaleConfig config = dynamic_config();
  config.hysteresis = 3;
  config.growth_interval = 10;
  LossScaler scaler(config);
  EXPECT_FALSE(scaler.update(true));
  EXPECT_FALSE(scaler.update(true));
  EXPECT_EQ(scaler.scale(), 65536.0f);
  EXPECT_FALSE(scaler.update(true));  // the third backs off
  EXPECT_EQ(scaler.scale(), 32768.0f);
  EXPECT_FALSE(scaler.update(true));  // and so does every one after it
  EXPECT_EQ(scaler.scale(), 16384.0f);
  EXPECT_EQ(scaler.skipped_steps(), 4);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(scaler.update(false));
  EXPECT_EQ(scaler.scale(), 32768.0f);  // growth restores the tolerance
  EXPECT_EQ(scaler.state().hysteresis_left, 3);
  EXPECT_FALSE(scaler.update(true));
  EXPECT_EQ(scaler.scale(), 32768.0f);
  EXPECT_EQ(scaler.state().hysteresis_left, 2);
}

// An overflow that no scale cures (an lr of 1e10) used to drive the scale to 0.000122 and on
// towards 0; it stops at the floor, and growth stops at the ceiling.
TEST(LossScaler, ScaleStaysWithinItsFloorAndCeiling) {
  LossScaleConfig config = dynamic_config();
  LossScaler falling(config);
  for (int i = 0; i < 200; ++i) falling.update(true);
  EXPECT_EQ(falling.scale(), 1.0f);
  EXPECT_EQ(falling.skipped_steps(), 200);
  config.min_scale = 0.25f;
  LossScaler lower(config);
  for (int i = 0; i < 200; ++i) lower.update(true);
  EXPECT_EQ(lower.scale(), 0.25f);

  config = dynamic_config();
  config.growth_interval = 1;
  config.max_scale = 1 << 20;
  LossScaler rising(config);
  for (int i = 0; i < 100; ++i) rising.update(false);
  EXPECT_EQ(rising.scale(), float(1 << 20));
}

TEST(LossScaler, RejectsScalesThatCouldReachZeroOrInfinity) {
  const auto rejects = [](auto change) {
    LossScaleConfig config = dynamic_config();
    change(config);
    return [&] {
      try {
        config.validate();
      } catch (const std::invalid_argument&) {
        return true;
      }
      return false;
    }();
  };
  EXPECT_FALSE(rejects([](LossScaleConfig&) {}));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.min_scale = 0; }));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.min_scale = 1e-40f; }));  // subnormal
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.max_scale = INFINITY; }));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.min_scale = 4, c.max_scale = 2; }));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.initial = 0.5f; }));  // below the floor of 1
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.backoff_factor = 1; }));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.growth_factor = 1; }));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.growth_interval = 0; }));
  EXPECT_TRUE(rejects([](LossScaleConfig& c) { c.hysteresis = 0; }));
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
