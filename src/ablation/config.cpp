#include "pure16/ablation/config.h"

#include <cctype>
#include <set>
#include <stdexcept>

#include "pure16/io/read_file.h"

namespace pure16::ablation {
namespace {

// The flags the runner sets itself for every arm, and what to write in the config instead.
const std::map<std::string, std::string>& runner_flags() {
  static const std::map<std::string, std::string> flags = {
      {"seed", "list seeds in \"seeds\""},
      {"precision", "list presets in \"strategies\""},
      {"log", "the runner writes each arm's log"},
      {"checkpoint-dir", "the runner keeps each arm's checkpoints"},
      {"keep-checkpoints", "the runner keeps each arm's last checkpoint"},
      {"resume", "the runner reruns unfinished arms from the start"},
      {"threads", "set \"jobs\"; each arm gets the cores divided by the jobs"},
      {"telemetry", "set \"telemetry_every\""},
      {"telemetry-every", "set \"telemetry_every\""},
  };
  return flags;
}

[[noreturn]] void fail(const std::string& file, const std::string& key, const std::string& problem) {
  throw std::invalid_argument(file + ": " + key + ": " + problem);
}

// Strategy and study names become folder names, so they may not climb out of the output folder.
void check_folder_name(const std::string& name, const std::string& file, const std::string& key) {
  if (name.empty() || name == "." || name == "..") fail(file, key, "must be a non-empty name");
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '+')
      fail(file, key, "'" + name + "' may only hold letters, digits, '-', '_', '.' and '+' (it names a folder)");
}

TrainFlags parse_flags(const nlohmann::json& json, const std::string& file, const std::string& key, bool overrides) {
  if (!json.is_object()) fail(file, key, "must be an object of `pure16 train` flags, e.g. {\"epochs\": 5}");
  TrainFlags flags;
  for (const auto& [name, value] : json.items()) {
    const std::string where = key + "." + name;
    if (name.empty() || name.front() == '-')
      fail(file, where, "write flags without their dashes (\"batch-size\", not \"--batch-size\")");
    if (const auto reserved = runner_flags().find(name); reserved != runner_flags().end())
      fail(file, where, "is set by the runner: " + reserved->second);
    const bool scalar = value.is_string() || value.is_number() || value.is_boolean();
    bool list_of_scalars = value.is_array() && !value.empty();
    for (const auto& element : value.is_array() ? value : nlohmann::json::array())
      list_of_scalars = list_of_scalars && (element.is_number() || element.is_string());
    if (!scalar && !list_of_scalars && !(overrides && value.is_null()))
      fail(file, where,
           std::string("must be a string, number, boolean or non-empty list of numbers") +
               (overrides ? ", or null to remove the study's value" : "") + ", not " + value.dump());
    flags[name] = value;
  }
  return flags;
}

Strategy parse_strategy(const nlohmann::json& json, const std::string& file, const std::string& key) {
  Strategy s;
  if (json.is_string()) {
    s.name = s.precision = json.get<std::string>();
  } else if (json.is_object()) {
    for (const auto& [name, value] : json.items())
      if (name != "name" && name != "precision" && name != "train")
        fail(file, key + "." + name, "unknown key (a strategy has \"name\", \"precision\" and \"train\")");
    if (!json.contains("name") || !json["name"].is_string()) fail(file, key + ".name", "must be a string");
    s.name = json["name"].get<std::string>();
    s.precision = s.name;
    if (json.contains("precision")) {
      if (!json["precision"].is_string()) fail(file, key + ".precision", "must be a preset name");
      s.precision = json["precision"].get<std::string>();
    }
    if (json.contains("train")) s.train = parse_flags(json["train"], file, key + ".train", true);
  } else {
    fail(file, key, "must be a preset name or an object {\"name\", \"precision\", \"train\"}, not " + json.dump());
  }
  check_folder_name(s.name, file, key + (json.is_string() ? "" : ".name"));
  if (s.precision.empty()) fail(file, key + ".precision", "must not be empty");
  return s;
}

int64_t positive_integer(const nlohmann::json& value, const std::string& file, const std::string& key) {
  if (!value.is_number_integer() || value.get<int64_t>() <= 0) fail(file, key, "must be a positive integer");
  return value.get<int64_t>();
}

}  // namespace

StudyConfig parse_study_config(const nlohmann::json& json, const std::string& file) {
  if (!json.is_object()) fail(file, "(top level)", "must be a JSON object");
  static const std::set<std::string> known = {"name",     "description",     "train", "seeds",         "strategies",
                                              "baseline", "telemetry_every", "jobs",  "allow_failures"};
  for (const auto& [key, value] : json.items())
    if (!known.count(key))
      fail(file, key, "unknown key (known: name, description, train, seeds, strategies, baseline, telemetry_every, "
                      "jobs, allow_failures)");

  StudyConfig c;
  c.name = std::filesystem::path(file).stem().string();
  if (json.contains("name")) {
    if (!json["name"].is_string()) fail(file, "name", "must be a string");
    c.name = json["name"].get<std::string>();
  }
  check_folder_name(c.name, file, "name");
  if (json.contains("description")) {
    if (!json["description"].is_string()) fail(file, "description", "must be a string");
    c.description = json["description"].get<std::string>();
  }
  if (!json.contains("train")) fail(file, "train", "is missing (the `pure16 train` flags every arm shares)");
  c.train = parse_flags(json["train"], file, "train", false);

  if (!json.contains("seeds") || !json["seeds"].is_array() || json["seeds"].empty())
    fail(file, "seeds", "must be a non-empty list of non-negative integers");
  for (size_t i = 0; i < json["seeds"].size(); ++i) {
    const nlohmann::json& seed = json["seeds"][i];
    const std::string key = "seeds[" + std::to_string(i) + "]";
    // A JSON value built in code from an int is signed even when it is not negative.
    const bool non_negative = seed.is_number_unsigned() || (seed.is_number_integer() && seed.get<int64_t>() >= 0);
    if (!non_negative) fail(file, key, "must be a non-negative integer, not " + seed.dump());
    for (uint64_t earlier : c.seeds)
      if (earlier == seed.get<uint64_t>()) fail(file, key, "seed " + seed.dump() + " is listed twice");
    c.seeds.push_back(seed.get<uint64_t>());
  }

  if (!json.contains("strategies") || !json["strategies"].is_array() || json["strategies"].empty())
    fail(file, "strategies", "must be a non-empty list of preset names or strategy objects");
  for (size_t i = 0; i < json["strategies"].size(); ++i) {
    const std::string key = "strategies[" + std::to_string(i) + "]";
    Strategy s = parse_strategy(json["strategies"][i], file, key);
    for (const Strategy& earlier : c.strategies)
      if (earlier.name == s.name)
        fail(file, key, "strategy name '" + s.name + "' is used twice (give the second a \"name\" of its own)");
    c.strategies.push_back(std::move(s));
  }

  const auto has_strategy = [&c](const std::string& name) {
    for (const Strategy& s : c.strategies)
      if (s.name == name) return true;
    return false;
  };
  if (json.contains("baseline")) {
    if (!json["baseline"].is_string() || !has_strategy(json["baseline"].get<std::string>()))
      fail(file, "baseline", "must name one of the strategies");
    c.baseline = json["baseline"].get<std::string>();
  } else if (has_strategy("fp32")) {
    c.baseline = "fp32";
  }
  if (json.contains("telemetry_every")) c.telemetry_every = positive_integer(json["telemetry_every"], file, "telemetry_every");
  if (json.contains("jobs")) c.jobs = positive_integer(json["jobs"], file, "jobs");
  if (json.contains("allow_failures")) {
    if (!json["allow_failures"].is_boolean()) fail(file, "allow_failures", "must be true or false");
    c.allow_failures = json["allow_failures"].get<bool>();
  }
  return c;
}

StudyConfig load_study_config(const std::filesystem::path& path) {
  const std::string text = io::read_file(path, path.string());
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(path.string() + ": not valid JSON: " + e.what());
  }
  return parse_study_config(json, path.string());
}

TrainFlags strategy_flags(const StudyConfig& config, const Strategy& strategy) {
  TrainFlags flags = config.train;
  for (const auto& [name, value] : strategy.train) {
    if (value.is_null())
      flags.erase(name);
    else
      flags[name] = value;
  }
  return flags;
}

std::vector<std::string> flag_arguments(const TrainFlags& flags) {
  const auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  std::vector<std::string> args;
  for (const auto& [name, value] : flags) {
    if (value.is_boolean()) {
      if (value.get<bool>()) args.push_back("--" + name);
      continue;
    }
    args.push_back("--" + name);
    if (value.is_array()) {
      std::string joined;
      for (const auto& element : value) {
        if (!joined.empty()) joined += ',';
        joined += text(element);
      }
      args.push_back(joined);
    } else {
      args.push_back(text(value));
    }
  }
  return args;
}

}  // namespace pure16::ablation
