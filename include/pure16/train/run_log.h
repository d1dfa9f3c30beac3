// The JSON-lines run log behind `--log FILE`: one object per epoch, then a final summary.
// The whole file is rewritten atomically after each record, so a reader never sees half a line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pure16/train/run.h"

namespace pure16::train {

nlohmann::json epoch_json(const EpochRecord& record);
nlohmann::json final_json(const TrainResult& result);

class RunLog {
 public:
  explicit RunLog(std::filesystem::path path);
  void append(const nlohmann::json& record);

 private:
  std::filesystem::path path_;
  std::string contents_;
};

}  // namespace pure16::train
