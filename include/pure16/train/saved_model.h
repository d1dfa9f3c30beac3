// Trained models outside training: the files `pure16 export` writes, and loading a checkpoint
// or an export back as a run for evaluation, prediction and further export.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "pure16/io/safetensors.h"
#include "pure16/train/model_file.h"
#include "pure16/train/run.h"

namespace pure16::train {

/// The weights of `run` in `layout` and `dtype` (model_file.h; none: each tensor in the dtype the run keeps it in), with the run's description
/// (checkpoint.h's RunDescription) in the metadata as "pure16_run", so that the file alone
/// rebuilds the model: its name, configuration and precision, input shape, classes and their names.
io::SafetensorsFile export_run(Run& run, ModelLayout layout, std::optional<DType> dtype);

/// A run from a pure16 checkpoint (in its saved state) or from a file export_run wrote (its
/// weights loaded, at step 0). Throws std::runtime_error naming the file when it is neither, for
/// instance a torchvision state_dict, which says nothing of the model: `train --init-from` takes those.
std::unique_ptr<Run> load_saved_model(const std::filesystem::path& path);

}  // namespace pure16::train
