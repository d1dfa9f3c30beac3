#include "pure16/ablation/study.h"

#include <map>

namespace pure16::ablation {
namespace {

std::map<uint64_t, double> final_accuracy_by_seed(const std::vector<ArmResult>& arms, const std::string& strategy) {
  std::map<uint64_t, double> by_seed;
  for (const ArmResult& arm : arms)
    if (arm.strategy == strategy && arm.ok()) by_seed[arm.seed] = arm.final_accuracy;
  return by_seed;
}

std::vector<CurvePoint> curve_of(const std::vector<const ArmResult*>& arms) {
  std::map<int64_t, std::vector<const EpochPoint*>> by_epoch;
  for (const ArmResult* arm : arms)
    for (const EpochPoint& e : arm->epochs) by_epoch[e.epoch].push_back(&e);
  std::vector<CurvePoint> curve;
  for (const auto& [epoch, points] : by_epoch) {
    std::vector<double> accuracy, train_loss, test_loss, loss_scale;
    for (const EpochPoint* e : points) {
      accuracy.push_back(e->test_accuracy);
      train_loss.push_back(e->train_loss);
      test_loss.push_back(e->test_loss);
      loss_scale.push_back(e->loss_scale);
    }
    curve.push_back({epoch, summarize(accuracy), summarize(train_loss), summarize(test_loss), summarize(loss_scale)});
  }
  return curve;
}

}  // namespace

int64_t StudyResults::failed_arms() const {
  int64_t failed = 0;
  for (const ArmResult& arm : arms) failed += arm.ok() ? 0 : 1;
  return failed;
}

StudyResults summarize_study(const StudyConfig& config, std::vector<ArmResult> arms) {
  StudyResults study{config, std::move(arms), {}};
  const std::map<uint64_t, double> baseline =
      config.baseline.empty() ? std::map<uint64_t, double>{} : final_accuracy_by_seed(study.arms, config.baseline);
  for (const Strategy& strategy : config.strategies) {
    StrategySummary s;
    s.name = strategy.name;
    s.precision = strategy.precision;
    std::vector<const ArmResult*> ran;
    std::vector<double> final_accuracy, best_accuracy, train_loss, test_loss, speed, model_bytes;
    for (const ArmResult& arm : study.arms) {
      if (arm.strategy != strategy.name) continue;
      ++s.arms;
      if (!arm.ok()) {
        ++s.failed;
        continue;
      }
      s.diverged += arm.status == ArmStatus::diverged ? 1 : 0;
      ran.push_back(&arm);
      final_accuracy.push_back(arm.final_accuracy);
      best_accuracy.push_back(arm.best_accuracy());
      train_loss.push_back(arm.epochs.empty() ? NAN : arm.epochs.back().train_loss);
      test_loss.push_back(arm.epochs.empty() ? NAN : arm.epochs.back().test_loss);
      speed.push_back(arm.mean_images_per_second());
      if (arm.model_bytes >= 0) model_bytes.push_back(double(arm.model_bytes));
      if (s.memory.is_null()) s.memory = arm.memory;
    }
    s.final_accuracy = summarize(final_accuracy);
    s.best_accuracy = summarize(best_accuracy);
    if (!config.baseline.empty())
      s.accuracy_difference = paired_difference(final_accuracy_by_seed(study.arms, strategy.name), baseline);
    s.train_loss = summarize(train_loss);
    s.test_loss = summarize(test_loss);
    s.images_per_second = summarize(speed);
    s.model_bytes = summarize(model_bytes);
    s.curve = curve_of(ran);
    study.strategies.push_back(std::move(s));
  }
  return study;
}

}  // namespace pure16::ablation
