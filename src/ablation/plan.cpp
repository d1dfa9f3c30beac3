#include "pure16/ablation/plan.h"

#include <fstream>

namespace pure16::ablation {

std::vector<std::string> Arm::train_command(int64_t threads) const {
  std::vector<std::string> args = {"train"};
  args.insert(args.end(), settings.begin(), settings.end());
  args.insert(args.end(), {"--log", log().string(), "--checkpoint-dir", checkpoints().string(), "--keep-checkpoints",
                           "1", "--threads", std::to_string(threads)});
  if (telemetry_every > 0)
    args.insert(args.end(), {"--telemetry", telemetry().string(), "--telemetry-every", std::to_string(telemetry_every)});
  return args;
}

nlohmann::json Arm::settings_json() const {
  return {{"train", settings}, {"telemetry_every", telemetry_every}};
}

std::vector<std::string> Arm::export_command(const std::filesystem::path& checkpoint) const {
  return {"export", "--checkpoint", checkpoint.string(), "--out", model().string()};
}

std::vector<Arm> plan_arms(const StudyConfig& config, const std::filesystem::path& out) {
  std::vector<Arm> arms;
  for (const Strategy& strategy : config.strategies) {
    const std::vector<std::string> flags = flag_arguments(strategy_flags(config, strategy));
    for (uint64_t seed : config.seeds) {
      Arm arm;
      arm.index = int64_t(arms.size());
      arm.strategy = strategy.name;
      arm.seed = seed;
      arm.dir = out / "arms" / strategy.name / ("seed-" + std::to_string(seed));
      arm.settings = {"--precision", strategy.precision, "--seed", std::to_string(seed)};
      arm.settings.insert(arm.settings.end(), flags.begin(), flags.end());
      arm.telemetry_every = config.telemetry_every;
      arms.push_back(std::move(arm));
    }
  }
  return arms;
}

bool log_is_finished(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  const nlohmann::json record = nlohmann::json::parse(last, nullptr, false);
  return record.is_object() && record.value("final", false) == true;
}

std::string reason_to_run(const Arm& arm) {
  if (!std::filesystem::exists(arm.log())) return "not run yet";
  if (!log_is_finished(arm.log())) return "unfinished";
  std::ifstream in(arm.settings_file());
  const nlohmann::json ran = nlohmann::json::parse(in, nullptr, false);
  if (ran != arm.settings_json()) return "its settings changed";
  return "";
}

std::string shell_line(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& a : args) {
    const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789-_./=+,:@%") == std::string::npos;
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += (line.empty() ? "" : " ") + (plain ? a : quoted + "'");
  }
  return line;
}

}  // namespace pure16::ablation
