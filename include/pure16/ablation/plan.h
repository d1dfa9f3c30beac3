// The arms of a study: one `pure16 train` process per (strategy, seed), each in its own folder
// of the output directory, and what makes an arm finished.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pure16/ablation/config.h"

namespace pure16::ablation {

struct Arm {
  int64_t index = 0;  // 0-based, in the order strategies × seeds of the config
  std::string strategy;
  uint64_t seed = 0;
  std::filesystem::path dir;  // <out>/arms/<strategy>/seed-<seed>
  /// The `pure16 train` arguments that decide the arm's result: precision, seed, the study's flags,
  /// telemetry. Not the paths (the same study moved or named by another path is still finished),
  /// nor `--threads` (the engine gives the same bits for any count, so other `--jobs` rerun nothing).
  std::vector<std::string> settings;
  int64_t telemetry_every = 0;

  std::filesystem::path log() const { return dir / "log.jsonl"; }
  std::filesystem::path checkpoints() const { return dir / "checkpoints"; }
  std::filesystem::path model() const { return dir / "model.safetensors"; }
  std::filesystem::path telemetry() const { return dir / "telemetry.jsonl"; }
  std::filesystem::path stdout_file() const { return dir / "stdout.txt"; }
  std::filesystem::path stderr_file() const { return dir / "stderr.txt"; }
  /// settings_json(), written before the arm starts, so a later invocation can tell whether it is
  /// still the arm the config asks for.
  std::filesystem::path settings_file() const { return dir / "settings.json"; }
  nlohmann::json settings_json() const;

  /// The whole `pure16 train` command line after the program's name.
  std::vector<std::string> train_command(int64_t threads) const;
  /// `pure16 export` of the arm's last checkpoint to model(), after the program's name.
  std::vector<std::string> export_command(const std::filesystem::path& checkpoint) const;
};

/// Every arm of `config`, strategies outermost, seeds inner, with its folder under `out`.
std::vector<Arm> plan_arms(const StudyConfig& config, const std::filesystem::path& out);

/// True when the last line of the log at `log` is a final record ({"final": true, ...}).
bool log_is_finished(const std::filesystem::path& log);

/// Why `arm` must run ("" when it is finished: its log ends with the final record and it ran with
/// the settings planned now, so a changed config reruns the arms it changes).
std::string reason_to_run(const Arm& arm);

/// `args` as one line a shell would run, each argument quoted where needed.
std::string shell_line(const std::vector<std::string>& args);

}  // namespace pure16::ablation
