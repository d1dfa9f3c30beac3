// The configuration of a precision-ablation study (`pure16 ablate --config FILE`): one training
// setup, run under several strategies (precision presets with optional flag overrides) and
// several seeds. docs/ABLATION.md describes the format.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pure16::ablation {

/// `pure16 train` flags by name without the dashes ("batch-size"), as the config states them:
/// a string, number, boolean or array of numbers. The runner passes them through without knowing
/// which flags exist, so flags added to `train` later need no change here.
using TrainFlags = std::map<std::string, nlohmann::json>;

struct Strategy {
  std::string name;       // names the arms' folders and the report's rows
  std::string precision;  // the `--precision` preset
  TrainFlags train;       // overrides of the study's flags; null removes one
};

struct StudyConfig {
  std::string name;
  std::string description;
  TrainFlags train;
  std::vector<uint64_t> seeds;
  std::vector<Strategy> strategies;
  std::string baseline;     // the strategy differences are taken from; "" for none
  int64_t telemetry_every = 0;  // 0: no telemetry
  int64_t jobs = 1;
  bool allow_failures = false;
};

/// Parses and validates a study; `file` names the source in errors, which also name the key
/// ("mnist.json: strategies[2].name: ..."). Throws std::invalid_argument.
StudyConfig parse_study_config(const nlohmann::json& json, const std::string& file);
/// Reads `path` and parses it; a missing or malformed file is a std::runtime_error naming it.
StudyConfig load_study_config(const std::filesystem::path& path);

/// The study's flags with the strategy's overrides applied (a null override removes the flag).
TrainFlags strategy_flags(const StudyConfig& config, const Strategy& strategy);

/// The command-line form of `flags`: `--key value` each, a true boolean as the bare `--key`, a
/// false one left out, an array as its elements joined by commas.
std::vector<std::string> flag_arguments(const TrainFlags& flags);

}  // namespace pure16::ablation
