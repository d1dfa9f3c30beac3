#include "pure16/train/saved_model.h"

#include <stdexcept>

#include "pure16/train/checkpoint.h"

namespace pure16::train {
namespace {

constexpr const char* kRunKey = "pure16_run";

}  // namespace

io::SafetensorsFile export_run(Run& run, ModelLayout layout, std::optional<DType> dtype) {
  io::SafetensorsFile contents = export_model(run.model(), run.store(), run.config().model, layout, dtype, run.steps());
  contents.metadata[kRunKey] = run_description_json(run).dump();
  return contents;
}

std::unique_ptr<Run> load_saved_model(const std::filesystem::path& path) {
  const std::string file = path.string();
  const io::SafetensorsFile contents = io::read_safetensors(path);
  if (contents.metadata.count("pure16_checkpoint")) {
    std::unique_ptr<Run> run = build_run(read_checkpoint_header(contents, file).run);
    run->restore(contents, file);
    return run;
  }
  const auto it = contents.metadata.find(kRunKey);
  if (it == contents.metadata.end())
    throw std::runtime_error(file + ": neither a pure16 checkpoint nor a model pure16 exported (no \"pure16_checkpoint\" "
                             "or \"" + std::string(kRunKey) + "\" in its metadata); weights alone, such as a torchvision "
                             "state_dict, can start a run with `pure16 train --init-from`");
  RunDescription description;
  try {
    description = run_description_from_json(nlohmann::json::parse(it->second));
  } catch (const std::exception& e) {
    throw std::runtime_error(file + ": the model description in its metadata is malformed: " + e.what());
  }
  std::unique_ptr<Run> run = build_run(description);
  import_weights(contents, file, run->model(), run->store(), false);
  return run;
}

}  // namespace pure16::train
