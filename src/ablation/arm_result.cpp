#include "pure16/ablation/arm_result.h"

#include <cmath>
#include <deque>
#include <fstream>

namespace pure16::ablation {
namespace {

double number(const nlohmann::json& record, const char* key) {
  const auto it = record.find(key);
  return it != record.end() && it->is_number() ? it->get<double>() : NAN;
}

}  // namespace

const char* arm_status_name(ArmStatus status) {
  switch (status) {
    case ArmStatus::finished: return "finished";
    case ArmStatus::diverged: return "diverged";
    case ArmStatus::failed: return "failed";
  }
  return "?";
}

double ArmResult::best_accuracy() const {
  double best = NAN;
  for (const EpochPoint& e : epochs)
    if (std::isnan(best) || e.test_accuracy > best) best = e.test_accuracy;
  return best;
}

double ArmResult::mean_images_per_second() const {
  double sum = 0;
  for (const EpochPoint& e : epochs) sum += e.images_per_second;
  return epochs.empty() ? NAN : sum / double(epochs.size());
}

double ArmResult::training_seconds() const {
  double sum = 0;
  for (const EpochPoint& e : epochs) sum += e.seconds;
  return sum;
}

ArmResult read_arm_log(const std::filesystem::path& log) {
  std::ifstream in(log);
  if (!in) throw std::runtime_error(log.string() + ": cannot be read");
  ArmResult result;
  bool final_seen = false, diverged_run = false;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object())
      throw std::runtime_error(log.string() + ":" + std::to_string(line_number) + ": not a JSON object");
    if (record.value("final", false) == true) {
      final_seen = true;
      result.final_accuracy = number(record, "test_accuracy");
      result.precision = record.value("precision", nlohmann::json::object());
      result.memory = record.value("memory", nlohmann::json::object());
      diverged_run = record.value("diverged", false) == true;
      if (diverged_run) result.divergence = record.value("message", std::string("diverged"));
    } else if (record.contains("epoch")) {
      EpochPoint e;
      e.epoch = record["epoch"].is_number_integer() ? record["epoch"].get<int64_t>() : int64_t(result.epochs.size()) + 1;
      e.train_loss = number(record, "train_loss");
      e.test_loss = number(record, "test_loss");
      e.test_accuracy = number(record, "test_accuracy");
      e.images_per_second = number(record, "images_per_second");
      e.seconds = number(record, "seconds");
      e.loss_scale = number(record, "loss_scale");
      result.epochs.push_back(e);
    }
  }
  if (!final_seen) throw std::runtime_error(log.string() + ": no final record (the run did not finish)");
  const bool finite = !result.epochs.empty() && std::isfinite(result.epochs.back().train_loss) &&
                      std::isfinite(result.epochs.back().test_loss);
  result.status = finite && !diverged_run ? ArmStatus::finished : ArmStatus::diverged;
  return result;
}

std::string excerpt(const std::filesystem::path& path, int first, int last) {
  std::ifstream in(path);
  std::string head, text;
  std::deque<std::string> tail;
  int64_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    if (lines < first) {
      head += line + "\n";
      continue;
    }
    tail.push_back(line);
    if (int(tail.size()) > last) tail.pop_front();
  }
  const int64_t left_out = lines - first - int64_t(tail.size());
  if (left_out > 0) head += "[... " + std::to_string(left_out) + " lines ...]\n";
  for (const std::string& line : tail) head += line + "\n";
  return head;
}

}  // namespace pure16::ablation
